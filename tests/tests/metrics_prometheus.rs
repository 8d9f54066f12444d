//! lb-daemon's `/metrics` in the lab: a scrape (served on IPv6) passes
//! `promtool check metrics`; a real Prometheus scraping a VRRP pair every
//! second sees the XDP per-backend and new-flow counters grow with client
//! traffic (and the packets passed as not for a VIP with the scrapes), and
//! the failover in `keepalived_vrrp_state`; every metric the example Grafana
//! dashboard queries is served.
use std::{fs, path::Path, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    dr_lab, http_get, promtool_check, wait_until, Daemon, Lab, Prometheus, VrrpConf, VIP,
};
use nix::sys::signal::Signal;
use serde_json::Value;

/// The metrics port of every director.
const PORT: u16 = 9650;
/// The example dashboard, relative to the workspace.
const DASHBOARD: &str = "../examples/grafana/lb-daemon.json";

/// A director serving metrics on `listen`, with a tracking script, VI_1
/// and one `fast_path xdp` DR service over the real servers, TCP_CHECKed.
fn config(lab: &Lab, state: &'static str, priority: u8, listen: &str) -> String {
    let vrrp = VrrpConf {
        extra: "    track_script {\n        chk_true\n    }\n".into(),
        ..VrrpConf::fast(state, priority)
    };
    let reals: String = lab
        .real_servers()
        .map(|rs| {
            format!(
                "    real_server {} 80 {{\n        TCP_CHECK {{\n            connect_timeout 1\n            \
                 delay_loop 0.5\n        }}\n    }}\n",
                rs.ipv4()
            )
        })
        .collect();
    format!(
        "global_defs {{\n    metrics_listen {listen}\n}}\n\
         vrrp_script chk_true {{\n    script \"/bin/true\"\n    interval 1\n}}\n{}\
         virtual_server {VIP} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n{reals}}}\n",
        vrrp.render()
    )
}

fn start(lab: &Lab, dir: &Path, n: usize, text: &str) -> Result<Daemon> {
    let path = dir.join(format!("dir{n}.conf"));
    fs::write(&path, text)?;
    Daemon::start(lab.director(n).ns(), &path, &format!("dir{n}"))
}

/// Waits until the daemon is MASTER with XDP attached and three real
/// servers resolved and weighted.
fn wait_serving(daemon: &Daemon) -> Result<()> {
    daemon.wait_status(
        "MASTER with XDP serving 3 real servers",
        Duration::from_secs(15),
        |s| {
            let fp = &s["fast_path"];
            let ready = fp["services"][0]["backends"].as_array().map_or(0, |b| {
                b.iter()
                    .filter(|b| b["next_hop"]["mac"].is_string() && b["weight"].as_u64() > Some(0))
                    .count()
            });
            s["vrrp"][0]["state"] == "MASTER"
                && fp["interfaces"][0]["attached"] == true
                && ready == 3
        },
    )
}

#[test]
fn a_scrape_over_ipv6_passes_promtool() -> Result<()> {
    let lab = dr_lab(1)?;
    let dir = tempfile::tempdir()?;
    let listen = format!("[{}]:{PORT}", lab.director(1).ipv6());
    let daemon = start(&lab, dir.path(), 1, &config(&lab, "MASTER", 150, &listen))?;
    wait_serving(&daemon)?;
    let url = format!("http://{listen}/metrics");
    let client = lab.client().ns_name();
    // The checkers count their attempts and time them.
    let checker = format!(
        "{{vip=\"{VIP}:80\",addr=\"{}:80\",proto=\"6\",checker=\"0\",kind=\"TCP_CHECK\"}} ",
        lab.real_server(1).ipv4()
    );
    let value = |scrape: &str, name: &str| -> Option<f64> {
        let line = scrape
            .lines()
            .find(|l| l.starts_with(&format!("{name}{checker}")))?;
        line.rsplit(' ').next()?.parse().ok()
    };
    // One connection through the fast path: a new flow. The scrapes come
    // over IPv6 to the director itself, which XDP passes as not for a VIP.
    let (status, _) = http_get(client, &format!("http://{VIP}/"), Duration::from_secs(2))?;
    ensure!(status == 200, "GET through the VIP: {status}");
    let fast_path = |scrape: &str, line: &str| -> Option<f64> {
        scrape
            .lines()
            .find(|l| l.starts_with(line))?
            .rsplit(' ')
            .next()?
            .parse()
            .ok()
    };
    let mut scrape = String::new();
    // The script's first result and the checkers' first attempts come soon
    // after the start; the scrape must show them, and the XDP counters
    // (refreshed every second).
    wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        scrape = http_get(client, &url, Duration::from_secs(2))
            .map_or_else(|e| e.to_string(), |(_, b)| b);
        scrape.contains("keepalived_script_status{name=\"chk_true\"} 1")
            && value(&scrape, "lb_check_attempts_total").is_some_and(|n| n >= 1.0)
            && fast_path(&scrape, "lb_xdp_new_flows_total ").is_some_and(|n| n >= 1.0)
            && fast_path(&scrape, "lb_xdp_passed_packets_total{reason=\"not_vip\"} ")
                .is_some_and(|n| n >= 1.0)
    })
    .with_context(|| format!("scrape:\n{scrape}\nlog:\n{}", daemon.log()))?;
    promtool_check(&scrape)?;
    for line in [
        format!("keepalived_vrrp_state{{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"{VIP}\"}} 2\n"),
        format!("lb_check_up{{vip=\"{VIP}:80\",addr=\"{}:80\",proto=\"6\"}} 1\n", lab.real_server(1).ipv4()),
        "lb_xdp_attached{interface=\"eth0\"} 1\n".into(),
        "keepalived_up 1\n".into(),
        "keepalived_become_master_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 1\n".into(),
        "keepalived_vrrp_become_master{name=\"VI_1\",intf=\"eth0\",vrid=\"51\",state=\"MASTER\"} 1\n".into(),
    ] {
        ensure!(scrape.contains(&line), "{line} missing from:\n{scrape}");
    }
    ensure!(scrape.contains("\nprocess_open_fds "), "{scrape}");
    for reason in lb_common::PassReason::ALL {
        let line = format!(
            "lb_xdp_passed_packets_total{{reason=\"{}\"}} ",
            reason.name()
        );
        ensure!(scrape.contains(&line), "{line} missing from:\n{scrape}");
    }
    ensure!(
        value(&scrape, "lb_check_failures_total") == Some(0.0),
        "failures in:\n{scrape}"
    );
    ensure!(
        value(&scrape, "lb_check_last_duration_seconds").is_some_and(|s| s > 0.0 && s < 1.0),
        "duration in:\n{scrape}"
    );
    let (status, _) = http_get(
        client,
        &format!("http://{listen}/other"),
        Duration::from_secs(2),
    )?;
    ensure!(status == 404, "/other answered {status}");
    Ok(())
}

/// The `instance` labels of `expr`'s result.
fn instances(prometheus: &Prometheus, expr: &str) -> Result<Vec<String>> {
    Ok(prometheus
        .query(expr)?
        .iter()
        .filter_map(|r| r["metric"]["instance"].as_str().map(str::to_owned))
        .collect())
}

/// The value of a single-result query (0 when empty).
fn scalar(prometheus: &Prometheus, expr: &str) -> Result<f64> {
    let result = prometheus.query(expr)?;
    Ok(result
        .first()
        .and_then(|r| r["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0))
}

/// Metric names in the dashboard's queries (ours all start with one of
/// these prefixes), with the expressions naming none.
fn dashboard_names() -> Result<(Vec<String>, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DASHBOARD);
    let dashboard: Value = serde_json::from_str(&fs::read_to_string(&path)?)?;
    let mut exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    exprs.extend(
        dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["type"] == "query")
            .filter_map(|v| v["query"].as_str().map(str::to_owned)),
    );
    let (mut names, mut nameless) = (Vec::new(), Vec::new());
    for expr in exprs {
        let found: Vec<String> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|t| {
                ["keepalived_", "lb_", "process_"]
                    .iter()
                    .any(|p| t.starts_with(p))
            })
            .map(str::to_owned)
            .collect();
        if found.is_empty() {
            nameless.push(expr);
        }
        names.extend(found);
    }
    names.sort();
    names.dedup();
    Ok((names, nameless))
}

#[test]
fn prometheus_sees_fast_path_traffic_the_dashboard_and_the_failover() -> Result<()> {
    let lab = dr_lab(2)?;
    let dir = tempfile::tempdir()?;
    let target = |n: usize| format!("{}:{PORT}", lab.director(n).ipv4());
    let mut d1 = start(
        &lab,
        dir.path(),
        1,
        &config(&lab, "MASTER", 150, &target(1)),
    )?;
    let d2 = start(
        &lab,
        dir.path(),
        2,
        &config(&lab, "BACKUP", 100, &target(2)),
    )?;
    let prometheus = Prometheus::start(lab.client().ns(), &[target(1), target(2)])?;
    wait_serving(&d1)?;
    let master = format!("keepalived_vrrp_state{{ip_address=\"{VIP}\"}} == 2");
    wait_until(Duration::from_secs(15), Duration::from_millis(250), || {
        instances(&prometheus, &master).is_ok_and(|i| i == [target(1)])
    })
    .with_context(|| {
        format!(
            "Prometheus never saw dir1 as the only master; log:\n{}",
            prometheus.log()
        )
    })?;

    // Client traffic through the fast path: every backend's counter grows.
    let on_dir1 = format!("instance=\"{}\"", target(1));
    let total = format!("sum(lb_xdp_backend_packets_total{{{on_dir1}}})");
    let before = scalar(&prometheus, &total)?;
    let flows = format!("lb_xdp_new_flows_total{{{on_dir1}}}");
    let flows_before = scalar(&prometheus, &flows)?;
    let not_vip = format!("lb_xdp_passed_packets_total{{{on_dir1},reason=\"not_vip\"}}");
    let not_vip_before = scalar(&prometheus, &not_vip)?;
    for _ in 0..30 {
        let (status, _) = http_get(
            lab.client().ns_name(),
            &format!("http://{VIP}/"),
            Duration::from_secs(2),
        )?;
        ensure!(status == 200, "GET through the VIP: {status}");
    }
    let each = format!("lb_xdp_backend_packets_total{{{on_dir1}}} > 0");
    let mirrored = format!("sum(keepalived_lvs_rs_in_packets{{{on_dir1}}})");
    wait_until(Duration::from_secs(15), Duration::from_millis(250), || {
        scalar(&prometheus, &total).is_ok_and(|now| now >= before + 30.0)
            && prometheus.query(&each).is_ok_and(|r| r.len() == 3)
            && scalar(&prometheus, &mirrored).is_ok_and(|now| now >= before + 30.0)
            // Each GET is a connection of its own: a new flow.
            && scalar(&prometheus, &flows).is_ok_and(|now| now >= flows_before + 30.0)
            // The scrapes reach the director through the fast path's
            // interface: not for a VIP.
            && scalar(&prometheus, &not_vip).is_ok_and(|now| now > not_vip_before)
    })
    .with_context(|| {
        format!(
            "XDP counters did not grow in Prometheus: {:?}\ndaemon status: {:?}",
            prometheus.query(&format!("lb_xdp_backend_packets_total{{{on_dir1}}}")),
            d1.status().map(|s| s["fast_path"].clone())
        )
    })?;

    // Every metric the dashboard queries is served.
    let (names, nameless) = dashboard_names()?;
    ensure!(
        nameless.is_empty(),
        "dashboard queries naming no lb-daemon metric: {nameless:?}"
    );
    ensure!(names.len() > 20, "only {names:?} in the dashboard");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| {
            prometheus
                .query(&format!("count({{__name__=\"{n}\"}})"))
                .map_or(true, |r| r.is_empty())
        })
        .collect();
    ensure!(
        missing.is_empty(),
        "the dashboard queries metrics Prometheus does not have: {missing:?}"
    );

    // Failover: dir1 dies, Prometheus shows dir2 as the only master.
    d1.signal(Signal::SIGKILL)?;
    d1.stop()?;
    wait_until(Duration::from_secs(15), Duration::from_millis(250), || {
        instances(&prometheus, &master).is_ok_and(|i| i == [target(2)])
    })
    .with_context(|| {
        format!(
            "Prometheus never saw dir2 take over; dir2 log:\n{}",
            d2.log()
        )
    })?;
    let became = format!(
        "keepalived_become_master_total{{instance=\"{}\"}}",
        target(2)
    );
    ensure!(
        scalar(&prometheus, &became)? == 1.0,
        "{became}: {:?}",
        prometheus.query(&became)
    );
    Ok(())
}
