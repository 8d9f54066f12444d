//! Broken configurations are refused with an error naming the exact place.

use std::path::Path;

use lb_daemon::config;

/// Each broken fixture, and the `line:col: error: message` start it must
/// produce (after the file name).
const CASES: &[(&str, &str)] = &[
    (
        "unknown_keyword.conf",
        "6:5: error: unknown keyword `priorty` in vrrp_instance; did you mean `priority`?",
    ),
    (
        "vrid_zero.conf",
        "4:23: error: `virtual_router_id` must be 1-255, not 0",
    ),
    (
        "priority_300.conf",
        "5:16: error: `priority` must be 1-255, not 300",
    ),
    (
        "bad_address.conf",
        "8:9: error: `virtual_ipaddress`: `192.0.2.300` is not an IP address",
    ),
    (
        "missing_track_script.conf",
        "13:9: error: track_script names unknown vrrp_script `chk_haproxy`",
    ),
    (
        "duplicate_vrid.conf",
        "11:23: error: virtual_router_id 51 is already used on eth0 by vrrp_instance `VI_1`",
    ),
    (
        "bad_lb_algo.conf",
        "11:13: error: `lb_algo`: unknown value `roundrobin`, expected one of `rr`, `wrr`",
    ),
    (
        "unbalanced_brace.conf",
        "5:20: error: `{` is never closed (unbalanced braces)",
    ),
    ("include_cycle_part.inc", "2:9: error: include cycle: "),
    (
        "bad_metrics_listen.conf",
        "3:20: error: `metrics_listen`: `127.0.0.1` is not an ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)",
    ),
    (
        "fast_path_flows_too_small.conf",
        "3:21: error: `fast_path_flows` must be 1024-67108864, not 16",
    ),
    (
        "bad_metrics_listen.toml",
        "3:18: error: invalid socket address syntax",
    ),
    (
        "unknown_key.toml",
        "8:1: error: unknown key `priorty`; did you mean `priority`?",
    ),
    (
        "priority_300.toml",
        "5:12: error: `priority` must be 1-255, not 300",
    ),
];

#[test]
fn broken_configs_name_the_right_place() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    for (file, expected) in CASES {
        let loaded = match file.ends_with(".inc") {
            true => config::load(&dir.join("include_cycle.conf")),
            false => config::load(&dir.join(file)),
        };
        let errors = loaded.expect_err(file).to_string();
        let wanted = format!("{}:{expected}", dir.join(file).display());
        assert!(
            errors.lines().any(|line| line.starts_with(&wanted)),
            "{file}: expected a line starting with\n{wanted}\ngot:\n{errors}"
        );
    }
}

#[test]
fn every_broken_fixture_is_covered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let covered = CASES.iter().any(|(file, _)| *file == name) || name == "include_cycle.conf";
        assert!(covered, "{name} has no expected error");
    }
}

#[test]
fn many_errors_are_reported_at_once() {
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 0\n priority 0\n \
                bogus 1\n}\nvirtual_server 192.0.2.1 80 {\n lb_kind XX\n}\n";
    let errors = config::parse_keepalived_str(text, Path::new("many.conf")).unwrap_err();
    let count = errors.0.iter().filter(|d| d.is_error()).count();
    assert_eq!(count, 4, "{errors}");
}
