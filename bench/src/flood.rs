//! A traffic generator: prebuilt Ethernet frames sent as fast as one CPU
//! can through an `AF_PACKET` socket with `sendmmsg`, so the sender's own
//! cost per frame is one copy (no UDP/IP stack, routing or neighbour lookup
//! on the sending side). pktgen, trafgen and tcpreplay are not available
//! here; nix gives the socket calls, this module only the loop.
use std::{
    io::IoSlice,
    mem,
    os::fd::{AsRawFd, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use nix::{
    errno::Errno,
    net::if_::if_nametoindex,
    sys::socket::{
        bind, sendmmsg, socket, AddressFamily, LinkAddr, MsgFlags, MultiHeaders, SockFlag,
        SockType, SockaddrLike,
    },
    time::{clock_gettime, ClockId},
};

/// Frames handed to the kernel per `sendmmsg` call.
pub const BATCH: usize = 64;

/// A raw socket sending whole Ethernet frames out of one interface.
pub struct FrameSender {
    fd: OwnedFd,
}

/// What one [`FrameSender::flood`] did.
#[derive(Debug, Clone, Copy)]
pub struct Flooded {
    /// Frames the kernel accepted.
    pub sent: u64,
    /// Frames the kernel refused (`ENOBUFS`: the next hop's queue was full).
    pub refused: u64,
    /// How long the flood lasted.
    pub elapsed: Duration,
    /// CPU time of the sending thread meanwhile, including the softirq
    /// work its transmissions ran in its context (the receive path of
    /// every veth hop they crossed).
    pub cpu: Duration,
}

impl FrameSender {
    /// A sender on interface `ifname` of the calling thread's namespace.
    /// It receives nothing (protocol 0).
    pub fn bind(ifname: &str) -> Result<FrameSender> {
        let ifindex = if_nametoindex(ifname).with_context(|| format!("no interface {ifname}"))?;
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .context("opening an AF_PACKET socket")?;
        bind(fd.as_raw_fd(), &link_addr(ifindex)?)
            .with_context(|| format!("binding the packet socket to {ifname}"))?;
        Ok(FrameSender { fd })
    }

    /// Sends `frames` round and round for `duration`. `frames.len()` must be
    /// a non-zero multiple of [`BATCH`].
    pub fn flood(&self, frames: &[Vec<u8>], duration: Duration) -> Result<Flooded> {
        ensure!(
            !frames.is_empty() && frames.len().is_multiple_of(BATCH),
            "the number of frames must be a multiple of {BATCH}"
        );
        let slices: Vec<[IoSlice<'_>; 1]> = frames.iter().map(|f| [IoSlice::new(f)]).collect();
        let addrs: [Option<()>; BATCH] = [None; BATCH];
        let mut headers = MultiHeaders::<()>::preallocate(BATCH, None);
        let (mut sent, mut refused) = (0u64, 0u64);
        let cpu_start = thread_cpu_time()?;
        let start = Instant::now();
        'flood: loop {
            for window in slices.chunks(BATCH) {
                let mut next = 0;
                while next < window.len() {
                    match sendmmsg(
                        self.fd.as_raw_fd(),
                        &mut headers,
                        &window[next..],
                        addrs,
                        [],
                        MsgFlags::empty(),
                    ) {
                        Ok(results) => {
                            let n = results.count();
                            sent += n as u64;
                            next += n;
                        }
                        Err(Errno::ENOBUFS) => {
                            refused += 1;
                            next += 1;
                        }
                        Err(e) => return Err(e).context("sendmmsg on the packet socket"),
                    }
                }
                if start.elapsed() >= duration {
                    break 'flood;
                }
            }
        }
        let elapsed = start.elapsed();
        Ok(Flooded {
            sent,
            refused,
            elapsed,
            cpu: thread_cpu_time()? - cpu_start,
        })
    }
}

/// CPU time the calling thread has used.
fn thread_cpu_time() -> Result<Duration> {
    Ok(clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .context("reading the thread's CPU time")?
        .into())
}

/// The link-layer address of interface `ifindex` (any protocol).
fn link_addr(ifindex: u32) -> Result<LinkAddr> {
    // SAFETY: sockaddr_ll is plain integers; all zeroes is a valid value.
    let mut ll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_ifindex = i32::try_from(ifindex).context("interface index")?;
    let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `ll` is a complete sockaddr_ll of `len` bytes, alive for the call.
    unsafe { LinkAddr::from_raw((&raw const ll).cast(), Some(len)) }
        .context("building the link-layer address")
}
