//! Which IPVS connection sync daemons must run (`lvs_sync_daemon`), derived
//! from the configuration and VIP ownership, as keepalived runs them:
//!
//! * without an instance, the master and the backup daemon both run as
//!   long as lb-daemon does (keepalived's checker process);
//! * with one, the master daemon runs while that instance is MASTER and the
//!   backup daemon otherwise: BACKUP, FAULT, and before it has started
//!   (keepalived's VRRP process starts the backup daemon at start-up and
//!   switches on every transition to and from MASTER).
//!
//! The sync id is the configured one, else the instance's
//! `virtual_router_id`, else 0. The IPVS sync reconciler programs the result.
use std::net::IpAddr;

use super::ownership::Ownership;
use crate::config::Config;

/// What both daemons are started with; `None`: the kernel's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    /// The multicast interface.
    pub interface: String,
    /// The sync id.
    pub sync_id: u8,
    /// Largest message payload.
    pub maxlen: Option<u16>,
    /// Multicast group.
    pub group: Option<IpAddr>,
    /// UDP port.
    pub port: Option<u16>,
    /// Multicast TTL.
    pub ttl: Option<u8>,
}

/// The sync daemons that must run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredSync {
    /// The shared settings; `None` when no `lvs_sync_daemon` is configured
    /// (then none must run).
    pub settings: Option<SyncSettings>,
    /// The master daemon must run.
    pub master: bool,
    /// The backup daemon must run.
    pub backup: bool,
}

/// The daemons `config` asks for, with VIP `ownership` as it is now.
/// Values out of range cannot reach here (validation refuses them); they
/// would be read as the kernel's default.
pub fn desired(config: &Config, ownership: &Ownership) -> DesiredSync {
    let Some(sync) = config.sync_daemon() else {
        return DesiredSync::default();
    };
    let instance = sync
        .instance
        .as_ref()
        .and_then(|name| config.vrrp_instance.iter().find(|i| &i.name == name));
    let vrid = instance.and_then(|i| i.virtual_router_id);
    let settings = SyncSettings {
        interface: sync.interface.clone(),
        sync_id: sync
            .id
            .or(vrid)
            .and_then(|id| id.try_into().ok())
            .unwrap_or(0),
        maxlen: sync.maxlen.and_then(|v| v.try_into().ok()),
        group: sync.group,
        port: sync.port.and_then(|v| v.try_into().ok()),
        ttl: sync.ttl.and_then(|v| v.try_into().ok()),
    };
    let master = match &sync.instance {
        None => true,
        Some(name) => ownership.get(name).is_some_and(|o| o.master),
    };
    DesiredSync {
        settings: Some(settings),
        master,
        backup: sync.instance.is_none() || !master,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LvsSyncDaemon, VrrpInstance};
    use crate::state::ownership::Owned;

    fn config(instance: Option<&str>, id: Option<u32>) -> Config {
        let mut config = Config::default();
        config.vrrp_instance.push(VrrpInstance {
            name: "VI_1".into(),
            virtual_router_id: Some(51),
            ..VrrpInstance::default()
        });
        config.global_defs.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: "eth1".into(),
            instance: instance.map(Into::into),
            id,
            port: Some(8850),
            ..LvsSyncDaemon::default()
        });
        config
    }

    fn owned(master: bool) -> Ownership {
        let owned = Owned {
            interface: "eth0".into(),
            master,
            vips: Vec::new(),
        };
        Ownership::from([("VI_1".to_owned(), owned)])
    }

    fn roles(desired: &DesiredSync) -> (bool, bool) {
        (desired.master, desired.backup)
    }

    #[test]
    fn the_instance_state_chooses_the_daemon() {
        let config = config(Some("VI_1"), None);
        let before = desired(&config, &Ownership::new());
        assert_eq!(roles(&before), (false, true), "backup until it is MASTER");
        assert_eq!(roles(&desired(&config, &owned(false))), (false, true));
        let master = desired(&config, &owned(true));
        assert_eq!(roles(&master), (true, false));
        let settings = master.settings.unwrap();
        assert_eq!((settings.sync_id, settings.port), (51, Some(8850)));
    }

    #[test]
    fn without_an_instance_both_run_with_id_0_unless_set() {
        let both = desired(&config(None, None), &owned(false));
        assert_eq!(roles(&both), (true, true));
        assert_eq!(both.settings.unwrap().sync_id, 0);
        let set = desired(&config(Some("VI_1"), Some(9)), &owned(true));
        assert_eq!(set.settings.unwrap().sync_id, 9);
        assert_eq!(
            desired(&Config::default(), &owned(true)),
            DesiredSync::default()
        );
    }
}
