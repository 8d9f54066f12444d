//! The BGP lab: the lab's client host is the router (FRR, on the
//! directors' LAN 192.0.2.0/24, forwarding with an L4 ECMP hash), and a
//! client namespace sits behind it on 203.0.113.0/24; the real servers
//! serve [`BGP_VIP`] by direct routing. What the BGP tests and `cargo xtask
//! lab --bgp` run on.
use std::{collections::BTreeSet, net::Ipv4Addr, time::Duration};

use anyhow::{Context, Result};

use crate::{wait_until, Frr, FrrConf, Lab, LabSpec, Netns};

/// The announced service address (outside the directors' LAN).
pub const BGP_VIP: &str = "198.51.100.10";
/// The router's AS.
pub const ROUTER_AS: u32 = 64512;
/// The directors' AS.
pub const DIRECTORS_AS: u32 = 64513;
/// How often the router's routes are polled.
const POLL: Duration = Duration::from_millis(20);

/// The lab: the lab's client host is the router (on the directors' LAN),
/// and a client namespace sits behind it on 203.0.113.0/24.
pub struct BgpLab {
    // Field order: the router's daemons stop before the namespaces go.
    /// The router's FRR.
    pub frr: Frr,
    /// The client behind the router.
    pub client: Netns,
    /// Switch, router (the lab's client host), directors, real servers.
    pub lab: Lab,
}

impl BgpLab {
    /// Builds the lab with `directors` directors and starts the router.
    pub fn build(directors: usize) -> Result<BgpLab> {
        let lab = Lab::new(LabSpec::web(directors, 3))?;
        let router = lab.client().ns();
        router.sysctl(&[
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.fib_multipath_hash_policy", "1"),
        ])?;
        let client = Netns::new("bgpcl")?;
        router.ip(&[
            "link",
            "add",
            "to-cl",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            client.name(),
        ])?;
        router.ip(&["addr", "add", "203.0.113.1/24", "dev", "to-cl"])?;
        router.ip(&["link", "set", "to-cl", "up"])?;
        client.ip(&["addr", "add", "203.0.113.2/24", "dev", "eth0"])?;
        client.ip(&["link", "set", "eth0", "up"])?;
        client.ip(&["route", "add", "default", "via", "203.0.113.1"])?;
        let gateway = lab.client().ipv4().to_string();
        for rs in lab.real_servers() {
            rs.accept_vip_on_loopback(BGP_VIP)?;
            rs.ns()
                .ip(&["route", "add", "203.0.113.0/24", "via", &gateway])?;
        }
        let frr = Frr::start(
            router,
            &FrrConf {
                asn: ROUTER_AS,
                router_id: lab.client().ipv4(),
                neighbors: lab.directors().map(|d| (d.ipv4(), DIRECTORS_AS)).collect(),
                bfd_interval_ms: 100,
            },
        )?;
        Ok(BgpLab { frr, client, lab })
    }

    /// A director's configuration: the speaker, and the service announced
    /// while `min_healthy` of the three real servers pass TCP_CHECK.
    pub fn config(&self, min_healthy: u32) -> String {
        self.config_draining(min_healthy, 1)
    }

    /// As [`BgpLab::config`], keeping the fast path `drain` seconds after
    /// a withdraw.
    pub fn config_draining(&self, min_healthy: u32, drain: u32) -> String {
        format!(
            "bgp_speaker {{\n    local_as {DIRECTORS_AS}\n    interface eth0\n    hold_time 3\n    \
             bfd {{\n        interval 100\n        multiplier 3\n    }}\n    neighbor {} {{\n        \
             remote_as {ROUTER_AS}\n    }}\n}}\n{}",
            self.lab.client().ipv4(),
            self.service(min_healthy, drain)
        )
    }

    /// The announced service alone: `mh` over the three real servers
    /// (TCP_CHECK), announced while `min_healthy` pass, drained `drain`
    /// seconds.
    pub fn service(&self, min_healthy: u32, drain: u32) -> String {
        let reals: String = self
            .lab
            .real_servers()
            .map(|rs| {
                format!(
                    "    real_server {} 80 {{\n        TCP_CHECK {{\n            connect_timeout 1\n            delay_loop 0.5\n        }}\n    }}\n",
                    rs.ipv4()
                )
            })
            .collect();
        format!(
            "virtual_server {BGP_VIP} 80 {{\n    lb_algo mh\n    lb_kind DR\n    protocol TCP\n    \
             fast_path xdp\n    bgp_announce {{\n        min_healthy {min_healthy}\n        \
             drain {drain}\n        community {DIRECTORS_AS}:80\n    }}\n{reals}}}\n"
        )
    }

    /// The directors the router sends the address to now.
    pub fn next_hops(&self) -> BTreeSet<Ipv4Addr> {
        let out = self
            .lab
            .client()
            .ns()
            .ip(&["route", "show", BGP_VIP])
            .unwrap_or_default();
        let words: Vec<&str> = out.split_whitespace().collect();
        words
            .windows(2)
            .filter(|w| w[0] == "via")
            .filter_map(|w| w[1].parse().ok())
            .collect()
    }

    /// Waits until the router's next hops for the address are `want`.
    pub fn wait_next_hops(&self, want: &[Ipv4Addr], what: &str, timeout: Duration) -> Result<()> {
        let want: BTreeSet<Ipv4Addr> = want.iter().copied().collect();
        wait_until(timeout, POLL, || self.next_hops() == want).with_context(|| {
            format!(
                "{what}: router has {:?}, want {want:?}\n{}",
                self.next_hops(),
                self.frr.logs()
            )
        })
    }

    /// The directors' addresses.
    pub fn directors(&self) -> Vec<Ipv4Addr> {
        self.lab.directors().map(|d| d.ipv4()).collect()
    }

    /// Blocks (or unblocks) TCP port 80 of real server `n` for the
    /// directors' checks.
    pub fn block_checks(&self, n: usize, blocked: bool) -> Result<()> {
        let ns = self.lab.real_server(n).ns();
        if blocked {
            ns.run(&["nft", "add table inet lbtest"])?;
            ns.run(&[
                "nft",
                "add chain inet lbtest in { type filter hook input priority 0; }",
            ])?;
            ns.run(&[
                "nft",
                "add rule inet lbtest in tcp dport 80 ip saddr 192.0.2.0/24 drop",
            ])?;
        } else {
            ns.run(&["nft", "delete table inet lbtest"])?;
        }
        Ok(())
    }
}
