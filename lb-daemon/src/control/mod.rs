//! The control socket: a Unix stream socket in the runtime directory. A
//! client writes one request line (`status`, at most [`MAX_REQUEST`] bytes)
//! and reads one JSON document. A refusal is `{"error": "..."}` and never
//! repeats the request. The daemon's side is [`server`].
pub mod server;

use std::{
    fmt,
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::daemon::runtime_dir::socket_path;

/// The longest request line the daemon reads, newline included.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Requests the control socket understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The daemon's state as JSON.
    Status,
}

impl Request {
    /// Parses one request line (its newline and surrounding blanks ignored).
    pub fn parse(line: &[u8]) -> Result<Request, Refusal> {
        match std::str::from_utf8(line).map(str::trim) {
            Ok("status") => Ok(Request::Status),
            _ => Err(Refusal::Unknown),
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
                "unknown request (the control socket understands: status)"
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
    stream.write_all(b"status\n")?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    read_reply(&reply).with_context(|| format!("reply from {}", path.display()))
}

/// The status document in the daemon's `reply`; a refusal or anything but
/// a JSON document is an error.
pub fn read_reply(reply: &[u8]) -> Result<Value> {
    let value: Value = serde_json::from_slice(reply).with_context(|| {
        let shown: String = String::from_utf8_lossy(reply).chars().take(200).collect();
        format!("malformed reply: {shown:?}")
    })?;
    if let Some(err) = value.get("error") {
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
    }
}
