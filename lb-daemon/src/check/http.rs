//! `HTTP_GET` and `SSL_GET` (keepalived `check_http.c`, `check_ssl.c`), on
//! hyper's HTTP/1 client over our own connected socket (so `bindto`,
//! `bind_port` and `bind_if` apply) and rustls for SSL_GET.
//!
//! keepalived semantics kept:
//! * Request `GET path HTTP/1.x` with `User-Agent: KeepAliveClient` and
//!   `Host:` from the url's `virtualhost`, else the checker's, else the
//!   virtual server's, else `addr:port` (`[v6]:port`).
//! * `http_protocol`: `1.0` (default), `1.1` and `1.0C` send
//!   `Connection: close`; `1.0K` (our extension) sends `Connection:
//!   keep-alive`.
//! * Every url must pass: status in `status_code` (default 200-299), MD5 of
//!   the body equal to `digest`, `regex` found in the body (or not, with
//!   `regex_no_match`). keepalived checks one url per `delay_loop`; we check
//!   them all in each attempt, which reaches the same verdicts sooner.
//! * SSL_GET does not verify the server's certificate (keepalived never
//!   does); SNI is sent only with `enable_sni`, naming the url's, checker's or
//!   virtual server's `virtualhost`.
//! * One attempt, connection included, is bounded by `connect_timeout`
//!   (keepalived applies it to each connect/write/read step).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONNECTION, HOST, USER_AGENT};
use hyper::{Request, Uri, Version};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use regex::bytes::Regex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use super::{Attempt, Check, Outcome, Target};
use crate::config::{self, CheckerKind, HttpProtocol, StatusRange};

/// keepalived's default accepted status codes.
pub const DEFAULT_STATUS: StatusRange = StatusRange { from: 200, to: 299 };

/// One `url { … }` block, compiled.
#[derive(Debug, Clone)]
struct UrlCheck {
    path: String,
    digest: Option<String>,
    status: Vec<StatusRange>,
    regex: Option<Regex>,
    regex_no_match: bool,
    virtualhost: Option<String>,
}

impl UrlCheck {
    fn new(url: &config::Url) -> Result<UrlCheck> {
        let path = url.path.clone().ok_or_else(|| anyhow!("url has no path"))?;
        let regex = match &url.regex {
            Some(r) => Some(Regex::new(r).with_context(|| format!("invalid regex '{r}'"))?),
            None => None,
        };
        Ok(UrlCheck {
            path,
            digest: url.digest.as_ref().map(|d| d.to_ascii_lowercase()),
            status: match url.status_code.is_empty() {
                true => vec![DEFAULT_STATUS],
                false => url.status_code.clone(),
            },
            regex,
            regex_no_match: url.regex_no_match,
            virtualhost: url.virtualhost.clone(),
        })
    }

    /// keepalived's reason when `reply` fails this url, if it does.
    fn verify(&self, reply: &Reply, service: &str) -> Option<String> {
        let url = &self.path;
        if !self
            .status
            .iter()
            .any(|r| (r.from..=r.to).contains(&reply.status))
        {
            return Some(format!(
                "HTTP status code error to server {service} url({url}): status {}.",
                reply.status
            ));
        }
        if let Some(want) = &self.digest {
            if *want != reply.digest() {
                return Some(format!("MD5 digest error to server {service} url({url})."));
            }
        }
        if let Some(regex) = &self.regex {
            if regex.is_match(&reply.body) == self.regex_no_match {
                return Some(format!("Regex match failed server {service} url({url})."));
            }
        }
        None
    }
}

/// What one GET returned.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// MD5 of the body in lowercase hex, as keepalived and genhash print it.
    pub fn digest(&self) -> String {
        hex(&Md5::digest(&self.body))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How to send one GET.
#[derive(Debug, Clone)]
pub struct Request1 {
    /// Path (and query) to request.
    pub path: String,
    /// `Host:` header value.
    pub host: String,
    /// Protocol version and connection handling.
    pub protocol: HttpProtocol,
    /// `Some` for TLS, with the SNI name to send, if any.
    pub tls: Option<Option<String>>,
}

/// keepalived's `HTTP_GET` / `SSL_GET`.
pub struct HttpCheck {
    tls: bool,
    urls: Vec<UrlCheck>,
    protocol: HttpProtocol,
    virtualhost: Option<String>,
    enable_sni: bool,
}

impl HttpCheck {
    /// The check of `checker` (an HTTP_GET or SSL_GET block) of a real server
    /// of `vs` (whose `virtualhost` is the last fallback for `Host:`).
    pub fn new(checker: &config::Checker, vs: &config::VirtualServer) -> Result<HttpCheck> {
        if checker.url.is_empty() {
            bail!("HTTP/SSL_GET checker has no urls specified");
        }
        Ok(HttpCheck {
            tls: checker.kind == CheckerKind::SslGet,
            urls: checker
                .url
                .iter()
                .map(UrlCheck::new)
                .collect::<Result<_>>()?,
            protocol: checker.http_protocol.unwrap_or(HttpProtocol::Http10),
            virtualhost: checker
                .virtualhost
                .clone()
                .or_else(|| vs.virtualhost.clone()),
            enable_sni: checker.enable_sni,
        })
    }

    async fn check_all(&self, target: &Target) -> Outcome {
        let service = target.service();
        for url in &self.urls {
            let vhost = url.virtualhost.as_ref().or(self.virtualhost.as_ref());
            let request = Request1 {
                path: url.path.clone(),
                host: vhost.cloned().unwrap_or_else(|| target.addr.to_string()),
                protocol: self.protocol,
                tls: self.tls.then(|| vhost.filter(|_| self.enable_sni).cloned()),
            };
            let reply = match tokio::time::timeout(target.timeout, get(target, &request)).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    return Outcome::Down(format!("Error connecting server {service}: {e:#}."))
                }
                Err(_) => return Outcome::Down(format!("Timeout connecting server {service}.")),
            };
            if let Some(reason) = url.verify(&reply, &service) {
                return Outcome::Down(reason);
            }
        }
        Outcome::Up
    }
}

impl Check for HttpCheck {
    fn kind(&self) -> &'static str {
        match self.tls {
            true => "SSL_GET",
            false => "HTTP_GET",
        }
    }

    fn check<'a>(&'a self, target: &'a Target) -> Attempt<'a> {
        Box::pin(self.check_all(target))
    }
}

/// One GET to `target` (no overall timeout: callers bound it).
pub async fn get(target: &Target, request: &Request1) -> Result<Reply> {
    let stream = super::tcp::connect(target).await.context("connect")?;
    match &request.tls {
        None => exchange(stream, request).await,
        Some(sni) => {
            let name = match sni {
                Some(host) => ServerName::try_from(host.clone())
                    .with_context(|| format!("invalid SNI name {host}"))?,
                None => ServerName::IpAddress(target.addr.ip().into()),
            };
            let tls = TlsConnector::from(tls_config())
                .connect(name, stream)
                .await
                .context("SSL handshake")?;
            exchange(tls, request).await
        }
    }
}

/// Sends `request` over `io` and reads the whole reply.
async fn exchange<T>(io: T, request: &Request1) -> Result<Reply>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Title-case header names, as keepalived writes them.
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(io))
        .await?;
    let conn = tokio::spawn(conn);
    let (version, connection) = match request.protocol {
        HttpProtocol::Http10 => (Version::HTTP_10, None),
        HttpProtocol::Http10Close => (Version::HTTP_10, Some("close")),
        HttpProtocol::Http10KeepAlive => (Version::HTTP_10, Some("keep-alive")),
        HttpProtocol::Http11 => (Version::HTTP_11, Some("close")),
    };
    // keepalived's header order: User-Agent, Connection, Host.
    let mut req = Request::get(request.path.parse::<Uri>()?)
        .version(version)
        .header(USER_AGENT, "KeepAliveClient");
    if let Some(value) = connection {
        req = req.header(CONNECTION, value);
    }
    let req = req.header(HOST, HeaderValue::from_str(&request.host)?);
    let result = async {
        let response = sender
            .send_request(req.body(Empty::<Bytes>::new())?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }
    .await;
    conn.abort();
    result
}

/// The client configuration: TLS 1.2/1.3 without certificate verification.
fn tls_config() -> Arc<ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// Accepts any certificate (keepalived's SSL_GET does not verify), while
/// still checking handshake signatures so the TLS session itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What keepalived's `genhash` reports for a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenhashOutput {
    /// HTTP status code of the reply.
    pub status: u16,
    /// MD5 of the body, lowercase hex (the value for `digest`).
    pub digest: String,
    /// Length of the body in bytes.
    pub body_len: usize,
}

/// Options of [`genhash`] beyond the URL.
#[derive(Debug, Clone)]
pub struct GenhashOptions {
    /// Local address to connect from (`genhash --bind`? keepalived has none;
    /// ours matches the checker's `bindto`).
    pub bind: Option<SocketAddr>,
    /// Bound on the whole request (default 5 s, like `connect_timeout`).
    pub timeout: Duration,
    /// Protocol version (`genhash -r`).
    pub protocol: HttpProtocol,
    /// Send the virtual host as SNI (`genhash -S`/`--sni`).
    pub sni: bool,
}

impl Default for GenhashOptions {
    fn default() -> Self {
        GenhashOptions {
            bind: None,
            timeout: Duration::from_secs(5),
            protocol: HttpProtocol::Http10,
            sni: false,
        }
    }
}

/// Fetches `url` (`http://` or `https://`, `ADDR[:PORT]/path`, or a bare
/// `/path` is refused) like a checker would and returns the status and the
/// MD5 of the body: what `genhash` prints for a `digest`. `tls` forces TLS
/// for an `http://` URL (genhash `-S`); `https://` implies it.
pub async fn genhash(
    url: &str,
    virtualhost: Option<&str>,
    tls: bool,
    options: &GenhashOptions,
) -> Result<GenhashOutput> {
    let uri: Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
    let tls = tls || uri.scheme_str() == Some("https");
    let host = uri.host().ok_or_else(|| anyhow!("URL {url} has no host"))?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| anyhow!("{host} has no address"))?;
    let target = Target {
        bind: options.bind,
        ..Target::new(addr, options.timeout)
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let request = Request1 {
        path,
        host: virtualhost.map_or_else(|| addr.to_string(), str::to_string),
        protocol: options.protocol,
        tls: tls.then(|| virtualhost.filter(|_| options.sni).map(str::to_string)),
    };
    let reply = tokio::time::timeout(options.timeout, get(&target, &request))
        .await
        .map_err(|_| anyhow!("Connection timed out"))??;
    Ok(GenhashOutput {
        status: reply.status,
        digest: reply.digest(),
        body_len: reply.body.len(),
    })
}
