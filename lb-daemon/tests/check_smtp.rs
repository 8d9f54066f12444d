//! SMTP_CHECK against real servers in `rs1`'s namespace of a lab (needs
//! root): `lb_tests::SmtpSink` (up), a listener that never greets (slow),
//! one that answers 554 (wrong answer), a closed port and a stopped sink
//! (down), and a new sink (recovery). The checks run in the same
//! namespace, as the sink listens on 127.0.0.1.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use lb_daemon::check::smtp::SmtpCheck;
use lb_daemon::check::{Check, Outcome, Reason, Target};
use lb_daemon::config::Checker;
use lb_tests::{in_netns, Lab, LabSpec, SmtpSink};

const TIMEOUT: Duration = Duration::from_millis(800);

/// One attempt against `addr` from the current thread's namespace, and
/// how long it took.
fn attempt(addr: SocketAddr) -> (Outcome, Duration) {
    let check = SmtpCheck::new(&Checker {
        helo_name: Some("lb.test".into()),
        ..Default::default()
    })
    .unwrap();
    let target = Target::new(addr, TIMEOUT);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let outcome = rt.block_on(check.check(&target));
    (outcome, start.elapsed())
}

fn is_down(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Down(_))
}

/// A listener whose first connection gets `line` and is closed.
fn answer_once(line: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(line.as_bytes());
        }
    });
    addr
}

#[test]
fn smtp_up_down_slow_recovery() {
    let lab = Lab::new(LabSpec {
        directors: 1,
        real_servers: 1,
        web: false,
    })
    .unwrap();
    in_netns(lab.real_server(1).ns(), || {
        let sink = SmtpSink::start().unwrap();
        assert_eq!(attempt(sink.addr()).0, Outcome::Up);

        // Wrong answers: 554 instead of 220, a multi-line 220- banner
        // (keepalived reads one line and wants exactly "220 ").
        let (outcome, _) = attempt(answer_once("554 no service here\r\n"));
        assert!(
            matches!(&outcome, Outcome::Down(f) if f.message.contains("greeting") && f.reason == Reason::Response),
            "{outcome:?}"
        );
        assert!(is_down(
            &attempt(answer_once("220-hello\r\n220 hello\r\n")).0
        ));

        // Slow: the handshake completes (backlog) but no banner comes.
        let mute = TcpListener::bind("127.0.0.1:0").unwrap();
        let (outcome, took) = attempt(mute.local_addr().unwrap());
        assert!(
            is_down(&outcome) && took < TIMEOUT * 2,
            "{outcome:?} {took:?}"
        );

        // Down: nothing listens; the sink stopped.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        assert!(is_down(&attempt(closed).0));
        let stopped = sink.addr();
        drop(sink);
        assert!(is_down(&attempt(stopped).0));

        // Recovery: a sink serves again.
        let sink = SmtpSink::start().unwrap();
        assert_eq!(attempt(sink.addr()).0, Outcome::Up);
    })
    .unwrap();
}
