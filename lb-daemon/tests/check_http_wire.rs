//! The exact request HTTP_GET puts on the wire, per `http_protocol`,
//! compared with keepalived's `request_template` (check_http.c).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use lb_daemon::check::http::HttpCheck;
use lb_daemon::check::{Check, Outcome, Reason, Target};
use lb_daemon::config::{self, Checker, CheckerKind, HttpProtocol};

/// Serves one request on loopback with `reply`; returns what was received.
fn capture(checker: &Checker, reply: &'static str) -> (Outcome, String) {
    capture_on("127.0.0.1:0", checker, &real_server(), reply)
}

/// A real server that sets nothing the check could fall back to.
fn real_server() -> config::RealServer {
    config::RealServer::new([192, 0, 2, 1].into(), None)
}

/// [`capture`] on a listener bound to `bind`, checking a server `rs`.
fn capture_on(
    bind: &str,
    checker: &Checker,
    rs: &config::RealServer,
    reply: &'static str,
) -> (Outcome, String) {
    let listener = TcpListener::bind(bind).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(reply.as_bytes());
        tx.send(String::from_utf8(request).unwrap()).unwrap();
    });
    let check = HttpCheck::new(checker, rs, &config::VirtualServer::default()).unwrap();
    let target = Target::new(addr, Duration::from_secs(2));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(check.check(&target));
    let request = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    (outcome, request.replace(&addr.port().to_string(), "PORT"))
}

fn checker(protocol: Option<HttpProtocol>, vhost: Option<&str>) -> Checker {
    Checker {
        kind: CheckerKind::HttpGet,
        url: vec![config::Url {
            path: Some("/status?full".into()),
            ..Default::default()
        }],
        http_protocol: protocol,
        virtualhost: vhost.map(str::to_string),
        ..Default::default()
    }
}

const OK: &str = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

#[test]
fn requests_match_keepalived_per_protocol() {
    let cases = [
        (None, ""),
        (Some(HttpProtocol::Http10), ""),
        (Some(HttpProtocol::Http10Close), "Connection: close\r\n"),
        (
            Some(HttpProtocol::Http10KeepAlive),
            "Connection: keep-alive\r\n",
        ),
    ];
    for (protocol, connection) in cases {
        let (outcome, request) = capture(&checker(protocol, None), OK);
        assert_eq!(outcome, Outcome::Up);
        assert_eq!(
            request,
            format!(
                "GET /status?full HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\n{connection}Host: 127.0.0.1:PORT\r\n\r\n"
            ),
            "{protocol:?}"
        );
    }
    let (_, request) = capture(
        &checker(Some(HttpProtocol::Http11), Some("www.example.test")),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
    assert_eq!(
        request,
        "GET /status?full HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.test\r\n\r\n"
    );
}

#[test]
fn a_body_without_length_is_read_to_the_close() {
    let (outcome, _) = capture(
        &checker(None, None),
        "HTTP/1.0 500 Internal Server Error\r\n\r\nboom",
    );
    match outcome {
        Outcome::Down(failure) => {
            assert!(failure.message.contains("status 500"), "{failure}");
            assert_eq!(failure.reason, Reason::Response);
        }
        up => panic!("{up:?}"),
    }
}

#[test]
fn ipv6_hosts_are_bracketed_like_keepalived() {
    let (outcome, request) = capture_on("[::1]:0", &checker(None, None), &real_server(), OK);
    assert_eq!(outcome, Outcome::Up);
    assert!(request.contains("\r\nHost: [::1]:PORT\r\n"), "{request}");
}

#[test]
fn the_real_servers_virtualhost_is_the_host_when_the_checker_has_none() {
    let mut rs = real_server();
    rs.virtualhost = Some("rs.example.test".into());
    let (_, request) = capture_on("127.0.0.1:0", &checker(None, None), &rs, OK);
    assert!(
        request.contains("\r\nHost: rs.example.test\r\n"),
        "{request}"
    );
    let (_, request) = capture_on("127.0.0.1:0", &checker(None, Some("c.test")), &rs, OK);
    assert!(request.contains("\r\nHost: c.test\r\n"), "{request}");
}
