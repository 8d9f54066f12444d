//! keepalived's configuration templating with the real binary: `-i` picks
//! the `@ID` lines (and through them the definitions) a running daemon
//! uses, `~SEQ`/`~LST` lines become its addresses, and `-t` accepts and
//! rejects templated files as Debian's keepalived -t does.
use std::{
    fs,
    path::Path,
    process::{Command, Output},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{daemon_binary, keepalived::KEEPALIVED, Daemon, Lab, LabSpec, Netns};
use serde_json::Value;

/// One instance whose priority comes from a definition set on `@node1` or
/// `@node2` lines, and whose addresses are replicated.
const TEMPLATED: &str = "\
$PRIO=100
@node1 $PRIO=150
@node2 $PRIO=50
$IF=eth0
vrrp_instance VI_1 {
    state BACKUP
    interface $IF
    virtual_router_id 51
    priority $PRIO
    version 3
    advert_int 0.1
    virtual_ipaddress {
        ~SEQ(N, 10, 12) 192.0.2.${N}/32 dev ${IF}
        ~LST(H, 20, 21) 192.0.2.${H}/32 dev ${IF}
@^node1 192.0.2.30/32 dev ${IF}
    }
}
";

fn vips(status: &Value) -> Vec<String> {
    let list = status["vrrp"][0]["vips"].as_array().cloned();
    let mut vips: Vec<String> = list
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    vips.sort();
    vips
}

#[test]
fn config_id_chooses_the_lines_a_running_daemon_uses() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let host = lab.director(1);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("lb.conf");
    fs::write(&path, TEMPLATED)?;
    let replicated: Vec<String> = [10, 11, 12, 20, 21]
        .iter()
        .map(|n| format!("192.0.2.{n}/32"))
        .collect();
    for (id, priority, extra) in [("node1", 150, false), ("node2", 50, true)] {
        let mut daemon = Daemon::start_with(host.ns(), &path, host.role(), &["-i", id])?;
        daemon.wait_status("MASTER", Duration::from_secs(8), |s| {
            s["vrrp"][0]["state"] == "MASTER"
        })?;
        let status = daemon.status()?;
        ensure!(
            status["vrrp"][0]["base_priority"] == priority,
            "-i {id}: {status}"
        );
        let mut expected = replicated.clone();
        if extra {
            expected.push("192.0.2.30/32".into());
        }
        ensure!(vips(&status) == expected, "-i {id}: {status}");
        let addresses = host.ns().ip(&["-o", "addr", "show", "dev", "eth0"])?;
        for vip in &expected {
            ensure!(
                addresses.contains(&format!("inet {vip} ")),
                "-i {id}: {vip} not on eth0:\n{addresses}"
            );
        }
        daemon.stop()?;
    }
    Ok(())
}

/// The interface the `-t` configurations use, in a namespace of the test's
/// own (keepalived refuses `lo`).
const IFACE: &str = "lbtpl0";

fn namespace() -> Result<Netns> {
    let ns = Netns::new("templ")?;
    ns.ip(&[
        "link", "add", IFACE, "type", "veth", "peer", "name", "lbtpl1",
    ])?;
    ns.ip(&["link", "set", IFACE, "up"])?;
    ns.ip(&["link", "set", "lbtpl1", "up"])?;
    Ok(ns)
}

/// A valid instance with `extra` lines after it.
fn config(extra: &str) -> String {
    format!(
        "$PRIO=100\n@bad $PRIO=300\nvrrp_instance VI_1 {{\n    state BACKUP\n    \
         interface {IFACE}\n    virtual_router_id 51\n    priority $PRIO\n    advert_int 1\n    \
         virtual_ipaddress {{\n        ~SEQ(N, 10, 12) 192.0.2.${{N}}/32\n        \
         ~LST({{A, B}}, {{20, 32}}, {{21, 32}}) 192.0.2.${{A}}/${{B}}\n    }}\n}}\n{extra}"
    )
}

fn run(ns: &Netns, program: &Path, file: &Path, args: &[&str]) -> Result<Output> {
    let mut argv = vec![program.as_os_str(), "-t".as_ref(), "-f".as_ref()];
    argv.push(file.as_os_str());
    argv.extend(args.iter().map(std::ffi::OsStr::new));
    ns.exec(&argv)
}

/// Whether lb-daemon -t says it would run the configuration (warnings
/// only, or nothing).
fn lb_accepts(out: &Output) -> bool {
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    out.status.success() || text.contains("lb-daemon runs this configuration")
}

/// What a case checks: its name, the file, the options after `-t -f
/// FILE`, whether it is accepted, and what lb-daemon's report names.
type Case = (
    &'static str,
    String,
    &'static [&'static str],
    bool,
    &'static str,
);

fn cases() -> Vec<Case> {
    let good: &[&str] = &["-i", "good"];
    let check_all = "global_defs {\n    include_check\n}\ninclude none.conf\n";
    let conditional = "@good include a.conf\n@other include none.conf\n";
    vec![
        ("templated", config(""), good, true, ""),
        (
            "@bad selects priority 300",
            config(""),
            &["-i", "bad"],
            false,
            "t.conf:7:",
        ),
        (
            "missing include",
            config("include none.conf\n"),
            good,
            true,
            "t.conf:14:9: warning",
        ),
        (
            "missing include, -e",
            config("include none.conf\n"),
            &["-i", "good", "-e"],
            false,
            "t.conf:14:9: error",
        ),
        (
            "missing include after include_check",
            config(check_all),
            good,
            false,
            "t.conf:17:9: error",
        ),
        (
            "missing includer",
            config("includer none.conf\n"),
            good,
            true,
            "t.conf:14:10: warning",
        ),
        (
            "missing includem",
            config("includem none.conf\n"),
            good,
            false,
            "t.conf:14:10: error",
        ),
        (
            "missing includea",
            config("includea none.conf\n"),
            good,
            false,
            "t.conf:14:10: error",
        ),
        (
            "includew of nothing",
            config("includew *.none\n"),
            good,
            false,
            "t.conf:14:10: error",
        ),
        (
            "includeb, one missing",
            config("includeb {a,none}.conf\n"),
            good,
            false,
            "t.conf:14:10: error",
        ),
        (
            "include, one missing",
            config("include {a,none}.conf\n"),
            good,
            true,
            "t.conf:14:9: warning",
        ),
        (
            "bad ~SEQ",
            config("~SEQ(N, 1, 0, 3) x\n"),
            good,
            false,
            "t.conf:14:1: error: invalid ~SEQ values",
        ),
        ("conditional include", config(conditional), good, true, ""),
        (
            "conditional missing include",
            config(conditional),
            &["-i", "other"],
            true,
            "t.conf:15:16: warning",
        ),
    ]
}

#[test]
fn config_test_accepts_and_rejects_templates_as_keepalived_does() -> Result<()> {
    let ns = namespace()?;
    let dir = tempfile::tempdir()?;
    fs::write(
        dir.path().join("a.conf"),
        "global_defs {\n    router_id tpl\n}\n",
    )?;
    let file = dir.path().join("t.conf");
    let lb = daemon_binary()?;
    let keepalived = Path::new(KEEPALIVED)
        .exists()
        .then_some(Path::new(KEEPALIVED));
    for (name, text, args, accepted, named) in cases() {
        fs::write(&file, &text)?;
        let ours = run(&ns, &lb, &file, args)?;
        let report = String::from_utf8_lossy(&ours.stderr).into_owned();
        ensure!(
            lb_accepts(&ours) == accepted,
            "{name}: lb-daemon -t exited {:?}:\n{report}",
            ours.status
        );
        ensure!(report.contains(named), "{name}: `{named}` not in\n{report}");
        if let Some(keepalived) = keepalived {
            let theirs = run(&ns, keepalived, &file, args)?;
            ensure!(
                theirs.status.success() == accepted,
                "{name}: keepalived -t exited {:?}:\n{}",
                theirs.status,
                String::from_utf8_lossy(&theirs.stderr)
            );
        }
    }
    Ok(())
}

/// `lb-daemon convert -i ID` shows the model the chosen lines make.
#[test]
fn convert_shows_the_chosen_lines() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("t.conf");
    fs::write(&file, config(""))?;
    let out = Command::new(daemon_binary()?)
        .args(["convert", "-i", "good", "-f"])
        .arg(&file)
        .output()
        .context("running lb-daemon convert")?;
    let toml = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(toml.contains("priority = 100"), "{toml}");
    for vip in [
        "192.0.2.10",
        "192.0.2.11",
        "192.0.2.12",
        "192.0.2.20",
        "192.0.2.21",
    ] {
        ensure!(toml.contains(vip), "{vip}:\n{toml}");
    }
    Ok(())
}
