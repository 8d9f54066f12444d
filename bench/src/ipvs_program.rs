//! Programming IPVS at scale. Needs a kernel with IPVS: run it in the IPVS
//! test guest with `cargo xtask ipvs-bench` (release builds).
//!
//! 1. Cold: the real `lb-daemon` starts, in a fresh network namespace (an
//!    empty IPVS table), with 1,000 virtual services x 16 real servers (no
//!    health checks: all up) and programs them: 17,000 generic netlink
//!    operations. Timed from spawn until its log says they are applied, and
//!    inside the daemon from its "Starting" to its "applied" log line.
//! 2. One-server change: SIGHUP with one real server added to (then removed
//!    from) one service, until the daemon applied that one change; wall time
//!    and the daemon's own "Reloading" to "applied" time (which includes
//!    re-reading the 1,000-service configuration).
//! 3. One-server change from a health check: one real server has a
//!    MISC_CHECK (`test -e FILE`); removing and re-creating the file takes it
//!    out and back. Timed inside the daemon from the checker's verdict
//!    (`Removing service` / `Adding service`) to the change being applied.
//! 4. Stop: SIGTERM until the daemon exited, having removed its services.
//!
//! Baseline: `ipvsadm -R` restoring the same table in a fresh namespace, and
//! one `ipvsadm -a`.
use std::{
    fs,
    io::Write,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use lb_tests::{ipvsadm, wait_until, Daemon, Netns};
use nix::sys::signal::Signal;

#[derive(Parser)]
struct Args {
    /// Virtual services.
    #[arg(long, default_value_t = 1000)]
    services: usize,
    /// Real servers per virtual service (at most 250).
    #[arg(long, default_value_t = 16)]
    real_servers: u8,
    /// Cold starts measured.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// One-server changes measured (alternately adding and removing).
    #[arg(long, default_value_t = 10)]
    changes: usize,
    /// Health-check verdicts measured (alternately down and up).
    #[arg(long, default_value_t = 6)]
    verdicts: usize,
}

/// The log line the daemon writes after each reconciliation pass.
const APPLIED: &str = "change(s) applied";

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.real_servers < 250, "at most 249 real servers");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("keepalived.conf");
    let up_file = dir.path().join("checked-server-up");
    fs::write(&up_file, "")?;
    let base = config(&args, &up_file, None);
    // The service that gains a real server, in the middle of the file.
    let grown = config(&args, &up_file, Some(args.services / 2));
    let mut cold = Vec::new();
    let mut changes = Vec::new();
    let mut verdicts = Vec::new();
    let mut stops = Vec::new();
    for run in 0..args.runs {
        let ns = Netns::new("bench")?;
        fs::write(&path, &base)?;
        let started = Instant::now();
        let mut daemon = Daemon::start(&ns, &path, "lb-daemon")?;
        let line = wait_applied(&daemon, 1)?;
        let wall = started.elapsed();
        let inside = since_last(&daemon.log(), "Starting lb-daemon", &line)?;
        let expected = args.services * (1 + usize::from(args.real_servers));
        ensure!(
            line.contains(&format!("IPVS: {expected} {APPLIED}")),
            "{line}"
        );
        check_table(
            &ns,
            args.services,
            args.services * usize::from(args.real_servers),
        )?;
        cold.push((wall, inside));
        if run == 0 {
            let mut applied = 1;
            for n in 0..args.changes {
                fs::write(&path, if n % 2 == 0 { &grown } else { &base })?;
                let started = Instant::now();
                daemon.signal(Signal::SIGHUP)?;
                applied += 1;
                let line = wait_applied(&daemon, applied)?;
                let wall = started.elapsed();
                ensure!(line.contains(&format!("IPVS: 1 {APPLIED}")), "{line}");
                let inside = since_last(&daemon.log(), "Reloading configuration", &line)?;
                changes.push((wall, inside));
            }
            for n in 0..args.verdicts {
                let down = n % 2 == 0;
                if down {
                    fs::remove_file(&up_file)?;
                } else {
                    fs::write(&up_file, "")?;
                }
                applied += 1;
                let line = wait_applied(&daemon, applied)?;
                ensure!(line.contains(&format!("IPVS: 1 {APPLIED}")), "{line}");
                let verdict = if down {
                    "Removing service"
                } else {
                    "Adding service"
                };
                verdicts.push(since_last(&daemon.log(), verdict, &line)?);
            }
        }
        let started = Instant::now();
        ensure!(daemon.stop()?.success(), "lb-daemon failed to stop");
        stops.push(started.elapsed());
        ensure!(
            ipvsadm::table(&ns)?.services.is_empty(),
            "services left after stop"
        );
    }
    let (restore, one) = ipvsadm_baseline(&args)?;
    report(&args, &cold, &changes, &verdicts, &stops, (restore, one));
    Ok(())
}

/// `services` virtual servers on 198.51.100.1, ports 10000.., each with
/// `real_servers` real servers 192.0.2.1..; `grow` gets one more. The first
/// real server of the middle service is up while `up_file` exists.
fn config(args: &Args, up_file: &Path, grow: Option<usize>) -> String {
    let middle = args.services / 2;
    let mut text = String::new();
    for s in 0..args.services {
        let port = 10000 + s;
        text += &format!(
            "virtual_server 198.51.100.1 {port} {{\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n"
        );
        let reals = args.real_servers + u8::from(grow == Some(s));
        for r in 1..=reals {
            text += &format!("    real_server 192.0.2.{r} 80 {{\n");
            if s == middle && r == 1 {
                text += &format!(
                    "        MISC_CHECK {{\n            misc_path \"/bin/test -e {}\"\n            \
                     delay_loop 1\n            retry 0\n            warmup 0\n        }}\n",
                    up_file.display()
                );
            }
            text += "    }\n";
        }
        text += "}\n";
    }
    text
}

/// Waits for the `n`th "applied" line of the daemon's log and returns it.
fn wait_applied(daemon: &Daemon, n: usize) -> Result<String> {
    let nth = || {
        daemon
            .log()
            .lines()
            .filter(|l| l.contains(APPLIED))
            .nth(n - 1)
            .map(str::to_owned)
    };
    wait_until(Duration::from_secs(300), Duration::from_millis(5), || {
        nth().is_some()
    })
    .with_context(|| format!("no {APPLIED} line #{n}; log:\n{}", daemon.log()))?;
    nth().context("the line went away")
}

/// Time between the last log line containing `from` before the line `to`,
/// and `to`, from the daemon's own timestamps.
fn since_last(log: &str, from: &str, to: &str) -> Result<Duration> {
    let start = log
        .lines()
        .take_while(|l| *l != to)
        .filter(|l| l.contains(from))
        .last()
        .with_context(|| format!("no log line with {from:?} before {to:?}"))?;
    let (a, b) = (seconds_of_day(start)?, seconds_of_day(to)?);
    ensure!(b >= a, "log timestamps go backwards: {start} / {to}");
    Ok(Duration::from_secs_f64(b - a))
}

/// Seconds since midnight of a log line starting `2026-11-22T06:18:34.536774Z`.
fn seconds_of_day(line: &str) -> Result<f64> {
    let time = line
        .split_whitespace()
        .next()
        .and_then(|stamp| stamp.split_once('T'))
        .map(|(_, time)| time.trim_end_matches('Z'))
        .with_context(|| format!("no timestamp in {line:?}"))?;
    let parts: Vec<f64> = time
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad timestamp in {line:?}"))?;
    match parts.as_slice() {
        [h, m, s] => Ok(h * 3600.0 + m * 60.0 + s),
        _ => anyhow::bail!("bad timestamp in {line:?}"),
    }
}

/// IPVS in `ns` holds `services` services and `dests` destinations.
fn check_table(ns: &Netns, services: usize, dests: usize) -> Result<()> {
    let table = ipvsadm::table(ns)?;
    let held: usize = table.services.iter().map(|s| s.destinations.len()).sum();
    ensure!(
        (table.services.len(), held) == (services, dests),
        "IPVS holds {} services, {held} destinations",
        table.services.len()
    );
    Ok(())
}

/// `ipvsadm -R` of the same table into a fresh namespace, then one
/// `ipvsadm -a` of one more real server.
fn ipvsadm_baseline(args: &Args) -> Result<(Duration, Duration)> {
    let ns = Netns::new("ipvsadm")?;
    let mut rules = String::new();
    for s in 0..args.services {
        let service = format!("198.51.100.1:{}", 10000 + s);
        rules += &format!("-A -t {service} -s wrr\n");
        for r in 1..=args.real_servers {
            rules += &format!("-a -t {service} -r 192.0.2.{r}:80 -m -w 1\n");
        }
    }
    let mut restore = ns.command(&["ipvsadm", "-R"]);
    restore.stdin(Stdio::piped());
    let started = Instant::now();
    let mut child = restore.spawn().context("starting ipvsadm -R")?;
    child
        .stdin
        .take()
        .context("ipvsadm stdin")?
        .write_all(rules.as_bytes())?;
    ensure!(child.wait()?.success(), "ipvsadm -R failed");
    let restored = started.elapsed();
    check_table(
        &ns,
        args.services,
        args.services * usize::from(args.real_servers),
    )?;
    let extra = format!("192.0.2.{}:80", args.real_servers + 1);
    let started = Instant::now();
    ipvsadm::ipvsadm(&ns, &["-a", "-t", "198.51.100.1:10000", "-r", &extra, "-m"])?;
    Ok((restored, started.elapsed()))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn report(
    args: &Args,
    cold: &[(Duration, Duration)],
    changes: &[(Duration, Duration)],
    verdicts: &[Duration],
    stops: &[Duration],
    (restore, one): (Duration, Duration),
) {
    let wall = |v: &[(Duration, Duration)]| median(v.iter().map(|p| p.0).collect());
    let inside = |v: &[(Duration, Duration)]| median(v.iter().map(|p| p.1).collect());
    println!(
        "ipvs-program: {} virtual services x {} real servers, NAT; medians",
        args.services, args.real_servers
    );
    println!(
        "  cold start -> all programmed ({} runs): {} wall, {} from the daemon's start line",
        cold.len(),
        ms(wall(cold)),
        ms(inside(cold))
    );
    if !changes.is_empty() {
        println!(
            "  SIGHUP, one real server added/removed ({} changes): {} wall, {} reload -> applied",
            changes.len(),
            ms(wall(changes)),
            ms(inside(changes))
        );
    }
    if !verdicts.is_empty() {
        println!(
            "  health check takes one real server out/in ({} verdicts): {} verdict -> applied",
            verdicts.len(),
            ms(median(verdicts.to_vec()))
        );
    }
    println!("  stop, services removed: {}", ms(median(stops.to_vec())));
    println!(
        "  baseline: ipvsadm -R of the same table {}, one ipvsadm -a {}",
        ms(restore),
        ms(one)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_come_from_the_daemon_log() {
        let log = "2026-11-22T06:18:34.536774Z  INFO Reloading configuration from x\n\
                   2026-11-22T06:18:35.000000Z  INFO Reloading configuration from x\n\
                   2026-11-22T06:18:35.250000Z  INFO IPVS: 1 change(s) applied\n";
        let to = log.lines().last().unwrap();
        let took = since_last(log, "Reloading configuration", to).unwrap();
        assert_eq!(took, Duration::from_millis(250));
        assert!(since_last(log, "Starting", to).is_err());
        assert!(seconds_of_day("no timestamp").is_err());
        assert_eq!(
            seconds_of_day("2026-11-22T01:02:03.5Z  INFO x").unwrap(),
            3723.5
        );
    }

    #[test]
    fn config_grows_one_service_by_one_real_server() {
        let args = Args::parse_from(["ipvs-program", "--services", "3", "--real-servers", "2"]);
        let up = Path::new("/tmp/up");
        let count = |text: &str| text.matches("real_server ").count();
        assert_eq!(count(&config(&args, up, None)), 6);
        let grown = config(&args, up, Some(1));
        assert_eq!(count(&grown), 7);
        assert!(grown.contains("virtual_server 198.51.100.1 10001 {"));
        assert_eq!(grown.matches("MISC_CHECK").count(), 1);
        let parsed = lb_daemon::config::parse_keepalived_str(&grown, Path::new("bench.conf"));
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
