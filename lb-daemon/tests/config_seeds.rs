//! The configurations of the tutorials in `fixtures/seeds` load cleanly and
//! survive a trip through TOML.

use std::path::{Path, PathBuf};

use lb_daemon::config::{self, Loaded};

fn seeds() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 12, "seed fixtures missing: {paths:?}");
    paths
}

fn load(path: &Path) -> Loaded {
    config::load(path).unwrap_or_else(|errors| panic!("{} failed:\n{errors}", path.display()))
}

fn seed(name: &str) -> Loaded {
    load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seeds")
            .join(name),
    )
}

#[test]
fn every_seed_loads_without_errors() {
    for path in seeds() {
        let loaded = load(&path);
        let config = &loaded.config;
        assert!(!config.vrrp_instance.is_empty(), "{}", path.display());
        for warning in &loaded.warnings {
            println!("{warning}");
        }
    }
}

#[test]
fn every_seed_round_trips_through_toml() {
    for path in seeds() {
        let config = load(&path).config;
        let text = config::to_toml(&config);
        let back = config::parse_toml_str(&text, Path::new("converted.toml"))
            .unwrap_or_else(|errors| panic!("{}:\n{errors}\n{text}", path.display()));
        assert_eq!(back.config, config, "{}:\n{text}", path.display());
    }
}

#[test]
fn reference_config_is_bound_in_full() {
    let config = seed("000_reference.conf").config;
    let instance = &config.vrrp_instance[0];
    assert_eq!(instance.virtual_router_id, Some(151));
    assert_eq!(instance.track_interface.len(), 2);
    assert_eq!(instance.virtual_ipaddress[1].dev.as_deref(), Some("eth1"));
    let server = &config.virtual_server[0];
    assert_eq!(
        server.persistence_granularity.as_deref(),
        Some("255.255.255.0")
    );
    let real = &server.real_server[0];
    assert_eq!(real.weight, Some(3));
    assert_eq!(real.checker.len(), 3);
    assert_eq!(
        real.checker[0].retry,
        Some(3),
        "nb_get_retry is an alias of retry"
    );
    assert_eq!(real.checker[1].url[0].status_code[0].from, 200);
    assert_eq!(real.checker[2].misc_timeout, Some(5));
    assert!(
        !real.checker[2].misc_dynamic,
        "`! misc_dynamic` is a comment"
    );
}

#[test]
fn notify_scripts_keep_user_and_group() {
    let config = seed("001_nginx_mail_notify_user.conf").config;
    let notify = config.vrrp_instance[0].notify_master.clone().unwrap();
    assert_eq!(notify.script, "/etc/keepalived/mail_send_master.sh");
    assert_eq!(
        (notify.user.as_deref(), notify.group.as_deref()),
        (Some("root"), Some("root"))
    );
    let quoted = seed("001_nginx_mail_notify.conf").config.vrrp_instance[0]
        .notify_master
        .clone();
    assert_eq!(
        quoted.unwrap().script,
        "/etc/keepalived/mail_send.sh master"
    );
}

#[test]
fn inline_comments_end_values() {
    let loaded = seed("002_unicast_nginx.conf");
    let instance = &loaded.config.vrrp_instance[0];
    assert_eq!(instance.unicast_peer.len(), 1);
    assert_eq!(
        instance.virtual_ipaddress[0].label.as_deref(),
        Some("eth0:vip1")
    );
    let script = &loaded.config.vrrp_script[0];
    assert_eq!(
        (script.weight, script.fall, script.rise),
        (Some(-20), Some(3), Some(2))
    );
    assert!(script.init_fail);
    assert_eq!(
        loaded.config.global_defs.router_id.as_deref(),
        Some("MASTER")
    );
}

#[test]
fn miscased_keywords_load_with_a_warning() {
    let loaded = seed("003_prefetch_vrrp.conf");
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    let expected = "003_prefetch_vrrp.conf:29:1: warning: keyword `VRRP_instance` should be \
                    written `vrrp_instance`; keepalived itself rejects this spelling";
    assert!(
        warnings.iter().any(|w| w.ends_with(expected)),
        "{warnings:?}"
    );
    let smtp = loaded.config.global_defs.smtp_server.clone().unwrap();
    assert_eq!(smtp.host, "mail.prefetch.net");
    assert!(loaded.config.vrrp_instance[0].smtp_alert);
}
