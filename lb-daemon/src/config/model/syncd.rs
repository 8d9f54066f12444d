//! `lvs_sync_daemon`: IPVS connection synchronisation between directors.
//!
//! The kernel's sync daemons multicast (master) or receive (backup) the
//! connection table, so that a director taking over a VIP knows the
//! connections already established through the other one.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Config;

/// `lvs_sync_daemon INTERFACE [[inst] VRRP_INSTANCE] [id SYNC_ID]
/// [maxlen LEN] [port PORT] [ttl TTL] [group ADDRESS]` in `global_defs`.
///
/// With an instance, the master daemon runs while that instance is MASTER
/// and the backup daemon otherwise; without one, both run as long as
/// lb-daemon does. Settings left out take the kernel's defaults (group
/// 224.0.0.81, port 8848, ttl 1, maxlen from the interface's MTU).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LvsSyncDaemon {
    /// The interface the sync messages leave and arrive on.
    pub interface: String,
    /// The VRRP instance whose state chooses master or backup.
    pub instance: Option<String>,
    /// The sync id (0-255); the instance's `virtual_router_id` when
    /// absent (0 without an instance).
    pub id: Option<u32>,
    /// Largest sync message payload, in bytes (1-65507).
    pub maxlen: Option<u32>,
    /// UDP port (1-65535).
    pub port: Option<u32>,
    /// Multicast TTL (1-255).
    pub ttl: Option<u32>,
    /// Multicast group, IPv4 or IPv6.
    pub group: Option<IpAddr>,
}

/// Longest interface name the kernel takes (`IP_VS_IFNAME_MAXLEN` less
/// the terminating NUL).
pub const SYNC_IFNAME_MAX: usize = 15;

impl Config {
    /// The sync daemon settings in force: `global_defs`'s `lvs_sync_daemon`,
    /// else the first instance's deprecated `lvs_sync_daemon_interface`,
    /// which keepalived reads as that instance with sync id 0.
    pub fn sync_daemon(&self) -> Option<LvsSyncDaemon> {
        if let Some(settings) = &self.global_defs.lvs_sync_daemon {
            return Some(settings.clone());
        }
        self.vrrp_instance.iter().find_map(|instance| {
            let interface = instance.lvs_sync_daemon_interface.as_ref()?;
            Some(LvsSyncDaemon {
                interface: interface.clone(),
                instance: Some(instance.name.clone()),
                id: Some(0),
                ..LvsSyncDaemon::default()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{parse_keepalived_str, parse_toml_str, to_toml};

    const KEEPALIVED: &str =
        "global_defs {\n lvs_sync_daemon eth1 VI_1 id 7 ttl 2 group 224.0.0.82\n}\n\
        vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n\
        virtual_ipaddress {\n  192.0.2.50/24\n }\n}\n";

    #[test]
    fn both_front_ends_read_the_same_setting_and_name_the_line() {
        let ours = parse_keepalived_str(KEEPALIVED, Path::new("k.conf")).unwrap();
        let toml = to_toml(&ours.config);
        assert!(
            toml.contains("[global_defs.lvs_sync_daemon]\ninterface = \"eth1\""),
            "{toml}"
        );
        let back = parse_toml_str(&toml, Path::new("k.toml")).unwrap();
        assert_eq!(back.config, ours.config);

        let bad = KEEPALIVED.replace("ttl 2", "ttl 0");
        let errors = parse_keepalived_str(&bad, Path::new("k.conf")).unwrap_err();
        assert_eq!(
            errors.to_string().trim(),
            "k.conf:2:18: error: `ttl` must be 1-255, not 0"
        );
        let bad = toml.replace("ttl = 2", "ttl = 0");
        let errors = parse_toml_str(&bad, Path::new("k.toml")).unwrap_err();
        assert!(
            errors.to_string().contains("k.toml:")
                && errors.to_string().contains("`ttl` must be 1-255, not 0"),
            "{errors}"
        );
    }
}
