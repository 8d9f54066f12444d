//! keepalived's command line, side by side with Debian's keepalived: the
//! config test's exit codes on the same broken files, the flags operators
//! put in /etc/default/keepalived, `--signum`, and what -P, -C, -p/-r/-c,
//! -d and --namespace do in a running daemon.
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{daemon_binary, keepalived::KEEPALIVED, Daemon, Netns};
use nix::sys::signal::Signal;

/// The interface the configurations use: a veth end that only the test's
/// namespace has (keepalived refuses `lo` for VRRP).
const IFACE: &str = "lbcli0";

/// A namespace with [`IFACE`] up.
fn namespace(role: &str) -> Result<Netns> {
    let ns = Netns::new(role)?;
    ns.ip(&[
        "link", "add", IFACE, "type", "veth", "peer", "name", "lbcli1",
    ])?;
    ns.ip(&["link", "set", IFACE, "up"])?;
    ns.ip(&["link", "set", "lbcli1", "up"])?;
    Ok(ns)
}

/// A configuration both accept without a word: a VRRP instance with a
/// tracked script, and a virtual server with a TCP check.
const VALID: &str = "\
global_defs {
    router_id lbcli
    script_user root
    enable_script_security
}
vrrp_script chk {
    script \"/bin/true\"
    interval 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface lbcli0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.10/32
    }
    track_script {
        chk
    }
}
virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.2 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
";

/// The broken variants of [`VALID`]: name, edit, keepalived -t's code.
fn variants() -> Vec<(&'static str, String, i32)> {
    let edit = |from: &str, to: &str| {
        assert!(VALID.contains(from), "{from}");
        VALID.replacen(from, to, 1)
    };
    vec![
        ("valid", VALID.to_owned(), 0),
        ("bad lb_algo", edit("lb_algo rr", "lb_algo bogus"), 5),
        (
            "priority out of range",
            edit("priority 100", "priority 300"),
            5,
        ),
        ("bad VIP", edit("192.0.2.10/32", "192.0.2.300/32"), 5),
        (
            "VRID out of range",
            edit("virtual_router_id 51", "virtual_router_id 256"),
            5,
        ),
        ("misspelt keyword", edit("advert_int 1", "advert_intt 1"), 5),
        (
            "unbalanced braces",
            VALID.trim_end().trim_end_matches('}').to_owned(),
            5,
        ),
        (
            "undefined track script",
            edit("        chk\n", "        nochk\n"),
            5,
        ),
        (
            "interface that does not exist",
            edit("interface lbcli0", "interface lbnosuch0"),
            5,
        ),
        (
            "track script not found",
            edit("/bin/true", "/nonexistent/check.sh"),
            5,
        ),
        (
            "script without enable_script_security",
            edit("    enable_script_security\n", ""),
            6,
        ),
    ]
}

fn run(ns: &Netns, program: &Path, args: &[&str]) -> Result<Output> {
    let mut argv = vec![program.as_os_str()];
    argv.extend(args.iter().map(std::ffi::OsStr::new));
    ns.exec(&argv)
}

fn lb_daemon() -> Result<PathBuf> {
    daemon_binary()
}

#[test]
fn config_test_exit_codes_match_keepalived() -> Result<()> {
    let ns = namespace("cfgtest")?;
    let tmp = tempfile::tempdir()?;
    let lb = lb_daemon()?;
    for (name, text, expected) in variants() {
        let file = tmp.path().join("keepalived.conf");
        fs::write(&file, &text)?;
        let file = file.to_str().context("path")?;
        let keepalived = run(&ns, Path::new(KEEPALIVED), &["-t", "-f", file])?;
        let ours = run(&ns, &lb, &["-t", "-f", file])?;
        let report = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
        ensure!(
            keepalived.status.code() == Some(expected),
            "{name}: keepalived -t exited {:?}, not {expected}:\n{}",
            keepalived.status,
            report(&keepalived)
        );
        ensure!(
            ours.status.code() == keepalived.status.code(),
            "{name}: lb-daemon -t exited {:?}, keepalived -t {:?}\nlb-daemon:\n{}\nkeepalived:\n{}",
            ours.status,
            keepalived.status,
            report(&ours),
            report(&keepalived)
        );
        // Like keepalived, -t names what it reports.
        let named = match name {
            "misspelt keyword" => Some("advert_intt"),
            "interface that does not exist" => Some("interface lbnosuch0"),
            "undefined track script" => Some("nochk"),
            "script without enable_script_security" => Some("SECURITY VIOLATION"),
            _ => None,
        };
        if let Some(needle) = named {
            ensure!(report(&ours).contains(needle), "{name}: {}", report(&ours));
        }
    }
    Ok(())
}

/// A missing file: keepalived -t exits 4 only with -e (all-config), and 0
/// without it; lb-daemon exits 4 either way, a check that passes on a file
/// that is not there being a trap.
#[test]
fn config_test_of_a_missing_file() -> Result<()> {
    let ns = namespace("missing")?;
    let lb = lb_daemon()?;
    let missing = "/nonexistent/keepalived.conf";
    let code = |o: Output| o.status.code();
    let keepalived_e = code(run(
        &ns,
        Path::new(KEEPALIVED),
        &["-t", "-e", "-f", missing],
    )?);
    ensure!(
        keepalived_e == Some(4),
        "keepalived -t -e: {keepalived_e:?}"
    );
    ensure!(code(run(&ns, &lb, &["-t", "-e", "-f", missing])?) == Some(4));
    let keepalived = code(run(&ns, Path::new(KEEPALIVED), &["-t", "-f", missing])?);
    ensure!(
        keepalived == Some(0),
        "keepalived -t changed: {keepalived:?}"
    );
    ensure!(code(run(&ns, &lb, &["-t", "-f", missing])?) == Some(4));
    Ok(())
}

/// DAEMON_ARGS lines of /etc/default/keepalived: keepalived and lb-daemon
/// both accept each of them (here with -t, which checks and exits).
#[test]
fn keepalived_daemon_args_are_accepted() -> Result<()> {
    let ns = namespace("args")?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("keepalived.conf");
    fs::write(&file, VALID)?;
    let file = file.to_str().context("path")?;
    let lb = lb_daemon()?;
    let lines = [
        "-D -S 7 -P",
        "--vrrp --log-detail",
        "-x -G",
        "-C -D -D",
        "--dont-fork --log-console --log-detail --log-facility=7",
        "-V -I -X -R -d -a -m",
        "-p /run/lbcli-k.pid -r /run/lbcli-v.pid -c /run/lbcli-c.pid",
        "-i node1 -u 022 -e",
        "-P --all -B -A /run/agentx",
        "--dont-release-vrrp --release-vips --dont-respawn --dump-conf",
    ];
    for line in lines {
        let mut args: Vec<&str> = line.split_whitespace().collect();
        args.extend(["-t", "-f", file]);
        let keepalived = run(&ns, Path::new(KEEPALIVED), &args)?;
        let ours = run(&ns, &lb, &args)?;
        ensure!(
            keepalived.status.code() == Some(0),
            "keepalived {line}: {keepalived:?}"
        );
        ensure!(
            ours.status.code() == Some(0),
            "lb-daemon {line}: {:?}\n{}",
            ours.status,
            String::from_utf8_lossy(&ours.stderr)
        );
    }
    Ok(())
}

#[test]
fn signum_prints_keepalived_numbers() -> Result<()> {
    let lb = lb_daemon()?;
    for name in [
        "STOP",
        "RELOAD",
        "DATA",
        "STATS",
        "STATS_CLEAR",
        "JSON",
        "TDUMP",
        "stop",
        "X",
    ] {
        let arg = format!("--signum={name}");
        let keepalived = Command::new(KEEPALIVED).arg(&arg).output()?;
        let ours = Command::new(&lb).arg(&arg).output()?;
        ensure!(
            (ours.status.code(), &ours.stdout) == (keepalived.status.code(), &keepalived.stdout),
            "{name}: lb-daemon {:?} {:?}, keepalived {:?} {:?}",
            ours.status,
            String::from_utf8_lossy(&ours.stdout),
            keepalived.status,
            String::from_utf8_lossy(&keepalived.stdout)
        );
    }
    // A bad option: keepalived's exit status.
    let bad = |program: &Path| Command::new(program).arg("--no-such-option").output();
    let (ours, keepalived) = (bad(&lb)?, bad(Path::new(KEEPALIVED))?);
    ensure!(
        keepalived.status.code() == Some(1),
        "keepalived: {keepalived:?}"
    );
    ensure!(ours.status.code() == Some(1), "lb-daemon: {ours:?}");
    let version = Command::new(&lb).arg("-v").output()?;
    ensure!(version.status.success(), "-v: {version:?}");
    ensure!(String::from_utf8_lossy(&version.stdout).starts_with("lb-daemon "));
    Ok(())
}

/// `--config-test=LOG_FILE` appends what the test reports to LOG_FILE, as
/// keepalived's does.
#[test]
fn config_test_log_file() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("keepalived.conf");
    fs::write(&file, VALID.replacen("advert_int 1", "advert_intt 1", 1))?;
    let log = tmp.path().join("test.log");
    let arg = format!("--config-test={}", log.display());
    for round in 1..=2 {
        let out = Command::new(lb_daemon()?)
            .arg(&arg)
            .arg("-f")
            .arg(&file)
            .output()?;
        ensure!(out.status.code() == Some(5), "{out:?}");
        ensure!(out.stderr.is_empty(), "{out:?}");
        let logged = fs::read_to_string(&log)?;
        ensure!(logged.matches("advert_intt").count() == round, "{logged}");
    }
    Ok(())
}

/// `--namespace NAME` checks (and runs) in that namespace: the interface
/// only the namespace has is found there, not outside it.
#[test]
fn namespace_option_enters_the_namespace() -> Result<()> {
    let ns = namespace("nsopt")?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("keepalived.conf");
    fs::write(&file, VALID)?;
    let lb = lb_daemon()?;
    let test = |args: &[&str]| -> Result<Output> {
        Ok(Command::new(&lb)
            .args(args)
            .arg("-t")
            .arg("-f")
            .arg(&file)
            .output()?)
    };
    let outside = test(&[])?;
    ensure!(outside.status.code() == Some(5), "outside: {outside:?}");
    let inside = test(&["--namespace", ns.name()])?;
    ensure!(
        inside.status.code() == Some(0),
        "--namespace: {:?} {}",
        inside.status,
        String::from_utf8_lossy(&inside.stderr)
    );
    let absent = test(&["--namespace", "lbcli-no-such-ns"])?;
    ensure!(
        absent.status.code() == Some(1),
        "absent namespace: {absent:?}"
    );
    ensure!(String::from_utf8_lossy(&absent.stderr).contains("lbcli-no-such-ns"));
    Ok(())
}

/// -P runs VRRP only and writes -p and -r (not -c); -C runs the checkers
/// only and writes -p and -c; the pid files go at stop. -d writes the data
/// dump, and an option lb-daemon ignores is said so once.
#[test]
fn vrrp_only_checkers_only_and_pid_files() -> Result<()> {
    let ns = namespace("subsys")?;
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("keepalived.conf");
    fs::write(&file, VALID)?;
    let pid = |name: &str| tmp.path().join(name);
    let pid_args = |p: &Path| p.to_str().map(str::to_owned).context("path");
    let (main, vrrp, checkers) = (
        pid_args(&pid("k.pid"))?,
        pid_args(&pid("v.pid"))?,
        pid_args(&pid("c.pid"))?,
    );
    let pids = ["-p", &main, "-r", &vrrp, "-c", &checkers];
    for (flag, runs_vrrp) in [("-P", true), ("-C", false)] {
        let mut args = vec![flag, "-d", "-x"];
        args.extend(pids);
        let mut daemon = Daemon::start_with(&ns, &file, flag, &args)?;
        let status = daemon.status()?;
        let instances = status["vrrp"].as_array().map_or(0, Vec::len);
        ensure!(
            instances == usize::from(runs_vrrp),
            "{flag}: vrrp {}",
            status["vrrp"]
        );
        ensure!(
            status["lvs"].is_null() == runs_vrrp,
            "{flag}: lvs {}",
            status["lvs"]
        );
        let own = format!("{}\n", daemon_pid(&daemon)?);
        ensure!(fs::read_to_string(&main)? == own, "{flag}: -p");
        ensure!(Path::new(&vrrp).exists() == runs_vrrp, "{flag}: -r");
        ensure!(Path::new(&checkers).exists() != runs_vrrp, "{flag}: -c");
        daemon.wait_for_log("Wrote Data dump", Duration::from_secs(5))?;
        let log = daemon.log();
        ensure!(
            log.matches("-x/--snmp: ignored").count() == 1,
            "{flag}: {log}"
        );
        daemon.signal(Signal::SIGTERM)?;
        let stopped = daemon.stop()?;
        ensure!(stopped.success(), "{flag}: {stopped:?}\n{}", daemon.log());
        for file in [&main, &vrrp, &checkers] {
            ensure!(!Path::new(file).exists(), "{flag}: {file} left behind");
        }
    }
    Ok(())
}

/// The daemon's pid, from its runtime directory's pid file.
fn daemon_pid(daemon: &Daemon) -> Result<u32> {
    let text = fs::read_to_string(daemon.runtime_dir().join("lb-daemon.pid"))?;
    Ok(text.trim().parse()?)
}
