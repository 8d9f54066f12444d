//! The HTTP side of `/metrics`: hyper on a thread and runtime of its own
//! (like the control socket), a bounded number of connections, each scrape
//! answered from a fresh status document.
use std::{
    collections::VecDeque,
    convert::Infallible,
    net::{SocketAddr, TcpListener as StdListener},
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context as TaskContext, Poll},
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context, Result};
use hyper::{
    body::{Body, Bytes, Frame, Incoming, SizeHint},
    header::{ACCEPT, CONTENT_TYPE},
    server::conn::http1,
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot, Semaphore},
};
use tracing::{info, warn};

use super::{Exposition, Format, Renderer, Sources};

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 8;
/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a scrape waits for the daemon's status document.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// A scrape's request for the daemon's [`Sources`].
#[derive(Debug)]
pub struct Scrape {
    /// Where the sources go.
    pub reply: oneshot::Sender<Sources>,
}

/// The running endpoint; [`Server::stop`] ends it.
pub struct Server {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `listen` (when given) and serves `/metrics` from a thread
    /// of its own; scrapes come out of the returned receiver, which never
    /// yields when metrics are off.
    pub fn start(listen: Option<SocketAddr>) -> Result<(Option<Server>, mpsc::Receiver<Scrape>)> {
        let (scrapes, received) = mpsc::channel(MAX_CONNECTIONS);
        let Some(addr) = listen else {
            return Ok((None, received));
        };
        let listener =
            StdListener::bind(addr).with_context(|| format!("metrics: cannot listen on {addr}"))?;
        listener
            .set_nonblocking(true)
            .context("metrics: non-blocking mode")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the metrics runtime")?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => accept_loop(listener, scrapes, stopped).await,
                        Err(e) => warn!("metrics: {e}"),
                    }
                })
            })
            .context("starting the metrics thread")?;
        info!("Serving metrics on http://{addr}/metrics");
        let server = Server {
            stop: Some(stop),
            thread: Some(thread),
        };
        Ok((Some(server), received))
    }

    /// Stops serving and waits for the thread.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    scrapes: mpsc::Sender<Scrape>,
    mut stopped: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Scrapes render one at a time, each reusing the label sets the last
    // one rendered.
    let renderer = Arc::new(Mutex::new(Renderer::default()));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!("metrics: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (scrapes, renderer) = (scrapes.clone(), Arc::clone(&renderer));
        tokio::spawn(async move {
            let service =
                service_fn(move |request| respond(request, scrapes.clone(), Arc::clone(&renderer)));
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("metrics: connection: {e}");
            }
            drop(permit);
        });
    }
}

/// A response body sent as the parts it was written in (a scrape's parts
/// are megabytes: joining them would copy them all once more), with its
/// length known up front.
#[derive(Debug)]
struct Parts {
    parts: VecDeque<Bytes>,
    left: u64,
}

impl From<Exposition> for Parts {
    fn from(text: Exposition) -> Parts {
        let parts: VecDeque<Bytes> = text.into_parts().into_iter().map(Bytes::from).collect();
        let left = parts.iter().map(|p| p.len() as u64).sum();
        Parts { parts, left }
    }
}

impl From<&'static str> for Parts {
    fn from(text: &'static str) -> Parts {
        Parts {
            parts: VecDeque::from([Bytes::from_static(text.as_bytes())]),
            left: text.len() as u64,
        }
    }
}

impl Body for Parts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.parts.pop_front();
        if let Some(part) = &next {
            self.left -= part.len() as u64;
        }
        Poll::Ready(next.map(|part| Ok(Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Parts>) -> Response<Parts> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

async fn respond(
    request: Request<Incoming>,
    scrapes: mpsc::Sender<Scrape>,
    renderer: Arc<Mutex<Renderer>>,
) -> Result<Response<Parts>, Infallible> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if request.uri().path() != "/metrics" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "Not found: metrics are at /metrics\n",
        ));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "Use GET\n"));
    }
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let (tx, rx) = oneshot::channel();
    let status = async {
        scrapes.send(Scrape { reply: tx }).await.ok()?;
        rx.await.ok()
    };
    Ok(match tokio::time::timeout(STATUS_TIMEOUT, status).await {
        Ok(Some(sources)) => {
            let mut renderer = renderer.lock().unwrap_or_else(PoisonError::into_inner);
            let body = renderer.render(&sources, format);
            reply(StatusCode::OK, format.content_type(), body)
        }
        _ => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            "The daemon did not answer\n",
        ),
    })
}
