//! UDP_CHECK and DNS_CHECK against real UDP servers on `rs1` of a lab,
//! checked from `dir1` (needs root). The servers are threads that entered
//! `rs1`'s namespace; a guard stops them.

use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record};
use lb_daemon::check::dns::DnsCheck;
use lb_daemon::check::engine::CheckerEngine;
use lb_daemon::check::udp::UdpCheck;
use lb_daemon::check::{Check, Outcome, Reason, Target};
use lb_daemon::config::{self, Checker, CheckerKind, Config, Protocol};
use lb_daemon::script::ScriptEnv;
use lb_tests::{in_netns, Host, Lab, LabSpec};

const TIMEOUT: Duration = Duration::from_millis(700);

/// What a server answers to a datagram (`None`: stays silent).
type Handler = fn(&[u8]) -> Option<Vec<u8>>;

/// A UDP server thread in a host's namespace; stopped on drop.
struct Server(Arc<AtomicBool>);

impl Server {
    fn start(host: &Host, port: u16, handler: Handler) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let socket = in_netns(host.ns(), || UdpSocket::bind(("0.0.0.0", port)))
            .unwrap()
            .unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::SeqCst) {
                if let Ok((len, from)) = socket.recv_from(&mut buf) {
                    if let Some(reply) = handler(&buf[..len]) {
                        let _ = socket.send_to(&reply, from);
                    }
                }
            }
        });
        Server(stop)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lab() -> Lab {
    Lab::new(LabSpec {
        directors: 1,
        real_servers: 1,
        web: false,
    })
    .unwrap()
}

/// Runs one attempt of `check` from `host` against `addr`, returning the
/// outcome and how long it took.
fn attempt(host: &Host, check: &dyn Check, addr: SocketAddr) -> (Outcome, Duration) {
    in_netns(host.ns(), || {
        let target = Target::new(addr, TIMEOUT);
        block_on(async {
            let start = Instant::now();
            let outcome = check.check(&target).await;
            (outcome, start.elapsed())
        })
    })
    .unwrap()
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn udp(payload: Option<&str>, require_reply: Option<&str>) -> UdpCheck {
    UdpCheck::new(&Checker {
        payload: payload.map(Into::into),
        require_reply: require_reply.map(Into::into),
        ..Default::default()
    })
    .unwrap()
}

fn echo(data: &[u8]) -> Option<Vec<u8>> {
    Some(data.to_vec())
}

fn silent(_: &[u8]) -> Option<Vec<u8>> {
    None
}

fn is_down(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Down(_))
}

#[test]
fn udp_up_down_slow_recovery() {
    let lab = lab();
    let (dir, rs) = (lab.director(1), lab.real_server(1));
    let addr = |port| SocketAddr::new(rs.ipv4().into(), port);
    let _echo = Server::start(rs, 5000, echo);
    let _mute = Server::start(rs, 5001, silent);

    // Up: any reply, an exact prefix, a wildcard prefix, no reply required.
    for check in [
        udp(Some("68 69 21"), Some("")),
        udp(Some("686921"), Some("6869")),
        udp(Some("686921"), Some("6x 69 21")),
        udp(None, None),
    ] {
        assert_eq!(attempt(dir, &check, addr(5000)).0, Outcome::Up, "{check:?}");
    }
    // Wrong answer, and a reply longer than max_reply_length.
    assert!(is_down(
        &attempt(dir, &udp(Some("6869"), Some("ffff")), addr(5000)).0
    ));
    let short = UdpCheck::new(&Checker {
        payload: Some("010203".into()),
        require_reply: Some("01".into()),
        max_reply_length: Some(2),
        ..Default::default()
    })
    .unwrap();
    assert!(is_down(&attempt(dir, &short, addr(5000)).0));

    // Down: nothing listens, ICMP port unreachable, with or without reply.
    assert!(is_down(&attempt(dir, &udp(None, None), addr(5002)).0));
    assert!(is_down(
        &attempt(dir, &udp(Some("01"), Some("")), addr(5002)).0
    ));

    // Slow: silence is down when a reply is required (within the timeout),
    // up otherwise (keepalived: a read timeout is success).
    let (outcome, took) = attempt(dir, &udp(Some("01"), Some("")), addr(5001));
    assert!(
        is_down(&outcome) && took < TIMEOUT * 2,
        "{outcome:?} {took:?}"
    );
    assert_eq!(
        attempt(dir, &udp(Some("01"), None), addr(5001)).0,
        Outcome::Up
    );

    // Recovery: the service comes back.
    let _back = Server::start(rs, 5002, echo);
    assert_eq!(
        attempt(dir, &udp(Some("01"), Some("01")), addr(5002)).0,
        Outcome::Up
    );
}

/// A DNS responder: answers A queries for `ok.test.` with NOERROR and an
/// address, everything else with NXDOMAIN.
fn dns(query: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .add_queries(query.queries().to_vec());
    let name = Name::from_str("ok.test.").unwrap();
    match query.queries().first() {
        Some(q) if q.name() == &name => {
            reply.add_answer(Record::from_rdata(name, 60, RData::A(A::new(10, 0, 0, 1))));
        }
        _ => {
            reply.set_response_code(ResponseCode::NXDomain);
        }
    }
    reply.to_vec().ok()
}

/// Answers with the wrong id (must be ignored: the check times out).
fn dns_wrong_id(query: &[u8]) -> Option<Vec<u8>> {
    let mut reply = Message::from_vec(&dns(query)?).ok()?;
    reply.set_id(reply.id().wrapping_add(1));
    reply.to_vec().ok()
}

fn dns_check(name: Option<&str>, dns_type: Option<&str>) -> DnsCheck {
    DnsCheck::new(&Checker {
        name: name.map(Into::into),
        dns_type: dns_type.map(Into::into),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn dns_up_down_slow_recovery() {
    let lab = lab();
    let (dir, rs) = (lab.director(1), lab.real_server(1));
    let addr = |port| SocketAddr::new(rs.ipv4().into(), port);
    let ok = dns_check(Some("ok.test"), Some("a"));
    let server = Server::start(rs, 53, dns);
    let _mute = Server::start(rs, 5301, silent);
    let _liar = Server::start(rs, 5302, dns_wrong_id);

    assert_eq!(attempt(dir, &ok, addr(53)).0, Outcome::Up);
    // Wrong answer: NXDOMAIN for the default query (SOA of `.`).
    let (outcome, _) = attempt(dir, &dns_check(None, None), addr(53));
    assert!(
        matches!(&outcome, Outcome::Down(f) if f.message.contains("rcode = 3") && f.reason == Reason::Response),
        "{outcome:?}"
    );
    // Slow: no answer, or only answers with another id.
    for port in [5301, 5302] {
        let (outcome, took) = attempt(dir, &ok, addr(port));
        assert!(
            is_down(&outcome) && took < TIMEOUT * 2,
            "{outcome:?} {took:?}"
        );
    }
    // Down: the service stopped.
    drop(server);
    assert!(is_down(&attempt(dir, &ok, addr(53)).0));
    // Recovery.
    let _server = Server::start(rs, 53, dns);
    assert_eq!(attempt(dir, &ok, addr(53)).0, Outcome::Up);
}

/// Everything logged through a subscriber made by [`capture`].
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The engine names a DNS_CHECK of a UDP virtual server `[addr]:udp:port`
/// in its log lines and status, as keepalived does (`FMT_CHK`), not `tcp`.
#[test]
fn a_dns_check_of_a_udp_service_is_labelled_udp() {
    let lab = lab();
    let (dir, rs) = (lab.director(1), lab.real_server(1));
    let _mute = Server::start(rs, 5303, silent);
    let mut real = config::RealServer::new(rs.ipv4().into(), Some(5303));
    real.checker.push(Checker {
        kind: CheckerKind::DnsCheck,
        connect_timeout: Some(0.3),
        warmup: Some(0.0),
        ..Default::default()
    });
    let config = Config {
        virtual_server: vec![config::VirtualServer {
            address: Some("192.0.2.53".parse().unwrap()),
            port: Some(53),
            protocol: Some(Protocol::Udp),
            real_server: vec![real],
            ..Default::default()
        }],
        ..Default::default()
    };
    let logs = Logs::default();
    let writer = logs.clone();
    let status = in_netns(dir.ns(), move || {
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        block_on(async {
            let suspended = tokio::sync::watch::channel(Default::default()).1;
            let (engine, mut rx) = CheckerEngine::start(&config, ScriptEnv::default(), suspended);
            let change = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
            assert!(!change.unwrap().unwrap().up);
            let status = engine.status();
            engine.shutdown().await;
            status
        })
    })
    .unwrap();
    let service = format!("[{}]:udp:5303", rs.ipv4());
    assert_eq!(status[0]["target"], service.as_str());
    let reason = status[0]["last_error"].as_str().unwrap_or_default();
    assert_eq!(
        reason,
        format!("DNS_CHECK ({service}) read timeout from socket")
    );
    let logs = logs.text();
    assert!(
        logs.contains(&format!("DNS_CHECK on service {service} failed.")),
        "{logs}"
    );
    assert!(!logs.contains(":tcp:"), "{logs}");
}

#[test]
fn dns_unknown_type_is_rejected() {
    assert!(DnsCheck::new(&Checker {
        dns_type: Some("PTR".into()),
        ..Default::default()
    })
    .is_err());
}
