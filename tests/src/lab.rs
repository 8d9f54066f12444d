//! [`Lab`]: the standard test topology — a switch namespace with bridge
//! `br0` and hosts (client, directors, real servers) attached to it.
//!
//! ```text
//!   client 192.0.2.100   dir1 .2  dir2 .3   rs1 .11  rs2 .12  rs3 .13
//!        eth0              eth0     eth0      eth0     eth0     eth0
//!          |                 |        |         |        |        |
//!     v-client ---------- v-dir1 - v-dir2 --- v-rs1 -- v-rs2 -- v-rs3   (ns "sw")
//!                              bridge br0
//! ```
//! IPv6 addresses mirror IPv4 ones: `192.0.2.N` ↔ `2001:db8::N` (N written
//! as is, so `.100` ↔ `::100`). MACs are `02:00:00:00:00:{N as hex}`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{bail, Context, Result};

use aya::programs::XdpMode;
use lb_daemon::dataplane::xdp::PassProgram;

use crate::netns::Netns;
use crate::web::WebServer;
use crate::{in_netns, names};

/// Name of the bridge in the switch namespace.
pub const BRIDGE: &str = "br0";
/// Name of every host's interface to the bridge.
pub const HOST_IF: &str = "eth0";
/// Prefix length of the lab's IPv4 subnet 192.0.2.0/24.
pub const IPV4_PREFIX_LEN: u8 = 24;
/// Prefix length of the lab's IPv6 subnet 2001:db8::/64.
pub const IPV6_PREFIX_LEN: u8 = 64;
/// Most directors a lab can have (`dir1` .. `dir8`, 192.0.2.2 - .9).
pub const MAX_DIRECTORS: usize = 8;
/// Most real servers a lab can have (`rs1` .. `rs9`, 192.0.2.11 - .19).
pub const MAX_REAL_SERVERS: usize = 9;

/// Last IPv4 octet of the client.
const CLIENT_OCTET: u8 = 100;
/// Last IPv4 octet of `dir1`.
const FIRST_DIRECTOR_OCTET: u8 = 2;
/// Last IPv4 octet of `rs1`.
const FIRST_REAL_SERVER_OCTET: u8 = 11;

/// What to build. The default is the full topology: a client, two directors
/// and three real servers running nginx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabSpec {
    /// Number of directors (`dir1`.., at most [`MAX_DIRECTORS`]).
    pub directors: usize,
    /// Number of real servers (`rs1`.., at most [`MAX_REAL_SERVERS`]).
    pub real_servers: usize,
    /// Whether every real server runs a [`WebServer`] on port 80.
    pub web: bool,
}

impl LabSpec {
    /// `directors` directors and `real_servers` real servers running nginx
    /// (and the client): what load-balancing tests need.
    pub fn web(directors: usize, real_servers: usize) -> LabSpec {
        LabSpec {
            directors,
            real_servers,
            web: true,
        }
    }

    /// Only `n` directors (and the client): what VRRP tests need.
    pub fn directors_only(n: usize) -> LabSpec {
        LabSpec {
            directors: n,
            real_servers: 0,
            web: false,
        }
    }
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            directors: 2,
            real_servers: 3,
            web: true,
        }
    }
}

/// One host of the lab: a namespace with `eth0` plugged into the bridge.
pub struct Host {
    // Field order matters: the web server is stopped before its namespace goes.
    web: Option<WebServer>,
    ns: Netns,
    role: String,
    octet: u8,
    ifindex: u32,
    port: String,
    port_ifindex: u32,
}

impl Host {
    /// Role name: `client`, `dir1`, `rs2`...
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The host's namespace.
    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// The host's namespace name (as used by `ip netns`).
    pub fn ns_name(&self) -> &str {
        self.ns.name()
    }

    /// Interface index of `eth0` inside the host namespace.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// MAC address of `eth0`.
    pub fn mac(&self) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, self.octet]
    }

    /// MAC address of `eth0` as `02:00:00:00:00:0b`.
    pub fn mac_string(&self) -> String {
        format_mac(self.mac())
    }

    /// IPv4 address of `eth0` (prefix length [`IPV4_PREFIX_LEN`]).
    pub fn ipv4(&self) -> Ipv4Addr {
        host_ipv4(self.octet)
    }

    /// IPv6 address of `eth0` (prefix length [`IPV6_PREFIX_LEN`]).
    pub fn ipv6(&self) -> Ipv6Addr {
        host_ipv6(self.octet)
    }

    /// Name of the bridge port (the veth peer of `eth0`) in the switch namespace.
    pub fn bridge_port(&self) -> &str {
        &self.port
    }

    /// Interface index of the bridge port in the switch namespace.
    pub fn bridge_port_ifindex(&self) -> u32 {
        self.port_ifindex
    }

    /// The host's nginx, if it runs one.
    pub fn web(&self) -> Option<&WebServer> {
        self.web.as_ref()
    }

    /// Makes this host a direct-routing real server for `vip`: the VIP on
    /// its loopback, and ARP for it suppressed (`arp_ignore=1`,
    /// `arp_announce=2`), as IPVS DR and the XDP fast path need.
    pub fn accept_vip_on_loopback(&self, vip: &str) -> Result<()> {
        self.ns.sysctl(&[
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
            ("net.ipv4.conf.eth0.arp_ignore", "1"),
            ("net.ipv4.conf.eth0.arp_announce", "2"),
        ])?;
        let prefix = if vip.contains(':') { 128 } else { 32 };
        self.ns
            .ip(&["addr", "add", &format!("{vip}/{prefix}"), "dev", "lo"])?;
        Ok(())
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("role", &self.role)
            .field("ns", &self.ns.name())
            .field("ipv4", &self.ipv4())
            .field("ipv6", &self.ipv6())
            .finish()
    }
}

/// Render a MAC address as lowercase colon-separated hex.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

fn host_ipv4(octet: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, octet)
}

fn host_ipv6(octet: u8) -> Ipv6Addr {
    // `N` written as is: .11 -> ::11, .100 -> ::100.
    format!("2001:db8::{octet}")
        .parse()
        .expect("valid IPv6 literal")
}

/// Interface index of `ifname` in `ns`, from `ip -o link show`.
fn ifindex(ns: &Netns, ifname: &str) -> Result<u32> {
    let out = ns.ip(&["-o", "link", "show", "dev", ifname])?;
    out.split(':')
        .next()
        .and_then(|i| i.trim().parse().ok())
        .with_context(|| format!("no ifindex in `{out}`"))
}

/// A built lab; dropping it stops every process and deletes every namespace.
pub struct Lab {
    // Field order matters: hosts (and their servers) go before the switch.
    hosts: Vec<Host>,
    /// XDP_PASS on the directors' bridge ports (see [`Lab::new`]).
    _xdp_tx_flush: Option<PassProgram>,
    switch: Netns,
    prefix: String,
    spec: LabSpec,
}

impl Lab {
    /// Build the topology described by `spec`. On error, whatever was built
    /// is torn down again.
    pub fn new(spec: LabSpec) -> Result<Lab> {
        if spec.directors > MAX_DIRECTORS || spec.real_servers > MAX_REAL_SERVERS {
            bail!("lab too large: {spec:?}");
        }
        let prefix = names::unique_prefix();
        let switch = Netns::create(format!("{prefix}sw"))?;
        switch.sysctl(&[
            ("net.ipv6.conf.all.disable_ipv6", "1"),
            ("net.ipv6.conf.default.disable_ipv6", "1"),
        ])?;
        switch.ip(&[
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "stp_state",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        switch.ip(&["link", "set", BRIDGE, "up"])?;
        let mut lab = Lab {
            hosts: Vec::new(),
            _xdp_tx_flush: None,
            switch,
            prefix,
            spec,
        };
        let roles = std::iter::once(("client".to_string(), CLIENT_OCTET))
            .chain(
                (0..spec.directors)
                    .map(|i| (format!("dir{}", i + 1), FIRST_DIRECTOR_OCTET + i as u8)),
            )
            .chain(
                (0..spec.real_servers)
                    .map(|i| (format!("rs{}", i + 1), FIRST_REAL_SERVER_OCTET + i as u8)),
            );
        for (role, octet) in roles {
            let host = lab
                .add_host(&role, octet)
                .with_context(|| format!("building lab host {role}"))?;
            lab.hosts.push(host);
        }
        if spec.web {
            for host in lab.hosts.iter_mut().filter(|h| h.role.starts_with("rs")) {
                host.web = Some(WebServer::start(&host.ns, &host.role, "127.0.0.1")?);
            }
        }
        if spec.directors > 0 {
            lab._xdp_tx_flush = Some(lab.flush_xdp_tx()?);
        }
        Ok(lab)
    }

    /// Runs an XDP_PASS program on the directors' bridge ports, so that the
    /// frames a director's XDP program sends by `XDP_TX` leave at once: veth
    /// schedules the peer's NAPI for such frames only when the peer has an
    /// XDP program. Without one they wait in the peer's ring until the
    /// director's own stack sends something, and a flood fills the ring.
    fn flush_xdp_tx(&self) -> Result<PassProgram> {
        let mut pass = PassProgram::load()?;
        in_netns(self.switch.name(), || -> Result<()> {
            for director in self.hosts.iter().filter(|h| h.role.starts_with("dir")) {
                pass.program()?
                    .attach_to_if_index(director.port_ifindex, XdpMode::Driver)
                    .with_context(|| format!("attaching XDP_PASS to {}", director.port))?;
            }
            Ok(())
        })??;
        Ok(pass)
    }

    /// Build the default (full) topology.
    pub fn full() -> Result<Lab> {
        Lab::new(LabSpec::default())
    }

    /// Create namespace `role`, plug its `eth0` into the bridge and address it.
    fn add_host(&self, role: &str, octet: u8) -> Result<Host> {
        let ns = Netns::create(format!("{}{role}", self.prefix))?;
        ns.sysctl(&[
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.dad_transmits", "0"),
            ("net.ipv6.conf.default.dad_transmits", "0"),
        ])?;
        let port = format!("v-{role}");
        self.plug(&ns, &port, octet)?;
        Ok(Host {
            web: None,
            ifindex: ifindex(&ns, HOST_IF)?,
            port_ifindex: ifindex(&self.switch, &port)?,
            ns,
            role: role.to_string(),
            octet,
            port,
        })
    }

    /// Plugs `ns`'s `eth0` into the bridge through `port` and addresses it.
    fn plug(&self, ns: &Netns, port: &str, octet: u8) -> Result<()> {
        let mac = format_mac([0x02, 0, 0, 0, 0, octet]);
        #[rustfmt::skip]
        self.switch.ip(&[
            "link", "add", port, "type", "veth",
            "peer", "name", HOST_IF, "address", &mac, "netns", ns.name(),
        ])?;
        self.switch
            .ip(&["link", "set", port, "master", BRIDGE, "up"])?;
        let v4 = format!("{}/{IPV4_PREFIX_LEN}", host_ipv4(octet));
        let v6 = format!("{}/{IPV6_PREFIX_LEN}", host_ipv6(octet));
        ns.ip(&["addr", "add", &v4, "dev", HOST_IF])?;
        ns.ip(&["addr", "add", &v6, "dev", HOST_IF, "nodad"])?;
        ns.ip(&["link", "set", HOST_IF, "up"])?;
        ns.run(&["ethtool", "-K", HOST_IF, "tx", "off"])?;
        Ok(())
    }

    /// Deletes `host`'s `eth0` (and its bridge port with it).
    pub fn unplug(&self, host: &Host) -> Result<()> {
        host.ns.ip(&["link", "del", HOST_IF])?;
        Ok(())
    }

    /// Creates `host`'s `eth0` again, as [`Lab::new`] built it (same name,
    /// MAC and addresses; the kernel gives it a new index, which
    /// [`Host::ifindex`] does not know). Its bridge port runs no XDP program
    /// any more: fine unless the host sends by `XDP_TX`.
    pub fn replug(&self, host: &Host) -> Result<()> {
        self.plug(&host.ns, &host.port, host.octet)
    }

    /// What this lab was built from.
    pub fn spec(&self) -> LabSpec {
        self.spec
    }

    /// The prefix shared by all of this lab's namespace names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The switch namespace (holding [`BRIDGE`] and the hosts' bridge ports).
    pub fn switch(&self) -> &Netns {
        &self.switch
    }

    /// All hosts: client, directors, real servers, in that order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host with role `role` (`client`, `dir1`, `rs3`...), if any.
    pub fn host(&self, role: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.role == role)
    }

    /// The client host.
    pub fn client(&self) -> &Host {
        self.expect_host("client")
    }

    /// Director `n` (1-based: `director(1)` is `dir1`). Panics if absent.
    pub fn director(&self, n: usize) -> &Host {
        self.expect_host(&format!("dir{n}"))
    }

    /// Real server `n` (1-based: `real_server(1)` is `rs1`). Panics if absent.
    pub fn real_server(&self, n: usize) -> &Host {
        self.expect_host(&format!("rs{n}"))
    }

    /// All directors, in order.
    pub fn directors(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.role.starts_with("dir"))
    }

    /// All real servers, in order.
    pub fn real_servers(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.role.starts_with("rs"))
    }

    /// Names of every namespace of the lab (hosts and switch).
    pub fn namespaces(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|h| h.ns_name().to_string())
            .chain(std::iter::once(self.switch.name().to_string()))
            .collect()
    }

    fn expect_host(&self, role: &str) -> &Host {
        self.host(role)
            .unwrap_or_else(|| panic!("lab {} has no host {role}", self.prefix))
    }
}

impl fmt::Debug for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lab")
            .field("prefix", &self.prefix)
            .field("hosts", &self.hosts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_mirror_octets() {
        assert_eq!(host_ipv6(11), "2001:db8::11".parse::<Ipv6Addr>().unwrap());
        assert_eq!(host_ipv6(100), "2001:db8::100".parse::<Ipv6Addr>().unwrap());
        assert_eq!(host_ipv4(2), Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(format_mac([2, 0, 0, 0, 0, 11]), "02:00:00:00:00:0b");
    }

    #[test]
    fn default_spec_is_full_topology() {
        let s = LabSpec::default();
        assert_eq!((s.directors, s.real_servers, s.web), (2, 3, true));
    }
}
