//! The one-shot subcommands: `convert`, `genhash`, `status` (its text form
//! in [`status`]), `drain` and `undrain` (`check` and `-t` are
//! [`crate::cli::config_test`]).
use std::{path::Path, process::ExitCode};

use anyhow::Result;
use serde_json::Value;

use crate::{
    check::http::{self, GenhashOptions},
    cli::{DrainArgs, GenhashArgs},
    config, control,
    state::desired::{parse_endpoint, ServiceRef},
};

mod status;

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
        print!("{}", status::render(&status));
    }
    Ok(())
}

/// Drains (`drained`) or undrains a real server on the daemon of
/// `args.runtime_dir`, after checking the arguments' form here.
pub fn drain(args: &DrainArgs, drained: bool) -> Result<()> {
    let service: ServiceRef = args.service.parse().map_err(anyhow::Error::msg)?;
    let server = parse_endpoint(&args.server, "real server").map_err(anyhow::Error::msg)?;
    let request = control::Request::Drain {
        service,
        server,
        drained,
    };
    let reply = control::ask(&args.runtime_dir, &request)?;
    let services: Vec<&str> = reply["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let (verb, already) = match drained {
        true => ("drained", "already drained"),
        false => ("undrained", "not drained"),
    };
    match reply["changed"] == true {
        true => println!("{server} {verb} in {}", services.join(", ")),
        false => println!("{server} was {already} in {}", services.join(", ")),
    }
    Ok(())
}
