//! Interop with Debian's real keepalived in the same VRRP group: dir1 runs
//! lb-daemon, dir2 runs keepalived with the very same configuration text
//! (but for priority, state and unicast addresses; unicast with
//! `check_unicast_src`). In every combination of version (2, 3), transport
//! (multicast, unicast) and role, the node with the higher priority must hold
//! the VIP and the other must not.
use std::{fs, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Keepalived, Lab, LabSpec, VrrpConf};

struct Case {
    version: u8,
    ipv6: bool,
    unicast: bool,
    lb_priority: u8,
    keepalived_priority: u8,
}

fn conf(case: &Case, priority: u8, own: &str, peer: &str) -> VrrpConf {
    let conf = VrrpConf {
        state: if priority > 100 { "MASTER" } else { "BACKUP" },
        priority,
        version: case.version,
        // VRRPv2 counts whole seconds; v3 takes centiseconds.
        advert_int: if case.version == 2 { "1" } else { "0.1" },
        auth_pass: (case.version == 2).then_some("lab-pass"),
        unicast: case.unicast.then(|| (own.to_owned(), peer.to_owned())),
        // Both accept adverts from their configured peer only.
        extra: match case.unicast {
            true => "    check_unicast_src\n".to_owned(),
            false => String::new(),
        },
        ..VrrpConf::fast("BACKUP", priority)
    };
    if case.ipv6 {
        conf.ipv6()
    } else {
        conf
    }
}

fn run(case: Case) -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (ip1, ip2) = match case.ipv6 {
        false => (
            lab.director(1).ipv4().to_string(),
            lab.director(2).ipv4().to_string(),
        ),
        true => (
            lab.director(1).ipv6().to_string(),
            lab.director(2).ipv6().to_string(),
        ),
    };
    let mine = conf(&case, case.lb_priority, &ip1, &ip2);
    let holds_vip = |n: usize| mine.held_by(lab.director(n).ns());
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, mine.render())?;
    let keepalived_text = conf(&case, case.keepalived_priority, &ip2, &ip1).render();
    let keepalived = Keepalived::start(lab.director(2).ns(), &keepalived_text, "keepalived")?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "lb-daemon")?;

    let (winner, loser) = if case.lb_priority > case.keepalived_priority {
        (1, 2)
    } else {
        (2, 1)
    };
    let expected_state = if winner == 1 { "MASTER" } else { "BACKUP" };
    // Election takes up to 3 advert intervals plus skew; v2 here is 1 s.
    wait_until(Duration::from_secs(8), Duration::from_millis(50), || {
        holds_vip(winner)
            && !holds_vip(loser)
            && daemon
                .status()
                .ok()
                .and_then(|s| s["vrrp"][0]["state"].as_str().map(str::to_owned))
                .as_deref()
                == Some(expected_state)
    })
    .with_context(|| {
        format!(
            "dir{winner} should hold the VIP alone;\nlb-daemon log:\n{}\nkeepalived log:\n{}",
            daemon.log(),
            keepalived.log()
        )
    })?;
    // And it stays that way: no flapping over several intervals.
    std::thread::sleep(Duration::from_secs(if case.version == 2 { 3 } else { 1 }));
    ensure!(
        holds_vip(winner) && !holds_vip(loser),
        "the VIP moved after the election"
    );
    let status = daemon.status()?;
    ensure!(
        status["vrrp"][0]["drops"]
            .as_object()
            .is_some_and(|d| !d.is_empty() && d.values().all(|v| v == 0)),
        "lb-daemon dropped adverts from keepalived: {}",
        status["vrrp"][0]["drops"]
    );
    ensure!(
        status["vrrp"][0]["adverts_received"].as_u64() > Some(0) || winner == 1,
        "lb-daemon (backup) received keepalived's adverts"
    );
    Ok(())
}

macro_rules! interop {
    ($($name:ident: $version:expr, $ipv6:expr, $unicast:expr, $lb:expr, $ka:expr;)*) => {$(
        #[test]
        fn $name() -> Result<()> {
            run(Case { version: $version, ipv6: $ipv6, unicast: $unicast, lb_priority: $lb, keepalived_priority: $ka })
        }
    )*};
}

interop! {
    v2_multicast_lb_daemon_master: 2, false, false, 150, 100;
    v2_multicast_keepalived_master: 2, false, false, 100, 150;
    v2_unicast_lb_daemon_master: 2, false, true, 150, 100;
    v2_unicast_keepalived_master: 2, false, true, 100, 150;
    v3_multicast_lb_daemon_master: 3, false, false, 150, 100;
    v3_multicast_keepalived_master: 3, false, false, 100, 150;
    v3_unicast_lb_daemon_master: 3, false, true, 150, 100;
    v3_unicast_keepalived_master: 3, false, true, 100, 150;
    v3_ipv6_multicast_lb_daemon_master: 3, true, false, 150, 100;
    v3_ipv6_multicast_keepalived_master: 3, true, false, 100, 150;
    v3_ipv6_unicast_lb_daemon_master: 3, true, true, 150, 100;
    v3_ipv6_unicast_keepalived_master: 3, true, true, 100, 150;
}

/// VRRPv2 multicast over IPv4, lb-daemon at 100 below keepalived at 150.
const V2_KEEPALIVED_MASTER: Case = Case {
    version: 2,
    ipv6: false,
    unicast: false,
    lb_priority: 100,
    keepalived_priority: 150,
};

#[test]
fn auth_mismatch_is_not_accepted_as_a_peer() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let case = V2_KEEPALIVED_MASTER;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, conf(&case, case.lb_priority, "", "").render())?;
    let other = VrrpConf {
        auth_pass: Some("wrong-pw"),
        ..conf(&case, case.keepalived_priority, "", "")
    };
    let keepalived = Keepalived::start(lab.director(2).ns(), &other.render(), "keepalived")?;
    keepalived.wait_for_log("Entering MASTER STATE", Duration::from_secs(8))?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "lb-daemon")?;
    // keepalived's higher-priority adverts carry the wrong password: they are
    // dropped and counted, and lb-daemon, seeing no valid master, takes over.
    wait_until(Duration::from_secs(8), Duration::from_millis(50), || {
        daemon
            .status()
            .map(|s| s["vrrp"][0]["state"] == "MASTER")
            .unwrap_or(false)
    })
    .with_context(|| format!("lb-daemon log:\n{}", daemon.log()))?;
    let status = daemon.status()?;
    let drops = &status["vrrp"][0]["drops"];
    ensure!(
        drops["auth_pass"].as_u64() > Some(0),
        "auth drops counted: {drops}"
    );
    ensure!(
        status["vrrp"][0]["adverts_received"] == 0,
        "no advert accepted: {status}"
    );
    ensure!(
        conf(&case, case.lb_priority, "", "").held_by(lab.director(1).ns()),
        "lb-daemon holds the VIP"
    );
    Ok(())
}

/// lb-daemon (priority 100) with `auth_pass {lb}` and keepalived (150) with
/// `auth_pass {ka}` read the same password: lb-daemon accepts keepalived's
/// adverts (no drops) and stays BACKUP.
fn passwords_agree(lb: &'static str, ka: &'static str) -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let case = V2_KEEPALIVED_MASTER;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    let mine = VrrpConf {
        auth_pass: Some(lb),
        ..conf(&case, case.lb_priority, "", "")
    };
    fs::write(&path, mine.render())?;
    let other = VrrpConf {
        auth_pass: Some(ka),
        ..conf(&case, case.keepalived_priority, "", "")
    };
    let keepalived = Keepalived::start(lab.director(2).ns(), &other.render(), "keepalived")?;
    keepalived.wait_for_log("Entering MASTER STATE", Duration::from_secs(8))?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "lb-daemon")?;
    wait_until(Duration::from_secs(8), Duration::from_millis(50), || {
        daemon.status().is_ok_and(|s| {
            s["vrrp"][0]["state"] == "BACKUP" && s["vrrp"][0]["adverts_received"].as_u64() > Some(2)
        })
    })
    .with_context(|| format!("lb-daemon log:\n{}", daemon.log()))?;
    let status = daemon.status()?;
    ensure!(
        status["vrrp"][0]["drops"]
            .as_object()
            .is_some_and(|d| d.values().all(|v| v == 0)),
        "lb-daemon dropped keepalived's adverts: {}",
        status["vrrp"][0]["drops"]
    );
    ensure!(
        !mine.held_by(lab.director(1).ns()),
        "lb-daemon took the VIP"
    );
    Ok(())
}

/// keepalived ends `auth_pass abc#123` at the `#` (a comment starts
/// anywhere outside "…"): lb-daemon reads `abc` too, or a mixed pair fails
/// authentication.
#[test]
fn auth_pass_ends_at_a_comment_like_keepalived() -> Result<()> {
    passwords_agree("abc#123", "abc")
}

/// The same text on both nodes: keepalived's VRRP process decomments the
/// line twice (once in the parent's copy, once itself), so an unquoted `\#`
/// does not survive either.
#[test]
fn auth_pass_with_an_escaped_hash_reads_the_same_on_both() -> Result<()> {
    passwords_agree(r"abc\#123", r"abc\#123")
}

/// Single quotes protect nothing in keepalived: `'abc#1'` is `'abc`.
#[test]
fn auth_pass_in_single_quotes_reads_the_same_on_both() -> Result<()> {
    passwords_agree("'abc#1'", "'abc#1'")
}
