//! HTTP_GET / SSL_GET / genhash against real servers in a lab: nginx for
//! HTTP, a small rustls server (certificate from rcgen) for SSL, and a
//! listener that never answers for timeouts. Checks run from the director.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lb_daemon::check::engine::CheckerEngine;
use lb_daemon::check::http::{genhash, GenhashOptions, HttpCheck};
use lb_daemon::check::{Check, Outcome, Target};
use lb_daemon::config::{self, Checker, CheckerKind, Config, StatusRange};
use lb_daemon::script::ScriptEnv;
use lb_tests::{block_on_in, in_netns, Lab, LabSpec};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TLS_BODY: &str = "secret page\n";

fn lab() -> Lab {
    Lab::new(LabSpec::web(1, 1)).expect("lab")
}

fn md5_hex(body: &str) -> String {
    Md5::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn url(path: &str) -> config::Url {
    config::Url {
        path: Some(path.into()),
        ..Default::default()
    }
}

fn http_get(urls: Vec<config::Url>) -> Checker {
    Checker {
        kind: CheckerKind::HttpGet,
        url: urls,
        ..Default::default()
    }
}

fn target(addr: SocketAddr) -> Target {
    Target::new(addr, Duration::from_secs(1))
}

/// One attempt of `checker` against `addr` from the director.
fn attempt(lab: &Lab, checker: &Checker, addr: SocketAddr) -> Outcome {
    let check = HttpCheck::new(
        checker,
        &any_real_server(),
        &config::VirtualServer::default(),
    )
    .unwrap();
    let t = target(addr);
    block_on_in(lab.director(1).ns_name(), async { check.check(&t).await }).unwrap()
}

fn down_with(outcome: Outcome, needle: &str) {
    match outcome {
        Outcome::Down(failure) => assert!(failure.message.contains(needle), "{failure}"),
        up => panic!("expected down with {needle:?}, got {up:?}"),
    }
}

#[test]
fn http_get_status_digest_and_regex() {
    let lab = lab();
    let rs = SocketAddr::new(IpAddr::V4(lab.real_server(1).ipv4()), 80);
    let web = lab.real_server(1).web().unwrap();

    assert_eq!(
        attempt(&lab, &http_get(vec![url("/health")]), rs),
        Outcome::Up
    );

    // Wrong status (404), then recovery.
    web.set_healthy(false).unwrap();
    down_with(
        attempt(&lab, &http_get(vec![url("/health")]), rs),
        "HTTP status code error to server",
    );
    let mut accept_404 = url("/health");
    accept_404.status_code = vec![StatusRange { from: 404, to: 404 }];
    assert_eq!(attempt(&lab, &http_get(vec![accept_404]), rs), Outcome::Up);
    web.set_healthy(true).unwrap();
    assert_eq!(
        attempt(&lab, &http_get(vec![url("/health")]), rs),
        Outcome::Up
    );

    // Digest of nginx's `/` body ("rs1\n").
    let mut digest = url("/");
    digest.digest = Some(md5_hex("rs1\n"));
    assert_eq!(
        attempt(&lab, &http_get(vec![digest.clone()]), rs),
        Outcome::Up
    );
    digest.digest = Some(md5_hex("someone else\n"));
    down_with(
        attempt(&lab, &http_get(vec![digest.clone()]), rs),
        "MD5 digest error",
    );

    // Every url must pass.
    down_with(
        attempt(&lab, &http_get(vec![url("/health"), digest]), rs),
        "MD5 digest error",
    );

    // Regex, and its negation.
    let mut regex = url("/");
    regex.regex = Some("^rs[0-9]".into());
    assert_eq!(
        attempt(&lab, &http_get(vec![regex.clone()]), rs),
        Outcome::Up
    );
    regex.regex_no_match = true;
    down_with(
        attempt(&lab, &http_get(vec![regex.clone()]), rs),
        "Regex match failed",
    );
    regex.regex = Some("maintenance".into());
    assert_eq!(attempt(&lab, &http_get(vec![regex]), rs), Outcome::Up);

    // Every protocol variant is understood by nginx.
    for protocol in [
        config::HttpProtocol::Http10,
        config::HttpProtocol::Http11,
        config::HttpProtocol::Http10Close,
        config::HttpProtocol::Http10KeepAlive,
    ] {
        let mut checker = http_get(vec![url("/health")]);
        checker.http_protocol = Some(protocol);
        checker.virtualhost = Some("www.example.test".into());
        assert_eq!(attempt(&lab, &checker, rs), Outcome::Up, "{protocol:?}");
    }
    assert!(web.access_log().contains("KeepAliveClient"));
}

#[test]
fn http_get_times_out_on_a_server_that_never_answers() {
    let lab = lab();
    let rs = lab.real_server(1);
    // The kernel completes the handshake; nobody ever reads or answers: the
    // connection is up, the reply never comes.
    let silent = in_netns(rs.ns_name(), || TcpListener::bind("0.0.0.0:8081").unwrap()).unwrap();
    let addr = SocketAddr::new(IpAddr::V4(rs.ipv4()), 8081);
    let started = Instant::now();
    down_with(
        attempt(&lab, &http_get(vec![url("/")]), addr),
        "Timeout WEB read server",
    );
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1800), "{took:?}");
    drop(silent);
}

#[test]
fn engine_takes_an_http_server_down_and_up_again() {
    let lab = lab();
    let rs_ip = IpAddr::V4(lab.real_server(1).ipv4());
    let web = lab.real_server(1).web().unwrap();
    let mut checker = http_get(vec![url("/health")]);
    checker.delay_loop = Some(0.5);
    checker.delay_before_retry = Some(0.2);
    checker.warmup = Some(0.0);
    checker.retry = Some(1);
    let mut rs = config::RealServer::new(rs_ip, Some(80));
    rs.checker.push(checker);
    let config = Config {
        virtual_server: vec![config::VirtualServer {
            address: Some("192.0.2.100".parse().unwrap()),
            port: Some(80),
            real_server: vec![rs],
            ..Default::default()
        }],
        ..Default::default()
    };
    let verdicts = block_on_in(lab.director(1).ns_name(), async {
        let (engine, mut rx) = CheckerEngine::start(
            &config,
            ScriptEnv::default(),
            tokio::sync::watch::channel(Default::default()).1,
        );
        let mut seen = Vec::new();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(engine.status()[0]["up"], true);
        web.set_healthy(false).unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        seen.push(next.unwrap().unwrap().up);
        assert_eq!(engine.status()[0]["consecutive_failures"], 2);
        web.set_healthy(true).unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        seen.push(next.unwrap().unwrap().up);
        engine.shutdown().await;
        seen
    })
    .unwrap();
    assert_eq!(verdicts, vec![false, true]);
}

/// A TLS server in `ns` on port 8443 answering every request with
/// [`TLS_BODY`]; records the SNI names clients sent.
fn tls_server(ns: &str) -> Arc<Mutex<Vec<Option<String>>>> {
    tls_server_on(ns, 8443)
}

/// A TLS endpoint (self-signed) on `port` in namespace `ns`, answering every
/// request with [`TLS_BODY`]; returns the SNI names it saw.
fn tls_server_on(ns: &str, port: u16) -> Arc<Mutex<Vec<Option<String>>>> {
    tls_server_asking(ns, port, None)
}

/// As [`tls_server_on`]; with `client_ca`, only clients presenting a
/// certificate that CA signed get through the handshake.
fn tls_server_asking(
    ns: &str,
    port: u16,
    client_ca: Option<rustls::pki_types::CertificateDer<'static>>,
) -> Arc<Mutex<Vec<Option<String>>>> {
    let listener = in_netns(ns, || TcpListener::bind(("0.0.0.0", port)).unwrap()).unwrap();
    listener.set_nonblocking(true).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["rs1.test".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let names = Arc::new(Mutex::new(Vec::new()));
    let seen = names.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    continue;
                };
                seen.lock()
                    .unwrap()
                    .push(tls.get_ref().1.server_name().map(str::to_string));
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{TLS_BODY}",
                    TLS_BODY.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
    });
    names
}

#[test]
fn ssl_get_skips_certificate_checks_and_sends_sni_only_when_enabled_or_named() {
    let lab = lab();
    let rs = lab.real_server(1);
    let names = tls_server(rs.ns_name());
    let addr = SocketAddr::new(IpAddr::V4(rs.ipv4()), 8443);
    let mut page = url("/");
    page.digest = Some(md5_hex(TLS_BODY));
    let mut checker = Checker {
        kind: CheckerKind::SslGet,
        url: vec![page],
        virtualhost: Some("www.example.test".into()),
        ..Default::default()
    };
    // Self-signed for another name: keepalived does not verify, neither do we.
    assert_eq!(attempt(&lab, &checker, addr), Outcome::Up);
    checker.enable_sni = true;
    assert_eq!(attempt(&lab, &checker, addr), Outcome::Up);
    // `sni_name` names the server instead of the virtual host.
    checker.sni_name = Some("sni.example.test".into());
    assert_eq!(attempt(&lab, &checker, addr), Outcome::Up);
    assert_eq!(
        *names.lock().unwrap(),
        vec![
            None,
            Some("www.example.test".to_string()),
            Some("sni.example.test".to_string())
        ]
    );
    // Plain HTTP to a TLS port fails.
    checker.kind = CheckerKind::HttpGet;
    assert!(matches!(attempt(&lab, &checker, addr), Outcome::Down(_)));
}

/// keepalived's global `SSL { certificate key }`: SSL_GET presents that
/// client certificate, and a server that requires one lets it through.
#[test]
fn ssl_get_presents_the_ssl_blocks_client_certificate() {
    let lab = lab();
    let rs = lab.real_server(1);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client = rcgen::CertificateParams::new(vec!["lb.test".to_owned()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("client.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, client.pem()).unwrap();
    std::fs::write(&key_file, client_key.serialize_pem()).unwrap();
    tls_server_asking(rs.ns_name(), 8444, Some(ca.der().clone()));
    let addr = SocketAddr::new(IpAddr::V4(rs.ipv4()), 8444);
    let checker = Checker {
        kind: CheckerKind::SslGet,
        url: vec![url("/")],
        ..Default::default()
    };
    let run = |ssl: Option<&config::SslClient>| {
        let check = HttpCheck::new(&checker, &any_real_server(), &Default::default())
            .unwrap()
            .presenting(ssl)
            .unwrap();
        let t = target(addr);
        block_on_in(lab.director(1).ns_name(), async { check.check(&t).await }).unwrap()
    };
    // TLS 1.3 refuses the missing certificate after the client's handshake
    // is done: the failure shows when the reply is read.
    assert!(matches!(run(None), Outcome::Down(_)));
    let ssl = config::SslClient {
        certificate: Some(cert_file.to_string_lossy().into_owned()),
        key: Some(key_file.to_string_lossy().into_owned()),
    };
    assert_eq!(run(Some(&ssl)), Outcome::Up);
    // An unreadable file is an error naming it, when the checker is built.
    let missing = config::SslClient {
        key: Some("/nonexistent/key.pem".into()),
        ..ssl
    };
    let err = HttpCheck::new(&checker, &any_real_server(), &Default::default())
        .unwrap()
        .presenting(Some(&missing))
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("SSL key /nonexistent/key.pem"),
        "{err:#}"
    );
}

#[test]
fn genhash_prints_the_digest_a_checker_expects() {
    let lab = lab();
    let rs = lab.real_server(1);
    tls_server(rs.ns_name());
    let ip = rs.ipv4();
    let options = GenhashOptions::default();
    let dir = lab.director(1).ns_name();
    let http = block_on_in(
        dir,
        genhash(&format!("http://{ip}/"), None, false, &options),
    )
    .unwrap()
    .unwrap();
    assert_eq!(http.status, 200);
    assert_eq!(http.digest, md5_hex("rs1\n"));
    assert_eq!(http.body_len, 4);
    rs.web().unwrap().set_healthy(false).unwrap();
    let missing = block_on_in(
        dir,
        genhash(&format!("http://{ip}/health"), None, false, &options),
    );
    assert_eq!(missing.unwrap().unwrap().status, 404);
    let https = block_on_in(
        dir,
        genhash(
            &format!("https://{ip}:8443/"),
            Some("www.example.test"),
            false,
            &options,
        ),
    )
    .unwrap()
    .unwrap();
    assert_eq!((https.status, https.digest), (200, md5_hex(TLS_BODY)));
}

#[test]
fn ssl_get_down_slow_wrong_status_wrong_digest_and_recovery() {
    let lab = lab();
    let rs = lab.real_server(1);
    let addr = SocketAddr::new(IpAddr::V4(rs.ipv4()), 8445);
    let mut page = url("/");
    page.digest = Some(md5_hex(TLS_BODY));
    let checker = Checker {
        kind: CheckerKind::SslGet,
        url: vec![page.clone()],
        connect_timeout: Some(1.0),
        ..Default::default()
    };
    // Nothing listens yet: down.
    assert!(matches!(attempt(&lab, &checker, addr), Outcome::Down(_)));
    // A listener that accepts but never completes the handshake: down
    // within connect_timeout.
    let silent = in_netns(rs.ns_name(), || {
        TcpListener::bind(("0.0.0.0", 8446)).unwrap()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let slow = attempt(&lab, &checker, SocketAddr::new(addr.ip(), 8446));
    assert!(matches!(slow, Outcome::Down(_)), "{slow:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
    // The service comes up: recovery.
    tls_server_on(rs.ns_name(), 8445);
    assert_eq!(attempt(&lab, &checker, addr), Outcome::Up);
    // Wrong digest, wrong status: down.
    let mut wrong_digest = checker.clone();
    wrong_digest.url[0].digest = Some(md5_hex("something else"));
    assert!(matches!(
        attempt(&lab, &wrong_digest, addr),
        Outcome::Down(_)
    ));
    let mut wrong_status = checker.clone();
    wrong_status.url[0].status_code = vec!["201".parse().unwrap()];
    assert!(matches!(
        attempt(&lab, &wrong_status, addr),
        Outcome::Down(_)
    ));
}

/// A real server that sets nothing the check could fall back to.
fn any_real_server() -> config::RealServer {
    config::RealServer::new([192, 0, 2, 1].into(), None)
}
