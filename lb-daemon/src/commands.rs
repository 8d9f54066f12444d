//! The one-shot subcommands: `check` (and `-t`), `convert`, `status`.
use std::{path::Path, process::ExitCode};

use anyhow::Result;
use serde_json::Value;

use crate::{
    check::http::{self, GenhashOptions},
    cli::GenhashArgs,
    config, control,
};

/// Validates `path`: warnings and errors go to stderr as `file:line:col: ...`;
/// exit 0 when valid, 1 when not.
pub fn check(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            println!("{}: configuration is valid", path.display());
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprintln!("{diags}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `path` in the native TOML form (after validating it).
pub fn convert(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            print!("{}", config::to_toml(&loaded.config));
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprintln!("{diags}");
            ExitCode::FAILURE
        }
    }
}

/// keepalived's genhash: fetches the URL and prints its status and the MD5
/// digest of the body (the value HTTP_GET's `digest` expects).
pub fn genhash(args: &GenhashArgs) -> Result<()> {
    let port = args.port.unwrap_or(if args.ssl { 443 } else { 80 });
    let host = match args.server.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => args.server.clone(),
    };
    let scheme = if args.ssl { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{port}{}", args.url);
    let options = GenhashOptions {
        sni: args.ssl && args.virtualhost.is_some(),
        ..Default::default()
    };
    let out = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(http::genhash(
            &url,
            args.virtualhost.as_deref(),
            args.ssl,
            &options,
        ))?;
    println!("HTTP status: {} ({} bytes)", out.status, out.body_len);
    println!("MD5SUM = {}", out.digest);
    Ok(())
}

/// Prints the state of the daemon on runtime directory `dir`.
pub fn status(dir: &Path, json: bool) -> Result<()> {
    let status = control::status(dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status_text(&status));
    }
    Ok(())
}

/// Human-readable form of a status document.
fn status_text(status: &Value) -> String {
    let mut out = format!(
        "lb-daemon pid {} - configuration {} (generation {})\n",
        status["pid"],
        text(&status["config_file"]),
        status["config_generation"]
    );
    if let Some(why) = status["last_reload_error"].as_str() {
        out += &format!("  last reload refused: {why}\n");
    }
    for instance in status["vrrp"].as_array().into_iter().flatten() {
        out += &vrrp_text(instance);
    }
    for vs in status["lvs"]["virtual_servers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out += &virtual_server_text(vs);
    }
    if status["fast_path"].is_object() {
        out += &fast_path_text(&status["fast_path"]);
    }
    for (section, items) in status["config"].as_object().into_iter().flatten() {
        let Some(items) = items.as_array().filter(|i| !i.is_empty()) else {
            continue;
        };
        let labels: Vec<String> = items.iter().map(item_label).collect();
        out += &format!("  {section} ({}): {}\n", labels.len(), labels.join(", "));
    }
    out
}

/// One VRRP instance: state, priority, master, VIPs, last change, counters.
fn vrrp_text(i: &Value) -> String {
    let since = i["last_transition"].as_u64().map_or_else(
        || "never".to_owned(),
        |t| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            format!("{} s ago", now.map_or(0, |n| n.as_secs().saturating_sub(t)))
        },
    );
    let drops: Vec<String> = i["drops"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64() > Some(0))
        .map(|(reason, n)| format!("{reason}={n}"))
        .collect();
    let vips: Vec<String> = i["vips"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    let mut out = format!(
        "  ({}) {} prio {} vrid {} on {}, master {}, VIPs {}\n    last change {since}, adverts sent {} received {}, drops {}\n",
        text(&i["name"]),
        text(&i["state"]),
        i["priority"],
        i["vrid"],
        text(&i["interface"]),
        i["master"].as_str().unwrap_or("unknown"),
        vips.join(" "),
        i["adverts_sent"],
        i["adverts_received"],
        if drops.is_empty() { "none".to_owned() } else { drops.join(" ") },
    );
    if let Some(e) = i["error"].as_str() {
        out += &format!("    error: {e}\n");
    }
    out
}

/// One virtual server: quorum, sorry server and each real server's verdict
/// and programmed weight.
fn virtual_server_text(vs: &Value) -> String {
    let reals: Vec<String> = vs["real_servers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let verdict = if r["up"] == true { "up" } else { "down" };
            let weight = r["programmed_weight"]
                .as_u64()
                .map_or("absent".to_owned(), |w| format!("weight {w}"));
            format!("{}:{} {verdict} ({weight})", text(&r["address"]), r["port"])
        })
        .collect();
    format!(
        "  virtual server {}: quorum {}{}\n    {}\n",
        vs["vs"],
        if vs["quorum_up"] == true {
            "up"
        } else {
            "down"
        },
        if vs["sorry"] == true {
            ", sorry server in use"
        } else {
            ""
        },
        reals.join(", ")
    )
}

/// The XDP fast path: attachment per interface, services and their real
/// servers with traffic, services left to IPVS.
fn fast_path_text(fp: &Value) -> String {
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut out = format!("  XDP fast path: {}", text(&fp["state"]));
    if let Some(e) = fp["error"].as_str() {
        out += &format!(" ({e})");
    }
    out += "\n";
    for i in list(&fp["interfaces"]) {
        let how = match (i["attached"] == true, i["error"].as_str()) {
            (true, _) => format!("attached ({})", text(&i["mode"])),
            (false, Some(e)) => format!("not attached: {e}"),
            (false, None) => "not attached".to_owned(),
        };
        out += &format!("    interface {}: {how}\n", text(&i["name"]));
    }
    for s in list(&fp["services"]) {
        out += &format!(
            "    {} {} on {}: {} packets\n",
            text(&s["service"]),
            text(&s["scheduler"]),
            text(&s["interface"]),
            s["traffic"]["packets"]
        );
        for b in list(&s["backends"]) {
            out += &format!(
                "      {}:{} {} weight {}: {} packets\n",
                text(&b["address"]),
                b["port"],
                text(&b["forwarding"]),
                b["weight"],
                b["traffic"]["packets"]
            );
        }
    }
    for n in list(&fp["not_served"]) {
        out += &format!(
            "    {}: IPVS classic mode ({})\n",
            text(&n["service"]),
            text(&n["reason"])
        );
    }
    out
}

/// A JSON value as plain text (strings without quotes).
fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// A short label for one configured item: its name, or its address and port.
fn item_label(item: &Value) -> String {
    match (item.get("name"), item.get("address"), item.get("port")) {
        (Some(name), _, _) => text(name),
        (None, Some(addr), Some(port)) => format!("{} {}", text(addr), text(port)),
        _ => "-".to_owned(),
    }
}
