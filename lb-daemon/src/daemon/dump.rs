//! keepalived's dump files, written on its signals: `keepalived.data`
//! (SIGUSR1), `keepalived.stats` (SIGUSR2, STATS_CLEAR) and `keepalived.json`
//! (the JSON signal). They are derived from the one status document that
//! `lb-daemon status --json` prints (the JSON dump is that document, of the
//! schema in `docs/status-schema.md`, see [`super::status`]), laid
//! out like keepalived 2.2.7's text, and written in the runtime directory
//! (keepalived writes them in /tmp; one directory per daemon keeps parallel
//! daemons apart and avoids fixed names in a world-writable directory) by a
//! temporary file renamed into place, mode 0600.
use std::{
    fmt::Write as _,
    fs::{self, OpenOptions},
    io::Write as _,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde_json::Value;

/// The data dump's file name.
pub const DATA: &str = "keepalived.data";
/// The stats dump's file name.
pub const STATS: &str = "keepalived.stats";
/// The JSON dump's file name.
pub const JSON: &str = "keepalived.json";

/// Writes `content` to `dir/name` atomically, mode 0600; returns the path.
pub fn write(dir: &Path, name: &str, content: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(content.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })?;
    fs::rename(&tmp, &path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(path)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    }
}

/// keepalived's data dump: global settings and the VRRP topology.
pub fn data(status: &Value) -> String {
    let mut out = String::from("------< Global definitions >------\n");
    let globals = &status["config"]["global_defs"];
    let _ = writeln!(out, " Router ID = {}", text(&globals["router_id"]));
    let _ = writeln!(
        out,
        " Configuration file = {}",
        text(&status["config_file"])
    );
    let _ = writeln!(
        out,
        " Configuration generation = {}",
        text(&status["config_generation"])
    );
    out += "------< VRRP Topology >------\n";
    for i in status["vrrp"].as_array().into_iter().flatten() {
        let _ = writeln!(out, " VRRP Instance = {}", text(&i["name"]));
        let _ = writeln!(out, "   State = {}", text(&i["state"]));
        if i["state"] != "MASTER" && !i["master"].is_null() {
            let _ = writeln!(out, "   Master router = {}", text(&i["master"]));
        }
        let _ = writeln!(out, "   Last transition = {}", text(&i["last_transition"]));
        let _ = writeln!(out, "   Interface = {}", text(&i["interface"]));
        let _ = writeln!(out, "   Virtual Router ID = {}", text(&i["vrid"]));
        let _ = writeln!(out, "   Effective priority = {}", text(&i["priority"]));
        if !i["error"].is_null() {
            let _ = writeln!(out, "   Fault = {}", text(&i["error"]));
        }
        let vips = i["vips"].as_array().cloned().unwrap_or_default();
        let _ = writeln!(out, "   Virtual IP ({}):", vips.len());
        for vip in &vips {
            let _ = writeln!(out, "     {}", text(vip));
        }
    }
    out
}

/// A line of the stats dump: its label and the drop reasons (`lb-daemon
/// status` keys) it adds up.
type StatsLine = (&'static str, &'static [&'static str]);

/// keepalived's stats groups of dropped packets and their lines, in its
/// order; "Other Packet Errors" (drops keepalived does not count) is
/// lb-daemon's.
const STATS_GROUPS: &[(&str, &[StatsLine])] = &[
    (
        "Packet Errors",
        &[
            ("Length", &["truncated", "address_count"]),
            ("TTL", &["ttl"]),
            ("Invalid Type", &["type"]),
            ("Advertisement Interval", &["interval", "zero_interval"]),
            ("Address List", &["addresses"]),
        ],
    ),
    (
        "Authentication Errors",
        &[
            ("Invalid Type", &["auth_type_invalid"]),
            ("Type Mismatch", &["auth_type"]),
            ("Failure", &["auth_pass"]),
        ],
    ),
    (
        "Other Packet Errors",
        &[
            ("Version", &["version"]),
            ("Address Family", &["address_family"]),
            ("Checksum", &["checksum"]),
            ("Virtual Router ID", &["vrid"]),
            ("Destination", &["destination"]),
            ("Unicast Source", &["unicast_source"]),
        ],
    ),
];

/// keepalived's stats dump: per instance adverts and dropped packets, in
/// keepalived's groups.
pub fn stats(status: &Value) -> String {
    let mut out = String::new();
    for i in status["vrrp"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "VRRP Instance: {}", text(&i["name"]));
        out += "  Advertisements:\n";
        let _ = writeln!(out, "    Received: {}", text(&i["adverts_received"]));
        let _ = writeln!(out, "    Sent: {}", text(&i["adverts_sent"]));
        let _ = writeln!(out, "  Became master: {}", text(&i["become_master"]));
        let _ = writeln!(out, "  Released master: {}", text(&i["release_master"]));
        for (n, (group, lines)) in STATS_GROUPS.iter().enumerate() {
            if n == 2 {
                out += "  Priority Zero:\n";
                let _ = writeln!(out, "    Received: {}", text(&i["priority_zero_received"]));
                let _ = writeln!(out, "    Sent: {}", text(&i["priority_zero_sent"]));
            }
            let _ = writeln!(out, "  {group}:");
            for (label, reasons) in *lines {
                let count: u64 = reasons.iter().filter_map(|r| i["drops"][r].as_u64()).sum();
                let _ = writeln!(out, "    {label}: {count}");
            }
        }
    }
    out
}

/// The JSON dump: the status document itself.
pub fn json(status: &Value) -> String {
    let mut s = status.to_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status() -> Value {
        json!({
            "config_file": "/etc/keepalived/keepalived.conf",
            "config_generation": 2,
            "config": {"global_defs": {"router_id": "lb1"},
                       "vrrp_instance": [{"name": "VI_1"}]},
            "vrrp": [{"name": "VI_1", "state": "MASTER", "interface": "eth0", "vrid": 51,
                      "priority": 150, "master": "192.0.2.1", "vips": ["192.0.2.50/24"],
                      "last_transition": 1, "adverts_sent": 7, "adverts_received": 3,
                      "become_master": 2, "release_master": 1, "priority_zero_sent": 1,
                      "priority_zero_received": 0,
                      "drops": {"auth_pass": 2, "truncated": 1, "address_count": 4}, "error": null}],
        })
    }

    #[test]
    fn data_and_stats_follow_keepalived_layout() {
        let data = data(&status());
        assert!(data
            .contains("------< VRRP Topology >------\n VRRP Instance = VI_1\n   State = MASTER\n"));
        assert!(data.contains("   Virtual IP (1):\n     192.0.2.50/24\n"));
        let stats = stats(&status());
        assert!(stats
            .starts_with("VRRP Instance: VI_1\n  Advertisements:\n    Received: 3\n    Sent: 7\n"));
        assert!(stats.contains("  Authentication Errors:\n    Invalid Type: 0\n    Type Mismatch: 0\n    Failure: 2\n"), "{stats}");
        assert!(stats.contains("    Length: 5\n"), "{stats}");
        assert!(
            stats.contains(
                "    Sent: 7\n  Became master: 2\n  Released master: 1\n  Packet Errors:\n"
            ),
            "{stats}"
        );
        assert!(
            stats.contains("    Failure: 2\n  Priority Zero:\n    Received: 0\n    Sent: 1\n  Other Packet Errors:\n"),
            "{stats}"
        );
    }

    #[test]
    fn written_files_are_private_and_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), DATA, "x\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "x\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
