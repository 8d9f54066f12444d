//! Liveness of the daemon as a system BIRD sees it: a TAP interface that
//! exists only while the daemon holds its file descriptor. The announced
//! routes are static routes through this interface, so when the daemon
//! dies, even by kill -9, the kernel closes the descriptor, the interface
//! disappears, BIRD's device protocol sees it go, and the routes become
//! unreachable and are withdrawn: the routers stop sending traffic that
//! nobody here programs any more. A child BIRD dies with the daemon
//! instead; this is for a BIRD the daemon does not own.
//!
//! Written with one ioctl rather than a TUN crate: the crates wrap packet
//! I/O on the device, and this device carries no packets at all.
use std::{
    fs::{File, OpenOptions},
    os::fd::AsRawFd,
};

use anyhow::{bail, Context, Result};

use crate::netlink::Netlink;

/// The interface the announced routes go through.
pub const INTERFACE: &str = "lb-alive";

/// The held interface: it goes when this value (or the process) does.
pub struct Liveness {
    // Opened close-on-exec (std's default): a script the daemon runs must
    // not keep the interface alive after the daemon is gone.
    _device: File,
}

impl Liveness {
    /// Creates [`INTERFACE`] and sets it up. Fails when another process
    /// holds it (a second daemon announcing through the same BIRD).
    pub async fn create(netlink: &Netlink) -> Result<Liveness> {
        let device = open_tap()?;
        let index = netlink.interface(INTERFACE).await?.index;
        netlink.set_link_up(index).await?;
        Ok(Liveness { _device: device })
    }
}

/// Opens a TAP device called [`INTERFACE`], which lives as long as the
/// returned file.
fn open_tap() -> Result<File> {
    let device = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .context("opening /dev/net/tun for the liveness interface")?;
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(INTERFACE.bytes()) {
        *slot = byte as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one ifreq, which outlives the call.
    let rc = unsafe { libc::ioctl(device.as_raw_fd(), libc::TUNSETIFF, &mut request) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EBUSY) {
            bail!(
                "{INTERFACE} is held by another process: is a second lb-daemon announcing \
                 through this BIRD?"
            );
        }
        return Err(error).with_context(|| format!("creating the interface {INTERFACE}"));
    }
    Ok(device)
}
