//! The IPVS tests' ipvsadm parser against the real ipvsadm on a real IPVS
//! kernel (in the guest of `cargo xtask ipvs-test`): its listings parse into
//! exactly what was programmed.
use anyhow::{ensure, Result};
use lb_tests::{
    ipvsadm::{self, Forward, Service},
    Netns,
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
    let expected = vec![
        Service::new("TCP 192.0.2.50:80", "wrr")
            .dest("192.0.2.11:80", Forward::Masq, 3)
            // ipvsadm gives a direct-routed destination the service's port.
            .dest("192.0.2.12:80", Forward::Route, 0),
        Service {
            sched_flags: vec!["sh-fallback".into(), "sh-port".into()],
            ..Service::new("TCP 192.0.2.51:443", "sh")
                .persistent(300, Some("255.255.255.0"))
                .dest("192.0.2.13:443", Forward::Tunnel, 1)
        },
        Service {
            one_packet: true,
            ..Service::new("UDP [2001:db8::50]:53", "rr")
                .persistent(60, Some("64"))
                .dest("[2001:db8::11]:53", Forward::Masq, 1)
        },
        Service {
            sched_flags: vec!["mh-port".into()],
            ..Service::new("FWM 7", "mh").dest("192.0.2.11:0", Forward::Route, 2)
        },
    ];
    assert_eq!(ipvsadm::table(&ns)?.services, expected);
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
