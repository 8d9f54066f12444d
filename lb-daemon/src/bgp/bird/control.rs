//! BIRD's control socket (what `birdc` speaks): a greeting, then one text
//! command per line, each answered by lines `CODE-text` (more follow),
//! ` text` (continuation) and a last `CODE text`. Codes 0xxx are results,
//! 1xxx data, 8xxx run-time errors and 9xxx parse errors.
//!
//! Written here rather than taken from a crate: no maintained crate speaks
//! this protocol (it is BIRD's own, documented in its `doc/reply_codes`),
//! and it is a few lines of framing.
use std::{path::Path, time::Duration};

use anyhow::{bail, Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixStream,
};

/// How long one command may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest reply kept (a `show` of a few protocols is a few KiB).
const MAX_REPLY: usize = 1 << 20;

/// A connection to BIRD's control socket.
pub struct Control {
    stream: BufReader<UnixStream>,
}

/// One reply: its final code and every line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The code of the last line.
    pub code: u16,
    /// The text of every line, in order, without codes.
    pub lines: Vec<String>,
}

impl Reply {
    /// Whether BIRD reported an error (8xxx or 9xxx).
    pub fn is_error(&self) -> bool {
        self.code >= 8000
    }

    /// The reply as one text, for messages.
    pub fn text(&self) -> String {
        self.lines.join("; ")
    }
}

/// What one line of a reply says.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `CODE-text`: more lines follow.
    More(u16, &'a str),
    /// ` text`: continues the previous line.
    Continued(&'a str),
    /// `CODE text`: the reply's last line.
    Last(u16, &'a str),
}

/// Reads one line of a reply; `None` for a line BIRD never sends.
pub fn parse_line(line: &str) -> Option<Line<'_>> {
    let line = line.trim_end_matches(['\r', '\n']);
    if let Some(text) = line.strip_prefix(' ') {
        return Some(Line::Continued(text));
    }
    let code = line.get(..4)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    match line.as_bytes().get(4) {
        Some(b'-') => Some(Line::More(code, &line[5..])),
        Some(b' ') => Some(Line::Last(code, &line[5..])),
        None => Some(Line::Last(code, "")),
        _ => None,
    }
}

impl Control {
    /// Connects to the socket at `path` and reads BIRD's greeting.
    pub async fn connect(path: &Path) -> Result<Control> {
        let stream = UnixStream::connect(path)
            .await
            .with_context(|| format!("connecting to BIRD at {}", path.display()))?;
        let mut control = Control {
            stream: BufReader::new(stream),
        };
        let greeting = control.reply().await.context("reading BIRD's greeting")?;
        if greeting.code != 1 {
            bail!(
                "BIRD greeted with code {}: {}",
                greeting.code,
                greeting.text()
            );
        }
        Ok(control)
    }

    /// Sends `command` and returns the reply (BIRD's errors are replies, not
    /// `Err`: callers decide).
    pub async fn command(&mut self, command: &str) -> Result<Reply> {
        if command.contains('\n') {
            bail!("a BIRD command is one line");
        }
        let line = format!("{command}\n");
        self.stream.get_mut().write_all(line.as_bytes()).await?;
        self.reply()
            .await
            .with_context(|| format!("BIRD command `{command}`"))
    }

    async fn reply(&mut self) -> Result<Reply> {
        tokio::time::timeout(REPLY_TIMEOUT, self.read_reply())
            .await
            .context("BIRD did not answer in time")?
    }

    async fn read_reply(&mut self) -> Result<Reply> {
        let mut lines = Vec::new();
        let mut size = 0;
        let mut buf = String::new();
        loop {
            buf.clear();
            if self.stream.read_line(&mut buf).await? == 0 {
                bail!("BIRD closed the control connection");
            }
            size += buf.len();
            if size > MAX_REPLY {
                bail!("BIRD's reply is longer than {MAX_REPLY} bytes");
            }
            match parse_line(&buf) {
                Some(Line::More(_, text) | Line::Continued(text)) => lines.push(text.to_owned()),
                Some(Line::Last(code, text)) => {
                    lines.push(text.to_owned());
                    return Ok(Reply { code, lines });
                }
                None => bail!("unexpected line from BIRD: {:?}", buf.trim_end()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_bird_frames_them() {
        assert_eq!(
            parse_line("0001 BIRD 2.0.12 ready.\n"),
            Some(Line::Last(1, "BIRD 2.0.12 ready."))
        );
        assert_eq!(
            parse_line("1002-upstream BGP --- up\n"),
            Some(Line::More(1002, "upstream BGP --- up"))
        );
        assert_eq!(
            parse_line(" BGP state: Established\n"),
            Some(Line::Continued("BGP state: Established"))
        );
        assert_eq!(parse_line("0000\n"), Some(Line::Last(0, "")));
        assert_eq!(parse_line("garbage\n"), None);
        assert_eq!(parse_line("12\n"), None);
        assert_eq!(parse_line("12345 x\n"), None);
    }

    #[test]
    fn errors_are_8xxx_and_9xxx() {
        let reply = |code| Reply {
            code,
            lines: vec![],
        };
        assert!(!reply(11).is_error());
        assert!(reply(8003).is_error());
        assert!(reply(9001).is_error());
    }
}
