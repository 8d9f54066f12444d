//! The soak's findings: one record per fault, the goals' violations, the
//! leaks found at the end and the daemons' resource samples, rendered as a
//! table (plain for the terminal, markdown for `--report FILE`).
use std::{collections::BTreeMap, fmt::Write, time::Duration};

use super::{faults::Kind, observer::Counts};

/// What one fault did.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    /// Which fault.
    pub kind: Kind,
    /// What it hit (`dir1`, `rs2`...).
    pub target: String,
    /// Longest two-master stretch of any VRID after the heal.
    pub dual_after_heal: Duration,
    /// Longest master-less stretch of any VRID.
    pub no_master: Duration,
    /// From the heal to the converged state.
    pub converged_after: Duration,
    /// The client's traffic from the fault to convergence.
    pub traffic: Counts,
    /// Whether the client's ARP cache named a node other than a VIP's
    /// owner after convergence (a gratuitous ARP of a node that lost the
    /// VIP came last; the soak then asks again).
    pub stale_arp: bool,
    /// Goals broken, in words.
    pub violations: Vec<String>,
}

/// A daemon's resident memory and open file descriptors over the run.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// `(rss KiB, fds)` samples, in order; one process run after another.
    pub samples: Vec<(u64, usize)>,
    /// How many processes (restarts + 1) the samples come from.
    pub processes: usize,
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The advert interval.
    pub advert: Duration,
    /// Every fault, in order.
    pub faults: Vec<FaultRecord>,
    /// What was left behind at the end.
    pub leaks: Vec<String>,
    /// Per director (`dir1`, `dir2`).
    pub resources: BTreeMap<String, Resources>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
}

impl Report {
    /// Whether every goal held: no violation, no leak, not aborted.
    pub fn passed(&self) -> bool {
        self.violations().is_empty()
    }

    /// Every violation, leak and abort, each on a line of its own.
    pub fn violations(&self) -> Vec<String> {
        let faults = self.faults.iter().enumerate().flat_map(|(i, f)| {
            f.violations
                .iter()
                .map(move |v| format!("fault {} ({} {}): {v}", i + 1, f.kind, f.target))
        });
        faults
            .chain(self.leaks.iter().map(|l| format!("leak: {l}")))
            .chain(self.aborted.iter().map(|a| format!("aborted: {a}")))
            .collect()
    }

    /// The table as markdown (a heading, the per-kind table, resources,
    /// violations).
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Chaos soak: {} faults, seed {}, advert_int {} ms\n\n",
            self.faults.len(),
            self.seed,
            self.advert.as_millis()
        );
        out += "| fault | count | longest dual-master after heal (ms) | longest no-master (ms) \
                | longest convergence (ms) | failed new conns | broken kept flow reqs \
                | of which refused/reset | lost UDP probes | stale client ARP | violations |\n\
                |---|---|---|---|---|---|---|---|---|---|---|\n";
        let mut total = Row::default();
        for kind in Kind::ALL {
            let row = Row::of(self.faults.iter().filter(|f| f.kind == kind));
            if row.count > 0 {
                out += &row.render(&kind.to_string());
                total.add(&row);
            }
        }
        out += &total.render("**all**");
        out += "\n| daemon | processes | RSS KiB first / last / max | fds first / last / max |\n|---|---|---|---|\n";
        for (name, r) in &self.resources {
            let rss: Vec<u64> = r.samples.iter().map(|s| s.0).collect();
            let fds: Vec<u64> = r.samples.iter().map(|s| s.1 as u64).collect();
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} |",
                r.processes,
                first_last_max(&rss),
                first_last_max(&fds)
            );
        }
        let violations = self.violations();
        let _ = writeln!(
            out,
            "\nViolations: {}{}",
            violations.len(),
            if violations.is_empty() { "" } else { ":" }
        );
        for v in violations {
            let _ = writeln!(out, "- {v}");
        }
        out
    }
}

fn first_last_max(values: &[u64]) -> String {
    match (values.first(), values.last(), values.iter().max()) {
        (Some(f), Some(l), Some(m)) => format!("{f} / {l} / {m}"),
        _ => "-".into(),
    }
}

/// One line of the table: a fault kind's totals and maxima.
#[derive(Debug, Default)]
struct Row {
    count: usize,
    dual: Duration,
    no_master: Duration,
    converged: Duration,
    new_failed: u64,
    kept_failed: u64,
    refused: u64,
    probes_lost: u64,
    stale_arp: usize,
    violations: usize,
}

impl Row {
    fn of<'a>(records: impl Iterator<Item = &'a FaultRecord>) -> Row {
        let mut row = Row::default();
        for r in records {
            row.add(&Row {
                count: 1,
                dual: r.dual_after_heal,
                no_master: r.no_master,
                converged: r.converged_after,
                new_failed: r.traffic.new_failed,
                kept_failed: r.traffic.kept_failed,
                refused: r.traffic.refused,
                probes_lost: r.traffic.probes_lost,
                stale_arp: usize::from(r.stale_arp),
                violations: r.violations.len(),
            });
        }
        row
    }

    fn add(&mut self, other: &Row) {
        self.count += other.count;
        self.dual = self.dual.max(other.dual);
        self.no_master = self.no_master.max(other.no_master);
        self.converged = self.converged.max(other.converged);
        self.new_failed += other.new_failed;
        self.kept_failed += other.kept_failed;
        self.refused += other.refused;
        self.probes_lost += other.probes_lost;
        self.stale_arp += other.stale_arp;
        self.violations += other.violations;
    }

    fn render(&self, name: &str) -> String {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            self.count,
            self.dual.as_millis(),
            self.no_master.as_millis(),
            self.converged.as_millis(),
            self.new_failed,
            self.kept_failed,
            self.refused,
            self.probes_lost,
            self.stale_arp,
            self.violations
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: Kind, dual: u64, violations: &[&str]) -> FaultRecord {
        FaultRecord {
            kind,
            target: "dir1".into(),
            dual_after_heal: Duration::from_millis(dual),
            no_master: Duration::from_millis(dual * 2),
            converged_after: Duration::from_millis(10),
            traffic: Counts {
                new_failed: 2,
                ..Counts::default()
            },
            stale_arp: dual > 20,
            violations: violations.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn the_table_has_a_row_per_kind_seen_and_a_total() {
        let report = Report {
            seed: 7,
            advert: Duration::from_millis(500),
            faults: vec![
                record(Kind::Kill, 10, &[]),
                record(Kind::Kill, 30, &[]),
                record(Kind::Partition, 20, &["VIP on two nodes"]),
            ],
            ..Report::default()
        };
        let table = report.markdown();
        assert!(table.contains("| kill -9 + restart | 2 | 30 | 60 | 10 | 4 | 0 | 0 | 0 | 1 | 0 |"));
        assert!(table.contains("| partition | 1 | 20 | 40 | 10 | 2 | 0 | 0 | 0 | 0 | 1 |"));
        assert!(table.contains("| **all** | 3 | 30 | 60 | 10 | 6 | 0 | 0 | 0 | 1 | 1 |"));
        assert!(!table.contains("SIGSTOP"), "kinds not seen have no row");
        assert!(table.contains("- fault 3 (partition dir1): VIP on two nodes"));
        assert!(!report.passed());
    }

    #[test]
    fn leaks_and_aborts_fail_the_run() {
        let mut report = Report::default();
        assert!(report.passed());
        report.leaks.push("namespace x".into());
        assert_eq!(report.violations(), ["leak: namespace x"]);
        assert!(!report.passed());
    }
}
