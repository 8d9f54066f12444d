//! Gratuitous ARP timing on the lab's bridge, as keepalived does it:
//! `vrrp_garp_interval` spaces the ARPs of a burst on an interface, and a
//! lower-priority advert reaching the MASTER makes it send a burst of
//! `garp_lower_prio_repeat` at once and another `garp_lower_prio_delay`
//! later; `garp_extra_if` repeats one on the other interfaces.
use std::{
    collections::BTreeMap,
    fs,
    io::{BufRead, BufReader, Read},
    net::IpAddr,
    process::{ChildStderr, ChildStdout, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{ensure, Context, Result};
use lb_daemon::vrrp::{
    packet::{encode, Advert, Auth, VRRP_MCAST_V4},
    Version,
};
use lb_tests::{
    in_netns, inject, lab::BRIDGE, Daemon, Host, Injection, Lab, LabSpec, Netns, NsChild, VrrpConf,
    VIP,
};

/// tcpdump on the switch's bridge, printing gratuitous ARP requests (sender
/// and target address equal) with epoch timestamps.
struct ArpCapture {
    _child: NsChild,
    _stderr: BufReader<ChildStderr>,
    stdout: ChildStdout,
}

impl ArpCapture {
    /// Starts the capture of `count` gratuitous ARPs (at most for `secs`
    /// seconds, from `sender`'s MAC if given) and returns once tcpdump
    /// listens.
    fn start(switch: &Netns, count: usize, secs: u32, sender: Option<&Host>) -> Result<ArpCapture> {
        let sender = sender.map(Host::mac_string);
        ArpCapture::start_on(switch, BRIDGE, count, secs, sender.as_deref())
    }

    /// As [`ArpCapture::start`], on `interface` of namespace `ns`, from MAC
    /// address `sender` if given.
    fn start_on(
        ns: &Netns,
        interface: &str,
        count: usize,
        secs: u32,
        sender: Option<&str>,
    ) -> Result<ArpCapture> {
        let count = count.to_string();
        let mut filter = "arp and arp[6:2] = 1 and arp[14:4] = arp[24:4]".to_owned();
        if let Some(mac) = sender {
            filter += &format!(" and ether src {mac}");
        }
        let mut cmd = ns.command(&[
            "timeout",
            &secs.to_string(),
            "tcpdump",
            "-i",
            interface,
            "-n",
            "-l",
            "-tt",
            "--immediate-mode",
            "-c",
            &count,
            &filter,
        ]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = ns.spawn_command(cmd)?;
        let stderr = child.child_mut().stderr.take().context("tcpdump stderr")?;
        let stdout = child.child_mut().stdout.take().context("tcpdump stdout")?;
        let mut stderr = BufReader::new(stderr);
        let mut said = String::new();
        while !said.contains("listening on") {
            ensure!(stderr.read_line(&mut said)? > 0, "tcpdump: {said}");
        }
        Ok(ArpCapture {
            _child: child,
            _stderr: stderr,
            stdout,
        })
    }

    /// The capture times (seconds) of the VIP's gratuitous ARPs, once
    /// tcpdump has its count or gives up.
    fn vip_times(self) -> Result<Vec<f64>> {
        Ok(self.times()?.remove(VIP).unwrap_or_default())
    }

    /// The capture times (seconds) of the gratuitous ARPs, by address.
    fn times(mut self) -> Result<BTreeMap<String, Vec<f64>>> {
        let mut text = String::new();
        self.stdout.read_to_string(&mut text)?;
        let mut times = BTreeMap::<String, Vec<f64>>::new();
        // `1733300000.123456 ARP, Request who-has 192.0.2.50 tell 192.0.2.50, length 28`
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let at = words.next().and_then(|t| t.parse().ok());
            let address = words.skip_while(|w| *w != "who-has").nth(1);
            if let (Some(at), Some(address)) = (at, address) {
                times.entry(address.to_owned()).or_default().push(at);
            }
        }
        Ok(times)
    }
}

/// Starts lb-daemon on `host` with `global_defs` lines `globals` and
/// instance `conf`; the temp dir holds the configuration.
fn start(host: &Host, globals: &str, conf: &VrrpConf) -> Result<(Daemon, tempfile::TempDir)> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("lb.conf");
    let text = format!("global_defs {{\n{globals}}}\n{}", conf.render());
    fs::write(&path, text)?;
    Ok((Daemon::start(host.ns(), &path, host.role())?, tmp))
}

fn wait_master(daemon: &Daemon) -> Result<()> {
    daemon.wait_status("master", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })
}

fn gaps(times: &[f64]) -> Vec<f64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn garp_interval_spaces_the_burst() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let capture = ArpCapture::start(lab.switch(), 5, 20, None)?;
    let mut conf = VrrpConf::fast("MASTER", 100);
    // One burst of 5 in the capture window: the second burst is far away.
    conf.extra = "    garp_master_repeat 5\n    garp_master_delay 60\n".into();
    let (daemon, _tmp) = start(lab.director(1), "    vrrp_garp_interval 0.2\n", &conf)?;
    wait_master(&daemon)?;
    let times = capture.vip_times()?;
    ensure!(times.len() == 5, "want the burst's 5 ARPs, saw {times:?}");
    let gaps = gaps(&times);
    ensure!(
        gaps.iter().all(|&g| g >= 0.19),
        "ARPs less than vrrp_garp_interval (0.2 s) apart: {gaps:?}"
    );
    ensure!(
        times[4] - times[0] < 2.0,
        "the paced burst took too long: {gaps:?}"
    );
    Ok(())
}

#[test]
fn lower_priority_advert_makes_the_master_send_two_bursts() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let mut conf = VrrpConf::fast("MASTER", 100);
    conf.extra = "    garp_master_repeat 1\n    garp_master_delay 60\n    \
                  garp_lower_prio_repeat 3\n    garp_lower_prio_delay 2\n"
        .into();
    let (daemon, _tmp) = start(lab.director(1), "", &conf)?;
    wait_master(&daemon)?;

    let capture = ArpCapture::start(lab.switch(), 6, 20, None)?;
    let injector = lab.director(2);
    let advert = Advert {
        version: Version::V3,
        vrid: 51,
        priority: 50,
        max_advert_int: Duration::from_millis(100),
        addresses: vec![IpAddr::V4(VIP.parse()?)],
        auth: Auth::None,
    };
    let msg = encode(
        &advert,
        IpAddr::V4(injector.ipv4()),
        IpAddr::V4(VRRP_MCAST_V4),
    );
    let to_group = Injection::to(IpAddr::V4(VRRP_MCAST_V4));
    in_netns(injector.ns_name(), || inject(&msg, to_group, 1))??;
    let times = capture.vip_times()?;
    ensure!(times.len() == 6, "want two bursts of 3 ARPs, saw {times:?}");
    let gaps = gaps(&times);
    ensure!(
        gaps[0] < 0.5 && gaps[1] < 0.5 && gaps[3] < 0.5 && gaps[4] < 0.5,
        "each burst's 3 ARPs go together: {gaps:?}"
    );
    ensure!(
        (1.8..3.0).contains(&gaps[2]),
        "the second burst follows garp_lower_prio_delay (2 s) later: {gaps:?}"
    );
    daemon.wait_for_log("Received advert from", Duration::from_secs(1))?;
    Ok(())
}

#[test]
fn leaving_master_stops_a_paced_burst() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (dir1, dir2) = (lab.director(1), lab.director(2));
    // dir1's burst of 10 ARPs 0.5 s apart would last 4.5 s.
    let capture = ArpCapture::start(lab.switch(), 100, 7, Some(dir1))?;
    let mut conf = VrrpConf::fast("MASTER", 100);
    conf.extra = "    garp_master_repeat 10\n    garp_master_delay 60\n".into();
    let (first, _tmp1) = start(dir1, "    vrrp_garp_interval 0.5\n", &conf)?;
    wait_master(&first)?;
    // A higher priority takes over: the rest of dir1's burst would
    // announce another node's addresses.
    let (_second, _tmp2) = start(dir2, "", &VrrpConf::fast("BACKUP", 200))?;
    first.wait_status("backup", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "BACKUP"
    })?;
    let backup_at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let times = capture.vip_times()?;
    ensure!(!times.is_empty(), "dir1 announced nothing while MASTER");
    let late: Vec<f64> = times
        .iter()
        .map(|t| t - backup_at)
        .filter(|&d| d > 0.0)
        .collect();
    ensure!(
        late.is_empty(),
        "dir1 went on announcing the VIP as BACKUP (seconds after): {late:?}"
    );
    Ok(())
}

/// A one-director lab whose director also has veth pair ext0/ext1, with
/// captures of `secs` seconds on ext1 (of ARPs from ext0's MAC address)
/// and on the switch's bridge.
fn lab_with_other_link(secs: u32) -> Result<(Lab, ArpCapture, ArpCapture)> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let ns = lab.director(1).ns();
    ns.ip(&[
        "link", "add", "ext0", "type", "veth", "peer", "name", "ext1",
    ])?;
    ns.ip(&["link", "set", "ext0", "up"])?;
    ns.ip(&["link", "set", "ext1", "up"])?;
    let link = ns.ip(&["-o", "link", "show", "ext0"])?;
    let mac = link
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .context("ext0's MAC address")?;
    let on_ext = ArpCapture::start_on(ns, "ext1", 100, secs, Some(mac))?;
    let on_eth = ArpCapture::start(lab.switch(), 100, secs, None)?;
    Ok((lab, on_ext, on_eth))
}

/// As keepalived, each address is announced on the interface it lives on:
/// an excluded VIP with `dev ext0` gets its gratuitous ARPs on ext0, from
/// ext0's MAC address, and none on eth0.
#[test]
fn an_address_on_another_interface_is_announced_there() -> Result<()> {
    const OTHER: &str = "198.51.100.50";
    let (lab, on_ext, on_eth) = lab_with_other_link(4)?;
    let mut conf = VrrpConf::fast("MASTER", 100);
    conf.extra = format!(
        "    garp_master_repeat 3\n    garp_master_delay 60\n    \
         virtual_ipaddress_excluded {{\n        {OTHER}/24 dev ext0\n    }}\n"
    );
    let (daemon, _tmp) = start(lab.director(1), "", &conf)?;
    wait_master(&daemon)?;
    let ext = on_ext.times()?;
    let eth = on_eth.times()?;
    ensure!(
        ext.get(OTHER).map(Vec::len) == Some(3) && !ext.contains_key(VIP),
        "on ext0: {ext:?}"
    );
    ensure!(
        eth.get(VIP).map(Vec::len) == Some(3) && !eth.contains_key(OTHER),
        "on eth0: {eth:?}"
    );
    Ok(())
}

/// `vrrp_garp_extra_if all 1` with `vrrp_min_garp`: one gratuitous ARP per
/// address on becoming MASTER and no second burst, then every second one
/// more on ext0 (an interface that sends no adverts), for its first address
/// only, and none more on eth0, where adverts keep the switch informed.
#[test]
fn garp_extra_if_repeats_one_arp_on_the_other_interfaces() -> Result<()> {
    const OTHER: &str = "198.51.100.50";
    const SECOND: &str = "198.51.100.51";
    let (lab, on_ext, on_eth) = lab_with_other_link(5)?;
    let mut conf = VrrpConf::fast("MASTER", 100);
    conf.extra = format!(
        "    virtual_ipaddress_excluded {{\n        {OTHER}/24 dev ext0\n        \
         {SECOND}/24 dev ext0\n    }}\n"
    );
    let globals = " vrrp_min_garp\n vrrp_garp_extra_if all 1\n";
    let (daemon, _tmp) = start(lab.director(1), globals, &conf)?;
    wait_master(&daemon)?;
    let ext = on_ext.times()?;
    let eth = on_eth.times()?;
    let other = ext.get(OTHER).cloned().unwrap_or_default();
    ensure!(other.len() >= 4, "on ext0: {ext:?}");
    let spacing = gaps(&other);
    ensure!(
        spacing.iter().all(|gap| (0.8..1.4).contains(gap)),
        "one a second on ext0: {spacing:?}"
    );
    ensure!(ext.get(SECOND).map(Vec::len) == Some(1), "on ext0: {ext:?}");
    ensure!(eth.get(VIP).map(Vec::len) == Some(1), "on eth0: {eth:?}");
    Ok(())
}
