//! [`SmtpSink`]: a tiny in-process SMTP server on loopback that accepts every
//! mail and records its envelope and message, for tests of mail alerts.
//!
//! It speaks just enough of RFC 5321 for a client such as lettre or
//! keepalived: the 220 greeting, EHLO/HELO, MAIL, RCPT, DATA (with
//! dot-unstuffing), RSET, NOOP and QUIT. No TLS, no AUTH, no pipelining.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How long a connection may stay silent before the sink drops it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One accepted mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The argument of the last EHLO or HELO.
    pub helo: String,
    /// Envelope sender (`MAIL FROM:<…>`, without the brackets).
    pub from: String,
    /// Envelope recipients (`RCPT TO:<…>`), in order.
    pub to: Vec<String>,
    /// The message as received after DATA, dot-unstuffed, CRLF line ends,
    /// without the terminating `.` line.
    pub data: String,
}

impl Mail {
    /// The value of the first header called `name` (case-insensitive), with
    /// folded continuation lines joined by a space.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut value: Option<String> = None;
        for line in self.data.split("\r\n") {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((key, rest)) = line.split_once(':') {
                if key.trim().eq_ignore_ascii_case(name) {
                    value = Some(rest.trim().to_string());
                }
            }
        }
        value
    }

    /// The message body: everything after the first empty line.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }
}

/// Mails received so far, and a condition variable signalled on each.
type Inbox = Arc<(Mutex<Vec<Mail>>, Condvar)>;

/// An SMTP server on `127.0.0.1:<ephemeral port>`, serving each connection
/// on its own thread. Stops accepting when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    inbox: Inbox,
    stop: Arc<AtomicBool>,
}

impl SmtpSink {
    /// Binds 127.0.0.1:0 and starts accepting.
    pub fn start() -> Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the SMTP sink")?;
        let addr = listener.local_addr()?;
        let inbox: Inbox = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_inbox, accept_stop) = (inbox.clone(), stop.clone());
        thread::Builder::new()
            .name("smtp-sink".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let inbox = accept_inbox.clone();
                    thread::spawn(move || {
                        let _ = serve(stream, &inbox);
                    });
                }
            })?;
        Ok(SmtpSink { addr, inbox, stop })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every mail received so far, in order of completion.
    pub fn mails(&self) -> Vec<Mail> {
        self.inbox.0.lock().unwrap().clone()
    }

    /// Waits until at least `count` mails arrived or `timeout` passed, and
    /// returns all mails received by then.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        let (lock, signal) = &*self.inbox;
        let mut mails = lock.lock().unwrap();
        while mails.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            mails = signal.wait_timeout(mails, left).unwrap().0;
        }
        mails.clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// The envelope of the transaction in progress.
#[derive(Default)]
struct Transaction {
    helo: String,
    from: Option<String>,
    to: Vec<String>,
}

/// Serves one connection until QUIT, EOF or an I/O error.
fn serve(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 lb-tests SMTP sink ready")?;
    let mut tx = Transaction::default();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let arg = command.get(verb.len()..).unwrap_or("").trim();
        match verb.as_str() {
            "EHLO" => {
                tx = Transaction {
                    helo: arg.to_string(),
                    ..Transaction::default()
                };
                reply("250-lb-tests greets you")?;
                reply("250 8BITMIME")?;
            }
            "HELO" => {
                tx = Transaction {
                    helo: arg.to_string(),
                    ..Transaction::default()
                };
                reply("250 lb-tests")?;
            }
            "MAIL" => {
                tx.from = Some(path_of(arg));
                tx.to.clear();
                reply("250 OK")?;
            }
            "RCPT" if tx.from.is_some() => {
                tx.to.push(path_of(arg));
                reply("250 OK")?;
            }
            "DATA" if !tx.to.is_empty() => {
                reply("354 End data with <CR><LF>.<CR><LF>")?;
                let data = read_data(&mut reader)?;
                let mail = Mail {
                    helo: tx.helo.clone(),
                    from: tx.from.take().unwrap_or_default(),
                    to: std::mem::take(&mut tx.to),
                    data,
                };
                let (lock, signal) = &**inbox;
                lock.lock().unwrap().push(mail);
                signal.notify_all();
                reply("250 OK queued")?;
            }
            "RCPT" | "DATA" => reply("503 Bad sequence of commands")?,
            "RSET" => {
                tx.from = None;
                tx.to.clear();
                reply("250 OK")?;
            }
            "NOOP" => reply("250 OK")?,
            "QUIT" => {
                reply("221 Bye")?;
                let _ = reader.get_ref().shutdown(Shutdown::Both);
                return Ok(());
            }
            _ => reply("502 Command not implemented")?,
        }
    }
}

/// The address in `FROM:<a@b> SIZE=1` or `TO:<a@b>`.
fn path_of(arg: &str) -> String {
    let rest = arg.split_once(':').map_or(arg, |(_, rest)| rest).trim();
    match (rest.find('<'), rest.find('>')) {
        (Some(open), Some(close)) if open < close => rest[open + 1..close].to_string(),
        _ => rest.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// Reads DATA lines up to the lone `.`, undoing dot-stuffing.
fn read_data(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            return Ok(data);
        }
        data.push_str(text.strip_prefix('.').unwrap_or(text));
        data.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends one command and returns the last reply line.
    fn command(out: &mut TcpStream, reader: &mut impl BufRead, text: &str) -> String {
        out.write_all(format!("{text}\r\n").as_bytes()).unwrap();
        last_reply(reader)
    }

    fn last_reply(reader: &mut impl BufRead) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_string();
            }
        }
    }

    #[test]
    fn records_a_hand_written_session() {
        let sink = SmtpSink::start().unwrap();
        let mut out = TcpStream::connect(sink.addr()).unwrap();
        let mut reader = BufReader::new(out.try_clone().unwrap());
        assert!(last_reply(&mut reader).starts_with("220"));
        let mut say = |text: &str| command(&mut out, &mut reader, text);
        assert!(say("RCPT TO:<early@x>").starts_with("503"));
        assert!(say("HELO box").starts_with("250"));
        assert!(say("MAIL FROM:<a@x> SIZE=10").starts_with("250"));
        assert!(say("RCPT TO:<b@x>").starts_with("250"));
        assert!(say("RCPT TO:<c@x>").starts_with("250"));
        assert!(say("DATA").starts_with("354"));
        let reply = say("Subject: hi\r\nTo: b@x,\r\n c@x\r\n\r\n..dot\r\nbody\r\n.");
        assert!(reply.starts_with("250"), "{reply}");
        assert!(say("QUIT").starts_with("221"));

        let mails = sink.wait_for(1, Duration::from_secs(5));
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail.helo, "box");
        assert_eq!(mail.from, "a@x");
        assert_eq!(mail.to, ["b@x", "c@x"]);
        assert_eq!(mail.header("subject").as_deref(), Some("hi"));
        assert_eq!(mail.header("To").as_deref(), Some("b@x, c@x"));
        assert_eq!(mail.body(), ".dot\r\nbody\r\n");
    }
}
