//! `vrrp_startup_delay`: an instance waits before it starts, following
//! reloads meanwhile.
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

use super::{Command, Shared};
use crate::{track::Verdict, vrrp::spec::InstanceSpec};

/// What a waiting instance keeps up to date.
pub(super) struct Waiting<'a> {
    /// Its command channel.
    pub commands: &'a mut mpsc::Receiver<Command>,
    /// Its configuration (a reload may change it in place).
    pub spec: &'a mut InstanceSpec,
    /// What it shares with the daemon (a reload may change the notifier).
    pub shared: &'a mut Shared,
    /// Its tracking verdict (a reload restarts tracking).
    pub verdict: &'a mut Option<watch::Receiver<Verdict>>,
}

impl Waiting<'_> {
    /// Waits until `until` while following reloads; false when the
    /// instance is shut down (or handed over: it holds nothing yet) first.
    pub async fn until(self, until: Instant) -> bool {
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return true,
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown | Command::HandOver(_)) | None => return false,
                    Some(Command::Notify(notifier)) => self.shared.notifier = notifier,
                    Some(Command::Track(new)) => *self.verdict = Some(new),
                    Some(Command::Reconfigure(spec)) => *self.spec = *spec,
                    Some(Command::Sync(_)) => {}
                },
            }
        }
    }
}
