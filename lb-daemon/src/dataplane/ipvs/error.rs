//! What can go wrong talking to IPVS.
use std::{fmt, io};

/// An IPVS client error.
#[derive(Debug)]
pub enum IpvsError {
    /// The kernel has no IPVS: the reason, naming the missing module.
    Unavailable(String),
    /// The kernel refused `request` with `errno`.
    Kernel {
        /// What was asked (`NEW_DEST 192.0.2.2:80 to TCP 192.0.2.1:80`).
        request: String,
        /// The positive errno.
        errno: i32,
    },
    /// A reply could not be decoded.
    Decode(String),
    /// The netlink socket failed.
    Io(io::Error),
}

impl IpvsError {
    /// The errno of a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            IpvsError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl fmt::Display for IpvsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpvsError::Unavailable(why) => write!(f, "IPVS unavailable: {why}"),
            IpvsError::Kernel { request, errno } => write!(
                f,
                "IPVS {request}: {}",
                io::Error::from_raw_os_error(*errno)
            ),
            IpvsError::Decode(why) => write!(f, "IPVS: malformed netlink reply: {why}"),
            IpvsError::Io(e) => write!(f, "IPVS netlink socket: {e}"),
        }
    }
}

impl std::error::Error for IpvsError {}

impl From<io::Error> for IpvsError {
    fn from(e: io::Error) -> IpvsError {
        IpvsError::Io(e)
    }
}
