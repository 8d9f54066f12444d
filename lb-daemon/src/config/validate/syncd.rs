//! Checks of `lvs_sync_daemon` and the deprecated per-instance
//! `lvs_sync_daemon_interface`.

use super::Check;
use crate::config::model::{Config, LvsSyncDaemon, SYNC_IFNAME_MAX};

/// keepalived's limit on `maxlen`: a UDP payload in an IPv4 packet.
const MAXLEN: (u32, u32) = (1, 65535 - 20 - 8);

pub(super) fn check(check: &mut Check, config: &Config) {
    let deprecated: Vec<usize> = (config.vrrp_instance.iter().enumerate())
        .filter(|(_, i)| i.lvs_sync_daemon_interface.is_some())
        .map(|(n, _)| n)
        .collect();
    for (nth, &i) in deprecated.iter().enumerate() {
        let path = format!("vrrp_instance.{i}.lvs_sync_daemon_interface");
        let name = &config.vrrp_instance[i].name;
        if config.global_defs.lvs_sync_daemon.is_some() || nth > 0 {
            // keepalived keeps the first one it reads and reports the
            // other as a configuration error; which one is first is easy
            // to get wrong, so neither is guessed here.
            check.error(
                &path,
                format!(
                    "({name}) `lvs_sync_daemon_interface`: the sync daemon is already \
                     configured elsewhere; keep one `lvs_sync_daemon` in global_defs"
                ),
            );
        } else {
            check.warning(
                &path,
                format!(
                    "({name}) `lvs_sync_daemon_interface` is deprecated: it means \
                     `lvs_sync_daemon IF {name} id 0` in global_defs"
                ),
            );
        }
    }
    if let Some(settings) = &config.global_defs.lvs_sync_daemon {
        settings_check(check, config, settings);
    }
}

fn settings_check(check: &mut Check, config: &Config, settings: &LvsSyncDaemon) {
    let path = "global_defs.lvs_sync_daemon";
    let interface = &settings.interface;
    if interface.is_empty() || interface.len() > SYNC_IFNAME_MAX {
        check.error(
            &format!("{path}.interface"),
            format!(
                "`lvs_sync_daemon` interface `{interface}` must be 1-{SYNC_IFNAME_MAX} characters"
            ),
        );
    }
    if let Some(name) = &settings.instance {
        if !config.vrrp_instance.iter().any(|i| &i.name == name) {
            check.error(
                &format!("{path}.instance"),
                format!("`lvs_sync_daemon` names unknown vrrp_instance `{name}`"),
            );
        }
    }
    check.range(path, "id", settings.id, (0, 255));
    check.range(path, "maxlen", settings.maxlen, MAXLEN);
    check.range(path, "port", settings.port, (1, 65535));
    check.range(path, "ttl", settings.ttl, (1, 255));
    if let Some(group) = settings.group.filter(|g| !g.is_multicast()) {
        check.error(
            &format!("{path}.group"),
            format!("`lvs_sync_daemon` group {group} is not a multicast address"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::VrrpInstance;

    fn instance(name: &str, sync: Option<&str>) -> VrrpInstance {
        VrrpInstance {
            name: name.into(),
            lvs_sync_daemon_interface: sync.map(Into::into),
            ..VrrpInstance::default()
        }
    }

    fn messages(config: &Config) -> Vec<(String, String)> {
        let mut found = Check::default();
        check(&mut found, config);
        found
            .issues
            .into_iter()
            .map(|i| (i.path, i.message))
            .collect()
    }

    #[test]
    fn ranges_family_and_instance_are_named() {
        let mut config = Config::default();
        config.vrrp_instance.push(instance("VI_1", None));
        config.global_defs.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: "a-name-too-long0".into(),
            instance: Some("VI_9".into()),
            id: Some(256),
            maxlen: Some(65508),
            port: Some(0),
            ttl: Some(0),
            group: Some("192.0.2.1".parse().unwrap()),
        });
        let paths: Vec<String> = messages(&config).into_iter().map(|(p, _)| p).collect();
        let fields = [
            "interface",
            "instance",
            "id",
            "maxlen",
            "port",
            "ttl",
            "group",
        ];
        let expected: Vec<String> = fields
            .iter()
            .map(|f| format!("global_defs.lvs_sync_daemon.{f}"))
            .collect();
        assert_eq!(paths, expected);
        let found = messages(&config);
        assert!(
            found[1].1.contains("unknown vrrp_instance `VI_9`"),
            "{found:?}"
        );
        assert_eq!(found[5].1, "`ttl` must be 1-255, not 0");

        config.global_defs.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: "eth1".into(),
            instance: Some("VI_1".into()),
            id: Some(0),
            maxlen: Some(65507),
            port: Some(65535),
            ttl: Some(255),
            group: Some("ff02::81".parse().unwrap()),
        });
        assert_eq!(messages(&config), []);
    }

    #[test]
    fn the_deprecated_keyword_warns_alone_and_conflicts_otherwise() {
        let mut config = Config::default();
        config.vrrp_instance.push(instance("VI_1", Some("eth1")));
        let found = messages(&config);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("`lvs_sync_daemon IF VI_1 id 0`"));
        let sync = config.sync_daemon().unwrap();
        assert_eq!(
            (sync.interface.as_str(), sync.instance.as_deref(), sync.id),
            ("eth1", Some("VI_1"), Some(0))
        );
        config.vrrp_instance.push(instance("VI_2", Some("eth2")));
        assert_eq!(
            messages(&config)[1].0,
            "vrrp_instance.1.lvs_sync_daemon_interface"
        );
        config.vrrp_instance.pop();
        config.global_defs.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: "eth3".into(),
            ..LvsSyncDaemon::default()
        });
        let found = messages(&config);
        assert!(found[0].1.contains("already configured"), "{found:?}");
        assert_eq!(config.sync_daemon().unwrap().interface, "eth3");
    }
}
