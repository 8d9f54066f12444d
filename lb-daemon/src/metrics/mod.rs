//! Prometheus `/metrics`: the daemon's state rendered as metric families, under the keepalived exporters' names where they have one
//! (so existing dashboards and alerts keep working) and `lb_`-prefixed
//! names for what only lb-daemon knows (checkers, weights, the XDP fast
//! path, reloads), plus the usual `process_*` metrics.
//!
//! [`Server`] serves it on a thread of its own; each scrape asks the daemon
//! for its [`Sources`] (the status document without its LVS part, as
//! `lb-daemon status` has it, and the LVS part as typed snapshots) and
//! renders them on that thread (the real servers' families on a second
//! one meanwhile), so a scrape never runs on the VRRP engine's thread.
mod bgp;
mod checker_labels;
mod checks;
mod daemon;
mod encode;
mod family;
mod fast_path;
mod lvs_labels;
mod process;
mod server;
mod service;
mod traffic;
mod vrrp;
mod xdp_services;

use std::net::SocketAddr;

use serde_json::Value;

use crate::check::CheckerSnapshot;
use crate::config::Config;
use crate::dataplane::ipvs::Dumped;
use crate::state::desired::Model;
use checker_labels::CheckerLabels;
use encode::Writer;
use lvs_labels::LvsLabels;

pub use encode::{Exposition, Format};
pub use server::{Scrape, Server};

/// Where to serve metrics: `--metrics-listen`, else global_defs
/// `metrics_listen`; `None` (off) when neither says.
pub fn listen_address(flag: Option<SocketAddr>, config: &Config) -> Option<SocketAddr> {
    flag.or(config.global_defs.metrics_listen)
}

/// What one scrape renders.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The daemon's status document without its LVS part: VRRP, tracking,
    /// the fast path, BGP, reloads.
    pub status: Value,
    /// The LVS part, when virtual servers run.
    pub lvs: Option<Lvs>,
}

/// The LVS part of a scrape, typed: thousands of real servers are rendered
/// from these without a JSON document in between.
#[derive(Debug, Clone)]
pub struct Lvs {
    /// The desired-state model: services, real servers, verdicts, weights.
    pub model: Model,
    /// Every checker's state.
    pub checkers: CheckerSnapshot,
    /// IPVS's counters of the desired services.
    pub ipvs: Dumped,
}

/// Renders scrapes, keeping the label sets of the configuration's real
/// servers and checkers from one scrape to the next.
#[derive(Debug, Default)]
pub struct Renderer {
    labels: LvsLabels,
    checker_labels: CheckerLabels,
}

impl Renderer {
    /// Renders `sources` as a scrape in `format`.
    pub fn render(&mut self, sources: &Sources, format: Format) -> Exposition {
        let status = &sources.status;
        let mut out = Writer::new(format, 0);
        let none = Vec::new();
        let instances = status["vrrp"].as_array().unwrap_or(&none);
        let mut small = daemon::families(status);
        small.extend(vrrp::families(instances));
        let fast = &status["fast_path"];
        let xdp = xdp_services::services(fast);
        match &sources.lvs {
            Some(lvs) => {
                if !self.labels.serve(&lvs.model) {
                    self.labels = LvsLabels::of(&lvs.model);
                    self.checker_labels = CheckerLabels::default();
                }
                write_lvs(&mut out, lvs, &xdp, &self.labels, &mut self.checker_labels);
            }
            // Reloading: the fast path still counts.
            None => traffic::write(&mut out, &Dumped::new(), &xdp, &self.labels),
        }
        small.extend(fast_path::families(fast, &xdp, &self.labels));
        small.extend(bgp::families(&status["bgp"]));
        small.extend(process::families());
        for family in &small {
            out.family(family);
        }
        out.finish()
    }
}

/// Writes the per real server and per checker families of `lvs`: the real
/// servers' (traffic, verdicts, weights) on a second thread, the
/// checkers' on this one. At 16,000 real servers each side takes
/// milliseconds.
fn write_lvs(
    out: &mut Writer,
    lvs: &Lvs,
    xdp: &[xdp_services::XdpService],
    labels: &LvsLabels,
    checker_labels: &mut CheckerLabels,
) {
    // The configuration's destinations: the real servers' families have
    // them all, whether IPVS serves them (and was dumped) or not.
    let dumped: usize = lvs.ipvs.iter().map(|(_, d)| d.len()).sum();
    let dests = dumped.max(labels.dest_count());
    let checkers = lvs.checkers.statuses().len();
    let write_reals = |reals: &mut Writer| {
        traffic::write(reals, &lvs.ipvs, xdp, labels);
        checks::write_reals(reals, &lvs.model, labels);
    };
    let mut by_checker = out.fork(5 * checkers);
    let by_real = std::thread::scope(|scope| {
        let mut by_real = out.fork(8 * dests);
        let thread = std::thread::Builder::new().name("metrics-reals".into());
        let spawned = thread.spawn_scoped(scope, move || {
            write_reals(&mut by_real);
            by_real
        });
        checks::write_checkers(&mut by_checker, &lvs.checkers, labels, checker_labels);
        match spawned {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(e) => {
                tracing::debug!("metrics: no second thread ({e}): this one writes it all");
                let mut by_real = out.fork(8 * dests);
                write_reals(&mut by_real);
                by_real
            }
        }
    });
    out.append(by_real);
    out.append(by_checker);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_front_ends_read_ipv4_and_ipv6_addresses() {
        use crate::config::{parse_keepalived_str, parse_toml_str};
        use std::path::Path;
        let conf = "global_defs {\n metrics_listen 127.0.0.1:9650\n}\n";
        let loaded = parse_keepalived_str(conf, Path::new("k.conf")).unwrap();
        let v4: SocketAddr = "127.0.0.1:9650".parse().unwrap();
        assert_eq!(listen_address(None, &loaded.config), Some(v4));
        let toml = "[global_defs]\nmetrics_listen = \"[2001:db8::1]:9650\"\n";
        let loaded = parse_toml_str(toml, Path::new("k.toml")).unwrap();
        let v6: SocketAddr = "[2001:db8::1]:9650".parse().unwrap();
        assert_eq!(listen_address(None, &loaded.config), Some(v6));
    }

    #[test]
    fn the_flag_wins_over_the_file() {
        let mut config = Config::default();
        assert_eq!(listen_address(None, &config), None);
        config.global_defs.metrics_listen = Some("127.0.0.1:9650".parse().unwrap());
        let flag: SocketAddr = "[::1]:9651".parse().unwrap();
        assert_eq!(listen_address(Some(flag), &config), Some(flag));
        assert_eq!(
            listen_address(None, &config),
            config.global_defs.metrics_listen
        );
    }

    #[test]
    fn label_sets_follow_the_configuration() {
        use crate::config::parse_keepalived_str;
        use std::path::Path;
        let sources = |reals: &[&str]| {
            let reals: String = reals
                .iter()
                .map(|r| format!(" real_server {r} 80 {{\n }}\n"))
                .collect();
            let conf = format!("virtual_server 192.0.2.1 80 {{\n protocol TCP\n{reals}}}\n");
            let config = parse_keepalived_str(&conf, Path::new("k.conf"))
                .unwrap()
                .config;
            let lvs = Lvs {
                model: Model::new(&config).0,
                checkers: CheckerSnapshot::default(),
                ipvs: Dumped::new(),
            };
            Sources {
                status: Value::Null,
                lvs: Some(lvs),
            }
        };
        let line = |addr: &str| {
            format!("lb_check_up{{vip=\"192.0.2.1:80\",addr=\"{addr}:80\",proto=\"6\"}} 1\n")
        };
        let mut renderer = Renderer::default();
        let first = sources(&["198.51.100.2"]);
        let out = renderer.render(&first, Format::Text).to_string();
        assert!(out.contains(&line("198.51.100.2")), "{out}");
        // The kept label sets serve the same configuration, not another.
        let model = |s: &Sources| s.lvs.as_ref().unwrap().model.clone();
        assert!(renderer.labels.serve(&model(&first)));
        let reloaded = sources(&["198.51.100.3"]);
        assert!(!renderer.labels.serve(&model(&reloaded)));
        let out = renderer.render(&reloaded, Format::Text).to_string();
        assert!(out.contains(&line("198.51.100.3")), "{out}");
        assert!(!out.contains("198.51.100.2"), "{out}");
        // While reloading there is no LVS part: nothing of it is served.
        let reloading = Sources::default();
        assert!(!renderer
            .render(&reloading, Format::Text)
            .to_string()
            .contains("lb_check_up"));
    }
}
