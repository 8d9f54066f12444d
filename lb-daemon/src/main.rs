//! `lb-daemon` entry point: parses the command line and dispatches.
use std::{io::IsTerminal, process::ExitCode};

use clap::Parser;
use lb_daemon::{
    cli::{Cli, Command},
    commands, daemon,
};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.run.log_detail { "debug" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let result = match cli.command {
        None if cli.run.config_test => return commands::check(&cli.run.config),
        Some(Command::Check(f)) => return commands::check(&f.config),
        Some(Command::Convert(f)) => return commands::convert(&f.config),
        Some(Command::Status { runtime_dir, json }) => commands::status(&runtime_dir, json),
        Some(Command::Genhash(args)) => commands::genhash(&args),
        Some(Command::Drain(args)) => commands::drain(&args, true),
        Some(Command::Undrain(args)) => commands::drain(&args, false),
        None => daemon::run(&cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lb-daemon: {e:#}");
            ExitCode::FAILURE
        }
    }
}
