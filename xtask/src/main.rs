//! Project tasks: `cargo xtask setup | build-ebpf | test | lab`.
mod cmd;
mod ebpf;
mod lab;
mod setup;
mod test;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Project tasks for lb-daemon")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install every tool the build, tests and lab need (idempotent).
    Setup,
    /// Build the XDP object that lb-daemon embeds.
    BuildEbpf,
    /// Setup, eBPF build, fmt check, clippy, unit and integration tests.
    Test {
        /// Extra arguments passed to `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Build the netns lab, run both directors' daemons, show what each holds.
    Lab {
        /// Tear down after this many seconds instead of waiting for Ctrl-C.
        #[arg(long)]
        hold: Option<u64>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Setup => setup::run(),
        Task::BuildEbpf => {
            setup::run()?;
            ebpf::build()
        }
        Task::Test { args } => test::run(&args),
        Task::Lab { hold } => lab::run(hold.map(std::time::Duration::from_secs)),
    }
}
