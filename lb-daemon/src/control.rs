//! The control socket: a Unix stream socket in the runtime directory. A
//! client writes one request line (`status`) and reads one JSON document.
use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixStream as AsyncUnixStream,
};

use crate::daemon::runtime_dir::socket_path;

/// Requests the control socket understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The daemon's state as JSON.
    Status,
}

impl Request {
    fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "status" => Some(Request::Status),
            _ => None,
        }
    }
}

/// Serves one client: reads its request and answers with `answer(request)`.
pub async fn serve_client(
    stream: AsyncUnixStream,
    answer: impl FnOnce(Request) -> Value,
) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let reply = match Request::parse(&line) {
        Some(request) => answer(request),
        None => serde_json::json!({ "error": format!("unknown request {:?}", line.trim()) }),
    };
    write
        .write_all(serde_json::to_string(&reply)?.as_bytes())
        .await?;
    write.shutdown().await?;
    Ok(())
}

/// Sends `status` to the daemon of runtime directory `dir` and returns its answer.
pub fn status(dir: &Path) -> Result<Value> {
    let path = socket_path(dir);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "no lb-daemon answers on {} (is one running with this --runtime-dir?)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"status\n")?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let value: Value = serde_json::from_str(&reply)
        .with_context(|| format!("malformed reply from {}: {reply:?}", path.display()))?;
    if let Some(err) = value.get("error") {
        bail!("lb-daemon refused the request: {err}");
    }
    Ok(value)
}
