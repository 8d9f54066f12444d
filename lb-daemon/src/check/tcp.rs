//! `TCP_CHECK`: the service is up when a TCP connection to it completes
//! within `connect_timeout` (keepalived `check_tcp.c`: connect, then close).
//! The connection helper is shared with HTTP_GET / SSL_GET.

use std::io;

use tokio::net::{TcpSocket, TcpStream};

use super::{Attempt, Check, Outcome, Reason, Target};
use crate::config::Checker;

/// keepalived's `TCP_CHECK`.
#[derive(Debug, Clone, Default)]
pub struct TcpCheck;

impl TcpCheck {
    /// A TCP check; all of its options (addresses, bind, timeout) are part of
    /// the [`Target`] the engine resolves.
    pub fn new(_checker: &Checker) -> TcpCheck {
        TcpCheck
    }
}

impl Check for TcpCheck {
    fn kind(&self) -> &'static str {
        "TCP_CHECK"
    }

    fn check<'a>(&'a self, target: &'a Target) -> Attempt<'a> {
        Box::pin(async move {
            match connect(target).await {
                Ok(stream) => {
                    drop(stream);
                    Outcome::Up
                }
                Err(e) => Outcome::down(Reason::of_io(&e), connect_error(target, &e)),
            }
        })
    }
}

/// keepalived's wording for a failed connection (`check_tcp.c`):
/// `TCP connection to [addr]:proto:port timedout.` / `… failed.`.
pub fn connect_error(target: &Target, err: &io::Error) -> String {
    let what = match err.kind() {
        io::ErrorKind::TimedOut => "timedout".to_string(),
        _ => format!("failed ({err})"),
    };
    format!("TCP connection to {} {what}.", target.service())
}

/// Connects to `target.addr` from `target.bind` / `target.bind_if` when set,
/// giving up after `target.timeout` (an error of kind `TimedOut`).
pub async fn connect(target: &Target) -> io::Result<TcpStream> {
    let socket = match target.addr {
        std::net::SocketAddr::V4(_) => TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(dev) = &target.bind_if {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(bind) = target.bind {
        if bind.port() != 0 {
            socket.set_reuseaddr(true)?;
        }
        socket.bind(bind)?;
    }
    match tokio::time::timeout(target.timeout, socket.connect(target.addr)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timeout")),
    }
}
