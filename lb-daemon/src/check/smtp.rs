//! `SMTP_CHECK`, as keepalived's `check_smtp.c`: connect, read the banner
//! line (status must be exactly `220` followed by a space or the end of the
//! line, so a multi-line `220-` greeting fails as in keepalived), send
//! `HELO <helo_name>` (default `smtpchecker.keepalived.org`), expect `250`
//! the same way, send `QUIT` and read one more line (any content). Every
//! step is bounded by the target's timeout as a whole.
//!
//! A hand-written client over tokio's `TcpSocket` rather than `lettre`:
//! the check needs a bound source address/interface, exact keepalived
//! status parsing (no multi-line handling), and no mail transaction.

use std::io;

use anyhow::{bail, Result};
use socket2::{Protocol, Type};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use super::udp::bound_socket;
use super::{Attempt, Check, Outcome, Reason, Target};
use crate::config::Checker;

/// keepalived's `SMTP_DEFAULT_HELO`.
pub const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

/// Longest line read (keepalived's buffer is 512 octets).
const MAX_LINE: u64 = 512;

/// `SMTP_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpCheck {
    /// The name sent with HELO.
    helo_name: String,
}

impl SmtpCheck {
    /// Builds the check from `helo_name`.
    pub fn new(checker: &Checker) -> Result<SmtpCheck> {
        Ok(SmtpCheck {
            helo_name: checker
                .helo_name
                .clone()
                .unwrap_or_else(|| DEFAULT_HELO.to_string()),
        })
    }

    /// The conversation; an error says which step failed.
    async fn converse(&self, target: &Target) -> Result<()> {
        self.talk(connect(target).await?).await
    }

    /// The conversation over `stream`, a connection to the server already
    /// open (the fuzz targets play the server with arbitrary replies).
    pub(crate) async fn talk(&self, stream: impl AsyncRead + AsyncWrite + Unpin) -> Result<()> {
        let mut stream = BufReader::new(stream);
        expect(&mut stream, 220, "Bad greeting banner").await?;
        let helo = format!("HELO {}\r\n", self.helo_name);
        stream.get_mut().write_all(helo.as_bytes()).await?;
        expect(&mut stream, 250, "Bad HELO response").await?;
        stream.get_mut().write_all(b"QUIT\r\n").await?;
        read_line(&mut stream).await?;
        Ok(())
    }
}

/// A TCP connection to `target.addr` from `target.bind`/`bind_if`.
async fn connect(target: &Target) -> io::Result<TcpStream> {
    let socket = bound_socket(target, Type::STREAM, Protocol::TCP)?;
    TcpSocket::from_std_stream(socket.into())
        .connect(target.addr)
        .await
}

/// One line (without its end); the connection closing first is an error.
async fn read_line(stream: &mut BufReader<impl AsyncRead + Unpin>) -> Result<String> {
    let mut line = Vec::new();
    let n = (&mut *stream)
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        bail!("connection closed");
    }
    let line = String::from_utf8_lossy(&line);
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// keepalived's `smtp_get_status`: three digits, then a space or nothing.
pub fn status(line: &str) -> Option<u16> {
    let (code, rest) = line.split_at_checked(3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    code.parse().ok()
}

/// Reads a line and fails with `what` unless its status is `want`.
async fn expect(
    stream: &mut BufReader<impl AsyncRead + Unpin>,
    want: u16,
    what: &str,
) -> Result<()> {
    let line = read_line(stream).await?;
    if status(&line) != Some(want) {
        bail!("{what}: {line:?}");
    }
    Ok(())
}

impl Check for SmtpCheck {
    fn kind(&self) -> &'static str {
        "SMTP_CHECK"
    }

    fn check<'a>(&'a self, target: &'a Target) -> Attempt<'a> {
        Box::pin(async move {
            match tokio::time::timeout(target.timeout, self.converse(target)).await {
                Ok(Ok(())) => Outcome::Up,
                Ok(Err(e)) => Outcome::down(
                    Reason::of_error(&e),
                    format!("SMTP server {}: {e:#}", target.addr),
                ),
                Err(_) => Outcome::down(
                    Reason::Timeout,
                    format!("Read timeout from SMTP server {}", target.addr),
                ),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::status;

    #[test]
    fn status_like_keepalived() {
        assert_eq!(status("220 mail ESMTP"), Some(220));
        assert_eq!(status("250"), Some(250));
        assert_eq!(status("220-first line"), None);
        assert_eq!(status("22"), None);
        assert_eq!(status("2x0 x"), None);
    }
}
