//! Health checks and the real servers' state: per real server its verdict,
//! whether an operator drained it and the weight the data planes are given;
//! per checker its attempts, failures (in all and by reason) and last
//! duration. Read from the desired-state model and the checker engine's
//! snapshot, with the label sets of [`LvsLabels`] and [`CheckerLabels`].
use super::{
    checker_labels::CheckerLabels,
    encode::Writer,
    family::{Kind, Number},
    lvs_labels::LvsLabels,
};
use crate::check::{CheckerSnapshot, CheckerStatus};
use crate::state::desired::Model;

/// What the per real server families show of one real server.
#[derive(Debug, Clone, Copy)]
struct RealValues {
    up: bool,
    drained: bool,
    programmed_weight: Option<u32>,
}

/// A per real server family: name, help and value (none: no sample).
type RealFamily = (
    &'static str,
    &'static str,
    fn(&RealValues) -> Option<Number>,
);

const REAL_FAMILIES: [RealFamily; 3] = [
    (
        "lb_check_up",
        "Whether every checker of the real server passes (1) or not (0).",
        |r| Some(r.up.into()),
    ),
    (
        "lb_real_drained",
        "Whether an operator drained the real server (`lb-daemon drain`): no new flows.",
        |r| Some(r.drained.into()),
    ),
    (
        "lb_real_weight",
        "Weight of the real server as programmed (0 while inhibited; absent while removed).",
        |r| r.programmed_weight.map(|w| u64::from(w).into()),
    ),
];

/// Writes the per real server families of `model` (verdict, drained,
/// weight) and each virtual server's quorum, straight into the scrape.
pub fn write_reals(out: &mut Writer, model: &Model, labels: &LvsLabels) {
    // One pass over the model (thousands of configured real servers), then
    // one over these values per family.
    let reals: Vec<(usize, usize, RealValues)> = model
        .views()
        .flat_map(|view| {
            view.reals().enumerate().map(move |(rs, r)| {
                let values = RealValues {
                    up: r.up,
                    drained: r.drained,
                    programmed_weight: r.programmed_weight,
                };
                (view.vs, rs, values)
            })
        })
        .collect();
    for (name, help, value) in REAL_FAMILIES {
        let mut samples = out.samples(name, help, Kind::Gauge);
        for (vs, rs, real) in &reals {
            if let Some(v) = value(real) {
                for l in labels.real(*vs, *rs) {
                    samples.push(l, v);
                }
            }
        }
    }
    let mut quorum = out.samples(
        "lb_virtual_server_quorum_up",
        "Whether the virtual server's quorum is met.",
        Kind::Gauge,
    );
    for view in model.views() {
        for s in view.services {
            quorum.push(&labels.service(&s.key).vip, view.quorum_up);
        }
    }
}

/// A per checker family: name, help, type and value (none: no sample).
type CheckerFamily = (
    &'static str,
    &'static str,
    Kind,
    fn(&CheckerStatus) -> Option<Number>,
);

/// Writes the per checker families of `checkers`: attempts, failures (in
/// all and by reason), last duration.
pub fn write_checkers(
    out: &mut Writer,
    checkers: &CheckerSnapshot,
    labels: &LvsLabels,
    checker_labels: &mut CheckerLabels,
) {
    let statuses = checkers.statuses();
    let id = |c: &CheckerStatus| (c.id.vs, c.id.rs, c.checker);
    for c in statuses {
        let reasons = c.failures_by_reason.keys().copied();
        checker_labels.prepare(labels, id(c), c.kind, reasons);
    }
    // One lookup per checker, not one per family.
    let sets: Vec<_> = statuses
        .iter()
        .map(|c| checker_labels.sets(id(c)))
        .collect();
    let counters: [CheckerFamily; 3] = [
        (
            "lb_check_attempts",
            "Health check attempts.",
            Kind::Counter,
            |c| Some(c.attempts.into()),
        ),
        (
            "lb_check_failures",
            "Health check attempts that failed.",
            Kind::Counter,
            |c| Some(c.failures.into()),
        ),
        (
            "lb_check_last_duration_seconds",
            "How long the last health check attempt took.",
            Kind::Gauge,
            |c| c.last_duration.map(|d| d.as_secs_f64().into()),
        ),
    ];
    for (name, help, kind, value) in counters {
        let mut samples = out.samples(name, help, kind);
        for (c, sets) in statuses.iter().zip(&sets) {
            let (Some(v), Some(sets)) = (value(c), sets) else {
                continue;
            };
            for l in sets.plain() {
                samples.push(l, v);
            }
        }
    }
    let mut by_reason = out.samples(
        "lb_check_failures_by_reason",
        "Health check attempts that failed, by reason (timeout, refused, network, response, content, script, setup); only reasons that occurred.",
        Kind::Counter,
    );
    for (c, sets) in statuses.iter().zip(&sets) {
        let Some(sets) = sets else { continue };
        for (reason, count) in &c.failures_by_reason {
            for l in sets.by_reason(*reason) {
                by_reason.push(l, *count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::time::Duration;

    use super::super::encode::Format;
    use super::*;
    use crate::check::{CheckerStatus, RealServerId, Reason, VerdictChange};
    use crate::config::parse_keepalived_str;
    use crate::state::desired::ServiceRef;

    const CONF: &str = "virtual_server 192.0.2.1 80 {
        lb_kind DR
        protocol TCP
        real_server 198.51.100.2 80 {
            weight 3
        }
        real_server 198.51.100.3 80 {
            TCP_CHECK {
                connect_timeout 1
            }
        }
    }\n";

    fn checker(attempts: u64, failures: BTreeMap<Reason, u64>) -> CheckerStatus {
        CheckerStatus {
            id: RealServerId { vs: 0, rs: 1 },
            checker: 0,
            kind: "TCP_CHECK",
            target: "198.51.100.3:80".into(),
            up: false,
            running: true,
            suspended: false,
            last_change: None,
            consecutive_failures: 2,
            last_error: None,
            attempts,
            failures: failures.values().sum(),
            failures_by_reason: failures,
            last_duration: Some(Duration::from_millis(500)),
        }
    }

    fn scrape(
        model: &Model,
        checkers: &CheckerSnapshot,
        labels: &LvsLabels,
        checker_labels: &mut CheckerLabels,
    ) -> String {
        let mut out = Writer::new(Format::Text, 0);
        write_reals(&mut out, model, labels);
        write_checkers(&mut out, checkers, labels, checker_labels);
        out.finish().to_string()
    }

    #[test]
    fn verdicts_weights_and_checkers_per_real_server() {
        let config = parse_keepalived_str(CONF, Path::new("k.conf"))
            .unwrap()
            .config;
        let (mut model, _) = Model::new(&config);
        let down = VerdictChange {
            id: RealServerId { vs: 0, rs: 1 },
            checker: 0,
            up: false,
            weight: None,
        };
        model.apply(&down, std::time::SystemTime::now());
        let server = "198.51.100.3:80".parse().unwrap();
        let vip = ServiceRef::Addr("192.0.2.1:80".parse().unwrap());
        model.set_drained(vip, server, true).unwrap();
        let failures = BTreeMap::from([(Reason::Refused, 1), (Reason::Timeout, 1)]);
        let checkers = CheckerSnapshot::from(vec![checker(4, failures)]);
        let labels = LvsLabels::of(&model);
        let mut checker_labels = CheckerLabels::default();
        let out = scrape(&model, &checkers, &labels, &mut checker_labels);
        for line in [
            "lb_check_up{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 1\n",
            "lb_check_up{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\"} 0\n",
            "lb_real_weight{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 3\n",
            "lb_real_drained{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 0\n",
            "lb_real_drained{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\"} 1\n",
            "lb_check_attempts_total{vip=\"192.0.2.1:80\",addr=\"198.51.100.3:80\",proto=\"6\",checker=\"0\",kind=\"TCP_CHECK\"} 4\n",
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
        // The next scrape, with new counts, reuses the label sets.
        let more = BTreeMap::from([(Reason::Refused, 5)]);
        let checkers = CheckerSnapshot::from(vec![checker(9, more)]);
        assert!(labels.serve(&model));
        let out = scrape(&model, &checkers, &labels, &mut checker_labels);
        assert!(out.contains("kind=\"TCP_CHECK\"} 9\n"), "{out}");
        assert!(out.contains("reason=\"refused\"} 5\n"), "{out}");
        assert!(!out.contains("reason=\"timeout\""), "{out}");
    }
}
