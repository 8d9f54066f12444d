//! keepalived's own doc/samples configurations (copied into
//! tests/data/keepalived-samples by `cargo xtask keepalived-import`): which
//! of them load. A sample either loads or fails with errors naming what is
//! not implemented; the set that loads is pinned so it can only grow on
//! purpose.

use std::path::{Path, PathBuf};

use lb_daemon::config;

/// The samples that load, every other one is refused.
const LOADING: &[&str] = &[
    "HTTP_GET.port",
    "IPv6",
    "PING_CHECK",
    "SMTP_CHECK",
    "SSL_GET",
    "UDP_CHECK",
    "conditional_conf",
    "fwmark",
    "inhibit",
    "misc_check",
    "misc_check_arg",
    "quorum",
    "sample",
    "status_code",
    "track_interface",
    "virtual_server_group",
    "virtualhost",
    "vrrp",
    "vrrp.localcheck",
    "vrrp.routes",
    "vrrp.scripts",
    "vrrp.static_ipaddress",
    "vrrp.sync",
];

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/keepalived-samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/keepalived-samples")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("keepalived.conf."))
        })
        .collect();
    files.sort();
    files
}

/// What still keeps a sample from loading, when it is pinned.
const REFUSED_FOR: &[(&str, &[&str])] = &[];

#[test]
fn keepalived_samples_load_or_name_what_is_missing() {
    // The conditional sample says to run keepalived with `-i high` or
    // `-i low`.
    config::set_read_options(config::ReadOptions::new(Some("high".into()), false));
    let files = samples();
    assert_eq!(files.len(), 25, "keepalived ships 25 sample configurations");
    let mut loading = Vec::new();
    let mut report = String::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let short = name.trim_start_matches("keepalived.conf.").to_string();
        match config::load(file) {
            Ok(loaded) => {
                report.push_str(&format!("loads   {short}\n"));
                for warning in &loaded.warnings {
                    report.push_str(&format!("        {}\n", warning.message));
                }
                loading.push(short);
            }
            Err(errors) => {
                let first = errors.0.iter().find(|d| d.is_error()).expect("an error");
                report.push_str(&format!("refused {short}: {}\n", first.message));
                let located = errors.0.iter().all(|d| d.location.is_some());
                assert!(located, "{short}: errors without a location: {errors}");
                if let Some((_, causes)) = REFUSED_FOR.iter().find(|(name, _)| *name == short) {
                    let mut messages = errors.0.iter().filter(|d| d.is_error());
                    let pinned = messages.all(|d| causes.iter().any(|c| d.message.starts_with(c)));
                    assert!(
                        pinned,
                        "{short}: refused for more than {causes:?}: {errors}"
                    );
                }
            }
        }
    }
    println!("{report}{} of {} samples load", loading.len(), files.len());
    assert_eq!(loading, LOADING, "{report}");
}
