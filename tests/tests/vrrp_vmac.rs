//! `use_vmac` / `vmac_xmit_base` in interop with Debian's keepalived: dir1
//! runs lb-daemon, dir2 keepalived, both with the same instance on a
//! macvlan `vrrp.51` carrying the VRRP virtual MAC 00:00:5e:00:01:33. The
//! MASTER's adverts and gratuitous ARPs leave with the virtual MAC (with
//! `vmac_xmit_base` the adverts with the base interface's), the VIP lives on
//! the macvlan, failover works both ways (IPv4 and IPv6), the macvlan goes
//! away when the daemon stops or a reload drops it, one left behind by
//! a killed daemon is replaced, and one set down by hand means FAULT until
//! it is set up again (as keepalived tracks it). With a strict
//! `all.rp_filter`, lb-daemon clears it as keepalived does, or its macvlan
//! would never hear the peer's adverts.
use std::{fs, path::Path, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    vrrp_wire::Frame, wait_until, Daemon, Keepalived, Lab, LabSpec, Netns, Recording, VrrpConf,
    VIP, VIP6,
};

/// The macvlan's default name for VRID 51.
const VMAC: &str = "vrrp.51";
/// The VRRP virtual MAC of VRID 51.
const VIRTUAL_MAC: &str = "00:00:5e:00:01:33";
/// The VRRP virtual MAC of VRID 51 over IPv6.
const VIRTUAL_MAC6: &str = "00:00:5e:00:02:33";
const ELECTION: Duration = Duration::from_secs(8);

fn conf(priority: u8, extra: &str) -> VrrpConf {
    let state = if priority > 100 { "MASTER" } else { "BACKUP" };
    VrrpConf {
        extra: extra.to_owned(),
        ..VrrpConf::fast(state, priority)
    }
}

/// Whether `ns` holds the VIP on interface `dev`.
fn holds_on(ns: &Netns, dev: &str) -> bool {
    ns.ip(&["-o", "addr", "show", "dev", dev])
        .is_ok_and(|a| a.contains(&format!(" {VIP}/24 ")))
}

/// Whether `ns` holds the VIP on any interface.
fn holds(ns: &Netns) -> bool {
    ns.ip(&["-o", "addr", "show"])
        .is_ok_and(|a| a.contains(&format!(" {VIP}/24 ")))
}

/// `ip -d link show DEV`, empty when there is no such interface.
fn link(ns: &Netns, dev: &str) -> String {
    ns.ip(&["-d", "link", "show", "dev", dev])
        .unwrap_or_default()
}

fn sysctl(ns: &Netns, dev: &str, key: &str) -> Result<String> {
    let path = format!("/proc/sys/net/ipv4/conf/{dev}/{key}");
    Ok(ns.run(&["cat", &path])?.trim().to_owned())
}

fn state(daemon: &Daemon) -> Option<String> {
    let status = daemon.status().ok()?;
    status["vrrp"][0]["state"].as_str().map(str::to_owned)
}

fn start_daemon(ns: &Netns, dir: &Path, text: &str) -> Result<Daemon> {
    let path = dir.join("dir1.conf");
    fs::write(&path, text)?;
    Daemon::start(ns, &path, "lb-daemon")
}

/// Waits until dir1 (lb-daemon) is MASTER with the VIP on its macvlan and
/// dir2 holds it nowhere.
fn lb_daemon_master(lab: &Lab, daemon: &Daemon, keepalived: Option<&Keepalived>) -> Result<()> {
    let (dir1, dir2) = (lab.director(1).ns(), lab.director(2).ns());
    wait_until(ELECTION, Duration::from_millis(50), || {
        state(daemon).as_deref() == Some("MASTER") && holds_on(dir1, VMAC) && !holds(dir2)
    })
    .with_context(|| {
        format!(
            "lb-daemon should hold the VIP on {VMAC};\nlb-daemon log:\n{}\nkeepalived log:\n{}",
            daemon.log(),
            keepalived.map(Keepalived::log).unwrap_or_default()
        )
    })?;
    // Its first gratuitous ARP burst went out.
    daemon.wait_for_log("Sending/queueing gratuitous ARPs on vrrp.51", ELECTION)
}

/// The adverts `ip` sent among `frames`.
fn adverts_from<'f>(frames: &'f [Frame], ip: &str) -> Vec<&'f Frame> {
    let needle = format!(" {ip} > 224.0.0.18: VRRPv3");
    frames.iter().filter(|f| f.line.contains(&needle)).collect()
}

/// The gratuitous ARPs for the VIP among `frames`.
fn garps(frames: &[Frame]) -> Vec<&Frame> {
    let (has, tell) = (format!("who-has {VIP} "), format!("tell {VIP},"));
    frames
        .iter()
        .filter(|f| f.line.contains(&has) && f.line.contains(&tell))
        .collect()
}

/// Starts keepalived on dir2 with `extra` lines; it creates its macvlan at
/// startup and, with the lower priority, stays BACKUP.
fn keepalived_backup(lab: &Lab, extra: &str) -> Result<Keepalived> {
    let dir2 = lab.director(2).ns();
    let keepalived = Keepalived::start(dir2, &conf(100, extra).render(), "keepalived")?;
    keepalived.wait_for_log("Entering BACKUP STATE", ELECTION)?;
    wait_until(ELECTION, Duration::from_millis(50), || {
        link(dir2, VMAC).contains(VIRTUAL_MAC)
    })
    .with_context(|| format!("keepalived's {VMAC}:\n{}", keepalived.log()))?;
    // It accepts lb-daemon's adverts: no takeover over many intervals.
    std::thread::sleep(Duration::from_secs(1));
    ensure!(
        !keepalived.log().contains("Entering MASTER STATE") && !holds(dir2),
        "keepalived took over:\n{}",
        keepalived.log()
    );
    Ok(keepalived)
}

#[test]
fn vmac_master_and_failover_in_interop_with_keepalived() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (dir1, dir2) = (lab.director(1).ns(), lab.director(2).ns());
    let tmp = tempfile::tempdir()?;
    let recording = Recording::start(dir2, "arp or ip proto 112")?;
    let mine = conf(150, "    use_vmac\n").render();
    let mut daemon = start_daemon(dir1, tmp.path(), &mine)?;
    lb_daemon_master(&lab, &daemon, None)?;
    let keepalived = keepalived_backup(&lab, "    use_vmac\n")?;

    // What dir2 saw from dir1: adverts and gratuitous ARPs from the
    // virtual MAC, nothing VRRP from dir1's own MAC.
    let frames = recording.stop()?;
    let adverts = adverts_from(&frames, &lab.director(1).ipv4().to_string());
    ensure!(
        !adverts.is_empty() && adverts.iter().all(|f| f.src_mac == VIRTUAL_MAC),
        "dir1's adverts come from {VIRTUAL_MAC}: {frames:#?}"
    );
    let garps = garps(&frames);
    ensure!(
        !garps.is_empty() && garps.iter().all(|f| f.src_mac == VIRTUAL_MAC),
        "gratuitous ARPs for {VIP} come from {VIRTUAL_MAC}: {frames:#?}"
    );

    // The macvlan as keepalived makes it, with keepalived's settings.
    let vmac = link(dir1, VMAC);
    ensure!(
        vmac.contains("macvlan mode private") && vmac.contains(VIRTUAL_MAC),
        "{VMAC} is a private macvlan with the virtual MAC: {vmac}"
    );
    ensure!(vmac.contains(",UP,"), "{VMAC} is up: {vmac}");
    for (dev, key, value) in [
        (VMAC, "arp_ignore", "1"),
        (VMAC, "accept_local", "1"),
        (VMAC, "rp_filter", "0"),
        ("eth0", "arp_ignore", "1"),
        ("eth0", "arp_filter", "1"),
    ] {
        let now = sysctl(dir1, dev, key)?;
        ensure!(
            now == value,
            "net.ipv4.conf.{dev}.{key} is {now}, not {value}"
        );
    }
    ensure!(!holds_on(dir1, "eth0"), "the VIP is not on dir1's eth0");

    // Failover to keepalived: lb-daemon stops (priority 0), keepalived
    // takes the VIP onto its macvlan, and dir1's macvlan is gone with the
    // base interface's settings back as they were.
    daemon.stop()?;
    wait_until(ELECTION, Duration::from_millis(50), || {
        holds_on(dir2, VMAC) && !holds(dir1)
    })
    .with_context(|| format!("keepalived takes over:\n{}", keepalived.log()))?;
    ensure!(link(dir1, VMAC).is_empty(), "{VMAC} removed on stop");
    for key in ["arp_ignore", "arp_filter"] {
        let now = sysctl(dir1, "eth0", key)?;
        ensure!(now == "0", "net.ipv4.conf.eth0.{key} restored: {now}");
    }

    // And back: a new lb-daemon with the higher priority preempts.
    let daemon = start_daemon(dir1, tmp.path(), &mine)?;
    lb_daemon_master(&lab, &daemon, Some(&keepalived))?;
    Ok(())
}

#[test]
fn vmac_xmit_base_sends_adverts_from_the_base_interface() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (dir1, dir2) = (lab.director(1).ns(), lab.director(2).ns());
    let tmp = tempfile::tempdir()?;
    let extra = "    use_vmac\n    vmac_xmit_base\n";
    let recording = Recording::start(dir2, "arp or ip proto 112")?;
    let daemon = start_daemon(dir1, tmp.path(), &conf(150, extra).render())?;
    lb_daemon_master(&lab, &daemon, None)?;
    // keepalived accepts the adverts sent from the base interface.
    let _keepalived = keepalived_backup(&lab, extra)?;
    let frames = recording.stop()?;
    let base_mac = lab.director(1).mac_string();
    let adverts = adverts_from(&frames, &lab.director(1).ipv4().to_string());
    ensure!(
        !adverts.is_empty() && adverts.iter().all(|f| f.src_mac == base_mac),
        "with vmac_xmit_base dir1's adverts come from {base_mac}: {frames:#?}"
    );
    let garps = garps(&frames);
    ensure!(
        !garps.is_empty() && garps.iter().all(|f| f.src_mac == VIRTUAL_MAC),
        "gratuitous ARPs still come from {VIRTUAL_MAC}: {frames:#?}"
    );
    ensure!(holds_on(dir1, VMAC), "the VIP lives on {VMAC}");
    Ok(())
}

#[test]
fn leftover_macvlan_is_replaced_and_a_foreign_interface_left_alone() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir1 = lab.director(1).ns();
    let tmp = tempfile::tempdir()?;
    let mine = conf(150, "    use_vmac\n").render();
    // A macvlan of that name as a crashed run might have left it, with
    // another MAC, another mode and a stray address.
    dir1.ip(&[
        "link",
        "add",
        VMAC,
        "link",
        "eth0",
        "address",
        "02:00:00:00:00:99",
        "type",
        "macvlan",
        "mode",
        "bridge",
    ])?;
    dir1.ip(&["addr", "add", "192.0.2.99/32", "dev", VMAC])?;
    let daemon = start_daemon(dir1, tmp.path(), &mine)?;
    let ready = |daemon: &Daemon| {
        wait_until(ELECTION, Duration::from_millis(50), || {
            state(daemon).as_deref() == Some("MASTER") && holds_on(dir1, VMAC)
        })
        .with_context(|| format!("lb-daemon log:\n{}", daemon.log()))
    };
    ready(&daemon)?;
    let vmac = link(dir1, VMAC);
    ensure!(
        vmac.contains("macvlan mode private") && vmac.contains(VIRTUAL_MAC),
        "the leftover was replaced: {vmac}"
    );
    let addresses = dir1.ip(&["-o", "addr", "show", "dev", VMAC])?;
    ensure!(!addresses.contains("192.0.2.99"), "{addresses}");

    // Killed, the daemon leaves its macvlan (with the VIP) behind; the
    // next one starts clean and removes it when it stops.
    daemon.kill()?;
    ensure!(holds_on(dir1, VMAC), "the killed daemon's macvlan is left");
    let mut daemon = start_daemon(dir1, tmp.path(), &mine)?;
    ready(&daemon)?;
    daemon.stop()?;
    ensure!(link(dir1, VMAC).is_empty(), "{VMAC} removed on stop");

    // An interface of that name that is not a macvlan is not ours: the
    // instance cannot run, and the interface stays.
    dir1.ip(&["link", "add", VMAC, "type", "bridge"])?;
    let mut daemon = start_daemon(dir1, tmp.path(), &mine)?;
    daemon.wait_status("FAULT naming the interface", ELECTION, |s| {
        let vi = &s["vrrp"][0];
        vi["state"] == "FAULT"
            && vi["error"]
                .as_str()
                .is_some_and(|e| e.contains("vrrp.51 exists and is not a macvlan"))
    })?;
    daemon.stop()?;
    ensure!(link(dir1, VMAC).contains("bridge"), "the bridge stays");
    Ok(())
}

#[test]
fn ipv6_vmac_in_interop_with_keepalived() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (dir1, dir2) = (lab.director(1).ns(), lab.director(2).ns());
    let tmp = tempfile::tempdir()?;
    let holds6 = |ns: &Netns, dev: &str| {
        ns.ip(&["-o", "addr", "show", "dev", dev])
            .is_ok_and(|a| a.contains(&format!(" {VIP6}/64 ")))
    };
    let recording = Recording::start(dir2, "icmp6 or ip6 proto 112")?;
    let mine = conf(150, "    use_vmac\n").ipv6().render();
    let mut daemon = start_daemon(dir1, tmp.path(), &mine)?;
    daemon.wait_status("MASTER", ELECTION, |s| s["vrrp"][0]["state"] == "MASTER")?;
    wait_until(ELECTION, Duration::from_millis(50), || holds6(dir1, VMAC))
        .with_context(|| format!("{VIP6} on {VMAC}:\n{}", daemon.log()))?;
    let keepalived_text = conf(100, "    use_vmac\n").ipv6().render();
    let keepalived = Keepalived::start(dir2, &keepalived_text, "keepalived")?;
    keepalived.wait_for_log("Entering BACKUP STATE", ELECTION)?;
    // It accepts lb-daemon's adverts: no takeover over many intervals.
    std::thread::sleep(Duration::from_secs(1));
    ensure!(
        !keepalived.log().contains("Entering MASTER STATE"),
        "keepalived took over:\n{}",
        keepalived.log()
    );
    let frames = recording.stop()?;
    let adverts: Vec<_> = frames
        .iter()
        .filter(|f| f.line.contains("> ff02::12: VRRPv3") && f.line.contains("prio 150"))
        .collect();
    ensure!(
        !adverts.is_empty() && adverts.iter().all(|f| f.src_mac == VIRTUAL_MAC6),
        "dir1's adverts come from {VIRTUAL_MAC6}: {frames:#?}"
    );
    let announcements: Vec<_> = frames
        .iter()
        .filter(|f| {
            f.line
                .contains(&format!("neighbor advertisement, tgt is {VIP6}"))
        })
        .collect();
    ensure!(
        !announcements.is_empty() && announcements.iter().all(|f| f.src_mac == VIRTUAL_MAC6),
        "unsolicited NAs for {VIP6} come from {VIRTUAL_MAC6}: {frames:#?}"
    );
    ensure!(
        link(dir1, VMAC).contains(VIRTUAL_MAC6),
        "{}",
        link(dir1, VMAC)
    );
    // Failover to keepalived and the macvlan gone with lb-daemon.
    daemon.stop()?;
    wait_until(ELECTION, Duration::from_millis(50), || holds6(dir2, VMAC))
        .with_context(|| format!("keepalived takes over:\n{}", keepalived.log()))?;
    ensure!(link(dir1, VMAC).is_empty(), "{VMAC} removed on stop");
    Ok(())
}

#[test]
fn reloads_keep_rename_and_drop_the_macvlan() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir1 = lab.director(1).ns();
    let tmp = tempfile::tempdir()?;
    let daemon = start_daemon(dir1, tmp.path(), &conf(150, "    use_vmac\n").render())?;
    daemon.wait_status("MASTER", ELECTION, |s| s["vrrp"][0]["state"] == "MASTER")?;
    wait_until(ELECTION, Duration::from_millis(50), || holds_on(dir1, VMAC))?;
    let index = |dev: &str| link(dir1, dev).split(':').next().map(str::to_owned);
    let before = index(VMAC);
    let reload = |text: String, done: &dyn Fn() -> bool| -> Result<()> {
        fs::write(tmp.path().join("dir1.conf"), text)?;
        daemon.signal(nix::sys::signal::Signal::SIGHUP)?;
        wait_until(ELECTION, Duration::from_millis(50), done)
            .with_context(|| format!("after the reload:\n{}", daemon.log()))
    };

    // A change in place keeps the macvlan as it is.
    reload(conf(140, "    use_vmac\n").render(), &|| {
        daemon
            .status()
            .is_ok_and(|s| s["vrrp"][0]["priority"] == 140)
    })?;
    ensure!(index(VMAC) == before && holds_on(dir1, VMAC), "{VMAC} kept");

    // Another name: the instance moves to a new macvlan and the old one goes.
    reload(conf(140, "    use_vmac vip51\n").render(), &|| {
        holds_on(dir1, "vip51") && link(dir1, VMAC).is_empty()
    })?;

    // Without use_vmac the VIP goes back to eth0 and no macvlan is left.
    reload(conf(140, "").render(), &|| {
        holds_on(dir1, "eth0") && link(dir1, "vip51").is_empty()
    })?;
    Ok(())
}

#[test]
fn a_macvlan_set_down_by_hand_means_fault_until_it_is_up() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir1 = lab.director(1).ns();
    let tmp = tempfile::tempdir()?;
    let daemon = start_daemon(dir1, tmp.path(), &conf(150, "    use_vmac\n").render())?;
    let in_state = |want: &str| {
        wait_until(ELECTION, Duration::from_millis(50), || {
            state(&daemon).as_deref() == Some(want)
        })
        .with_context(|| format!("{want}: {:?}\n{}", state(&daemon), daemon.log()))
    };
    in_state("MASTER")?;
    ensure!(holds_on(dir1, VMAC), "the VIP lives on {VMAC}");
    dir1.ip(&["link", "set", VMAC, "down"])?;
    in_state("FAULT")?;
    ensure!(!holds(dir1), "a FAULT instance holds no VIP");
    // It stays down and in FAULT: lb-daemon does not set it up itself.
    std::thread::sleep(Duration::from_secs(1));
    ensure!(state(&daemon).as_deref() == Some("FAULT") && !link(dir1, VMAC).contains(",UP"));
    dir1.ip(&["link", "set", VMAC, "up"])?;
    in_state("MASTER")?;
    ensure!(holds_on(dir1, VMAC), "the VIP is back on {VMAC}");
    daemon.wait_for_log("(VI_1) macvlan vrrp.51 is down", Duration::from_secs(1))?;
    Ok(())
}

#[test]
fn strict_rp_filter_is_cleared_so_the_macvlan_hears_its_peer() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (dir1, dir2) = (lab.director(1).ns(), lab.director(2).ns());
    let write = |dev: &str, value: &str| {
        let path = format!("/proc/sys/net/ipv4/conf/{dev}/rp_filter");
        dir1.run(&["sh", "-c", &format!("echo {value} > {path}")])
    };
    for (dev, value) in [("all", "1"), ("default", "0"), ("eth0", "0")] {
        write(dev, value)?;
    }
    let keepalived = Keepalived::start(dir2, &conf(150, "    use_vmac\n").render(), "keepalived")?;
    keepalived.wait_for_log("Entering MASTER STATE", ELECTION)?;
    let tmp = tempfile::tempdir()?;
    let mut daemon = start_daemon(dir1, tmp.path(), &conf(100, "    use_vmac\n").render())?;
    wait_until(ELECTION, Duration::from_millis(50), || {
        state(&daemon).as_deref() == Some("BACKUP")
    })?;
    // Many master-down intervals: lb-daemon hears keepalived on its macvlan.
    std::thread::sleep(Duration::from_millis(1500));
    ensure!(
        state(&daemon).as_deref() == Some("BACKUP") && !holds(dir1),
        "lb-daemon took over, deaf to keepalived:\n{}",
        daemon.log()
    );
    let now = |dev: &str| sysctl(dir1, dev, "rp_filter");
    let seen = [now("all")?, now("default")?, now("eth0")?, now(VMAC)?];
    ensure!(
        seen == ["0", "1", "1", "0"],
        "all, default, eth0, {VMAC}: {seen:?}"
    );
    daemon.stop()?;
    let seen = [now("all")?, now("default")?, now("eth0")?];
    ensure!(
        seen == ["1", "0", "0"],
        "restored all, default, eth0: {seen:?}"
    );
    Ok(())
}
