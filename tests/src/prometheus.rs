//! A real Prometheus server for the metrics tests, and `promtool check
//! metrics`. The server runs in a lab namespace on 127.0.0.1 with a
//! generated configuration scraping its targets every second and its TSDB
//! in a temporary directory; dropping it stops the process and removes the
//! directory (the namespace going away kills it too).
use std::{
    fmt::Write as _,
    fs::{self, File},
    io::Write as _,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use tempfile::TempDir;

use crate::{http_get, wait_until, Netns, NsChild};

/// Where the server listens inside its namespace.
const LISTEN: &str = "127.0.0.1:9090";

/// A running Prometheus.
pub struct Prometheus {
    // Declared before `dir`: the process stops before its directory goes.
    _child: NsChild,
    dir: TempDir,
    ns: String,
}

impl Prometheus {
    /// Starts Prometheus in `ns` scraping `targets` (`HOST:PORT`, job
    /// `lb-daemon`) every second, and waits until it is ready.
    pub fn start(ns: &Netns, targets: &[String]) -> Result<Prometheus> {
        let dir = tempfile::Builder::new()
            .prefix("lb-prometheus-")
            .tempdir()?;
        let config = dir.path().join("prometheus.yml");
        let mut text = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: lb-daemon\n    static_configs:\n      - targets:\n",
        );
        for t in targets {
            let _ = writeln!(text, "          - '{t}'");
        }
        fs::write(&config, text)?;
        let log = File::create(dir.path().join("prometheus.log"))?;
        let mut cmd = ns.command(&[
            "prometheus".to_string(),
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={LISTEN}"),
            "--log.level=warn".to_string(),
        ]);
        cmd.stdout(Stdio::null()).stderr(log);
        let child = ns.spawn_command(cmd)?;
        let prometheus = Prometheus {
            _child: child,
            dir,
            ns: ns.name().to_owned(),
        };
        let ready = wait_until(Duration::from_secs(30), Duration::from_millis(100), || {
            prometheus
                .get("/-/ready")
                .is_ok_and(|(status, _)| status == 200)
        });
        if let Err(e) = ready {
            bail!(
                "Prometheus did not become ready ({e}); log:\n{}",
                prometheus.log()
            );
        }
        Ok(prometheus)
    }

    fn get(&self, path: &str) -> Result<(u16, String)> {
        http_get(
            &self.ns,
            &format!("http://{LISTEN}{path}"),
            Duration::from_secs(5),
        )
    }

    /// The result vector of the instant query `expr` (`/api/v1/query`).
    pub fn query(&self, expr: &str) -> Result<Vec<Value>> {
        let (status, body) = self.get(&format!("/api/v1/query?query={}", encode(expr)))?;
        let answer: Value = serde_json::from_str(&body)
            .with_context(|| format!("query {expr}: HTTP {status}: {body}"))?;
        ensure!(answer["status"] == "success", "query {expr}: {answer}");
        Ok(answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

/// Percent-encodes a query parameter.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Runs `promtool check metrics` on a scrape; the error carries its
/// complaints.
pub fn promtool_check(scrape: &str) -> Result<()> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running promtool (Debian package prometheus)")?;
    child
        .stdin
        .take()
        .context("promtool stdin")?
        .write_all(scrape.as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode("a_b{x=\"1\"} == 2"),
            "a_b%7Bx%3D%221%22%7D%20%3D%3D%202"
        );
    }

    #[test]
    fn promtool_names_what_is_wrong() {
        promtool_check("# HELP ok_total Fine.\n# TYPE ok_total counter\nok_total 1\n").unwrap();
        let err = promtool_check("# HELP bad Counter without total.\n# TYPE bad counter\nbad 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("_total"), "{err}");
    }
}
