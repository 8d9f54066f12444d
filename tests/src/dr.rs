//! Direct-routing traffic through the lab, for the fast-path tests: a lab
//! whose real servers accept the VIP on their loopback, and a kept-alive
//! HTTP/1.1 connection to the VIP that tells which real server answers.
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use anyhow::{ensure, Result};

use crate::{Lab, LabSpec, VIP};

/// A lab with `directors` directors and three DR real servers (nginx
/// answering with their name, VIP on their loopback, ARP for it suppressed).
pub fn dr_lab(directors: usize) -> Result<Lab> {
    let lab = Lab::new(LabSpec {
        directors,
        real_servers: 3,
        web: true,
    })?;
    for rs in lab.real_servers() {
        rs.accept_vip_on_loopback(VIP)?;
    }
    Ok(lab)
}

/// A kept-alive HTTP/1.1 connection to the VIP (open it inside the
/// client's namespace).
pub struct Kept(TcpStream);

impl Kept {
    /// Connects to the VIP's port 80.
    pub fn open() -> Result<Kept> {
        let addr: SocketAddr = format!("{VIP}:80").parse()?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Kept(stream))
    }

    /// The name of the real server answering `GET /` on this connection.
    pub fn ask(&mut self) -> Result<String> {
        write!(self.0, "GET / HTTP/1.1\r\nHost: {VIP}\r\n\r\n")?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = self.0.read(&mut buf)?;
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
