//! Client traffic that must survive what a test does to the directors:
//! [`KeptAlive`] connections asked again and again (which real server holds
//! a flow, and that it is never reset), [`Continuous`] traffic of kept and
//! new connections on a thread of its own, and the client's
//! [`TcpCounters`] (retransmits mean lost packets).
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread::{self, JoinHandle},
    time::Duration,
};

use anyhow::{ensure, Context, Result};

use crate::{in_netns, wait_until, Netns};

/// A kept-alive HTTP/1.1 connection to a lab web service (the real servers
/// answer `GET /` with their name).
pub struct KeptAlive {
    stream: TcpStream,
    host: String,
}

impl KeptAlive {
    /// Connects to `addr` (`192.0.2.50:80`) from the calling thread's
    /// namespace (see [`crate::in_netns`]).
    pub fn open(addr: &str) -> Result<KeptAlive> {
        let target: SocketAddr = addr.parse()?;
        let stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(KeptAlive {
            stream,
            host: target.ip().to_string(),
        })
    }

    /// The name of the real server answering `GET /` on this connection.
    pub fn ask(&mut self) -> Result<String> {
        write!(self.stream, "GET / HTTP/1.1\r\nHost: {}\r\n\r\n", self.host)?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = self.stream.read(&mut buf)?;
            ensure!(n > 0, "connection closed");
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw);
            if let Some((_, body)) = text.split_once("\r\n\r\n") {
                if body.ends_with('\n') {
                    return Ok(body.trim().to_owned());
                }
            }
        }
    }
}

/// A namespace's TCP counters (`/proc/net/snmp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpCounters {
    /// Segments retransmitted: packets lost (or late) on the way.
    pub retransmitted: u64,
    /// Established connections reset.
    pub resets: u64,
}

impl TcpCounters {
    /// The counters of `ns` now.
    pub fn of(ns: &Netns) -> Result<TcpCounters> {
        let snmp = ns.run(&["cat", "/proc/net/snmp"])?;
        let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
        let (names, values) = (
            tcp.next().context("Tcp header")?,
            tcp.next().context("Tcp")?,
        );
        let field = |name: &str| -> Result<u64> {
            let at = names
                .split_whitespace()
                .position(|n| n == name)
                .with_context(|| format!("no {name} in /proc/net/snmp"))?;
            let value = values.split_whitespace().nth(at);
            Ok(value.with_context(|| name.to_owned())?.parse()?)
        };
        Ok(TcpCounters {
            retransmitted: field("RetransSegs")?,
            resets: field("EstabResets")?,
        })
    }

    /// Fails unless no segment was retransmitted (no packet lost) and no
    /// established connection reset between `before` and `self`.
    pub fn ensure_nothing_lost_since(&self, before: &TcpCounters) -> Result<()> {
        ensure!(
            self.retransmitted == before.retransmitted,
            "the client retransmitted {} TCP segments (packets lost)",
            self.retransmitted - before.retransmitted
        );
        ensure!(
            self.resets == before.resets,
            "{} connections reset",
            self.resets - before.resets
        );
        Ok(())
    }
}

/// Requests from a client namespace on a thread of its own, round after
/// round: every kept-alive connection asked once (each must stay on the
/// real server it started on), then one new connection.
pub struct Continuous {
    stop: Arc<AtomicBool>,
    asked: Arc<AtomicUsize>,
    kept: usize,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Continuous {
    /// Opens `kept` connections to `addr` (`192.0.2.50:80`) from namespace
    /// `ns` and starts asking.
    pub fn start(ns: &str, addr: &str, kept: usize) -> Result<Continuous> {
        let (stop, asked) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (ns, addr) = (ns.to_owned(), addr.to_owned());
        let (stopping, counting) = (Arc::clone(&stop), Arc::clone(&asked));
        let thread = thread::spawn(move || -> Result<()> {
            in_netns(&ns, || -> Result<()> {
                let mut flows = (0..kept)
                    .map(|_| KeptAlive::open(&addr))
                    .collect::<Result<Vec<_>>>()?;
                let owners = flows
                    .iter_mut()
                    .map(KeptAlive::ask)
                    .collect::<Result<Vec<_>>>()?;
                while !stopping.load(Ordering::Relaxed) {
                    for (flow, owner) in flows.iter_mut().zip(&owners) {
                        let now = flow.ask().context("kept-alive connection")?;
                        ensure!(now == *owner, "a flow moved: {owner} -> {now}");
                    }
                    KeptAlive::open(&addr)?.ask().context("new connection")?;
                    counting.fetch_add(kept + 1, Ordering::Relaxed);
                }
                Ok(())
            })?
        });
        Ok(Continuous {
            stop,
            asked,
            kept,
            thread: Some(thread),
        })
    }

    /// Requests answered so far.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::Relaxed)
    }

    /// Waits until `rounds` more rounds were answered; fails if the client
    /// stopped (a request failed).
    pub fn wait_rounds(&mut self, rounds: usize) -> Result<()> {
        let mark = self.asked() + rounds * (self.kept + 1);
        let finished = || self.thread.as_ref().is_none_or(JoinHandle::is_finished);
        wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
            self.asked() >= mark || finished()
        })?;
        if finished() {
            self.stop()?;
            anyhow::bail!("the client stopped");
        }
        Ok(())
    }

    /// Stops the client; the first failed request, if any, is the error.
    pub fn stop(&mut self) -> Result<usize> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        }
        Ok(self.asked())
    }
}

impl Drop for Continuous {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
