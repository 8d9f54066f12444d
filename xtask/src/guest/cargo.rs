//! Building host programs for the guest and finding their executables in
//! cargo's JSON messages.
use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cmd;

/// Runs `cargo ARGS --message-format=json-render-diagnostics` in the
/// workspace (diagnostics go to the terminal) and returns the executables
/// it built, in cargo's order.
pub fn executables(args: &[&str]) -> Result<Vec<PathBuf>> {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(cmd::workspace_root())
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    let out = cargo
        .output()
        .with_context(|| format!("starting {cargo:?}"))?;
    if !out.status.success() {
        bail!("{cargo:?} failed: {}", out.status);
    }
    Ok(parse_executables(&String::from_utf8_lossy(&out.stdout)))
}

/// The `executable` of every `compiler-artifact` message in cargo's JSON
/// output.
fn parse_executables(messages: &str) -> Vec<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_only() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"name":"libc"},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"name":"ipvs_guest"},"executable":"/t/debug/deps/ipvs_guest-0a1b"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\nnot json\n"
        );
        assert_eq!(
            parse_executables(messages),
            vec![PathBuf::from("/t/debug/deps/ipvs_guest-0a1b")]
        );
    }
}
