//! The XDP chain end to end: the program embedded in lb-daemon is loaded,
//! attached in native mode to a director's veth inside a namespace, real
//! packets are sent from the client, and the per-VIP counters are read both
//! through aya and through `bpftool map dump name vip_stats`.
use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket},
    process::Command,
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_common::{VipCounters, VipKey, VIP_STATS_MAP};
use lb_daemon::dataplane::xdp::{FastPath, XdpAttachMode};
use lb_tests::{in_netns, Lab, LabSpec};
use serde_json::Value;

const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50);
const UDP: u8 = 17;
const TCP: u8 = 6;
const PAYLOAD: usize = 100;
const ETH_LEN: u64 = 14;

#[test]
fn xdp_counts_packets_per_vip_port_and_protocol() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir = lab.director(1);
    // The director holds the VIPs, as a VRRP master would.
    dir.ns()
        .ip(&["addr", "add", "192.0.2.50/32", "dev", "eth0"])?;
    dir.ns()
        .ip(&["addr", "add", "2001:db8::50/128", "dev", "eth0", "nodad"])?;

    let udp4 = VipKey::v4(VIP4.octets(), 5353, UDP);
    let tcp4 = VipKey::v4(VIP4.octets(), 8080, TCP);
    let udp6 = VipKey::v6(VIP6.octets(), 5353, UDP);
    let idle = VipKey::v4(VIP4.octets(), 5353, TCP); // same address and port, other protocol
    let mut fast_path = FastPath::load()?;
    for key in [&udp4, &tcp4, &udp6, &idle] {
        fast_path.add_vip(key)?;
    }
    let ifindex = dir.ifindex();
    in_netns(dir.ns_name(), || {
        fast_path.attach(ifindex, XdpAttachMode::Native)
    })??;
    let link = dir.ns().ip(&["-d", "link", "show", "eth0"])?;
    ensure!(
        link.contains("prog/xdp") && !link.contains("xdpgeneric"),
        "not native XDP:\n{link}"
    );

    in_netns(lab.client().ns_name(), || -> Result<()> {
        let sock4 = UdpSocket::bind("0.0.0.0:0")?;
        for _ in 0..10 {
            sock4.send_to(&[0u8; PAYLOAD], (VIP4, 5353))?;
        }
        for _ in 0..7 {
            sock4.send_to(&[0u8; PAYLOAD], (VIP4, 9999))?; // a port that is no VIP
        }
        let sock6 = UdpSocket::bind("[::]:0")?;
        for _ in 0..4 {
            sock6.send_to(&[0u8; PAYLOAD], (VIP6, 5353))?;
        }
        for _ in 0..3 {
            // Nothing listens: one SYN each, answered by a RST.
            let refused =
                TcpStream::connect_timeout(&SocketAddr::from((VIP4, 8080)), Duration::from_secs(2));
            ensure!(refused.is_err(), "port 8080 unexpectedly accepted");
        }
        Ok(())
    })??;

    let udp_bytes = |ip_header: u64| ETH_LEN + ip_header + 8 + PAYLOAD as u64;
    let expected = [
        (udp4, 10, Some(10 * udp_bytes(20))),
        (udp6, 4, Some(4 * udp_bytes(40))),
        (tcp4, 3, None), // SYN option sizes are the client kernel's choice
        (idle, 0, Some(0)),
    ];
    // UDP sends return before the frame crosses the veth: wait for the last ones.
    lb_tests::wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        fast_path
            .vip_counters(&udp6)
            .map(|c| c.packets == 4)
            .unwrap_or(false)
    })?;
    let dump = bpftool_dump()?;
    ensure!(
        dump.len() == expected.len(),
        "{VIP_STATS_MAP} holds exactly the VIPs: {dump:?}"
    );
    for (key, packets, bytes) in expected {
        let through_aya = fast_path.vip_counters(&key)?;
        let through_bpftool = dump
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| *c)
            .with_context(|| format!("{key:?} missing from bpftool's dump"))?;
        ensure!(
            through_aya == through_bpftool,
            "aya {through_aya:?} != bpftool {through_bpftool:?}"
        );
        ensure!(
            through_aya.packets == packets,
            "{key:?}: {through_aya:?}, expected {packets} packets"
        );
        if let Some(bytes) = bytes {
            ensure!(
                through_aya.bytes == bytes,
                "{key:?}: {through_aya:?}, expected {bytes} bytes"
            );
        }
    }
    Ok(())
}

/// `bpftool -j map dump name vip_stats`, decoded from its named BTF fields and
/// summed over CPUs.
fn bpftool_dump() -> Result<Vec<(VipKey, VipCounters)>> {
    let out = Command::new("bpftool")
        .args(["-j", "map", "dump", "name", VIP_STATS_MAP])
        .output()
        .context("running bpftool")?;
    ensure!(
        out.status.success(),
        "bpftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout)?;
    entries.iter().map(decode_entry).collect()
}

fn decode_entry(raw: &Value) -> Result<(VipKey, VipCounters)> {
    // `-j` prints the raw bytes plus, under "formatted", the BTF-named fields.
    let entry = &raw["formatted"];
    let num = |v: &Value, field: &str| {
        v[field]
            .as_u64()
            .with_context(|| format!("field {field} missing in {v}"))
    };
    let key = &entry["key"];
    let addr: Vec<u8> = key["addr"]
        .as_array()
        .with_context(|| format!("key.addr in {raw}"))?
        .iter()
        .map(|b| b.as_u64().map(|b| b as u8))
        .collect::<Option<_>>()
        .context("key.addr bytes")?;
    let key = VipKey {
        addr: addr.try_into().map_err(|a| anyhow::anyhow!("addr {a:?}"))?,
        port: num(key, "port")? as u16,
        proto: num(key, "proto")? as u8,
        family: num(key, "family")? as u8,
    };
    let mut sum = VipCounters::default();
    for cpu in entry["values"].as_array().context("values")? {
        sum.packets += num(&cpu["value"], "packets")?;
        sum.bytes += num(&cpu["value"], "bytes")?;
    }
    Ok((key, sum))
}
