//! What the client sees during the soak, on threads of its own inside the
//! client's namespace: every VRRP advert on the wire (who is master of which
//! VRID, when), TCP requests to the service VIP (new connections and one
//! kept-alive flow), and a UDP probe to every VIP each 10 ms (answered by
//! the VIP's holder with ICMP port unreachable, read as `ECONNREFUSED`).
use std::{
    io::ErrorKind,
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};

use crate::{in_netns, KeptAlive};

/// The VRRP IPv4 multicast group.
const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Spacing of the TCP requests.
const TCP_EVERY: Duration = Duration::from_millis(50);
/// Spacing of the UDP probes.
const PROBE_EVERY: Duration = Duration::from_millis(10);
/// [`KeptAlive::ask`]'s error when the server closed the connection.
const CLOSED: &str = "connection closed";
/// A port nobody listens on: the VIP's holder answers port unreachable.
const PROBE_PORT: u16 = 9;

/// One advert seen on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Advert {
    /// When the client received it.
    pub at: Instant,
    /// Its VRID.
    pub vrid: u8,
    /// Its sender.
    pub src: Ipv4Addr,
    /// Its priority (0: the master resigns).
    pub priority: u8,
}

/// Running totals of the client's traffic.
#[derive(Debug, Default)]
struct Totals {
    new_ok: AtomicU64,
    new_failed: AtomicU64,
    kept_ok: AtomicU64,
    kept_failed: AtomicU64,
    probes_answered: AtomicU64,
    probes_lost: AtomicU64,
    refused: AtomicU64,
}

/// A snapshot of [`Totals`]; subtract two to get one fault's share.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// New TCP connections answered.
    pub new_ok: u64,
    /// New TCP connections that failed (refused, timed out, reset).
    pub new_failed: u64,
    /// Requests on the kept-alive flow answered.
    pub kept_ok: u64,
    /// Requests on the kept-alive flow that failed (the flow broke).
    pub kept_failed: u64,
    /// UDP probes answered by a VIP's holder.
    pub probes_answered: u64,
    /// UDP probes without an answer.
    pub probes_lost: u64,
    /// Failed TCP requests (new or kept) that were refused or reset, not
    /// timed out: a node answered for the VIP without serving it.
    pub refused: u64,
}

impl Counts {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            new_ok: self.new_ok - earlier.new_ok,
            new_failed: self.new_failed - earlier.new_failed,
            kept_ok: self.kept_ok - earlier.kept_ok,
            kept_failed: self.kept_failed - earlier.kept_failed,
            probes_answered: self.probes_answered - earlier.probes_answered,
            probes_lost: self.probes_lost - earlier.probes_lost,
            refused: self.refused - earlier.refused,
        }
    }
}

/// The client's threads; dropping it stops them.
pub struct Observer {
    stop: Arc<AtomicBool>,
    adverts: Arc<Mutex<Vec<Advert>>>,
    totals: Arc<Totals>,
    threads: Vec<JoinHandle<Result<()>>>,
}

impl Observer {
    /// Starts capturing adverts, TCP requests to `service` (`VIP:80`) and
    /// UDP probes to each of `vips`, from namespace `ns` (the client at
    /// `client_ip`).
    pub fn start(ns: &str, client_ip: Ipv4Addr, service: &str, vips: &[Ipv4Addr]) -> Result<Self> {
        let mut observer = Observer {
            stop: Arc::default(),
            adverts: Arc::default(),
            totals: Arc::default(),
            threads: Vec::new(),
        };
        let (stop, adverts) = (observer.stop.clone(), observer.adverts.clone());
        let socket = in_netns(ns, || advert_socket(client_ip))??;
        observer.spawn(ns, move || capture(&socket, &stop, &adverts))?;
        let (stop, totals, service) = (
            observer.stop.clone(),
            observer.totals.clone(),
            service.to_owned(),
        );
        observer.spawn(ns, move || requests(&service, &stop, &totals))?;
        let (stop, totals, vips) = (
            observer.stop.clone(),
            observer.totals.clone(),
            vips.to_vec(),
        );
        observer.spawn(ns, move || probes(&vips, &stop, &totals))?;
        Ok(observer)
    }

    fn spawn(
        &mut self,
        ns: &str,
        work: impl FnOnce() -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let ns = ns.to_owned();
        let thread = thread::Builder::new()
            .name("soak-observer".into())
            .spawn(move || in_netns(&ns, work)?)?;
        self.threads.push(thread);
        Ok(())
    }

    /// The adverts received at or after `from`.
    pub fn adverts_since(&self, from: Instant) -> Vec<Advert> {
        let all = self.adverts.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().filter(|a| a.at >= from).copied().collect()
    }

    /// Forgets adverts older than `before` (the soak keeps what the current
    /// fault needs).
    pub fn forget_before(&self, before: Instant) {
        let mut all = self.adverts.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|a| a.at >= before);
    }

    /// The traffic totals now.
    pub fn counts(&self) -> Counts {
        let t = &self.totals;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            new_ok: get(&t.new_ok),
            new_failed: get(&t.new_failed),
            kept_ok: get(&t.kept_ok),
            kept_failed: get(&t.kept_failed),
            probes_answered: get(&t.probes_answered),
            probes_lost: get(&t.probes_lost),
            refused: get(&t.refused),
        }
    }

    /// Stops the threads; the first one that failed is the error.
    pub fn stop(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for thread in self.threads.drain(..) {
            let outcome = thread
                .join()
                .map_err(|_| anyhow::anyhow!("an observer thread panicked"))
                .and_then(|r| r);
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A raw VRRP socket in the calling thread's namespace, in the VRRP group.
fn advert_socket(client_ip: Ipv4Addr) -> Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))?;
    socket
        .join_multicast_v4(&VRRP_GROUP, &client_ip)
        .context("joining the VRRP group")?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(socket)
}

/// Records every advert until `stop`.
fn capture(socket: &Socket, stop: &AtomicBool, adverts: &Mutex<Vec<Advert>>) -> Result<()> {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1500];
    while !stop.load(Ordering::Relaxed) {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e).context("receiving adverts"),
        };
        let at = Instant::now();
        // SAFETY: `recv` initialised the first `n` bytes.
        let bytes: Vec<u8> = buf[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        if let Some(advert) = parse_advert(&bytes, at) {
            adverts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(advert);
        }
    }
    Ok(())
}

/// An IPv4 datagram carrying a VRRP advertisement (type 1), as a raw socket
/// returns it (IP header included).
fn parse_advert(packet: &[u8], at: Instant) -> Option<Advert> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    let src = Ipv4Addr::new(
        *packet.get(12)?,
        *packet.get(13)?,
        *packet.get(14)?,
        *packet.get(15)?,
    );
    let vrrp = packet.get(ihl..)?;
    (vrrp.first()? & 0x0f == 1).then_some(Advert {
        at,
        vrid: *vrrp.get(1)?,
        src,
        priority: *vrrp.get(2)?,
    })
}

/// Every [`TCP_EVERY`]: one request on the kept-alive flow (reopened after
/// it broke) and one on a new connection.
fn requests(service: &str, stop: &AtomicBool, totals: &Totals) -> Result<()> {
    let mut kept: Option<KeptAlive> = None;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let flow = match kept.take() {
            Some(flow) => Ok(flow),
            None => KeptAlive::open(service),
        };
        match flow.and_then(|mut f| f.ask().map(|_| f)) {
            Ok(flow) => {
                totals.kept_ok.fetch_add(1, Ordering::Relaxed);
                kept = Some(flow);
            }
            // nginx closes a kept-alive connection after 1,000 requests:
            // a graceful close, reopened next round.
            Err(e) if e.to_string() == CLOSED => {}
            Err(e) => {
                totals.kept_failed.fetch_add(1, Ordering::Relaxed);
                count_refusal(&e, totals);
            }
        }
        match KeptAlive::open(service).and_then(|mut f| f.ask()) {
            Ok(_) => drop(totals.new_ok.fetch_add(1, Ordering::Relaxed)),
            Err(e) => {
                totals.new_failed.fetch_add(1, Ordering::Relaxed);
                count_refusal(&e, totals);
            }
        }
        thread::sleep(TCP_EVERY.saturating_sub(started.elapsed()));
    }
    Ok(())
}

/// Counts `error` as a refusal when a node refused or reset the connection.
fn count_refusal(error: &anyhow::Error, totals: &Totals) {
    let refused = error.downcast_ref::<std::io::Error>().is_some_and(|e| {
        matches!(
            e.kind(),
            ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
        )
    });
    if refused {
        totals.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every [`PROBE_EVERY`]: reads each VIP's answer to the previous probe,
/// then sends the next one.
fn probes(vips: &[Ipv4Addr], stop: &AtomicBool, totals: &Totals) -> Result<()> {
    let sockets = vips
        .iter()
        .map(|vip| {
            let socket = UdpSocket::bind("0.0.0.0:0")?;
            socket.connect(SocketAddr::from((*vip, PROBE_PORT)))?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut sent = false;
    let mut buf = [0u8; 16];
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        for socket in &sockets {
            if sent {
                let answered = matches!(
                    socket.recv(&mut buf),
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused
                );
                let counter = match answered {
                    true => &totals.probes_answered,
                    false => &totals.probes_lost,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            // A send fails while the VIP's address does not resolve: that
            // probe goes unanswered, and counts so on the next round.
            let _ = socket.send(b"soak");
        }
        sent = true;
        thread::sleep(PROBE_EVERY.saturating_sub(started.elapsed()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adverts_are_parsed_from_raw_datagrams() {
        let mut packet = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 2];
        packet.extend([224, 0, 0, 18, 0x31, 51, 150, 1, 0, 50, 0, 0]);
        let at = Instant::now();
        let advert = parse_advert(&packet, at).expect("an advert");
        assert_eq!(
            (advert.vrid, advert.src, advert.priority),
            (51, Ipv4Addr::new(192, 0, 2, 2), 150)
        );
        assert!(parse_advert(&packet[..22], at).is_none(), "truncated");
        packet[20] = 0x32;
        assert!(parse_advert(&packet, at).is_none(), "not an advert");
        assert!(parse_advert(&[], at).is_none());
    }
}
