//! The daemon itself: `keepalived_up`, the configuration in force and the
//! last reload, the tracking scripts (`keepalived_script_status` as
//! mehdy/keepalived-exporter serves it), IPVS availability.
use serde_json::Value;

use super::family::{labels, Family, Kind};

/// The families from the top of the status document.
pub fn families(status: &Value) -> Vec<Family> {
    let none = labels([]);
    let mut up = Family::new(
        "keepalived_up",
        "Status (1: the daemon answered this scrape).",
        Kind::Gauge,
    );
    up.push(&none, 1u64);
    let mut generation = Family::new(
        "lb_config_generation",
        "Configuration in force: 1 at start, +1 per successful reload.",
        Kind::Gauge,
    );
    let mut loaded = Family::new(
        "lb_config_loaded_timestamp_seconds",
        "Unix time the configuration in force was loaded.",
        Kind::Gauge,
    );
    let mut reload = Family::new(
        "lb_config_last_reload_success",
        "Whether the last reload succeeded (0: the previous configuration is kept).",
        Kind::Gauge,
    );
    if let Some(g) = status["config_generation"].as_u64() {
        generation.push(&none, g);
    }
    if let Some(t) = status["config_loaded_at"].as_u64() {
        loaded.push(&none, t);
    }
    reload.push(&none, status["last_reload_error"].is_null());
    let mut scripts = Family::new(
        "keepalived_script_status",
        "Tracker Script Status (0 BAD, 1 GOOD).",
        Kind::Gauge,
    );
    for t in status["tracking"]["tracked"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let good = match (t["kind"].as_str(), t["state"].as_str()) {
            (Some("script"), Some("up")) => true,
            (Some("script"), Some("down")) => false,
            _ => continue,
        };
        scripts.push(
            &labels([("name", t["name"].as_str().unwrap_or_default().to_string())]),
            good,
        );
    }
    let mut ipvs = Family::new(
        "lb_ipvs_available",
        "Whether IPVS can be programmed.",
        Kind::Gauge,
    );
    if let Some(available) = status["lvs"]["ipvs"]["available"].as_bool() {
        ipvs.push(&none, available);
    }
    vec![up, generation, loaded, reload, scripts, ipvs]
}

#[cfg(test)]
mod tests {
    use super::super::encode::{encode, Format};
    use super::*;
    use serde_json::json;

    #[test]
    fn reload_result_and_script_status() {
        let status = json!({
            "config_generation": 3, "config_loaded_at": 1700000000u64,
            "last_reload_error": "configuration k.conf is invalid",
            "tracking": {"tracked": [
                {"name": "chk_ok", "kind": "script", "state": "up"},
                {"name": "chk_bad", "kind": "script", "state": "down"},
                {"name": "chk_new", "kind": "script", "state": "unknown"},
                {"name": "eth0", "kind": "interface", "state": "up"},
            ]},
            "lvs": {"ipvs": {"available": false}},
        });
        let out = encode(&families(&status), Format::Text);
        for line in [
            "keepalived_up 1\n",
            "lb_config_generation 3\n",
            "lb_config_last_reload_success 0\n",
            "keepalived_script_status{name=\"chk_ok\"} 1\n",
            "keepalived_script_status{name=\"chk_bad\"} 0\n",
            "lb_ipvs_available 0\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
        assert!(!out.contains("chk_new") && !out.contains("eth0"), "{out}");
    }
}
