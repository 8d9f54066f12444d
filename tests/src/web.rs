//! [`WebServer`]: Debian's nginx running inside a namespace with a generated
//! configuration, all of its files in a private temporary directory.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::http::{http_get, retry};
use crate::netns::{Netns, NsChild};

/// Path of the nginx binary used for real servers.
pub const NGINX: &str = "/usr/sbin/nginx";

/// How long [`WebServer::start`] waits for nginx to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// An nginx serving `/` with a body naming the server (`"{name}\n"`) and
/// `/health` (200 `ok` while healthy, 404 otherwise) on port 80, IPv4 and
/// IPv6, all addresses. Killed and its files removed on drop.
pub struct WebServer {
    // Field order matters: the process goes before its directory.
    child: NsChild,
    dir: TempDir,
    name: String,
}

/// nginx configuration for a server called `name` keeping its files in `dir`.
fn config(name: &str, dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type text/plain;
    keepalive_timeout 60;
    server {{
        listen 80;
        listen [::]:80 ipv6only=on;
        server_name _;
        add_header X-Server {name} always;
        location = /health {{ root {d}/www; }}
        location / {{ return 200 "{name}\n"; }}
    }}
}}
"#
    )
}

impl WebServer {
    /// Start nginx named `name` in `ns` and wait until `http://{probe}/health`
    /// (an address of `ns`, e.g. `127.0.0.1`) answers 200. On timeout the
    /// error includes nginx's error log.
    pub fn start(ns: &Netns, name: &str, probe: &str) -> Result<WebServer> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lbt-nginx-{name}-"))
            .tempdir()
            .context("creating nginx temp dir")?;
        let conf = dir.path().join("nginx.conf");
        fs::create_dir(dir.path().join("www"))?;
        fs::write(&conf, config(name, dir.path()))?;
        let mut server = WebServer {
            child: Self::spawn(ns, dir.path(), &conf)?,
            dir,
            name: name.to_string(),
        };
        server.set_healthy(true)?;
        server.wait_ready(ns, probe)?;
        Ok(server)
    }

    fn spawn(ns: &Netns, dir: &Path, conf: &Path) -> Result<NsChild> {
        let log = fs::File::create(dir.join("stderr.log"))?;
        let error_log = dir.join("error.log");
        let mut cmd = ns.command(&[
            OsStr::new(NGINX),
            OsStr::new("-p"),
            dir.as_os_str(),
            OsStr::new("-e"),
            error_log.as_os_str(),
            OsStr::new("-c"),
            conf.as_os_str(),
        ]);
        cmd.stdout(Stdio::null()).stderr(log);
        ns.spawn_command(cmd)
    }

    fn wait_ready(&mut self, ns: &Netns, probe: &str) -> Result<()> {
        let url = if probe.contains(':') {
            format!("http://[{probe}]/health")
        } else {
            format!("http://{probe}/health")
        };
        let result = retry(STARTUP_TIMEOUT, Duration::from_millis(20), || {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Err(anyhow::anyhow!("nginx exited: {status}")));
            }
            match http_get(ns, &url, Duration::from_secs(1))? {
                (200, _) => Ok(Ok(())),
                (status, body) => bail!("{url}: status {status}: {body}"),
            }
        })
        .and_then(|r| r);
        result.with_context(|| {
            format!(
                "nginx {} in {} not ready; error log:\n{}",
                self.name,
                ns.name(),
                self.error_log()
            )
        })
    }

    /// Name of the server (also the body it serves on `/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private directory holding config, logs and temp files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Pid of the nginx process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Make `/health` answer 200 (`true`) or 404 (`false`), e.g. to test
    /// health checking.
    pub fn set_healthy(&self, healthy: bool) -> Result<()> {
        let file: PathBuf = self.dir.path().join("www/health");
        if healthy {
            fs::write(&file, "ok\n")?;
        } else if file.exists() {
            fs::remove_file(&file)?;
        }
        Ok(())
    }

    /// nginx's error log and stderr so far (for diagnostics).
    pub fn error_log(&self) -> String {
        ["error.log", "stderr.log"]
            .iter()
            .map(|f| fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("")
    }

    /// nginx's access log so far.
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}
