//! Health checks and the real servers' state: per real server its verdict,
//! whether an operator drained it and the weight the data planes are given, per checker its attempts,
//! failures (in all and by reason) and last duration.
use serde_json::Value;

use super::{
    family::{labels, Family, Kind, Labels},
    service::Service,
    traffic::real_addr,
};

/// Labels of every (service, real server) of each virtual server, by
/// virtual server then real server index.
type RealLabels = Vec<Vec<Vec<Labels>>>;

/// The families from `lvs` (`virtual_servers` and `checkers` of the
/// status document).
pub fn families(lvs: &Value) -> Vec<Family> {
    let mut up = Family::new(
        "lb_check_up",
        "Whether every checker of the real server passes (1) or not (0).",
        Kind::Gauge,
    );
    let mut weight = Family::new(
        "lb_real_weight",
        "Weight of the real server as programmed (0 while inhibited; absent while removed).",
        Kind::Gauge,
    );
    let mut drained = Family::new(
        "lb_real_drained",
        "Whether an operator drained the real server (`lb-daemon drain`): no new flows.",
        Kind::Gauge,
    );
    let mut quorum = Family::new(
        "lb_virtual_server_quorum_up",
        "Whether the virtual server's quorum is met.",
        Kind::Gauge,
    );
    let servers = lvs["virtual_servers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut by_index: RealLabels = Vec::with_capacity(servers.len());
    for vs in servers {
        let services: Vec<Service> = vs["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Service::from_key)
            .collect();
        for s in &services {
            let l = labels([("vip", s.vip.clone()), ("proto", s.proto.to_string())]);
            quorum.push(&l, vs["quorum_up"].as_bool().unwrap_or(false));
        }
        let mut reals = Vec::new();
        for real in vs["real_servers"].as_array().into_iter().flatten() {
            let addr = real_addr(real).unwrap_or_default();
            let per_service: Vec<Labels> = services
                .iter()
                .map(|s| {
                    labels([
                        ("vip", s.vip.clone()),
                        ("addr", addr.clone()),
                        ("proto", s.proto.to_string()),
                    ])
                })
                .collect();
            for l in &per_service {
                up.push(l, real["up"].as_bool().unwrap_or(false));
                drained.push(l, real["drained"].as_bool().unwrap_or(false));
                if let Some(w) = real["programmed_weight"].as_u64() {
                    weight.push(l, w);
                }
            }
            reals.push(per_service);
        }
        by_index.push(reals);
    }
    let mut all = vec![up, drained, weight, quorum];
    all.extend(checkers(
        lvs["checkers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
        &by_index,
    ));
    all
}

/// Per checker: attempts, failures (in all and by reason), last duration.
fn checkers(checkers: &[Value], reals: &RealLabels) -> [Family; 4] {
    let mut attempts = Family::new("lb_check_attempts", "Health check attempts.", Kind::Counter);
    let mut failures = Family::new(
        "lb_check_failures",
        "Health check attempts that failed.",
        Kind::Counter,
    );
    let mut by_reason = Family::new(
        "lb_check_failures_by_reason",
        "Health check attempts that failed, by reason (timeout, refused, network, response, content, script, setup); only reasons that occurred.",
        Kind::Counter,
    );
    let mut duration = Family::new(
        "lb_check_last_duration_seconds",
        "How long the last health check attempt took.",
        Kind::Gauge,
    );
    for c in checkers {
        let index = |k: &str| c[k].as_u64().and_then(|i| usize::try_from(i).ok());
        let (Some(vs), Some(rs)) = (index("virtual_server"), index("real_server")) else {
            continue;
        };
        let kind = c["kind"].as_str().unwrap_or_default();
        let checker = c["checker"].to_string();
        for base in reals.get(vs).and_then(|r| r.get(rs)).into_iter().flatten() {
            let l = base.with([("checker", checker.as_str()), ("kind", kind)]);
            attempts.push(&l, c["attempts"].as_u64().unwrap_or(0));
            failures.push(&l, c["failures"].as_u64().unwrap_or(0));
            for (reason, count) in c["failures_by_reason"].as_object().into_iter().flatten() {
                let r = l.with([("reason", reason.as_str())]);
                by_reason.push(&r, count.as_u64().unwrap_or(0));
            }
            if let Some(d) = c["last_duration_seconds"].as_f64() {
                duration.push(&l, d);
            }
        }
    }
    [attempts, failures, by_reason, duration]
}

#[cfg(test)]
mod tests {
    use super::super::encode::{encode, Format};
    use super::*;
    use serde_json::json;

    #[test]
    fn verdicts_weights_and_checkers_per_real_server() {
        let lvs = json!({
            "virtual_servers": [{
                "vs": 0, "quorum_up": true,
                "services": [{"Addr": {"ip": "192.0.2.1", "port": 80, "protocol": "TCP"}}],
                "real_servers": [
                    {"address": "198.51.100.2", "port": 80, "up": true, "programmed_weight": 3, "drained": false},
                    {"address": "198.51.100.3", "port": 80, "up": false, "programmed_weight": null, "drained": true},
                ],
            }],
            "checkers": [{"virtual_server": 0, "real_server": 1, "checker": 0, "kind": "TCP_CHECK",
                          "attempts": 4, "failures": 2, "last_duration_seconds": 0.5,
                          "failures_by_reason": {"refused": 1, "timeout": 1}}],
        });
        let out = encode(&families(&lvs), Format::Text);
        for line in [
            "lb_check_up{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 1\n",
            "lb_check_up{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\"} 0\n",
            "lb_real_weight{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 3\n",
            "lb_real_drained{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 0\n",
            "lb_real_drained{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\"} 1\n",
            "lb_check_failures_total{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\",checker=\"0\",kind=\"TCP_CHECK\"} 2\n",
            "lb_check_failures_by_reason_total{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\",checker=\"0\",kind=\"TCP_CHECK\",reason=\"refused\"} 1\n",
            "lb_check_failures_by_reason_total{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\",checker=\"0\",kind=\"TCP_CHECK\",reason=\"timeout\"} 1\n",
            "lb_check_last_duration_seconds{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\",checker=\"0\",kind=\"TCP_CHECK\"} 0.5\n",
            "lb_virtual_server_quorum_up{vip=\"192.0.2.1:80\",proto=\"6\"} 1\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
        assert!(
            !out.contains("lb_real_weight{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\""),
            "{out}"
        );
    }
}
