//! `lb-daemon` entry point: parses the command line and dispatches.
use std::{io::IsTerminal, process::ExitCode};

use lb_daemon::{
    cli::{self, config_test, setup, signum, Command},
    commands, config, daemon,
};
use tracing::warn;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let mut cli = cli::parse();
    if let Some(sigfunc) = &cli.run.signum {
        return signum::print(sigfunc);
    }
    if let Some(Some(log_file)) = &cli.run.config_test {
        if !log_file.as_os_str().is_empty() {
            if let Err(e) = setup::redirect_stderr(log_file) {
                eprintln!("{e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(cli.run.log_filter())),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let (config_id, all_config) = match &cli.command {
        Some(Command::Check(f) | Command::Convert(f)) => (f.config_id.clone(), false),
        _ => (cli.run.config_id.clone(), cli.run.all_config),
    };
    config::set_read_options(config::ReadOptions::new(config_id, all_config));
    let configured = match &cli.command {
        None => Some((cli.run.config.clone(), cli.run.config_test.is_some())),
        Some(Command::Check(f)) => Some((f.config.clone(), true)),
        Some(_) => None,
    };
    if let Some((path, testing)) = configured {
        setup::follow_config(&mut cli.run, &path, testing);
    }
    if let Err(e) = setup::apply(&cli.run) {
        eprintln!("lb-daemon: {e:#}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        None if cli.run.config_test.is_some() => return config_test::run(&cli.run.config),
        Some(Command::Check(f)) => return config_test::run(&f.config),
        Some(Command::Convert(f)) => return commands::convert(&f.config),
        Some(Command::Status { runtime_dir, json }) => commands::status(&runtime_dir, json),
        Some(Command::Genhash(args)) => commands::genhash(&args),
        Some(Command::Drain(args)) => commands::drain(&args, true),
        Some(Command::Undrain(args)) => commands::drain(&args, false),
        None => {
            for note in cli.run.ignored() {
                warn!("{note}");
            }
            daemon::run(&cli.run)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lb-daemon: {e:#}");
            ExitCode::FAILURE
        }
    }
}
