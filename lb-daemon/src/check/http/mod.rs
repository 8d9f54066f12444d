//! `HTTP_GET` and `SSL_GET` (keepalived `check_http.c`, `check_ssl.c`), on
//! hyper's HTTP/1 client over our own connected socket (so `bindto`,
//! `bind_port` and `bind_if` apply) and rustls for SSL_GET.
//!
//! keepalived semantics kept:
//! * Request `GET path HTTP/1.x` with `User-Agent: KeepAliveClient` and
//!   `Host:` from the url's `virtualhost`, else the checker's, the real
//!   server's, the virtual server's, else `addr:port` (`[v6]:port`).
//! * `http_protocol`: `1.0` (default), `1.1` and `1.0C` send
//!   `Connection: close`; `1.0K` (our extension) sends `Connection:
//!   keep-alive`.
//! * Every url must pass: status in `status_code` (default 200-299), MD5 of
//!   the body equal to `digest`, `regex` found in the body (or not, with
//!   `regex_no_match`). A wrong status fails before the body is read.
//!   keepalived checks one url per `delay_loop`; we check them all in each
//!   attempt, which reaches the same verdicts sooner.
//! * SSL_GET does not verify the server's certificate (keepalived never
//!   does); SNI is sent only with `enable_sni` (or `sni_name`), naming
//!   `sni_name`, else the url's, checker's or virtual server's `virtualhost`.
//! * The body is read to its end (keepalived reads until the server
//!   closes), streamed through the digest, never buffered whole.
//!
//! Bounds keepalived lacks (see `fetch.rs`): one attempt, all urls and every
//! step included, ends `connect_timeout` after it starts, and a body stops
//! at [`MAX_BODY`] bytes; either fails the check with a reason saying so.

pub(crate) mod fetch;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use hyper::Uri;
use regex::bytes::Regex;
use rustls::ClientConfig;
use tokio::time::Instant;

pub use fetch::MAX_BODY;
use fetch::{Get, Wanted};

use super::{Attempt, Check, Failure, Outcome, Reason, Target};
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

    /// One GET of this url before `deadline`; the reason it fails, if it
    /// does, in keepalived's words. A wrong status fails before the body is
    /// read.
    async fn check(&self, target: &Target, get: &Get, deadline: Instant) -> Option<Failure> {
        let (service, url) = (target.service(), &self.path);
        let head = match fetch::head(target, get, deadline).await {
            Ok(head) => head,
            Err(reason) => return Some(reason),
        };
        if !self
            .status
            .iter()
            .any(|r| (r.from..=r.to).contains(&head.status))
        {
            let message = format!(
                "HTTP status code error to server {service} url({url}): status {}.",
                head.status
            );
            return Some(Failure::new(Reason::Response, message));
        }
        let wanted = Wanted {
            digest: self.digest.is_some(),
            text: self.regex.is_some(),
        };
        let body = match head.read_body(wanted).await {
            Ok(body) => body,
            Err(reason) => return Some(reason),
        };
        if self.digest.is_some() && body.digest != self.digest {
            let message = format!("MD5 digest error to server {service} url({url}).");
            return Some(Failure::new(Reason::Content, message));
        }
        if let (Some(regex), Some(text)) = (&self.regex, &body.text) {
            if regex.is_match(text) == self.regex_no_match {
                let message = format!("Regex match failed server {service} url({url}).");
                return Some(Failure::new(Reason::Content, message));
            }
        }
        None
    }
}

/// keepalived's `HTTP_GET` / `SSL_GET`.
pub struct HttpCheck {
    tls: bool,
    urls: Vec<UrlCheck>,
    protocol: HttpProtocol,
    virtualhost: Option<String>,
    /// SNI (SSL_GET with `enable_sni`): `sni_name`, else the url's
    /// `virtualhost`, else this fallback (the checker's, else the virtual
    /// server's `virtualhost`, as keepalived's `ssl_connect`).
    sni: Option<Sni>,
    /// SSL_GET presenting the `SSL` block's client certificate.
    client: Option<Arc<ClientConfig>>,
}

/// The names SNI is chosen from.
struct Sni {
    name: Option<String>,
    fallback: Option<String>,
}

impl HttpCheck {
    /// The check of `checker` (an HTTP_GET or SSL_GET block) of `rs` in `vs`
    /// (whose `virtualhost`, in that order, are the fallbacks for `Host:`).
    pub fn new(
        checker: &config::Checker,
        rs: &config::RealServer,
        vs: &config::VirtualServer,
    ) -> Result<HttpCheck> {
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
                .or_else(|| rs.virtualhost.clone())
                .or_else(|| vs.virtualhost.clone()),
            sni: checker.enable_sni.then(|| Sni {
                name: checker.sni_name.clone(),
                fallback: checker
                    .virtualhost
                    .clone()
                    .or_else(|| vs.virtualhost.clone()),
            }),
            client: None,
        })
    }

    /// An SSL_GET that presents the certificate of keepalived's global
    /// `SSL { certificate key }` block (read now: an unreadable file is an
    /// error naming it).
    pub fn presenting(self, ssl: Option<&config::SslClient>) -> Result<HttpCheck> {
        let client = match (self.tls, ssl) {
            (true, Some(ssl)) => tls::presenting(ssl)?,
            _ => None,
        };
        Ok(HttpCheck { client, ..self })
    }

    /// Every url in turn, all within one `connect_timeout`.
    async fn check_all(&self, target: &Target) -> Outcome {
        let deadline = Instant::now() + target.timeout;
        for url in &self.urls {
            let vhost = url.virtualhost.as_ref().or(self.virtualhost.as_ref());
            let get = Get {
                path: url.path.clone(),
                host: vhost.cloned().unwrap_or_else(|| target.addr.to_string()),
                protocol: self.protocol,
                tls: self.tls.then(|| {
                    let sni = self.sni.as_ref()?;
                    let named = sni.name.as_ref().or(url.virtualhost.as_ref());
                    named.or(sni.fallback.as_ref()).cloned()
                }),
                tls_client: self.client.clone(),
            };
            if let Some(failure) = url.check(target, &get, deadline).await {
                return Outcome::Down(failure);
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
    let get = Get {
        path,
        host: virtualhost.map_or_else(|| addr.to_string(), str::to_string),
        protocol: options.protocol,
        tls: tls.then(|| virtualhost.filter(|_| options.sni).map(str::to_string)),
        tls_client: None,
    };
    let deadline = Instant::now() + options.timeout;
    let head = fetch::head(&target, &get, deadline)
        .await
        .map_err(|failure| anyhow!(failure.message))?;
    let status = head.status;
    let wanted = Wanted {
        digest: true,
        text: false,
    };
    let body = head
        .read_body(wanted)
        .await
        .map_err(|failure| anyhow!(failure.message))?;
    Ok(GenhashOutput {
        status,
        digest: body.digest.unwrap_or_default(),
        body_len: body.len,
    })
}
