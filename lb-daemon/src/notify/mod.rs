//! State-change notifications of VRRP instances and sync groups: the
//! `notify*` scripts, `smtp_alert` mail and the notify FIFOs' lines, with
//! keepalived's arguments, subjects, bodies and line formats (see
//! [`scripts`], [`smtp`] and [`fifo`] for the details and the keepalived
//! sources they follow).
//!
//! Everything runs in spawned tasks: [`Notifier::transition`] and
//! [`Notifier::stop`] return at once, so the VRRP state machine never waits
//! for a script or a mail relay. Scripts of one event run concurrently, as
//! keepalived forks them without waiting.
//!
//! keepalived puts no time limit on transition scripts (it only kills them
//! when it exits); lb-daemon kills a script's whole process group after
//! [`DEFAULT_SCRIPT_TIMEOUT`] so that a hung script cannot pile up processes
//! on every failover. [`Notifier::drain`] plays the part of keepalived's
//! `child_wait_time` at exit: it waits, bounded, for what is still running
//! (notably `notify_stop`) and then kills it.

pub mod fifo;
pub mod scripts;
pub mod smtp;
mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{debug, error, warn};

use crate::config::{Command, Config, SyncGroup, VrrpInstance};
use crate::script::ScriptEnv;
use crate::vrrp::fsm::State;

use self::fifo::Fifos;
use self::smtp::Mailer;
use self::tasks::Tasks;

/// How long a notify script may run before its process group is killed.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Whose state changed.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A `vrrp_instance` (notify argument `INSTANCE`).
    Instance(&'a VrrpInstance),
    /// A `vrrp_sync_group` (notify argument `GROUP`).
    Group(&'a SyncGroup),
}

/// What is notified: a state entered, or the stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Entered MASTER.
    Master,
    /// Entered BACKUP.
    Backup,
    /// Entered FAULT.
    Fault,
    /// The instance or group stops (daemon shutdown or removal).
    Stop,
}

impl Event {
    /// The event for entering `state`; `None` for INIT, which keepalived
    /// never notifies.
    pub fn entering(state: State) -> Option<Event> {
        match state {
            State::Master => Some(Event::Master),
            State::Backup => Some(Event::Backup),
            State::Fault => Some(Event::Fault),
            State::Initialize => None,
        }
    }

    /// The word passed to the generic `notify` script.
    pub fn word(self) -> &'static str {
        match self {
            Event::Master => "MASTER",
            Event::Backup => "BACKUP",
            Event::Fault => "FAULT",
            Event::Stop => "STOP",
        }
    }
}

/// The notification settings of an instance or a group, side by side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hooks<'a> {
    group: bool,
    name: &'a str,
    master: Option<&'a Command>,
    backup: Option<&'a Command>,
    fault: Option<&'a Command>,
    stop: Option<&'a Command>,
    generic: Option<&'a Command>,
    smtp_alert: bool,
}

impl<'a> Hooks<'a> {
    fn of(target: Target<'a>) -> Hooks<'a> {
        match target {
            Target::Instance(i) => Hooks {
                group: false,
                name: &i.name,
                master: i.notify_master.as_ref(),
                backup: i.notify_backup.as_ref(),
                fault: i.notify_fault.as_ref(),
                stop: i.notify_stop.as_ref(),
                generic: i.notify.as_ref(),
                smtp_alert: i.smtp_alert,
            },
            Target::Group(g) => Hooks {
                group: true,
                name: &g.name,
                master: g.notify_master.as_ref(),
                backup: g.notify_backup.as_ref(),
                fault: g.notify_fault.as_ref(),
                stop: g.notify_stop.as_ref(),
                generic: g.notify.as_ref(),
                smtp_alert: g.smtp_alert,
            },
        }
    }

    /// `INSTANCE` or `GROUP`, as passed to the generic script.
    fn kind(&self) -> &'static str {
        if self.group {
            "GROUP"
        } else {
            "INSTANCE"
        }
    }

    /// Log prefix, as keepalived writes it.
    fn label(&self) -> String {
        if self.group {
            format!("VRRP_Group({})", self.name)
        } else {
            format!("({})", self.name)
        }
    }
}

/// Runs notify scripts and sends alert mail for state changes. Cheap to
/// clone; clones share the running tasks and the mail history.
#[derive(Debug, Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    env: ScriptEnv,
    script_timeout: Duration,
    mailer: Option<Arc<Mailer>>,
    /// Last event mailed per (group?, name): keepalived's `last_email_state`,
    /// so the same state is never mailed twice in a row.
    mailed: Mutex<HashMap<(bool, String), Event>>,
    tasks: Arc<Tasks>,
    /// `notify_fifo` and `vrrp_notify_fifo`.
    fifos: Fifos,
}

impl Notifier {
    /// A notifier for `config`'s `global_defs` (script user and security,
    /// mail settings), killing scripts after [`DEFAULT_SCRIPT_TIMEOUT`]. Needs
    /// no runtime; notifying does.
    pub fn new(config: &Config) -> Notifier {
        Notifier::with_script_timeout(config, DEFAULT_SCRIPT_TIMEOUT)
    }

    /// Like [`Notifier::new`], killing scripts after `timeout`.
    pub fn with_script_timeout(config: &Config, timeout: Duration) -> Notifier {
        Notifier::writing(config, timeout, Fifos::default())
    }

    /// Like [`Notifier::new`], also writing the VRRP lines to `fifos`.
    pub fn with_fifos(config: &Config, fifos: Fifos) -> Notifier {
        Notifier::writing(config, DEFAULT_SCRIPT_TIMEOUT, fifos)
    }

    fn writing(config: &Config, timeout: Duration, fifos: Fifos) -> Notifier {
        Notifier {
            inner: Arc::new(Inner {
                env: ScriptEnv::new(&config.global_defs),
                script_timeout: timeout,
                mailer: Mailer::new(&config.global_defs).map(Arc::new),
                mailed: Mutex::default(),
                tasks: Arc::default(),
                fifos,
            }),
        }
    }

    /// An instance (kind INSTANCE) or sync group (kind GROUP) entered `state`
    /// with `priority`: runs its scripts and mail. Returns at once. Entering
    /// INIT notifies nothing, as in keepalived. `priority` is the effective
    /// priority of an instance; groups always pass 0 to `notify`.
    pub fn transition(&self, target: Target<'_>, state: State, priority: u8) {
        match Event::entering(state) {
            Some(event) => self.notify(Hooks::of(target), event, priority),
            None => debug!(
                "{} entering {state}: nothing to notify",
                Hooks::of(target).label()
            ),
        }
    }

    /// The instance/group stops: `notify_stop`, the generic `notify` script
    /// with `STOP`, and a "Stopping" mail, as keepalived's `notify_shutdown`.
    /// Returns at once; [`Notifier::drain`] waits for them.
    pub fn stop(&self, target: Target<'_>, priority: u8) {
        self.notify(Hooks::of(target), Event::Stop, priority);
    }

    /// Waits (bounded) for the scripts and mails still running, for a clean
    /// daemon exit; kills whatever is left after `timeout`.
    pub async fn drain(&self, timeout: Duration) {
        let cancelled = self.inner.tasks.drain(timeout).await;
        if cancelled > 0 {
            warn!(
                "{cancelled} notify script(s)/mail(s) still running after {:.1}s - killed",
                timeout.as_secs_f64()
            );
        }
    }

    fn notify(&self, hooks: Hooks<'_>, event: Event, priority: u8) {
        let inner = &self.inner;
        inner
            .fifos
            .vrrp(hooks.kind(), hooks.name, event.word(), priority);
        for job in scripts::jobs(&hooks, event, priority) {
            let inner = inner.clone();
            self.spawn(&hooks, async move {
                scripts::run(job, &inner.env, inner.script_timeout).await;
            });
        }
        if let Some(mailer) = self.mailer_for(&hooks, event) {
            let alert = mailer.alert(&hooks, event);
            self.spawn(&hooks, async move { mailer.send(alert).await });
        }
    }

    /// The mailer when `hooks` wants mail for `event` and keepalived would
    /// send it (not the same state as the last mail); records the event.
    fn mailer_for(&self, hooks: &Hooks<'_>, event: Event) -> Option<Arc<Mailer>> {
        let mailer = self.inner.mailer.as_ref().filter(|_| hooks.smtp_alert)?;
        let key = (hooks.group, hooks.name.to_string());
        let previous = self.inner.mailed.lock().unwrap().insert(key, event);
        (previous != Some(event)).then(|| mailer.clone())
    }

    fn spawn(
        &self,
        hooks: &Hooks<'_>,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        if !self.inner.tasks.spawn(work) {
            error!("{} notification dropped: no tokio runtime", hooks.label());
        }
    }
}
