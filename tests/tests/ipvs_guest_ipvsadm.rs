//! The IPVS test tooling against a real IPVS kernel (in the guest of
//! `cargo xtask ipvs-test`): ipvsadm's listings parse into what was
//! programmed, and the IPVS lab carries NAT, DR and TUN traffic.
use std::collections::BTreeMap;

use anyhow::{ensure, Result};
use lb_tests::{
    ipvsadm::{self, Destination, Forward, Persistence, Service, ServiceKey},
    IpvsLab, Netns,
};

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn listings_parse_into_what_was_programmed() -> Result<()> {
    let ns = Netns::new("ipvsadm")?;
    for command in [
        "-A -t 192.0.2.50:80 -s wrr",
        "-a -t 192.0.2.50:80 -r 192.0.2.11:80 -m -w 3",
        "-a -t 192.0.2.50:80 -r 192.0.2.12:8080 -g -w 0",
        "-A -t 192.0.2.51:443 -s sh -b sh-fallback,sh-port -p 300 -M 255.255.255.0",
        "-a -t 192.0.2.51:443 -r 192.0.2.13:443 -i",
        "-A -u [2001:db8::50]:53 -s rr -p 60 -M 64 -o",
        "-a -u [2001:db8::50]:53 -r [2001:db8::11]:53 -m",
        "-A -f 7 -s mh -b mh-port",
        "-a -f 7 -r 192.0.2.11:0 -g -w 2",
        "--set 900 120 300",
    ] {
        ipvsadm::ipvsadm(&ns, &command.split_whitespace().collect::<Vec<_>>())?;
    }
    let table = ipvsadm::table(&ns)?;
    let service = |key: &str, scheduler: &str, destinations: Vec<Destination>| {
        let (protocol, addr) = key.split_once(' ').expect("a key");
        Service {
            key: match protocol {
                "TCP" => ServiceKey::Tcp(addr.parse().expect("address")),
                "UDP" => ServiceKey::Udp(addr.parse().expect("address")),
                _ => ServiceKey::Fwmark(addr.parse().expect("mark")),
            },
            scheduler: scheduler.into(),
            sched_flags: vec![],
            persistence: None,
            one_packet: false,
            destinations,
        }
    };
    let persistence = |timeout, mask: &str| {
        Some(Persistence {
            timeout,
            mask: Some(mask.into()),
            engine: None,
        })
    };
    let expected = vec![
        service(
            "TCP 192.0.2.50:80",
            "wrr",
            vec![
                Destination::new("192.0.2.11:80", Forward::Masq, 3),
                // Direct routing keeps the service port.
                Destination::new("192.0.2.12:80", Forward::Route, 0),
            ],
        ),
        Service {
            sched_flags: vec!["sh-fallback".into(), "sh-port".into()],
            persistence: persistence(300, "255.255.255.0"),
            ..service(
                "TCP 192.0.2.51:443",
                "sh",
                vec![Destination::new("192.0.2.13:443", Forward::Tunnel, 1)],
            )
        },
        Service {
            persistence: persistence(60, "64"),
            one_packet: true,
            ..service(
                "UDP [2001:db8::50]:53",
                "rr",
                vec![Destination::new("[2001:db8::11]:53", Forward::Masq, 1)],
            )
        },
        Service {
            sched_flags: vec!["mh-port".into()],
            ..service(
                "FWM 7",
                "mh",
                vec![Destination::new("192.0.2.11:0", Forward::Route, 2)],
            )
        },
    ];
    assert_eq!(table.services, expected);
    let timeouts = ipvsadm::parse_timeouts(&ipvsadm::ipvsadm(&ns, &["-Ln", "--timeout"])?)?;
    ensure!((timeouts.tcp, timeouts.tcp_fin, timeouts.udp) == (900, 120, 300));
    let stats = ipvsadm::stats(&ns)?;
    ensure!(
        stats.rows().len() == 9,
        "a row per service and destination: {stats:?}"
    );
    ensure!(stats.rows().values().all(|r| r["Conns"] == 0));
    Ok(())
}

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn the_lab_carries_nat_dr_and_tun_traffic() -> Result<()> {
    let lab = IpvsLab::new(2)?;
    let dir = lab.director().ns();
    let nat = "198.51.100.50".parse()?;
    let dr = "192.0.2.50".parse()?;
    let tun = "192.0.2.51".parse()?;
    lab.add_vip(nat, lb_tests::ipvs_lab::OUTSIDE_IF)?;
    lab.add_vip(dr, "eth0")?;
    lab.add_vip(tun, "eth0")?;
    lab.accept_direct_routing(dr)?;
    lab.accept_tunnel(tun)?;
    for (vip, method) in [(nat, "-m"), (dr, "-g"), (tun, "-i")] {
        let service = format!("{vip}:80");
        ipvsadm::ipvsadm(dir, &["-A", "-t", &service, "-s", "rr"])?;
        for rs in lab.lab().real_servers() {
            let real = format!("{}:80", rs.ipv4());
            ipvsadm::ipvsadm(dir, &["-a", "-t", &service, "-r", &real, method])?;
        }
    }
    let mut answered = BTreeMap::new();
    for (vip, from) in [
        (nat, lab.outside()),
        (dr, lab.lab().client().ns()),
        (tun, lab.lab().client().ns()),
    ] {
        let mut bodies = lab.fetch(from, vip, 4)?;
        bodies.sort();
        answered.insert(vip.to_string(), bodies);
    }
    let both = vec!["rs1", "rs1", "rs2", "rs2"];
    for bodies in answered.values() {
        ensure!(
            bodies == &both,
            "round robin over both real servers: {answered:?}"
        );
    }
    Ok(())
}
