//! BGP announcement: per prefix whether it is announced, per neighbour
//! whether the BGP session is established and BFD up (as BIRD reports
//! them), from the status document's `bgp`.
use serde_json::Value;

use super::family::{labels, Family, Kind};

/// The families from the status document's `bgp` (none without one).
pub fn families(bgp: &Value) -> Vec<Family> {
    let mut announced = Family::new(
        "lb_bgp_announced",
        "Whether the prefix is announced to the routers (0 while withdrawn or draining).",
        Kind::Gauge,
    );
    let mut session = Family::new(
        "lb_bgp_session_established",
        "Whether the BGP session with the neighbour is established.",
        Kind::Gauge,
    );
    let mut bfd = Family::new(
        "lb_bgp_bfd_up",
        "Whether the BFD session with the neighbour is up (absent without BFD).",
        Kind::Gauge,
    );
    for a in bgp["announcements"].as_array().into_iter().flatten() {
        let prefix = a["prefix"].as_str().unwrap_or_default().to_owned();
        announced.push(&labels([("prefix", prefix)]), a["state"] == "announced");
    }
    for s in bgp["sessions"].as_array().into_iter().flatten() {
        let l = labels([(
            "neighbor",
            s["neighbor"].as_str().unwrap_or_default().to_owned(),
        )]);
        session.push(&l, s["bgp_state"] == "Established");
        if let Some(state) = s["bfd_state"].as_str() {
            bfd.push(&l, state == "Up");
        }
    }
    vec![announced, session, bfd]
}

#[cfg(test)]
mod tests {
    use super::super::encode::{encode, Format};
    use super::*;
    use serde_json::json;

    #[test]
    fn announcements_and_sessions_become_gauges() {
        let bgp = json!({
            "announcements": [
                {"prefix": "198.51.100.10/32", "state": "announced"},
                {"prefix": "198.51.100.20/32", "state": "draining"},
            ],
            "sessions": [
                {"neighbor": "192.0.2.100", "bgp_state": "Established", "bfd_state": "Up"},
                {"neighbor": "192.0.2.101", "bgp_state": "Active", "bfd_state": null},
            ],
        });
        let out = encode(&families(&bgp), Format::Text);
        for line in [
            "lb_bgp_announced{prefix=\"198.51.100.10/32\"} 1\n",
            "lb_bgp_announced{prefix=\"198.51.100.20/32\"} 0\n",
            "lb_bgp_session_established{neighbor=\"192.0.2.100\"} 1\n",
            "lb_bgp_session_established{neighbor=\"192.0.2.101\"} 0\n",
            "lb_bgp_bfd_up{neighbor=\"192.0.2.100\"} 1\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
        assert!(
            !out.contains("lb_bgp_bfd_up{neighbor=\"192.0.2.101\"}"),
            "{out}"
        );
    }
}
