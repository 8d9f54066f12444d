//! The HTTP side of `/metrics`: hyper on a thread and runtime of its own
//! (like the control socket), a bounded number of connections, each scrape
//! answered from a fresh status document.
use std::{
    net::{SocketAddr, TcpListener as StdListener},
    sync::{Arc, Mutex, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::{
    body::{Bytes, Incoming},
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

use super::{Format, Renderer, Sources};

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

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
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
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if request.uri().path() != "/metrics" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "Not found: metrics are at /metrics\n".into(),
        ));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "Use GET\n".into(),
        ));
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
            "The daemon did not answer\n".into(),
        ),
    })
}
