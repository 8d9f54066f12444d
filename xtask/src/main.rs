//! Project tasks: `cargo xtask setup | build-ebpf | test | ipvs-test |
//! ipvs-bench | lab | soak | fuzz | fresh-check | deb | keepalived-import`.
mod cmd;
mod deb;
mod docs;
mod ebpf;
mod fresh;
mod fuzz;
mod guest;
mod keepalived;
mod lab;
mod lab_bgp;
mod lab_hold;
mod setup;
mod soak;
mod test;
mod tools;
mod totals;

use std::time::Duration;

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
    /// Setup, eBPF build, fmt check, clippy, unit and integration tests,
    /// then the IPVS tests in the guest (as `ipvs-test`).
    Test {
        /// Extra arguments passed to `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Run the IPVS integration tests in a qemu guest with Debian's kernel
    /// (built from cached packages on first use; this kernel has no IPVS).
    IpvsTest {
        /// Kill the guest after this many seconds.
        #[arg(long, default_value_t = guest::DEFAULT_TIMEOUT.as_secs())]
        timeout: u64,
        /// Extra arguments for the test programs (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Run the IPVS programming benchmark (release build) in the guest.
    IpvsBench {
        /// Kill the guest after this many seconds.
        #[arg(long, default_value_t = guest::DEFAULT_TIMEOUT.as_secs())]
        timeout: u64,
        /// Arguments for the benchmark (see `ipvs-program --help`).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Bring this machine back to the base image (purge every package it
    /// lacks, remove bpf-linker, caches, downloaded crates), then run the
    /// README's two commands from a fresh clone of HEAD and report times
    /// and test counts. Destructive: for a development machine only.
    FreshCheck {
        /// The base image's package list.
        #[arg(long, default_value = fresh::DEFAULT_BASE_LIST)]
        base_list: std::path::PathBuf,
        /// Keep the fresh clone afterwards.
        #[arg(long)]
        keep_clone: bool,
    },
    /// Build the Debian package (cargo-deb): lb-daemon with its XDP object,
    /// the systemd unit, man pages, completions; prints its path.
    Deb,
    /// Run every fuzz target in turn (libFuzzer targets of lb-daemon/fuzz,
    /// then the XDP program through BPF_PROG_TEST_RUN, as root) and print
    /// executions and crashes per target; fails when any crashed.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = fuzz::CI_SECONDS)]
        seconds: u64,
        /// Only this target (e.g. http_reply, xdp).
        #[arg(long)]
        target: Option<String>,
        /// Seed of the XDP harness.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Build the libFuzzer targets without comparison tracing (cargo
        /// fuzz --no-trace-compares, into fuzz/target-fast): about twice the
        /// rate of the keepalived.conf targets, for long runs on the corpus
        /// that traced runs grew.
        #[arg(long)]
        no_trace_compares: bool,
        /// Stop each libFuzzer target after this many executions (or
        /// --seconds, whichever comes first).
        #[arg(long)]
        runs: Option<u64>,
        /// libFuzzer targets run at once (default: one per CPU).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Build the netns lab, run both directors' daemons, show what each holds.
    Lab {
        /// Tear down after this many seconds instead of waiting for Ctrl-C.
        #[arg(long)]
        hold: Option<u64>,
        /// The active-active lab instead: an FRR router, three directors
        /// announcing over BGP, ECMP.
        #[arg(long)]
        bgp: bool,
    },
    /// The chaos soak: two lb-daemon directors (VRRP sync group, XDP `mh`
    /// service) and keepalived under seeded faults (kill -9, SIGSTOP, link
    /// down, partition, loss, reloads, real server death, interface
    /// re-created); prints a table per fault kind, fails when a goal broke.
    Soak {
        /// How many faults.
        #[arg(long, default_value_t = 20)]
        faults: usize,
        /// The seed of the fault sequence.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Every instance's advert interval, in milliseconds.
        #[arg(long, default_value_t = 500)]
        advert_ms: u64,
        /// Also write the table as markdown to this file.
        #[arg(long)]
        report: Option<std::path::PathBuf>,
    },
    /// Regenerate keepalived's keyword list and sample configurations from
    /// its sources (a checkout or a bare git directory).
    KeepalivedImport {
        /// keepalived's source tree or git directory.
        source: std::path::PathBuf,
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
        Task::IpvsTest { timeout, args } => test::run_ipvs(&args, Duration::from_secs(timeout)),
        Task::IpvsBench { timeout, args } => {
            setup::run()?;
            ebpf::build()?;
            guest::run_bench(&args, Duration::from_secs(timeout))
        }
        Task::FreshCheck {
            base_list,
            keep_clone,
        } => fresh::run(&fresh::Options {
            base_list,
            keep_clone,
        }),
        Task::Fuzz {
            seconds,
            target,
            seed,
            no_trace_compares,
            runs,
            jobs,
        } => {
            setup::run()?;
            // xdp-fuzz needs the XDP object embedded: built here unless
            // LB_EBPF_OBJECT names one (lb-daemon/build.rs then embeds it).
            if std::env::var_os("LB_EBPF_OBJECT").is_none_or(|v| v.is_empty()) {
                ebpf::build()?;
            }
            fuzz::run(&fuzz::Options {
                seconds,
                target,
                seed,
                trace_compares: !no_trace_compares,
                runs,
                jobs: jobs.unwrap_or_else(fuzz::default_jobs),
            })
        }
        Task::Lab { hold, bgp } => lab::run(hold.map(Duration::from_secs), bgp),
        Task::Soak {
            faults,
            seed,
            advert_ms,
            report,
        } => soak::run(&soak::Args {
            faults,
            seed,
            advert_ms,
            report,
        }),
        Task::Deb => deb::run().map(drop),
        Task::KeepalivedImport { source } => keepalived::run(&source),
    }
}
