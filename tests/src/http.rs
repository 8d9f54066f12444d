//! Running code inside a namespace from a dedicated thread, a tiny HTTP/1.0
//! client built on it, and polling helpers.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{setns, CloneFlags};

use crate::names::NETNS_DIR;

/// Run `f` on a fresh thread that has entered network namespace `ns` (a name
/// as used by `ip netns`, or a [`crate::Netns`]) and return its result. The
/// calling thread's namespace never changes. Sockets (and BPF links, netlink
/// handles...) created by `f` belong to `ns`, and keep doing so when moved
/// out. A panic in `f` is propagated to the caller.
pub fn in_netns<T, F>(ns: impl AsRef<str>, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let name = ns.as_ref();
    let path = format!("{NETNS_DIR}/{name}");
    let file = File::open(&path).with_context(|| format!("opening namespace {path}"))?;
    thread::scope(|s| {
        let handle = s.spawn(move || -> Result<T> {
            setns(&file, CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("entering namespace {name}"))?;
            drop(file);
            Ok(f())
        });
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A parsed `http://host[:port]/path` URL (host may be `[v6 address]`).
struct Url<'a> {
    host: &'a str,
    port: u16,
    path: &'a str,
}

fn parse_url(url: &str) -> Result<Url<'_>> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("only http:// URLs are supported: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("unterminated [ in {url}"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().with_context(|| format!("bad port in {url}"))?,
        None => 80,
    };
    if host.is_empty() {
        bail!("no host in {url}");
    }
    Ok(Url { host, port, path })
}

/// Perform one HTTP/1.0 GET from the current namespace.
fn get_here(url: &str, timeout: Duration) -> Result<(u16, String)> {
    let u = parse_url(url)?;
    let addr: SocketAddr = (u.host, u.port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {url}"))?
        .next()
        .ok_or_else(|| anyhow!("no address for {url}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr} for {url}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let host_header = if u.host.contains(':') {
        format!("[{}]", u.host)
    } else {
        u.host.to_string()
    };
    write!(
        stream,
        "GET {} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: lb-tests\r\nConnection: close\r\n\r\n",
        u.path
    )
    .with_context(|| format!("sending request for {url}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading response for {url}"))?;
    parse_response(&raw).with_context(|| format!("response for {url}"))
}

/// Split a raw HTTP response into status code and body.
fn parse_response(raw: &[u8]) -> Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("no end of headers in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// HTTP/1.0 GET `url` (`http://host[:port]/path`, IPv6 hosts in brackets)
/// from inside namespace `ns`; returns status code and body. `timeout`
/// bounds the connect and each read/write.
pub fn http_get(ns: impl AsRef<str>, url: &str, timeout: Duration) -> Result<(u16, String)> {
    in_netns(ns, || get_here(url, timeout))?
}

/// Poll `condition` every `poll` until it returns true; error if it has not
/// within `timeout` (it is always evaluated at least once, and once more at
/// the deadline).
pub fn wait_until(
    timeout: Duration,
    poll: Duration,
    mut condition: impl FnMut() -> bool,
) -> Result<()> {
    retry(timeout, poll, || {
        if condition() {
            Ok(())
        } else {
            bail!("condition still false")
        }
    })
    .with_context(|| format!("condition not met within {timeout:?}"))
}

/// Call `attempt` every `poll` until it succeeds and return its value; on
/// timeout return its last error (with context saying how long was waited).
pub fn retry<T>(
    timeout: Duration,
    poll: Duration,
    mut attempt: impl FnMut() -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("still failing after {timeout:?}")))
            }
            Err(_) => thread::sleep(poll.min(deadline.saturating_duration_since(Instant::now()))),
        }
    }
}

/// Runs `future` to completion on a fresh current-thread tokio runtime (in
/// the calling thread's namespace; combine with [`in_netns`] for another).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

/// Runs `future` to completion on a fresh runtime inside namespace `ns`
/// (sockets it creates belong there).
pub fn block_on_in<T: Send>(
    ns: impl AsRef<str>,
    future: impl std::future::Future<Output = T> + Send,
) -> Result<T> {
    in_netns(ns, || block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = parse_url("http://192.0.2.11/").unwrap();
        assert_eq!((u.host, u.port, u.path), ("192.0.2.11", 80, "/"));
        let u = parse_url("http://[2001:db8::11]:8080/health").unwrap();
        assert_eq!((u.host, u.port, u.path), ("2001:db8::11", 8080, "/health"));
        let u = parse_url("http://192.0.2.11:81").unwrap();
        assert_eq!((u.host, u.port, u.path), ("192.0.2.11", 81, "/"));
        assert!(parse_url("https://x/").is_err());
        assert!(parse_url("http://[::1/").is_err());
    }

    #[test]
    fn parses_responses() {
        let r = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nrs1\n";
        assert_eq!(parse_response(r).unwrap(), (200, "rs1\n".to_string()));
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn wait_until_times_out_and_succeeds() {
        let ms = Duration::from_millis;
        assert!(wait_until(ms(30), ms(5), || false).is_err());
        let mut n = 0;
        wait_until(ms(500), ms(1), || {
            n += 1;
            n > 3
        })
        .unwrap();
        assert_eq!(
            retry(ms(100), ms(1), || Ok::<_, anyhow::Error>(7)).unwrap(),
            7
        );
    }
}
