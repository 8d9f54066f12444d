//! One GET of HTTP_GET, SSL_GET or genhash, bounded in time and memory.
//!
//! keepalived (`check_http.c`) reads a reply through one 4 KiB buffer
//! (`MAX_BUFFER_LENGTH`): each chunk of body goes into the MD5 digest (and
//! the regex) and is dropped, and every connect/write/read step waits at
//! most `connect_timeout`. It reads until the server closes the connection,
//! with no limit on the total, so a server that streams forever keeps the
//! checker reading forever without a verdict.
//!
//! Here the body streams the same way — MD5 chunk by chunk; only a url with
//! a `regex` keeps the bytes — and two bounds give every attempt a verdict:
//! * one deadline for the whole attempt, `connect_timeout` after it starts
//!   (connect, TLS, request, reply head and body together);
//! * at most [`MAX_BODY`] bytes of body: reading stops there and the check
//!   fails.
//!
//! A failure is reported with what happened, in keepalived's words where it
//! has some: `Timeout connecting`, `Timeout WEB read` (no reply head),
//! `Timeout HTTP read` (body unfinished), `Read error with`, and the body
//! limit.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONNECTION, HOST, USER_AGENT};
use hyper::{Request, Uri, Version};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use rustls::{pki_types::ServerName, ClientConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;

use crate::check::{tcp, Failure, Reason, Target};
use crate::config::HttpProtocol;

/// The most body read from one url: a health page is a few KiB, large
/// status pages fit; beyond this the server is taken as broken.
pub const MAX_BODY: usize = 4 << 20;

/// How to send one GET.
#[derive(Debug, Clone)]
pub struct Get {
    /// Path (and query) to request.
    pub path: String,
    /// `Host:` header value.
    pub host: String,
    /// Protocol version and connection handling.
    pub protocol: HttpProtocol,
    /// `Some` for TLS, with the SNI name to send, if any.
    pub tls: Option<Option<String>>,
    /// The TLS client to use (one presenting a client certificate); the
    /// shared one without a certificate when `None`.
    pub tls_client: Option<Arc<ClientConfig>>,
}

/// What the body is read for, besides its length.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted {
    /// Compute the MD5 of the body.
    pub digest: bool,
    /// Keep the body (up to [`MAX_BODY`]) for a regex.
    pub text: bool,
}

/// What a whole body gave.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// Its length in bytes.
    pub len: usize,
    /// Its MD5 in lowercase hex, when wanted.
    pub digest: Option<String>,
    /// The body itself, when wanted.
    pub text: Option<Vec<u8>>,
}

/// The reply's status line is in; its body is still to read.
pub struct Head {
    /// HTTP status code.
    pub status: u16,
    body: Incoming,
    /// Kept so that the connection lives as long as the body is read.
    _connection: Connection,
    deadline: Instant,
    context: Context,
}

/// Names and bounds of one GET, for its failure reasons.
struct Context {
    service: String,
    path: String,
    timeout: Duration,
}

impl Context {
    fn new(target: &Target, get: &Get) -> Context {
        Context {
            service: target.service(),
            path: get.path.clone(),
            timeout: target.timeout,
        }
    }

    fn server(&self) -> String {
        format!("server {} url({})", self.service, self.path)
    }
}

/// hyper's task driving the connection, aborted when the GET is done or
/// abandoned at its deadline, so no socket is left being read.
struct Connection(JoinHandle<()>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connects to `target`, sends `get` and waits for the reply head, all
/// before `deadline`. The error is the check's failure.
pub async fn head(target: &Target, get: &Get, deadline: Instant) -> Result<Head, Failure> {
    let context = Context::new(target, get);
    let stream = match timeout_at(deadline, tcp::connect(target)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::TimedOut => {
            let message = format!("Error connecting server {}: {e}.", context.service);
            return Err(Failure::new(Reason::of_io(&e), message));
        }
        _ => {
            let message = format!("Timeout connecting server {}.", context.service);
            return Err(Failure::new(Reason::Timeout, message));
        }
    };
    match &get.tls {
        None => head_over(stream, target, get, deadline).await,
        Some(sni) => {
            let name = match sni {
                Some(host) => ServerName::try_from(host.clone()).map_err(|e| {
                    Failure::new(Reason::Setup, format!("Invalid SNI name {host}: {e}."))
                })?,
                None => ServerName::IpAddress(target.addr.ip().into()),
            };
            let client = get.tls_client.clone().unwrap_or_else(super::tls::config);
            let connector = TlsConnector::from(client);
            let tls = match timeout_at(deadline, connector.connect(name, stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    let message =
                        format!("SSL handshake error with server {}: {e}.", context.service);
                    return Err(Failure::new(Reason::of_io(&e), message));
                }
                Err(_) => {
                    let message = format!("Timeout SSL handshake with server {}.", context.service);
                    return Err(Failure::new(Reason::Timeout, message));
                }
            };
            head_over(tls, target, get, deadline).await
        }
    }
}

/// Sends `get` over `io`, a connection to `target` already open, and
/// waits for the reply head before `deadline`: the part of [`head`] that
/// reads what the server sends (the fuzz targets drive it with arbitrary
/// replies).
pub(crate) async fn head_over<T>(
    io: T,
    target: &Target,
    get: &Get,
    deadline: Instant,
) -> Result<Head, Failure>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let context = Context::new(target, get);
    let request = request(get).map_err(|e| {
        Failure::new(
            Reason::Setup,
            format!("Invalid request {}: {e}.", context.server()),
        )
    })?;
    let failed = |e: hyper::Error| read_error(&context, &e);
    let exchange = async {
        // Title-case header names, as keepalived writes them.
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(io))
            .await
            .map_err(failed)?;
        let connection = Connection(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let response = sender.send_request(request).await.map_err(failed)?;
        Ok((response, connection))
    };
    match timeout_at(deadline, exchange).await {
        Ok(Ok((response, connection))) => Ok(Head {
            status: response.status().as_u16(),
            body: response.into_body(),
            _connection: connection,
            deadline,
            context,
        }),
        Ok(Err(failure)) => Err(failure),
        Err(_) => Err(Failure::new(
            Reason::Timeout,
            format!(
                "Timeout WEB read {} after {:?}: no reply.",
                context.server(),
                context.timeout
            ),
        )),
    }
}

/// keepalived's `Read error with ...`: a reply that does not parse or ends
/// early is a bad response, anything else a network error.
fn read_error(context: &Context, e: &hyper::Error) -> Failure {
    let reason = if e.is_parse() || e.is_parse_status() || e.is_incomplete_message() {
        Reason::Response
    } else {
        Reason::Network
    };
    Failure::new(
        reason,
        format!("Read error with {}: {e}.", context.server()),
    )
}

/// keepalived's request: `GET path HTTP/1.x`, then `User-Agent`,
/// `Connection` (per `http_protocol`) and `Host`, in that order.
fn request(get: &Get) -> Result<Request<Empty<Bytes>>, hyper::http::Error> {
    let (version, connection) = match get.protocol {
        HttpProtocol::Http10 => (Version::HTTP_10, None),
        HttpProtocol::Http10Close => (Version::HTTP_10, Some("close")),
        HttpProtocol::Http10KeepAlive => (Version::HTTP_10, Some("keep-alive")),
        HttpProtocol::Http11 => (Version::HTTP_11, Some("close")),
    };
    let mut request = Request::get(get.path.parse::<Uri>()?)
        .version(version)
        .header(USER_AGENT, "KeepAliveClient");
    if let Some(value) = connection {
        request = request.header(CONNECTION, value);
    }
    request
        .header(HOST, HeaderValue::from_str(&get.host)?)
        .body(Empty::new())
}

impl Head {
    /// Reads the body to its end, before the deadline and within
    /// [`MAX_BODY`], digesting it as it streams.
    pub async fn read_body(mut self, wanted: Wanted) -> Result<Body, Failure> {
        let mut len = 0;
        let mut md5 = wanted.digest.then(Md5::new);
        let mut text = wanted.text.then(Vec::new);
        loop {
            let frame = match timeout_at(self.deadline, self.body.frame()).await {
                Ok(None) => break,
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(e))) => return Err(read_error(&self.context, &e)),
                Err(_) => {
                    let message = format!(
                        "Timeout HTTP read {} after {:?}: body unfinished after {len} bytes.",
                        self.context.server(),
                        self.context.timeout
                    );
                    return Err(Failure::new(Reason::Timeout, message));
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            len += data.len();
            if len > MAX_BODY {
                let message = format!(
                    "Body of {} exceeded {MAX_BODY} bytes: stopped reading.",
                    self.context.server()
                );
                return Err(Failure::new(Reason::Response, message));
            }
            if let Some(md5) = &mut md5 {
                md5.update(&data);
            }
            if let Some(text) = &mut text {
                text.extend_from_slice(&data);
            }
        }
        Ok(Body {
            len,
            digest: md5.map(|md5| hex(&md5.finalize())),
            text,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
