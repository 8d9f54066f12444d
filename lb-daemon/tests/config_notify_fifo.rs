//! The notify FIFO keywords of `global_defs`: keepalived's forms (a path
//! with an optional owner; a quoted script with an optional user), their
//! TOML form through `convert`, and the warning for a script without its
//! FIFO.
use std::fs;

use lb_daemon::config::{self, Command, NotifyFifo};

const CONF: &str = r#"global_defs {
    notify_fifo /run/ka.fifo
    notify_fifo_script "/usr/local/bin/reader --all" nobody
    vrrp_notify_fifo /run/vrrp.fifo nobody nogroup
    lvs_notify_fifo_script /usr/local/bin/lvs-reader
}
"#;

#[test]
fn keywords_parse_convert_and_warn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    fs::write(&path, CONF).unwrap();
    let loaded = config::load(&path).expect("valid");
    let g = &loaded.config.global_defs;
    assert_eq!(
        g.notify_fifo,
        Some(NotifyFifo {
            path: "/run/ka.fifo".into(),
            user: None,
            group: None
        })
    );
    assert_eq!(
        g.notify_fifo_script,
        Some(Command {
            script: "/usr/local/bin/reader --all".into(),
            user: Some("nobody".into()),
            group: None
        })
    );
    let vrrp = g.vrrp_notify_fifo.as_ref().unwrap();
    assert_eq!(
        (vrrp.user.as_deref(), vrrp.group.as_deref()),
        (Some("nobody"), Some("nogroup"))
    );
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warnings.iter().any(|w| w
            .contains("`lvs_notify_fifo_script` without `lvs_notify_fifo` is ignored")
            && w.contains(":5:")),
        "{warnings:?}"
    );

    let toml = config::to_toml(&loaded.config);
    assert!(toml.contains("notify_fifo = \"/run/ka.fifo\""), "{toml}");
    let toml_path = dir.path().join("lb.toml");
    fs::write(&toml_path, &toml).unwrap();
    let again = config::load(&toml_path).expect("TOML valid");
    assert_eq!(again.config.global_defs, loaded.config.global_defs);
}
