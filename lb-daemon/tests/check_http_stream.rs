//! HTTP_GET against servers that misbehave after the connection is up: a
//! body that never ends, one that trickles, a reply that never comes. Every
//! attempt ends within `connect_timeout` with the real reason, and an
//! endless body does not grow the process (keepalived's `check_http.c`
//! streams the body through a 4 KiB buffer; so do we, up to a limit).
//!
//! Its own test binary, so that the memory measured is this test's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lb_daemon::check::http::{HttpCheck, MAX_BODY};
use lb_daemon::check::{Check, Outcome, Target};
use lb_daemon::config::{self, Checker, CheckerKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a test server behaves once it has read the request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// `200 OK` without a length, then `chunk` bytes every `pause`, forever.
    Stream { chunk: usize, pause: Duration },
    /// Never answers.
    Mute,
}

/// Serves every connection on a loopback listener with `behaviour`.
async fn server(behaviour: Behaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, behaviour));
        }
    });
    addr
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.ends_with(b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let Behaviour::Stream { chunk, pause } = behaviour else {
        // Hold the connection open without a word until the client leaves.
        let _ = stream.read(&mut buf).await;
        return;
    };
    if stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await.is_err() {
        return;
    }
    let data = vec![b'x'; chunk];
    while stream.write_all(&data).await.is_ok() {
        tokio::time::sleep(pause).await;
    }
}

/// An HTTP_GET of `/` that also wants a digest and a regex, so the body is
/// both digested and kept.
fn check() -> HttpCheck {
    let url = config::Url {
        path: Some("/".into()),
        digest: Some("0123456789abcdef0123456789abcdef".into()),
        regex: Some("never-there".into()),
        ..Default::default()
    };
    let checker = Checker {
        kind: CheckerKind::HttpGet,
        url: vec![url],
        ..Default::default()
    };
    HttpCheck::new(
        &checker,
        &any_real_server(),
        &config::VirtualServer::default(),
    )
    .unwrap()
}

/// One attempt against a server behaving so, bounded by `timeout`: the
/// failure reason and how long the attempt took.
fn attempt(behaviour: Behaviour, timeout: Duration) -> (String, Duration) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let target = Target::new(server(behaviour).await, timeout);
        let check = check();
        let started = Instant::now();
        let outcome = check.check(&target).await;
        match outcome {
            Outcome::Down(failure) => (failure.message, started.elapsed()),
            up => panic!("an attempt against a broken server was {up:?}"),
        }
    })
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[test]
fn an_endless_body_stops_at_the_limit_without_growing_the_process() {
    // 64 KiB a millisecond: the limit comes in well under a second, while a
    // checker that buffers the body would hold ~200 MB by the deadline.
    let endless = Behaviour::Stream {
        chunk: 64 << 10,
        pause: Duration::from_millis(1),
    };
    let rss_before = vm_kib("VmRSS");
    let (reason, took) = attempt(endless, Duration::from_secs(3));
    let growth_kib = vm_kib("VmHWM").saturating_sub(rss_before);
    assert!(
        reason.contains(&format!("exceeded {MAX_BODY} bytes")),
        "{reason}"
    );
    assert!(reason.contains("url(/)"), "{reason}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // The body kept for the regex is at most MAX_BODY (4 MiB); allow the
    // runtime and allocator their share.
    assert!(
        growth_kib < 48 << 10,
        "the process grew by {growth_kib} KiB reading one body"
    );
}

#[test]
fn a_trickling_body_times_out_as_an_http_read_within_connect_timeout() {
    let trickle = Behaviour::Stream {
        chunk: 100,
        pause: Duration::from_millis(50),
    };
    let (reason, took) = attempt(trickle, Duration::from_secs(1));
    assert!(
        reason.starts_with("Timeout HTTP read server [127.0.0.1]:tcp:"),
        "{reason}"
    );
    assert!(
        reason.contains("after 1s: body unfinished after "),
        "{reason}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[test]
fn a_reply_that_never_comes_is_a_web_read_timeout_not_a_connect_timeout() {
    let (reason, took) = attempt(Behaviour::Mute, Duration::from_millis(700));
    assert!(
        reason.starts_with("Timeout WEB read server [127.0.0.1]:tcp:"),
        "{reason}"
    );
    assert!(reason.contains("after 700ms: no reply."), "{reason}");
    assert!(took < Duration::from_millis(1200), "{took:?}");
}

/// A real server that sets nothing the check could fall back to.
fn any_real_server() -> config::RealServer {
    config::RealServer::new([192, 0, 2, 1].into(), None)
}
