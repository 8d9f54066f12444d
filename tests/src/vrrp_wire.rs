//! VRRP on the lab's wire: adverts injected from a host's `eth0` (any
//! destination, any of the host's source addresses, any TTL), and the adverts
//! (or any frames, with their MAC addresses) a host sees, captured with
//! tcpdump.
use std::{
    fs::{self, File},
    io,
    net::{IpAddr, SocketAddr, SocketAddrV6},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use tempfile::TempDir;

use crate::{lab::HOST_IF, wait_until, Netns, NsChild};

/// Where and how [`inject`] sends.
#[derive(Debug, Clone, Copy)]
pub struct Injection {
    /// Destination: a VRRP multicast group or a host's address.
    pub to: IpAddr,
    /// Source address (one of the sending host's own), or the kernel's choice.
    pub from: Option<IpAddr>,
    /// TTL / hop limit (VRRP requires 255 on multicast).
    pub hops: u32,
}

impl Injection {
    /// To `to` with TTL 255 from the kernel's choice of source.
    pub fn to(to: IpAddr) -> Injection {
        Injection {
            to,
            from: None,
            hops: 255,
        }
    }
}

/// Sends `msg` as the VRRP payload of `copies` datagrams as `how` says, from
/// the calling thread's namespace, out of its `eth0` (run it in
/// [`crate::in_netns`]).
pub fn inject(msg: &[u8], how: Injection, copies: u64) -> io::Result<()> {
    let domain = match how.to {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    };
    let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(112)))?;
    socket.bind_device(Some(HOST_IF.as_bytes()))?;
    let ifindex = nix::net::if_::if_nametoindex(HOST_IF).map_err(io::Error::from)?;
    let to = match how.to {
        IpAddr::V4(_) => {
            socket.set_multicast_ttl_v4(how.hops)?;
            socket.set_ttl_v4(how.hops)?;
            SocketAddr::new(how.to, 0)
        }
        IpAddr::V6(to) => {
            socket.set_multicast_hops_v6(how.hops)?;
            socket.set_unicast_hops_v6(how.hops)?;
            socket.set_multicast_if_v6(ifindex)?;
            let link_scoped = to.is_multicast() || to.segments()[0] & 0xffc0 == 0xfe80;
            let scope = if link_scoped { ifindex } else { 0 };
            SocketAddr::V6(SocketAddrV6::new(to, 0, 0, scope))
        }
    };
    if let Some(from) = how.from {
        socket.bind(&SocketAddr::new(from, 0).into())?;
    }
    for _ in 0..copies {
        socket.send_to(msg, &to.into())?;
    }
    Ok(())
}

/// One VRRP packet as tcpdump printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
}

/// The first `count` VRRP packets (IPv4 or IPv6) that `ns`'s `eth0` sees,
/// waiting at most 10 s for them.
pub fn capture(ns: &Netns, count: usize) -> Result<Vec<Seen>> {
    let count = count.to_string();
    let out = ns.exec(&[
        "timeout",
        "10",
        "tcpdump",
        "-i",
        HOST_IF,
        "-n",
        "-l",
        "-c",
        &count,
        "ip proto 112 or ip6 proto 112",
    ])?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `01:02:03.456 IP 192.0.2.2 > 224.0.0.20: VRRPv3, Advertisement, ...`
    let seen: Vec<Seen> = text
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            Some(Seen {
                src: words.get(2)?.parse().ok()?,
                dst: words.get(4)?.trim_end_matches(':').parse().ok()?,
            })
        })
        .collect();
    (seen.len().to_string() == count)
        .then_some(seen)
        .with_context(|| {
            format!(
                "tcpdump saw fewer than {count} VRRP packets: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// A capture of `ns`'s `eth0` running in the background (tcpdump printing
/// the Ethernet headers into a file).
pub struct Recording {
    child: NsChild,
    file: PathBuf,
    _dir: TempDir,
}

/// One frame of a [`Recording`]: its source MAC and tcpdump's line for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Source MAC address, as tcpdump prints it (`00:00:5e:00:01:33`).
    pub src_mac: String,
    /// The whole line (`... > 224.0.0.18: VRRPv3, Advertisement, vrid 51 ...`).
    pub line: String,
}

impl Recording {
    /// Starts recording the frames matching the tcpdump `filter`; returns
    /// once tcpdump is capturing.
    pub fn start(ns: &Netns, filter: &str) -> Result<Recording> {
        let dir = tempfile::Builder::new().prefix("lb-capture").tempdir()?;
        let file = dir.path().join("frames.txt");
        let errors = dir.path().join("tcpdump.err");
        let args = ["tcpdump", "-i", HOST_IF, "-n", "-e", "-l", filter];
        let mut cmd = ns.command(&args);
        cmd.stdout(File::create(&file)?)
            .stderr(File::create(&errors)?);
        let child = ns.spawn_command(cmd)?;
        // tcpdump says so once its socket is capturing.
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            fs::read_to_string(&errors).is_ok_and(|e| e.contains("listening on"))
        })
        .with_context(|| {
            let errors = fs::read_to_string(&errors).unwrap_or_default();
            format!("tcpdump did not start capturing: {errors}")
        })?;
        Ok(Recording {
            child,
            file,
            _dir: dir,
        })
    }

    /// Stops recording and returns the frames seen.
    pub fn stop(mut self) -> Result<Vec<Frame>> {
        self.child.stop(Duration::from_secs(2))?;
        let text = fs::read_to_string(&self.file)?;
        // `12:00:00.000000 00:00:5e:00:01:33 > 01:00:5e:00:00:12, ethertype ...`
        Ok(text
            .lines()
            .filter_map(|line| {
                Some(Frame {
                    src_mac: line.split_whitespace().nth(1)?.to_owned(),
                    line: line.to_owned(),
                })
            })
            .collect())
    }
}
