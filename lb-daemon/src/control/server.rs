//! The daemon's side of the control socket. It runs on a thread and async
//! runtime of its own, so that no client, however large, slow or numerous,
//! can delay the VRRP engine on the daemon's main thread: clients only ever
//! reach it as [`Query`]s, one per valid request.
//!
//! Bounds: a request line is read up to [`super::MAX_REQUEST`] bytes, within
//! [`REQUEST_TIMEOUT`]; at most [`MAX_CLIENTS`] are served at once (others
//! wait in the listen queue); a reply must be taken within [`REPLY_TIMEOUT`].
//! Clients are admitted by their uid (`SO_PEERCRED`, see [`Policy`]). A
//! failing `accept` (no file descriptors left) backs off up to
//! [`MAX_BACKOFF`] and is logged at most once per [`WINDOW`] and errno.
use std::{
    os::unix::net::UnixListener as StdListener,
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot, Semaphore},
    time::timeout,
};
use tracing::{debug, warn};

use super::{Refusal, Request, MAX_REQUEST};
use crate::log_limit::{Limiter, WINDOW};

/// Clients served at once.
pub const MAX_CLIENTS: usize = 16;
/// How long a client has to send its request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a client has to take its reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause between two failing `accept`s.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Which clients may use the socket: root, the daemon's own user, and the
/// uids given with `--control-allow-uid`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Further uids admitted.
    pub allowed_uids: Vec<u32>,
}

impl Policy {
    /// Whether a client of uid `uid` is served.
    pub fn admits(&self, uid: u32) -> bool {
        uid == 0 || uid == nix::unistd::geteuid().as_raw() || self.allowed_uids.contains(&uid)
    }
}

/// A valid request, for the daemon's main loop to answer.
pub struct Query {
    /// What the client asks.
    pub request: Request,
    /// Where the reply document goes.
    pub reply: oneshot::Sender<Value>,
}

/// The running server; [`Server::stop`] ends it.
pub struct Server {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` on a thread of its own; the queries of admitted
    /// clients come out of the returned receiver.
    pub fn start(listener: StdListener, policy: Policy) -> Result<(Server, mpsc::Receiver<Query>)> {
        listener
            .set_nonblocking(true)
            .context("control socket: non-blocking mode")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the control socket's runtime")?;
        let (queries, received) = mpsc::channel(MAX_CLIENTS);
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match UnixListener::from_std(listener) {
                        Ok(listener) => accept_loop(listener, policy, queries, stopped).await,
                        Err(e) => warn!("control socket: {e}"),
                    }
                })
            })
            .context("starting the control socket's thread")?;
        let server = Server {
            stop: Some(stop),
            thread: Some(thread),
        };
        Ok((server, received))
    }

    /// Stops accepting, drops the clients in progress and waits for the thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Pause after the `failures`-th failing accept in a row: 10 ms doubling up
/// to [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    (Duration::from_millis(10) * 2u32.pow(exp)).min(MAX_BACKOFF)
}

async fn accept_loop(
    listener: UnixListener,
    policy: Policy,
    queries: mpsc::Sender<Query>,
    mut stopped: oneshot::Receiver<()>,
) {
    let policy = Arc::new(policy);
    let clients = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut errors = Limiter::<Option<i32>, String>::new(WINDOW);
    let origin = Instant::now();
    let mut failures = 0u32;
    loop {
        // Past the bound, clients wait in the listen queue (holding no
        // descriptor of ours) until one in service is done or timed out.
        let permit = tokio::select! {
            _ = &mut stopped => return,
            permit = clients.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let now = origin.elapsed();
        for summary in errors.flush(now) {
            warn!(
                "control socket accept failed: {} ({})",
                summary.last,
                summary.more()
            );
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                failures = failures.saturating_add(1);
                if let Some(e) = errors.hit(&e.raw_os_error(), e.to_string(), now) {
                    warn!("control socket accept failed: {e}; retrying with backoff");
                }
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(backoff(failures)) => continue,
                }
            }
        };
        failures = 0;
        let (policy, queries) = (policy.clone(), queries.clone());
        tokio::spawn(async move {
            if let Err(e) = serve_client(stream, &policy, &queries).await {
                debug!("control client: {e:#}");
            }
            drop(permit);
        });
    }
}

async fn serve_client(
    stream: UnixStream,
    policy: &Policy,
    queries: &mpsc::Sender<Query>,
) -> Result<()> {
    let uid = stream
        .peer_cred()
        .context("reading the client's credentials")?
        .uid();
    let (read, mut write) = stream.into_split();
    // The request is read even from a client that is refused: closing a Unix
    // socket with unread data would reset the connection before the client
    // read why.
    let request = timeout(REQUEST_TIMEOUT, read_request(read)).await;
    let reply = match request {
        _ if !policy.admits(uid) => {
            debug!("control client of uid {uid} refused");
            Refusal::NotAllowed(uid).reply()
        }
        Err(_) => Refusal::Timeout(REQUEST_TIMEOUT).reply(),
        Ok(Err(refusal)) => refusal.reply(),
        Ok(Ok(request)) => ask(queries, request).await?,
    };
    let mut framed = reply.to_string();
    framed.push('\n');
    timeout(REPLY_TIMEOUT, async {
        write.write_all(framed.as_bytes()).await?;
        write.shutdown().await
    })
    .await
    .map_err(|_| anyhow!("the client did not take its reply within {REPLY_TIMEOUT:?}"))??;
    Ok(())
}

/// Reads one request line of at most [`MAX_REQUEST`] bytes (or up to EOF).
pub(crate) async fn read_request(read: impl AsyncRead + Unpin) -> Result<Request, Refusal> {
    let mut line = Vec::new();
    let mut bounded = BufReader::new(read.take(MAX_REQUEST as u64 + 1));
    match bounded.read_until(b'\n', &mut line).await {
        Ok(_) if line.len() > MAX_REQUEST => Err(Refusal::TooLong),
        Ok(_) => Request::parse(&line),
        Err(_) => Err(Refusal::Unknown),
    }
}

/// Asks the daemon's main loop to answer `request`.
async fn ask(queries: &mpsc::Sender<Query>, request: Request) -> Result<Value> {
    let (reply, answer) = oneshot::channel();
    queries
        .send(Query { request, reply })
        .await
        .map_err(|_| anyhow!("the daemon is stopping"))?;
    answer.await.context("the daemon is stopping")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_second() {
        let steps: Vec<u128> = (1..=9).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(steps, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn root_and_listed_uids_are_admitted() {
        let policy = Policy {
            allowed_uids: vec![1000],
        };
        assert!(policy.admits(0));
        assert!(policy.admits(1000));
        assert!(policy.admits(nix::unistd::geteuid().as_raw()));
        assert!(!Policy::default().admits(65534) || nix::unistd::geteuid().as_raw() == 65534);
    }

    #[tokio::test]
    async fn request_lines_are_bounded() {
        let ok = read_request(&b"status\nmore"[..]).await;
        assert_eq!(ok, Ok(Request::Status));
        let long = vec![b'a'; MAX_REQUEST + 10];
        assert_eq!(read_request(&long[..]).await, Err(Refusal::TooLong));
        let mut just = vec![b' '; MAX_REQUEST - 7];
        just.extend_from_slice(b"status\n");
        assert_eq!(read_request(&just[..]).await, Ok(Request::Status));
        assert_eq!(read_request(&b"stat"[..]).await, Err(Refusal::Unknown));
    }
}
