//! keepalived's routes and rules on two lb-daemons: `virtual_routes` /
//! `virtual_rules` follow MASTER (added on entry, removed on leaving, so a
//! failover moves them), `static_ipaddress` / `static_routes` /
//! `static_rules` are there from start to stop whatever the state, and a
//! route that existed before lb-daemon started is someone else's: left in
//! place. Deleted by someone else, a virtual one makes its MASTER leave
//! and come back to add it again, a static one is added again, and a
//! `no_track` one stays deleted (keepalived's tracking). keepalived -t
//! accepts the same configuration.
use std::{ffi::OsStr, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{keepalived::KEEPALIVED, wait_until, Daemon, Pair, VrrpConf};

/// The routes and rules director `n` holds while MASTER.
const VIRTUAL: &str = "    virtual_routes {
        203.0.113.0/25 via 192.0.2.254 dev eth0 table 200 metric 5
        blackhole 198.51.100.128/25 table 200 no_track
        198.51.100.0/26 table 200 no_track nexthop via 192.0.2.251 dev eth0 weight 1 nexthop via 192.0.2.252 weight 3
    }
    virtual_rules {
        from 203.0.113.0/24 table 200 priority 1000
    }
";

/// Director `n`'s configuration: its own static address, the shared
/// static route and rule, and the VRRP instance with [`VIRTUAL`].
fn config(n: usize, state: &'static str, priority: u8) -> String {
    let statics = format!(
        "static_ipaddress {{\n    198.51.100.{n}/32 dev eth0\n}}\n\
         static_routes {{\n    203.0.113.128/25 dev eth0 table 201\n    \
         203.0.113.64/26 table 201 no_track nexthop via 192.0.2.251 nexthop via 192.0.2.252\n}}\n\
         static_rules {{\n    fwmark 7 table 201 priority 1001\n}}\n"
    );
    let instance = VrrpConf {
        extra: VIRTUAL.to_owned(),
        ..VrrpConf::fast(state, priority)
    };
    statics + &instance.render()
}

/// What one director's kernel shows of the test's routes and rules.
#[derive(Debug, PartialEq)]
struct Seen {
    virtual_route: bool,
    multipath: bool,
    blackhole: bool,
    virtual_rule: bool,
    static_address: bool,
    static_route: bool,
    /// Two equal paths, their device found by the kernel.
    static_multipath: bool,
    static_rule: bool,
}

fn seen(pair: &Pair, n: usize) -> Result<Seen> {
    let ns = pair.host(n).ns();
    // A table that never held a route is an error to `ip`: empty.
    let table = |t: &str| -> Result<String> {
        let out = ns.exec(&["ip", "route", "show", "table", t])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (table200, table201) = (table("200")?, table("201")?);
    let rules = ns.ip(&["rule", "show"])?;
    Ok(Seen {
        virtual_route: table200.contains("203.0.113.0/25 via 192.0.2.254 dev eth0 metric 5"),
        multipath: table200.contains(
            "198.51.100.0/26 \n\tnexthop via 192.0.2.251 dev eth0 weight 1 \n\tnexthop via 192.0.2.252 dev eth0 weight 3",
        ),
        blackhole: table200.contains("blackhole 198.51.100.128/25"),
        virtual_rule: rules.contains("1000:\tfrom 203.0.113.0/24 lookup 200"),
        static_address: pair.holds(n, &format!("198.51.100.{n}/32")),
        static_route: table201.contains("203.0.113.128/25 dev eth0"),
        static_multipath: table201.contains(
            "203.0.113.64/26 \n\tnexthop via 192.0.2.251 dev eth0 weight 1 \n\tnexthop via 192.0.2.252 dev eth0 weight 1",
        ),
        static_rule: rules.contains("1001:\tfrom all fwmark 0x7 lookup 201"),
    })
}

/// What a director holds: `master` its virtual ones, `running` the static
/// ones; `blackhole` is also there when someone else added it.
fn holding(master: bool, running: bool, blackhole: bool) -> Seen {
    Seen {
        virtual_route: master,
        multipath: master,
        blackhole: master || blackhole,
        virtual_rule: master,
        static_address: running,
        static_route: running,
        static_multipath: running,
        static_rule: running,
    }
}

fn wait_seen(pair: &Pair, n: usize, want: &Seen, daemon: &Daemon) -> Result<()> {
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        seen(pair, n).is_ok_and(|s| s == *want)
    })
    .with_context(|| {
        format!(
            "dir{n} shows {:?}, not {want:?}; its log:\n{}",
            seen(pair, n),
            daemon.log()
        )
    })
}

#[test]
fn virtual_routes_follow_master_and_static_ones_the_daemon() -> Result<()> {
    let pair = Pair::new()?;
    // dir1 had this route before lb-daemon: not lb-daemon's to remove.
    let dir1 = pair.host(1).ns();
    dir1.ip(&[
        "route",
        "add",
        "blackhole",
        "198.51.100.128/25",
        "table",
        "200",
    ])?;

    let mut d1 = pair.start(1, &config(1, "MASTER", 150))?;
    let mut d2 = pair.start(2, &config(2, "BACKUP", 100))?;
    wait_seen(&pair, 1, &holding(true, true, true), &d1)?;
    wait_seen(&pair, 2, &holding(false, true, false), &d2)?;
    d1.wait_for_log(
        "(VI_1) route to 198.51.100.128/25 (table 200) already exists: not ours, left alone on removal",
        Duration::from_secs(1),
    )?;

    // A graceful stop of the master: dir2 takes the virtual routes over,
    // dir1 removes what it added and keeps what it found.
    d1.stop()?;
    wait_seen(&pair, 2, &holding(true, true, false), &d2)?;
    wait_seen(&pair, 1, &holding(false, false, true), &d1)?;

    d2.stop()?;
    wait_seen(&pair, 2, &holding(false, false, false), &d2)?;
    Ok(())
}

/// Deletes with `ip` in dir1's namespace, then waits for `log` (the
/// daemon noticing) unless it is empty, and for everything to be back.
fn delete(pair: &Pair, daemon: &Daemon, what: &[&str], log: &str) -> Result<()> {
    pair.host(1).ns().ip(what)?;
    if !log.is_empty() {
        daemon.wait_for_log(log, Duration::from_secs(5))?;
        wait_seen(pair, 1, &holding(true, true, false), daemon)?;
    }
    Ok(())
}

#[test]
fn deleted_items_come_back_unless_no_track() -> Result<()> {
    let pair = Pair::new()?;
    let d1 = pair.start(1, &config(1, "MASTER", 150))?;
    wait_seen(&pair, 1, &holding(true, true, false), &d1)?;
    ensure!(pair.holds(1, "192.0.2.50/24"), "the VIP");
    let back = |what: &str| format!("(VI_1) {what} was deleted");
    delete(
        &pair,
        &d1,
        &["addr", "del", "192.0.2.50/24", "dev", "eth0"],
        &back("virtual address 192.0.2.50/24 on eth0"),
    )?;
    ensure!(pair.holds(1, "192.0.2.50/24"), "the VIP is added again");
    let route = ["route", "del", "203.0.113.0/25", "table", "200"];
    delete(
        &pair,
        &d1,
        &route,
        &back("route to 203.0.113.0/25 (table 200)"),
    )?;
    let rule = ["rule", "del", "priority", "1000"];
    delete(
        &pair,
        &d1,
        &rule,
        &back("rule from 203.0.113.0/24 to all table 200"),
    )?;
    let reinstated = |what: &str| format!("(static) {what} was deleted: reinstated");
    let route = ["route", "del", "203.0.113.128/25", "table", "201"];
    delete(
        &pair,
        &d1,
        &route,
        &reinstated("route to 203.0.113.128/25 (table 201)"),
    )?;
    let address = ["addr", "del", "198.51.100.1/32", "dev", "eth0"];
    delete(
        &pair,
        &d1,
        &address,
        &reinstated("address 198.51.100.1/32 on eth0"),
    )?;
    let rule = ["rule", "del", "priority", "1001"];
    delete(
        &pair,
        &d1,
        &rule,
        &reinstated("rule from all to all table 201"),
    )?;
    // `no_track`: deleted they stay deleted, and the instance stays MASTER.
    delete(
        &pair,
        &d1,
        &["route", "del", "198.51.100.128/25", "table", "200"],
        "",
    )?;
    delete(
        &pair,
        &d1,
        &["route", "del", "203.0.113.64/26", "table", "201"],
        "",
    )?;
    std::thread::sleep(Duration::from_secs(1));
    let want = Seen {
        blackhole: false,
        static_multipath: false,
        ..holding(true, true, false)
    };
    ensure!(
        seen(&pair, 1)? == want,
        "{:?}\n{}",
        seen(&pair, 1),
        d1.log()
    );
    // Three times MASTER left and came back, three static items were
    // reinstated, and the `no_track` deletions went unremarked.
    let log = d1.log();
    let left = log
        .matches("a virtual address, route or rule was deleted")
        .count();
    let reinstated = log.matches("was deleted: reinstated").count();
    let untracked = ["198.51.100.128/25", "203.0.113.64/26"]
        .iter()
        .any(|route| {
            log.lines()
                .any(|line| line.contains(route) && line.contains("was deleted"))
        });
    ensure!(
        (left, reinstated, untracked) == (3, 3, false),
        "left {left}, reinstated {reinstated}, untracked noticed {untracked}:\n{log}"
    );
    Ok(())
}

/// On a host whose routes change all the time (a BGP daemon's table), a
/// MASTER tracking a virtual route, and the tracked static items, read the
/// routing table again only when a route or rule of their own may be gone
/// (or every 30 s), not after every route notification; the deletion of
/// one of their own is still seen.
#[test]
fn unrelated_route_churn_does_not_reread_the_table() -> Result<()> {
    let pair = Pair::new()?;
    std::fs::write(pair.path(1), config(1, "MASTER", 150))?;
    let debug = [("RUST_LOG", OsStr::new("info,lb_daemon::netlink=debug"))];
    let d1 = Daemon::start_with_env(pair.host(1).ns(), &pair.path(1), "dir1", &debug)?;
    wait_seen(&pair, 1, &holding(true, true, false), &d1)?;
    let listings = || d1.log().matches("listing the IPv4 routes").count();
    let before = listings();
    let ns = pair.host(1).ns();
    for n in 200..230 {
        let route = format!("198.51.100.{n}/32");
        ns.ip(&["route", "add", &route, "dev", "eth0", "table", "202"])?;
        ns.ip(&["route", "del", &route, "table", "202"])?;
        std::thread::sleep(Duration::from_millis(10));
    }
    // Notifications come in bursts: let the last ones arrive.
    std::thread::sleep(Duration::from_millis(500));
    // At most the safety look of each follower (instance and statics).
    let churned = listings() - before;
    ensure!(
        churned <= 2,
        "60 unrelated route changes made {churned} listings of the routes:\n{}",
        d1.log()
    );
    delete(
        &pair,
        &d1,
        &["route", "del", "203.0.113.0/25", "table", "200"],
        "(VI_1) route to 203.0.113.0/25 (table 200) was deleted",
    )
}

/// A static route goes with its interface when that is set down (IPv4
/// says nothing of it): it is added back when the interface comes up, and
/// the failures while it is down are logged once.
#[test]
fn a_static_route_flushed_with_its_interface_comes_back_with_it() -> Result<()> {
    let pair = Pair::new()?;
    let ns = pair.host(1).ns();
    ns.ip(&[
        "link", "add", "lbv0", "type", "veth", "peer", "name", "lbv1",
    ])?;
    for link in ["lbv0", "lbv1"] {
        // Without IPv6 no link-local address comes and goes with the link:
        // only the link's own notifications tell that it went and came back.
        let sysctl = format!("net.ipv6.conf.{link}.disable_ipv6=1");
        ns.run(&["sysctl", "-qw", &sysctl])?;
        ns.ip(&["link", "set", link, "up"])?;
    }
    let statics = "static_routes {\n    203.0.113.192/26 dev lbv0 table 203\n}\n";
    let d1 = pair.start(
        1,
        &(statics.to_owned() + &VrrpConf::fast("MASTER", 150).render()),
    )?;
    let route = || {
        ns.ip(&["route", "show", "table", "203"])
            .is_ok_and(|r| r.contains("203.0.113.192/26 dev lbv0"))
    };
    wait_until(Duration::from_secs(5), Duration::from_millis(50), route)
        .context("the static route")?;
    ns.ip(&["link", "set", "lbv0", "down"])?;
    ensure!(
        !route(),
        "the kernel took the route away with its interface"
    );
    d1.wait_for_log("(static) reinstating:", Duration::from_secs(5))?;
    // More wake-ups while it is down (address additions, which delete
    // nothing): each tries again, none logs again.
    for n in 1..=3 {
        let address = format!("198.51.100.{n}/32");
        ns.ip(&["addr", "add", &address, "dev", "lbv1"])?;
        std::thread::sleep(Duration::from_millis(100));
    }
    ns.ip(&["link", "set", "lbv0", "up"])?;
    d1.wait_for_log(
        "(static) route to 203.0.113.192/26 (table 203) was deleted: reinstated",
        Duration::from_secs(5),
    )?;
    ensure!(route(), "the static route is back");
    let failures = d1.log().matches("(static) reinstating:").count();
    ensure!(failures == 1, "{failures} failures logged:\n{}", d1.log());
    Ok(())
}

#[test]
fn keepalived_accepts_the_same_configuration() -> Result<()> {
    let pair = Pair::new()?;
    let text = config(1, "MASTER", 150);
    std::fs::write(pair.path(1), &text)?;
    let file = pair.path(1);
    let file = file.to_str().context("path")?;
    let out = pair.host(1).ns().exec(&[KEEPALIVED, "-t", "-f", file])?;
    ensure!(
        out.status.success(),
        "keepalived -t: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lb = lb_tests::daemon_binary()?;
    let args = [
        lb.as_os_str(),
        OsStr::new("-t"),
        OsStr::new("-f"),
        OsStr::new(file),
    ];
    let out = pair.host(1).ns().exec(&args)?;
    ensure!(
        out.status.success(),
        "lb-daemon -t: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
