//! The control socket: a Unix stream socket in the runtime directory.
//!
//! Framing: a client writes one request line (at most [`MAX_REQUEST`]
//! bytes, newline-terminated or ended by shutting its side down) and reads
//! one reply: a single-line JSON document ended by a newline, after which the
//! daemon closes the connection. Up to [`server::MAX_CLIENTS`] clients are
//! served at once. Requests:
//!
//! * `status`: the status document (see `docs/status-schema.md`);
//! * `drain SERVICE REAL` / `undrain SERVICE REAL`, SERVICE being
//!   `VIP:PORT`, `[IPv6]:PORT` or `fwmark:N` and REAL `RS:PORT`: replies
//!   `{"ok": true, "drained": BOOL, "services": [...], "changed": BOOL}`.
//!
//! A refusal is `{"error": "..."}` and never repeats the request. The
//! daemon's side is [`server`].
pub mod server;

use std::{
    fmt,
    io::{Read, Write},
    net::SocketAddr,
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::daemon::runtime_dir::socket_path;
use crate::state::desired::{parse_endpoint, ServiceRef};

/// The longest request line the daemon reads, newline included.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Requests the control socket understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The daemon's state as JSON.
    Status,
    /// Drain (`drained`) or undrain a real server of the services named.
    Drain {
        /// The service(s): `VIP:PORT` or `fwmark:N`.
        service: ServiceRef,
        /// The real server.
        server: SocketAddr,
        /// Drain (true) or undrain (false).
        drained: bool,
    },
}

impl Request {
    /// Parses one request line (its newline and surrounding blanks ignored).
    pub fn parse(line: &[u8]) -> Result<Request, Refusal> {
        let line = std::str::from_utf8(line).map_err(|_| Refusal::Unknown)?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let drained = match words.first() {
            Some(&"status") if words.len() == 1 => return Ok(Request::Status),
            Some(&"drain") => true,
            Some(&"undrain") => false,
            _ => return Err(Refusal::Unknown),
        };
        let [_, service, server] = words[..] else {
            return Err(Refusal::Arguments);
        };
        Ok(Request::Drain {
            service: service.parse().map_err(|_| Refusal::Arguments)?,
            server: parse_endpoint(server, "real server").map_err(|_| Refusal::Arguments)?,
            drained,
        })
    }

    /// The request line that asks for this.
    pub fn line(&self) -> String {
        match self {
            Request::Status => "status\n".to_owned(),
            Request::Drain {
                service,
                server,
                drained,
            } => {
                let verb = if *drained { "drain" } else { "undrain" };
                format!("{verb} {service} {server}\n")
            }
        }
    }
}

/// Why the daemon refuses a client; the reply's `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request line is longer than [`MAX_REQUEST`].
    TooLong,
    /// Not a request the socket understands.
    Unknown,
    /// `drain`/`undrain` without a valid service and real server.
    Arguments,
    /// No complete request line in time.
    Timeout(Duration),
    /// The client's uid may not use the socket.
    NotAllowed(u32),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooLong => write!(f, "request longer than {MAX_REQUEST} bytes"),
            Refusal::Unknown => write!(
                f,
                "unknown request (the control socket understands: status, \
                 drain SERVICE REAL, undrain SERVICE REAL)"
            ),
            Refusal::Arguments => write!(
                f,
                "drain/undrain take a service (VIP:PORT, [IPv6]:PORT or fwmark:N) \
                 and a real server (RS:PORT)"
            ),
            Refusal::Timeout(after) => write!(f, "no request line within {} s", after.as_secs()),
            Refusal::NotAllowed(uid) => write!(
                f,
                "permission denied: uid {uid} may not use the control socket \
                 (root only; lb-daemon --control-allow-uid admits others)"
            ),
        }
    }
}

impl Refusal {
    /// The reply carrying this refusal.
    pub fn reply(self) -> Value {
        serde_json::json!({ "error": self.to_string() })
    }
}

/// Sends `status` to the daemon of runtime directory `dir` and returns its answer.
pub fn status(dir: &Path) -> Result<Value> {
    ask(dir, &Request::Status)
}

/// Sends `request` to the daemon of runtime directory `dir` and returns its
/// answer; a refusal is an error.
pub fn ask(dir: &Path, request: &Request) -> Result<Value> {
    let path = socket_path(dir);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "no lb-daemon answers on {} (is one running with this --runtime-dir, \
             and may this user use it? The socket is root's unless lb-daemon runs \
             with --control-allow-uid)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(request.line().as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    read_reply(&reply).with_context(|| format!("reply from {}", path.display()))
}

/// The document in the daemon's `reply`; a refusal or anything but a JSON
/// document is an error.
pub fn read_reply(reply: &[u8]) -> Result<Value> {
    let value: Value = serde_json::from_slice(reply).with_context(|| {
        let shown: String = String::from_utf8_lossy(reply).chars().take(200).collect();
        format!("malformed reply: {shown:?}")
    })?;
    if let Some(err) = value.get("error") {
        let err = err.as_str().map_or_else(|| err.to_string(), str::to_owned);
        bail!("lb-daemon refused the request: {err}");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_refusals_never_quote_the_request() {
        assert_eq!(Request::parse(b"status\n"), Ok(Request::Status));
        assert_eq!(Request::parse(b"  status \r\n"), Ok(Request::Status));
        assert_eq!(Request::parse(b"status"), Ok(Request::Status));
        let junk = b"<script>SECRET\xff\n";
        let refusal = Request::parse(junk).unwrap_err();
        assert_eq!(refusal, Refusal::Unknown);
        assert!(!refusal.reply().to_string().contains("SECRET"));
        assert_eq!(
            Refusal::TooLong.reply()["error"],
            "request longer than 65536 bytes"
        );
        assert_eq!(Request::parse(b"status now"), Err(Refusal::Unknown));
    }

    #[test]
    fn drain_requests_round_trip_and_bad_arguments_are_refused() {
        for line in [
            "drain 192.0.2.1:80 198.51.100.7:8080\n",
            "undrain [2001:db8::1]:80 [2001:db8::7]:80\n",
            "drain fwmark:7 203.0.113.9:0\n",
        ] {
            let request = Request::parse(line.as_bytes()).unwrap();
            assert_eq!(request.line(), line);
        }
        assert_eq!(
            Request::parse(b"drain 192.0.2.1:80 198.51.100.7:80"),
            Ok(Request::Drain {
                service: ServiceRef::Addr("192.0.2.1:80".parse().unwrap()),
                server: "198.51.100.7:80".parse().unwrap(),
                drained: true,
            })
        );
        for bad in [
            "drain",
            "drain 192.0.2.1:80",
            "drain 192.0.2.1 198.51.100.7:80",
            "undrain 192.0.2.1:80 198.51.100.7",
            "drain fwmark:x 198.51.100.7:80",
            "drain 192.0.2.1:80 198.51.100.7:80 extra",
        ] {
            let refusal = Request::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(refusal, Refusal::Arguments, "{bad}");
            assert!(!refusal.reply().to_string().contains("198.51"));
        }
    }
}
