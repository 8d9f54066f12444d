//! [`KeptAlive`]: one HTTP/1.1 connection asked again and again, to see
//! which real server holds a flow and that it is never reset.
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use anyhow::{ensure, Result};

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
