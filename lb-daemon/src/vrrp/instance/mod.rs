//! One running VRRP instance: the pure state machine wired to its socket,
//! its timers, its addresses and its announcements. Logs use keepalived's
//! phrases (`(VI_1) Entering MASTER STATE`) so existing alerting keeps working.
mod announce;
mod follow;
mod reload;
mod startup;
mod status;
mod transition;

use std::{
    collections::BTreeSet,
    future::pending,
    sync::{Arc, RwLock},
};

use anyhow::Result;
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tracing::{error, info};

use announce::Pending;
use reload::virtual_routes;
pub use reload::Handover;
pub use status::InstanceStatus;

use super::{
    fsm::{Action, Event, Fsm, MemberView, Reason, State, Time},
    link::{self, Link},
    packet::Drop,
    promote::PromoteSecondaries,
    receive::{self, Line, Refused, RxLog},
    spec::InstanceSpec,
    vip_record::VipRecord,
    vips::Vips,
};
use crate::{
    netlink::Netlink,
    notify::{Notifier, Target},
    state::ownership::Publisher,
    timers::sleep_until_some,
    track::{interface::Notifications, Verdict},
};

/// Every configured (interface, VRID): an instance ignores adverts of its
/// siblings on the same interface instead of counting them as VRID drops.
pub type Vrids = Arc<RwLock<BTreeSet<(String, u8)>>>;

/// Most packets [`Instance::take_queued`] handles before a timer: enough
/// for every advert a stall of seconds queues, too few for a flood to hold
/// the timer back.
const MAX_QUEUED: usize = 64;

/// Requests to a running instance.
#[derive(Debug)]
pub enum Command {
    /// Leave (a master sends priority 0 first) and remove the addresses.
    Shutdown,
    /// Leave for a successor that the engine starts next (a reload changed
    /// what identifies the instance): see [`Handover`].
    HandOver(Handover),
    /// A reload changed settings of the same virtual router: apply them in
    /// place, keeping the state and the addresses.
    Reconfigure(Box<InstanceSpec>),
    /// An event from the instance's sync group coordinator.
    Sync(Event),
    /// Tracking restarted (configuration reload): follow this verdict now.
    Track(watch::Receiver<Verdict>),
    /// Notification settings changed (configuration reload).
    Notify(Notifier),
}

/// How a sync-group member reports to its group's coordinator.
#[derive(Debug, Clone)]
pub struct SyncLink {
    /// The member's index in the group.
    pub index: usize,
    /// Where its views go.
    pub views: mpsc::UnboundedSender<(usize, MemberView)>,
}

/// Runs the instance, from `start_at` when given (`vrrp_startup_delay`),
/// until [`Command::Shutdown`] (or the command channel closes). Errors that
/// keep it from running are logged and shown in its status as FAULT; they
/// never stop the daemon. With `resume`, it replaces an instance that was
/// MASTER and starts as MASTER (see [`Fsm::set_resume_master`]).
pub async fn run(
    spec: InstanceSpec,
    shared: Shared,
    verdict: Option<watch::Receiver<Verdict>>,
    mut commands: mpsc::Receiver<Command>,
    resume: bool,
    start_at: Option<Instant>,
) {
    let name = spec.name.clone();
    let status = shared.status.clone();
    let (mut spec, mut shared, mut verdict) = (spec, shared, verdict);
    if let Some(until) = start_at.filter(|until| *until > Instant::now()) {
        let delay = until - Instant::now();
        info!(
            "({name}) delaying startup for {:.1} seconds",
            delay.as_secs_f64()
        );
        let waiting = startup::Waiting {
            commands: &mut commands,
            spec: &mut spec,
            shared: &mut shared,
            verdict: &mut verdict,
        };
        if !waiting.until(until).await {
            return;
        }
    }
    let (netlink, ownership, record) = (
        shared.netlink.clone(),
        shared.ownership.clone(),
        shared.record.clone(),
    );
    let mut instance = match Instance::start(spec.clone(), shared, verdict, resume).await {
        Ok(instance) => instance,
        Err(e) => {
            error!("({name}) cannot run: {e:#}");
            if let Some(vmac) = &spec.vmac {
                vmac.remove(&netlink).await;
            }
            if resume {
                // The predecessor left the addresses this instance shares
                // with it: nobody holds them now.
                ownership.set(&name, spec.owned(false));
                reload::release_inherited(&spec, netlink, record).await;
            }
            status.send_modify(|s| {
                s.state = State::Fault;
                s.error = Some(format!("{e:#}"));
            });
            let _ = commands.recv().await;
            return;
        }
    };
    instance.event_loop(&mut commands).await;
}

/// What an instance shares with the rest of the daemon.
pub struct Shared {
    /// The daemon's rtnetlink client.
    pub netlink: Netlink,
    /// Where ownership changes are published.
    pub ownership: Publisher,
    /// Configured (interface, VRID) pairs of all instances.
    pub vrids: Vrids,
    /// Its sync group's coordinator, if it is a member.
    pub sync: Option<SyncLink>,
    /// Where the instance's status is published.
    pub status: watch::Sender<InstanceStatus>,
    /// Runs notify scripts and sends mail on transitions.
    pub notifier: Notifier,
    /// Where the addresses added are noted (see [`VipRecord`]).
    pub record: VipRecord,
}

/// A started instance.
struct Instance {
    spec: InstanceSpec,
    fsm: Fsm,
    /// The interface and its sockets (FAULT while there are none).
    link: Link,
    /// Wake-ups to follow the interfaces.
    links: Notifications,
    vips: Vips,
    shared: Shared,
    /// The origin of the state machine's clock.
    origin: Instant,
    /// The view last reported to the sync group.
    reported: Option<MemberView>,
    /// What tracking (scripts, interfaces, files) says, if anything is tracked.
    verdict: Option<watch::Receiver<Verdict>>,
    /// The tracking verdict last applied.
    applied: Verdict,
    /// Whether the state machine was last told it is in FAULT (by tracking
    /// or because the interface is gone).
    told_fault: bool,
    /// When the next gratuitous ARP/NA burst is due (second burst, refresh).
    garp_due: Option<Instant>,
    /// Whether the burst at `garp_due` is the delayed second one.
    second_burst_pending: bool,
    /// Lower-priority bursts and paced bursts under way.
    pending: Pending,
    /// The receive path's rate-limited log.
    rx_log: RxLog,
    /// Set when the instance leaves for a successor.
    handover: Option<Handover>,
    /// `promote_secondaries` on the interface while the instance runs.
    promote: Option<PromoteSecondaries>,
    /// `virtual_routes` and `virtual_rules`, held while MASTER.
    routes: crate::netlink::Held,
}

impl Instance {
    async fn start(
        spec: InstanceSpec,
        shared: Shared,
        verdict: Option<watch::Receiver<Verdict>>,
        resume: bool,
    ) -> Result<Instance> {
        let links = link::notifications(spec.tracks_routes());
        let (link, primary) = Link::open(&shared.netlink, &spec, !resume).await?;
        let vips = Vips::new(&spec, shared.netlink.clone(), shared.record.clone()).await;
        let promote = spec
            .config
            .promote_secondaries
            .then(|| PromoteSecondaries::hold(&spec.interface));
        let routes = virtual_routes(&spec);
        let mut fsm = Fsm::new(spec.fsm_params(primary));
        fsm.set_sync_member(shared.sync.is_some());
        if resume {
            fsm.set_resume_master();
        }
        let spec_priority = spec.priority;
        let rx_log = RxLog::new(&spec.name);
        let mut instance = Instance {
            spec,
            fsm,
            link,
            links,
            vips,
            shared,
            origin: Instant::now(),
            reported: None,
            applied: Verdict {
                fault: false,
                priority: spec_priority,
            },
            told_fault: false,
            verdict,
            garp_due: None,
            second_burst_pending: false,
            pending: Pending::default(),
            rx_log,
            handover: None,
            promote,
            routes,
        };
        if !resume {
            instance.vips.remove_leftovers(instance.own_index()).await;
        }
        instance.publish_ownership();
        // What tracking and the configuration say already counts when the
        // instance starts.
        if let Some(verdict) = instance.verdict.as_mut().map(|v| *v.borrow_and_update()) {
            instance.on_verdict(verdict).await;
        }
        if let Some(reason) = instance.spec.config_fault() {
            info!("({}) {reason}: going to FAULT state", instance.spec.name);
        }
        instance.publish_fault();
        instance.tell_fault().await;
        let actions = instance.fsm.handle(instance.now(), Event::Startup);
        instance.apply(actions).await;
        Ok(instance)
    }

    async fn event_loop(&mut self, commands: &mut mpsc::Receiver<Command>) {
        loop {
            let deadline = self.fsm.next_deadline().map(|t| self.origin + t);
            let log_due = self.rx_log.next_flush().map(|t| self.origin + t);
            tokio::select! {
                received = self.link.recv() => match received {
                    Ok(packet) => self.on_packet(packet).await,
                    Err(e) => self.rx_log.log(Line::ReceiveError(e.to_string()), self.now()),
                },
                changes = self.links.next() => self.follow_links(changes).await,
                _ = sleep_until_some(log_due) => self.rx_log.flush(self.now()),
                _ = sleep_until_some(deadline) => {
                    self.take_queued().await;
                    let actions = self.fsm.handle(self.now(), Event::Timeout);
                    self.apply(actions).await;
                }
                _ = sleep_until_some(self.garp_due) => self.garp_timer(),
                _ = sleep_until_some(self.pending.lower_prio_due()) => self.lower_prio_timer(),
                _ = sleep_until_some(self.pending.extra_due()) => self.extra_garp_timer(),
                verdict = next_verdict(&mut self.verdict) => self.on_verdict(verdict).await,
                command = commands.recv() => match command {
                    Some(Command::Sync(event)) => {
                        let actions = self.fsm.handle(self.now(), event);
                        self.apply(actions).await;
                    }
                    Some(Command::Notify(notifier)) => self.shared.notifier = notifier,
                    Some(Command::Track(mut verdict)) => {
                        // Fresh trackers start without results: keep what was
                        // applied until they report a change.
                        verdict.mark_unchanged();
                        self.verdict = Some(verdict);
                    }
                    Some(Command::Reconfigure(spec)) => self.reconfigure(*spec).await,
                    Some(Command::HandOver(handover)) => {
                        self.hand_over(handover);
                        break;
                    }
                    Some(Command::Shutdown) | None => break,
                },
            }
        }
        let mut actions = self.fsm.handle(self.now(), Event::Shutdown);
        if self.successor_continues() {
            // The same virtual router goes on: no priority 0 for the peers.
            actions.retain(|a| matches!(a, Action::Transition { .. }));
        }
        self.apply(actions).await;
        if !self.successor_continues() {
            self.shared
                .notifier
                .stop(Target::Instance(&self.spec.config), self.fsm.priority());
        }
        if !self.handover.as_ref().is_some_and(|h| h.keep_vmac) {
            self.link.close(&self.shared.netlink, &self.spec).await;
        }
    }

    fn now(&self) -> Time {
        self.origin.elapsed()
    }

    async fn on_packet(&mut self, packet: Option<super::io::Packet>) {
        let Some(packet) = packet else {
            return self.count_drop(Drop::Truncated);
        };
        let (vrids, interface) = (&self.shared.vrids, &self.spec.interface);
        let sibling = |vrid| {
            vrids
                .read()
                .is_ok_and(|v| v.contains(&(interface.clone(), vrid)))
        };
        let advert = match receive::accept(&packet, &self.spec, sibling) {
            Ok(advert) => advert,
            Err(Refused::Sibling) => return,
            Err(Refused::Dropped(drop)) => {
                self.count_drop(drop);
                let line = Line::Dropped {
                    drop,
                    src: packet.src,
                };
                return self.rx_log.log(line, self.now());
            }
        };
        self.shared.status.send_modify(|s| {
            s.adverts_received += 1;
            s.counts.priority_zero_received += u64::from(advert.priority == 0);
        });
        let event = Event::Advert {
            src: packet.src,
            priority: advert.priority,
            max_advert_int: advert.max_advert_int,
        };
        let now = self.now();
        let actions = self.fsm.handle(now, event);
        // Each advert can bring notices: they are rate limited like drops.
        let mut lower_priority = false;
        for notice in self.fsm.notices() {
            lower_priority |= matches!(notice, Reason::LowerPriority { .. });
            self.rx_log.log(Line::Notice(notice.clone()), now);
        }
        self.carry_out(actions).await;
        if lower_priority {
            self.on_lower_priority();
        }
    }

    /// Handles the packets queued before a timer is due, up to
    /// [`MAX_QUEUED`]: a daemon that was stopped (SIGSTOP, a stall) finds
    /// its master-down timer due and the master's adverts waiting at once,
    /// and must hear the master before it would take over from it.
    async fn take_queued(&mut self) {
        for _ in 0..MAX_QUEUED {
            match self.link.try_recv() {
                Some(Ok(packet)) => self.on_packet(packet).await,
                Some(Err(e)) => {
                    return self
                        .rx_log
                        .log(Line::ReceiveError(e.to_string()), self.now());
                }
                None => return,
            }
        }
    }

    /// Tells the state machine what changed in the tracking verdict.
    async fn on_verdict(&mut self, verdict: Verdict) {
        if verdict.priority != self.applied.priority {
            let actions = self
                .fsm
                .handle(self.now(), Event::Priority(verdict.priority));
            self.apply(actions).await;
        }
        self.applied = verdict;
        self.tell_fault().await;
    }

    /// Tells the state machine whether the instance is in FAULT: tracking
    /// says so, its interface is gone or unusable, or its configuration
    /// keeps it there.
    async fn tell_fault(&mut self) {
        let fault = self.applied.fault || self.fault_reason().is_some();
        if fault != self.told_fault {
            self.told_fault = fault;
            let actions = self.fsm.handle(self.now(), Event::Fault(fault));
            self.apply(actions).await;
        }
    }

    /// Why the instance is in FAULT whatever tracking says, if it is.
    fn fault_reason(&self) -> Option<&str> {
        self.link.fault().or(self.spec.config_fault())
    }

    /// Shows [`Instance::fault_reason`] in the instance's status.
    fn publish_fault(&self) {
        let error = self.fault_reason().map(str::to_owned);
        self.shared.status.send_modify(|s| s.error = error);
    }

    /// Sends the member's view to its sync group when it changed.
    fn report_to_group(&mut self) {
        let Some(link) = &self.shared.sync else {
            return;
        };
        let view = self.fsm.sync_view();
        if self.reported != Some(view) {
            self.reported = Some(view);
            let _ = link.views.send((link.index, view));
        }
    }

    fn count_drop(&self, drop: Drop) {
        self.shared.status.send_modify(|s| s.drops.add(drop));
    }

    /// Logs the state machine's notices of its last step, then carries out
    /// its actions in order.
    async fn apply(&mut self, actions: Vec<Action>) {
        for notice in self.fsm.notices() {
            info!("({}) {notice}", self.spec.name);
        }
        self.carry_out(actions).await;
    }

    /// Carries out the state machine's actions in order and publishes the
    /// resulting state.
    async fn carry_out(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert { priority } => self.send_advert(priority).await,
                Action::Transition { from, to, reason } => self.transition(from, to, reason).await,
            }
        }
        self.report_to_group();
        let (state, priority, master) = (self.fsm.state(), self.fsm.priority(), self.fsm.master());
        self.shared
            .status
            .send_modify(|s| (s.state, s.priority, s.master) = (state, priority, master));
    }

    /// The index of the instance's interface, while it has one.
    fn own_index(&self) -> Option<u32> {
        self.link.endpoint().map(|e| e.iface.index)
    }

    fn publish_ownership(&self) {
        let master = self.fsm.state() == State::Master;
        self.shared
            .ownership
            .set(&self.spec.name, self.spec.owned(master));
    }
}

/// The next tracking verdict; never resolves when nothing is tracked (or
/// tracking stopped, until a [`Command::Track`] brings a new channel).
async fn next_verdict(verdict: &mut Option<watch::Receiver<Verdict>>) -> Verdict {
    match verdict {
        Some(rx) => match rx.changed().await {
            Ok(()) => *rx.borrow_and_update(),
            Err(_) => {
                *verdict = None;
                pending().await
            }
        },
        None => pending().await,
    }
}
