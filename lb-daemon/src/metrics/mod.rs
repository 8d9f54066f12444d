//! Prometheus `/metrics`: the daemon's status document rendered as metric
//! families, under the keepalived exporters' names where they have one
//! (so existing dashboards and alerts keep working) and `lb_`-prefixed
//! names for what only lb-daemon knows (checkers, weights, the XDP fast
//! path, reloads), plus the usual `process_*` metrics.
//!
//! [`Server`] serves it on a thread of its own; each scrape asks the daemon
//! for its status document (as `lb-daemon status` does) and renders it on
//! that thread, so a scrape never runs on the VRRP engine's thread.
mod bgp;
mod checks;
mod daemon;
mod encode;
mod family;
mod fast_path;
mod process;
mod server;
mod service;
mod traffic;
mod vrrp;

use std::net::SocketAddr;

use serde_json::Value;

use crate::config::Config;

pub use encode::{encode, Format};
pub use family::Family;
pub use server::{Scrape, Server};

/// Where to serve metrics: `--metrics-listen`, else global_defs
/// `metrics_listen`; `None` (off) when neither says.
pub fn listen_address(flag: Option<SocketAddr>, config: &Config) -> Option<SocketAddr> {
    flag.or(config.global_defs.metrics_listen)
}

/// Renders the status document `status` as a scrape in `format`.
pub fn render(status: &Value, format: Format) -> String {
    encode(&families(status), format)
}

/// The metric families of the status document `status`.
pub fn families(status: &Value) -> Vec<Family> {
    let none = Vec::new();
    let instances = status["vrrp"].as_array().unwrap_or(&none);
    let mut all = daemon::families(status);
    all.extend(vrrp::families(instances));
    all.extend(traffic::families(
        &status["lvs"]["ipvs"],
        &status["fast_path"],
    ));
    all.extend(checks::families(&status["lvs"]));
    all.extend(fast_path::families(&status["fast_path"]));
    all.extend(bgp::families(&status["bgp"]));
    all.extend(process::families());
    all
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
}
