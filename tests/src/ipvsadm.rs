//! `ipvsadm` run in a namespace, and its listings parsed into structures,
//! so that IPVS tests compare what the kernel holds field by field:
//! [`parse_table`] (`-Ln`: services, schedulers, flags, persistence and
//! destinations), [`parse_counters`] (the numeric columns of any listing:
//! `-Ln`, `--persistent-conn`, `--stats --exact`, `--rate --exact`,
//! `--thresholds`), [`parse_tunnels`] (`-Ln --tun-info`) and
//! [`parse_timeouts`] (`-Ln --timeout`).
use std::{fmt, net::SocketAddr, time::Duration};

use anyhow::{bail, Context, Result};

use crate::{retry, Netns};

mod columns;

pub use columns::{parse_counters, parse_timeouts, parse_tunnels, Counters, Row, Timeouts};

/// A virtual service as ipvsadm names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    /// `TCP addr:port`
    Tcp(SocketAddr),
    /// `UDP addr:port`
    Udp(SocketAddr),
    /// `SCTP addr:port`
    Sctp(SocketAddr),
    /// `FWM mark`
    Fwmark(u32),
}

impl ServiceKey {
    fn parse(protocol: &str, address: &str) -> Result<ServiceKey> {
        let addr = || -> Result<SocketAddr> {
            address
                .parse()
                .with_context(|| format!("bad service address {address:?}"))
        };
        Ok(match protocol {
            "TCP" => ServiceKey::Tcp(addr()?),
            "UDP" => ServiceKey::Udp(addr()?),
            "SCTP" => ServiceKey::Sctp(addr()?),
            "FWM" => ServiceKey::Fwmark(
                address
                    .parse()
                    .with_context(|| format!("bad firewall mark {address:?}"))?,
            ),
            other => bail!("unknown protocol {other:?}"),
        })
    }

    /// The service as `ipvsadm` options (`-t addr:port`, `-f mark`...).
    pub fn ipvsadm_args(&self) -> [String; 2] {
        let (flag, what) = match self {
            ServiceKey::Tcp(a) => ("-t", a.to_string()),
            ServiceKey::Udp(a) => ("-u", a.to_string()),
            ServiceKey::Sctp(a) => ("--sctp-service", a.to_string()),
            ServiceKey::Fwmark(m) => ("-f", m.to_string()),
        };
        [flag.to_owned(), what]
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Tcp(a) => write!(f, "TCP {a}"),
            ServiceKey::Udp(a) => write!(f, "UDP {a}"),
            ServiceKey::Sctp(a) => write!(f, "SCTP {a}"),
            ServiceKey::Fwmark(m) => write!(f, "FWM {m}"),
        }
    }
}

/// How IPVS forwards to a destination (ipvsadm's `Forward` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// NAT (`-m`).
    Masq,
    /// Direct routing (`-g`).
    Route,
    /// IP-in-IP or another tunnel (`-i`).
    Tunnel,
    /// The destination is a local address.
    Local,
    /// Bypass.
    Bypass,
}

impl Forward {
    fn parse(word: &str) -> Result<Forward> {
        Ok(match word {
            "Masq" => Forward::Masq,
            "Route" => Forward::Route,
            "Tunnel" => Forward::Tunnel,
            "Local" => Forward::Local,
            "Bypass" => Forward::Bypass,
            other => bail!("unknown forwarding method {other:?}"),
        })
    }
}

/// Persistence of a service (`persistent T [mask M] [pe NAME]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persistence {
    /// Timeout in seconds.
    pub timeout: u32,
    /// Netmask as printed (dotted for IPv4, a prefix length for IPv6);
    /// ipvsadm omits it when it is all ones.
    pub mask: Option<String>,
    /// Persistence engine.
    pub engine: Option<String>,
}

/// A destination's settings (its counters are in [`Counters`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Address and port.
    pub addr: SocketAddr,
    /// Forwarding method.
    pub forward: Forward,
    /// Weight.
    pub weight: u32,
}

impl Destination {
    /// A destination at `addr` (`"192.0.2.11:80"`); panics on a bad
    /// address, for expected values written in tests.
    pub fn new(addr: &str, forward: Forward, weight: u32) -> Destination {
        Destination {
            addr: addr.parse().expect("a socket address"),
            forward,
            weight,
        }
    }
}

/// A virtual service's settings and destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Protocol and address, or firewall mark.
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wrr`, `sh`...).
    pub scheduler: String,
    /// Scheduler flags (`sh-fallback`, `sh-port`, `mh-port`...).
    pub sched_flags: Vec<String>,
    /// Persistence, when set.
    pub persistence: Option<Persistence>,
    /// One-packet scheduling (`ops`).
    pub one_packet: bool,
    /// Destinations in ipvsadm's order.
    pub destinations: Vec<Destination>,
}

impl Service {
    /// An expected service, `key` as ipvsadm prints it (`"TCP
    /// 192.0.2.50:80"`, `"FWM 7"`), with no flags and no destinations;
    /// panics on a bad key (for expected values written in tests).
    pub fn new(key: &str, scheduler: &str) -> Service {
        let (protocol, addr) = key.split_once(' ').expect("`PROTOCOL ADDRESS`");
        Service {
            key: ServiceKey::parse(protocol, addr).expect("a service key"),
            scheduler: scheduler.to_owned(),
            sched_flags: Vec::new(),
            persistence: None,
            one_packet: false,
            destinations: Vec::new(),
        }
    }

    /// With destination `addr` (see [`Destination::new`]).
    pub fn dest(mut self, addr: &str, forward: Forward, weight: u32) -> Service {
        self.destinations
            .push(Destination::new(addr, forward, weight));
        self
    }

    /// With persistence `timeout`, and `mask` as ipvsadm prints it.
    pub fn persistent(mut self, timeout: u32, mask: Option<&str>) -> Service {
        self.persistence = Some(Persistence {
            timeout,
            mask: mask.map(str::to_owned),
            engine: None,
        });
        self
    }
}

/// What `ipvsadm -Ln` shows: every service, in ipvsadm's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// The services.
    pub services: Vec<Service>,
}

impl Table {
    /// The service `key`, if present.
    pub fn service(&self, key: &ServiceKey) -> Option<&Service> {
        self.services.iter().find(|s| &s.key == key)
    }

    /// The table with services sorted by key and destinations by address,
    /// to compare with an expected table regardless of the kernel's order.
    pub fn sorted(mut self) -> Table {
        self.services.sort_by(|a, b| a.key.cmp(&b.key));
        for service in &mut self.services {
            service.destinations.sort_by_key(|d| d.addr);
        }
        self
    }
}

/// One data line of a listing.
enum Line<'a> {
    Service(ServiceKey, Vec<&'a str>),
    Destination(SocketAddr, Vec<&'a str>),
}

/// A listing split into its column names and data lines.
struct Listing<'a> {
    /// Columns after `LocalAddress:Port` in the service header.
    service_columns: Vec<&'a str>,
    /// Columns of destination lines.
    destination_columns: Vec<&'a str>,
    lines: Vec<(usize, Line<'a>)>,
}

impl<'a> Listing<'a> {
    fn parse(text: &'a str) -> Result<Listing<'a>> {
        let mut listing = Listing {
            service_columns: Vec::new(),
            destination_columns: Vec::new(),
            lines: Vec::new(),
        };
        for (n, raw) in text.lines().enumerate() {
            let words: Vec<&str> = raw.split_whitespace().collect();
            let parsed = match words.as_slice() {
                [] => None,
                ["IP", "Virtual", "Server", ..] => None,
                ["Prot", "LocalAddress:Port", columns @ ..] => {
                    listing.service_columns = columns.to_vec();
                    None
                }
                ["->", "RemoteAddress:Port", columns @ ..] => {
                    listing.destination_columns = columns.to_vec();
                    None
                }
                ["->", addr, values @ ..] => Some(Line::Destination(
                    addr.parse()
                        .with_context(|| format!("bad destination address {addr:?}"))
                        .with_context(|| format!("ipvsadm line {}: {raw:?}", n + 1))?,
                    values.to_vec(),
                )),
                [protocol, addr, rest @ ..] => Some(Line::Service(
                    ServiceKey::parse(protocol, addr)
                        .with_context(|| format!("ipvsadm line {}: {raw:?}", n + 1))?,
                    rest.to_vec(),
                )),
                _ => bail!("ipvsadm line {}: unexpected {raw:?}", n + 1),
            };
            listing.lines.extend(parsed.map(|l| (n + 1, l)));
        }
        if listing.destination_columns.is_empty() {
            // --stats, --rate, --persistent-conn, --thresholds: one header
            // names the columns of both kinds of line.
            listing.destination_columns = listing.service_columns.clone();
        }
        Ok(listing)
    }
}

/// Parses `ipvsadm -Ln` (also with `--tun-info`) into a [`Table`]. Errors
/// name the offending line.
pub fn parse_table(text: &str) -> Result<Table> {
    let listing = Listing::parse(text)?;
    let column = |name: &str| {
        listing
            .destination_columns
            .iter()
            .position(|c| *c == name)
            .with_context(|| format!("no {name} column: not an `ipvsadm -Ln` listing"))
    };
    let (forward, weight) = (column("Forward")?, column("Weight")?);
    let mut table = Table::default();
    for (n, line) in listing.lines {
        let at = || format!("ipvsadm line {n}");
        match line {
            Line::Service(key, rest) => {
                table
                    .services
                    .push(parse_service(key, &rest).with_context(at)?);
            }
            Line::Destination(addr, values) => {
                let service = table
                    .services
                    .last_mut()
                    .with_context(|| format!("{}: destination before any service", at()))?;
                let value = |i: usize| {
                    values
                        .get(i)
                        .copied()
                        .with_context(|| format!("{}: too few columns", at()))
                };
                service.destinations.push(Destination {
                    addr,
                    forward: Forward::parse(value(forward)?).with_context(at)?,
                    weight: value(weight)?
                        .parse()
                        .with_context(|| format!("{}: bad weight", at()))?,
                });
            }
        }
    }
    Ok(table)
}

/// A service line's words after the address: `SCHED [(flag,...)]
/// [persistent T [mask M] [pe NAME]] [ops]`.
fn parse_service(key: ServiceKey, words: &[&str]) -> Result<Service> {
    let (scheduler, mut rest) = words.split_first().context("no scheduler")?;
    let mut service = Service {
        key,
        scheduler: scheduler.to_string(),
        sched_flags: Vec::new(),
        persistence: None,
        one_packet: false,
        destinations: Vec::new(),
    };
    while let Some((word, after)) = rest.split_first() {
        rest = after;
        let mut value = || -> Result<&str> {
            let (v, after) = rest
                .split_first()
                .with_context(|| format!("{word} without a value"))?;
            rest = after;
            Ok(v)
        };
        match *word {
            w if w.starts_with('(') && w.ends_with(')') => {
                service.sched_flags = w[1..w.len() - 1].split(',').map(String::from).collect();
            }
            "persistent" => {
                service.persistence = Some(Persistence {
                    timeout: value()?.parse().context("bad persistence timeout")?,
                    mask: None,
                    engine: None,
                })
            }
            "mask" => persistence(&mut service)?.mask = Some(value()?.to_owned()),
            "pe" => persistence(&mut service)?.engine = Some(value()?.to_owned()),
            "ops" => service.one_packet = true,
            other => bail!("unknown service flag {other:?}"),
        }
    }
    Ok(service)
}

fn persistence(service: &mut Service) -> Result<&mut Persistence> {
    service
        .persistence
        .as_mut()
        .context("mask or pe without persistent")
}

/// Runs `ipvsadm ARGS` in `ns`; its standard output.
pub fn ipvsadm(ns: &Netns, args: &[&str]) -> Result<String> {
    let mut full = vec!["ipvsadm"];
    full.extend_from_slice(args);
    ns.run(&full)
}

/// The IPVS table of `ns` (`ipvsadm -Ln`).
pub fn table(ns: &Netns) -> Result<Table> {
    parse_table(&ipvsadm(ns, &["-Ln"])?)
}

/// Polls the IPVS table of `ns` until `ready` holds and returns it; the
/// error names `what` and shows the last table.
pub fn wait_table(
    ns: &Netns,
    what: &str,
    timeout: Duration,
    ready: impl Fn(&Table) -> bool,
) -> Result<Table> {
    let mut last = String::new();
    retry(timeout, Duration::from_millis(100), || {
        last = ipvsadm(ns, &["-Ln"])?;
        let table = parse_table(&last)?;
        if ready(&table) {
            Ok(table)
        } else {
            bail!("not yet")
        }
    })
    .with_context(|| format!("IPVS table never showed {what}; last:\n{last}"))
}

/// The traffic counters of `ns` (`ipvsadm -Ln --stats --exact`).
pub fn stats(ns: &Netns) -> Result<Counters> {
    parse_counters(&ipvsadm(ns, &["-Ln", "--stats", "--exact"])?)
}

#[cfg(test)]
mod tests;
