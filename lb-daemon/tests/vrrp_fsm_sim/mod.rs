//! A deterministic simulated network for `vrrp::fsm` replay tests: every
//! advert a node sends reaches the other live nodes of the same VRID at the
//! same instant; timers fire in time order (lowest node index first on ties).
#![allow(dead_code)]

use std::{collections::VecDeque, net::IpAddr, time::Duration};

use lb_daemon::vrrp::{
    fsm::{Action, Event, Fsm, Params, Reason, State, Time},
    sync_group::SyncGroup,
    Version,
};

/// Upper bound on events handled in one delivery cascade.
const MAX_CASCADE: usize = 10_000;

/// Milliseconds as a [`Time`].
pub fn ms(n: u64) -> Time {
    Duration::from_millis(n)
}

/// Microseconds as a [`Time`].
pub fn us(n: u64) -> Time {
    Duration::from_micros(n)
}

/// Default parameters: preempt, no delay, `state BACKUP`.
pub fn params(version: Version, priority: u8, advert_int: Duration, addr: &str) -> Params {
    Params {
        version,
        priority,
        advert_int,
        preempt: true,
        preempt_delay: Duration::ZERO,
        initial: State::Backup,
        local_addr: addr.parse().expect("address"),
        strict: false,
    }
}

/// One instance on one host.
pub struct Node {
    pub fsm: Fsm,
    pub addr: IpAddr,
    pub advert_int: Duration,
    pub vrid: u8,
    /// A crashed node handles nothing and sends nothing.
    pub up: bool,
    pub log: Vec<(Time, Action)>,
    pub notices: Vec<(Time, Reason)>,
}

/// The simulated LAN.
pub struct Net {
    pub nodes: Vec<Node>,
    pub now: Time,
    /// `false`: every advert is lost (partition).
    pub connected: bool,
    /// Sync groups and the node indices of their members.
    pub groups: Vec<(SyncGroup, Vec<usize>)>,
}

impl Net {
    /// Nodes on VRID 1.
    pub fn new(params: Vec<Params>) -> Net {
        let mut net = Net {
            nodes: Vec::new(),
            now: Time::ZERO,
            connected: true,
            groups: Vec::new(),
        };
        for p in params {
            net.add(1, p);
        }
        net
    }

    /// Adds a node; returns its index.
    pub fn add(&mut self, vrid: u8, params: Params) -> usize {
        self.nodes.push(Node {
            addr: params.local_addr,
            advert_int: params.advert_int,
            vrid,
            fsm: Fsm::new(params),
            up: true,
            log: Vec::new(),
            notices: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Puts `members` in a sync group.
    pub fn group(&mut self, members: Vec<usize>) {
        let names = members.iter().map(|i| format!("VI_{i}")).collect();
        for &i in &members {
            self.nodes[i].fsm.set_sync_member(true);
        }
        self.groups.push((SyncGroup::new(names), members));
    }

    /// Feeds `event` to node `i` now and delivers whatever follows.
    pub fn send(&mut self, i: usize, event: Event) {
        let mut queue = VecDeque::from([(i, event)]);
        let mut handled = 0;
        while let Some((i, event)) = queue.pop_front() {
            handled += 1;
            assert!(handled < MAX_CASCADE, "delivery cascade does not end");
            if !self.nodes[i].up {
                continue;
            }
            let now = self.now;
            let node = &mut self.nodes[i];
            let actions = node.fsm.handle(now, event);
            let notices = node.fsm.notices().iter().map(|r| (now, r.clone()));
            node.notices.extend(notices);
            for action in actions {
                if let Action::SendAdvert { priority } = action {
                    self.deliver(i, priority, &mut queue);
                }
                self.nodes[i].log.push((now, action));
            }
            self.sync(i, &mut queue);
        }
    }

    fn deliver(&self, from: usize, priority: u8, queue: &mut VecDeque<(usize, Event)>) {
        if !self.connected {
            return;
        }
        let sender = &self.nodes[from];
        for (j, node) in self.nodes.iter().enumerate() {
            if j != from && node.up && node.vrid == sender.vrid {
                let advert = Event::Advert {
                    src: sender.addr,
                    priority,
                    max_advert_int: sender.advert_int,
                };
                queue.push_back((j, advert));
            }
        }
    }

    fn sync(&mut self, changed: usize, queue: &mut VecDeque<(usize, Event)>) {
        for (group, members) in &mut self.groups {
            if !members.contains(&changed) {
                continue;
            }
            let views: Vec<_> = members
                .iter()
                .map(|&m| self.nodes[m].fsm.sync_view())
                .collect();
            for (k, event) in group.reconcile(&views) {
                queue.push_back((members[k], event));
            }
        }
    }

    /// Advances time to `until`, firing due timers in order.
    pub fn run_until(&mut self, until: Time) {
        while let Some((due, i)) = self.next_timer().filter(|(due, _)| *due <= until) {
            self.now = self.now.max(due);
            self.send(i, Event::Timeout);
        }
        self.now = self.now.max(until);
    }

    fn next_timer(&self) -> Option<(Time, usize)> {
        let timers = self.nodes.iter().enumerate().filter(|(_, n)| n.up);
        timers
            .filter_map(|(i, n)| n.fsm.next_deadline().map(|d| (d, i)))
            .min()
    }

    /// Starts every node at the current time.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.send(i, Event::Startup);
        }
    }

    /// Every node's state.
    pub fn states(&self) -> Vec<State> {
        self.nodes.iter().map(|n| n.fsm.state()).collect()
    }

    /// Live masters.
    pub fn masters(&self) -> usize {
        let live = self.nodes.iter().filter(|n| n.up);
        live.filter(|n| n.fsm.state() == State::Master).count()
    }

    /// Node `i`'s transitions as `(time, from, to)`.
    pub fn transitions(&self, i: usize) -> Vec<(Time, State, State)> {
        let log = self.nodes[i].log.iter();
        log.filter_map(|(t, a)| match a {
            Action::Transition { from, to, .. } => Some((*t, *from, *to)),
            Action::SendAdvert { .. } => None,
        })
        .collect()
    }

    /// Time of node `i`'s last transition into `state`.
    pub fn entered(&self, i: usize, state: State) -> Option<Time> {
        let all = self.transitions(i).into_iter().rev();
        all.filter(|(_, _, to)| *to == state)
            .map(|(t, _, _)| t)
            .next()
    }

    /// Priorities node `i` advertised, with times.
    pub fn adverts(&self, i: usize) -> Vec<(Time, u8)> {
        let log = self.nodes[i].log.iter();
        log.filter_map(|(t, a)| match a {
            Action::SendAdvert { priority } => Some((*t, *priority)),
            Action::Transition { .. } => None,
        })
        .collect()
    }
}
