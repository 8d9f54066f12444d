//! From the desired sync daemons and those the kernel runs to the steps
//! between them (pure).
use crate::dataplane::ipvs::model::{SyncDaemon, SyncRole};
use crate::state::sync_daemons::DesiredSync;

/// One change to the kernel's sync daemons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Stop the daemon of this role.
    Stop(SyncRole),
    /// Start this daemon.
    Start(SyncDaemon),
}

/// The daemons `desired` asks for, master first.
pub fn targets(desired: &DesiredSync) -> Vec<SyncDaemon> {
    let Some(settings) = &desired.settings else {
        return Vec::new();
    };
    let roles = [
        (SyncRole::Master, desired.master),
        (SyncRole::Backup, desired.backup),
    ];
    roles
        .into_iter()
        .filter(|(_, wanted)| *wanted)
        .map(|(role, _)| SyncDaemon {
            role,
            interface: settings.interface.clone(),
            sync_id: settings.sync_id,
            maxlen: settings.maxlen,
            group: settings.group,
            port: settings.port,
            ttl: settings.ttl,
        })
        .collect()
}

/// The steps from `running` to `wanted`: a running daemon that satisfies
/// the wanted one of its role is kept (adopted after a restart, whoever
/// started it); one that differs, or whose role is not wanted, is stopped.
/// Every stop comes before any start, so that turning MASTER stops the
/// backup daemon first and leaving MASTER the master daemon, as keepalived
/// does.
pub fn plan(running: &[SyncDaemon], wanted: &[SyncDaemon]) -> Vec<Step> {
    let mut stops = Vec::new();
    let mut starts = Vec::new();
    for role in SyncRole::ALL {
        let now = running.iter().find(|d| d.role == role);
        let want = wanted.iter().find(|d| d.role == role);
        match (now, want) {
            (Some(now), Some(want)) if now.satisfies(want) => {}
            (now, want) => {
                stops.extend(now.map(|_| Step::Stop(role)));
                starts.extend(want.map(|want| Step::Start(want.clone())));
            }
        }
    }
    stops.extend(starts);
    stops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::sync_daemons::SyncSettings;

    fn desired(master: bool, backup: bool) -> DesiredSync {
        DesiredSync {
            settings: Some(SyncSettings {
                interface: "eth1".into(),
                sync_id: 51,
                maxlen: None,
                group: None,
                port: None,
                ttl: None,
            }),
            master,
            backup,
        }
    }

    /// A daemon as the kernel lists it, defaults filled in.
    fn listed(role: SyncRole, sync_id: u8) -> SyncDaemon {
        SyncDaemon {
            role,
            interface: "eth1".into(),
            sync_id,
            maxlen: Some(1472),
            group: Some("224.0.0.81".parse().unwrap()),
            port: Some(8848),
            ttl: Some(1),
        }
    }

    #[test]
    fn turning_master_stops_the_backup_then_starts_the_master() {
        let wanted = targets(&desired(true, false));
        let steps = plan(&[listed(SyncRole::Backup, 51)], &wanted);
        assert_eq!(
            steps,
            [Step::Stop(SyncRole::Backup), Step::Start(wanted[0].clone())]
        );
        let back = targets(&desired(false, true));
        let steps = plan(&[listed(SyncRole::Master, 51)], &back);
        assert_eq!(
            steps,
            [Step::Stop(SyncRole::Master), Step::Start(back[0].clone())]
        );
    }

    #[test]
    fn what_runs_already_is_adopted_or_replaced() {
        let both = targets(&desired(true, true));
        assert_eq!(both.len(), 2);
        let running = [listed(SyncRole::Master, 51), listed(SyncRole::Backup, 51)];
        assert_eq!(plan(&running, &both), []);
        // A killed run left daemons with another sync id.
        let stale = [listed(SyncRole::Master, 9), listed(SyncRole::Backup, 51)];
        assert_eq!(
            plan(&stale, &both),
            [Step::Stop(SyncRole::Master), Step::Start(both[0].clone())]
        );
        // Nothing configured any more: both go.
        assert_eq!(
            plan(&running, &targets(&DesiredSync::default())),
            [Step::Stop(SyncRole::Master), Step::Stop(SyncRole::Backup)]
        );
    }
}
