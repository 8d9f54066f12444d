//! `cargo xtask fuzz`: every fuzz target, each for a fixed time (as many
//! at once as `--jobs` says: one per CPU by default), then one line per
//! target with its executions and whether it crashed.
//!
//! * The libFuzzer targets of `lb-daemon/fuzz` (cargo-fuzz), built on the
//!   stable toolchain with `RUSTC_BOOTSTRAP=1`, without a sanitizer (the
//!   decoders are safe Rust; debug assertions and overflow checks are on),
//!   each run on its corpus (`fuzz/corpus/T`, kept between runs, not
//!   committed) and the committed seeds and regression inputs
//!   (`fuzz/seeds/T`). A crash leaves its input in `fuzz/artifacts/` and
//!   the fuzzer's log next to it.
//! * `xdp`: the XDP program through `BPF_PROG_TEST_RUN` (`bench` binary
//!   `xdp-fuzz`, seeded; needs root).
use std::{
    collections::VecDeque,
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
    time::Instant,
};

use anyhow::{bail, Context, Result};

use crate::cmd;

/// The libFuzzer targets, in run order.
pub const LIBFUZZER_TARGETS: &[&str] = &[
    "vrrp_parse",
    "keepalived_conf",
    "keepalived_include",
    "toml_config",
    "conf_round_trip",
    "http_reply",
    "dns_reply",
    "smtp_reply",
    "control_socket",
    "ipvs_reply",
    "rtnetlink_reply",
];
/// The XDP harness, run after them.
pub const XDP_TARGET: &str = "xdp";
/// Seconds per target in `cargo xtask test`, as issue 16 asks: 12 targets
/// x 30 s, two at a time on two CPUs, is three and a half minutes of
/// fuzzing (the build comes on top).
pub const CI_SECONDS: u64 = 30;
/// Where the targets' scratch directories go when it exists (tmpfs).
const SCRATCH_PARENT: &str = "/dev/shm";
/// Longest one input may take before libFuzzer reports a hang.
const INPUT_TIMEOUT_SECS: u64 = 10;

/// What to run.
pub struct Options {
    /// Seconds per target.
    pub seconds: u64,
    /// Only this target.
    pub target: Option<String>,
    /// Seed of the XDP harness.
    pub seed: u64,
    /// Build with libFuzzer's comparison tracing (the default); without
    /// it the binaries go to `fuzz/target-fast`.
    pub trace_compares: bool,
    /// Most executions per libFuzzer target (`-runs`), if bounded.
    pub runs: Option<u64>,
    /// libFuzzer targets run at once (each is one process on one CPU).
    pub jobs: usize,
}

/// One libFuzzer target per CPU.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How one target's run went.
struct Report {
    target: String,
    executions: u64,
    seconds: f64,
    /// The input and message of the crash, if there was one.
    crash: Option<String>,
}

/// Builds and runs the chosen targets; fails when any crashed.
pub fn run(options: &Options) -> Result<()> {
    let every: Vec<&str> = LIBFUZZER_TARGETS
        .iter()
        .copied()
        .chain([XDP_TARGET])
        .collect();
    let chosen: Vec<&str> = match &options.target {
        Some(t) if every.contains(&t.as_str()) => vec![t.as_str()],
        Some(t) => bail!("no fuzz target {t}; the targets are: {}", every.join(", ")),
        None => every,
    };
    let libfuzzer: Vec<&str> = chosen
        .iter()
        .copied()
        .filter(|t| *t != XDP_TARGET)
        .collect();
    let mut reports = Vec::new();
    if !libfuzzer.is_empty() {
        let binaries = build_libfuzzer(options.trace_compares)?;
        reports = run_libfuzzer_all(&binaries, &libfuzzer, options)?;
    }
    if chosen.contains(&XDP_TARGET) {
        reports.push(run_xdp(options)?);
    }
    println!(
        "{:<20} {:>14} {:>10} result",
        "fuzz target", "executions", "exec/s"
    );
    for r in &reports {
        let rate = r.executions as f64 / r.seconds.max(0.001);
        let result = r.crash.as_deref().unwrap_or("0 crashes");
        println!(
            "{:<20} {:>14} {rate:>10.0} {result}",
            r.target, r.executions
        );
    }
    let crashed = reports.iter().filter(|r| r.crash.is_some()).count();
    if crashed > 0 {
        bail!("{crashed} fuzz target(s) crashed");
    }
    Ok(())
}

fn fuzz_dir() -> PathBuf {
    cmd::workspace_root().join("lb-daemon/fuzz")
}

/// Builds every libFuzzer target, with comparison tracing or without it
/// (into its own target directory, so neither build undoes the other);
/// returns the directory of the binaries.
fn build_libfuzzer(trace_compares: bool) -> Result<PathBuf> {
    cmd::step("building the fuzz targets (cargo fuzz build, RUSTC_BOOTSTRAP=1)");
    let target_dir = fuzz_dir().join(match trace_compares {
        true => "target",
        false => "target-fast",
    });
    let mut build = Command::new("cargo");
    build
        .current_dir(cmd::workspace_root().join("lb-daemon"))
        .args(["fuzz", "build", "--sanitizer", "none", "--debug-assertions"])
        .arg("--target-dir")
        .arg(&target_dir);
    if !trace_compares {
        build.arg("--no-trace-compares");
    }
    cmd::run(
        build
            // libFuzzer's instrumentation needs -Z flags: nightly features
            // on the stable compiler.
            .env("RUSTC_BOOTSTRAP", "1"),
    )?;
    let version = cmd::output(Command::new("rustc").arg("-vV"))?;
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .context("rustc -vV names no host")?;
    Ok(target_dir.join(host).join("release"))
}

/// Runs `targets`, `options.jobs` at a time; their reports in order.
fn run_libfuzzer_all(binaries: &Path, targets: &[&str], options: &Options) -> Result<Vec<Report>> {
    let queue = Mutex::new(targets.iter().copied().enumerate().collect::<VecDeque<_>>());
    let done = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, targets.len()) {
            scope.spawn(|| loop {
                let Some((index, target)) = lock(&queue).pop_front() else {
                    return;
                };
                let report = run_libfuzzer(binaries, target, options);
                lock(&done).push((index, report));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, report)| report).collect()
}

/// `mutex` locked, whether or not a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_libfuzzer(binaries: &Path, target: &str, options: &Options) -> Result<Report> {
    let seconds = options.seconds;
    cmd::step(&format!("fuzzing {target} for {seconds} s"));
    let dir = fuzz_dir();
    let corpus = dir.join("corpus").join(target);
    let artifacts = dir.join("artifacts");
    fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    fs::create_dir_all(&artifacts)?;
    // Scratch files of the targets (keepalived_include) go there and are
    // removed with it: in memory where /dev/shm exists, because ext4
    // flushes a file rewritten in place when it is closed (auto_da_alloc),
    // which held keepalived_include to a few hundred executions a second.
    let scratch = match Path::new(SCRATCH_PARENT).is_dir() {
        true => tempfile::tempdir_in(SCRATCH_PARENT)?,
        false => tempfile::tempdir()?,
    };
    let log = artifacts.join(format!("{target}.log"));
    let output = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let started = Instant::now();
    let mut fuzzer = Command::new(binaries.join(target));
    if let Some(runs) = options.runs {
        fuzzer.arg(format!("-runs={runs}"));
    }
    let status = fuzzer
        .arg(&corpus)
        .arg(dir.join("seeds").join(target))
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
        .arg("-print_final_stats=1")
        .arg(format!(
            "-artifact_prefix={}/{target}-",
            artifacts.display()
        ))
        .env("TMPDIR", scratch.path())
        .stdout(output.try_clone()?)
        .stderr(output)
        .status()
        .with_context(|| format!("running fuzz target {target}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let output = fs::read_to_string(&log).unwrap_or_default();
    let executions = output
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let crash = (!status.success()).then(|| crash_summary(&output, &log));
    Ok(Report {
        target: target.to_owned(),
        executions,
        seconds,
        crash,
    })
}

/// The crashing input and the panic message, from a libFuzzer log.
fn crash_summary(output: &str, log: &Path) -> String {
    let input = output
        .lines()
        .find_map(|l| l.split("Test unit written to ").nth(1))
        .unwrap_or("no input saved");
    let message = output
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .nth(1)
        .unwrap_or("see the log");
    format!("CRASH: {message} (input {input}, log {})", log.display())
}

fn run_xdp(options: &Options) -> Result<Report> {
    cmd::step("building xdp-fuzz");
    let root = cmd::workspace_root();
    cmd::run(
        Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "bench", "--bin", "xdp-fuzz"]),
    )?;
    cmd::step(&format!(
        "fuzzing the XDP program for {} s (seed {})",
        options.seconds, options.seed
    ));
    let started = Instant::now();
    let out = Command::new(root.join("target/debug/xdp-fuzz"))
        .args(["--seconds", &options.seconds.to_string()])
        .args(["--seed", &options.seed.to_string()])
        .output()
        .context("running xdp-fuzz")?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    let executions = stdout
        .split_whitespace()
        .zip(stdout.split_whitespace().skip(1))
        .find_map(|(n, word)| (word == "runs").then(|| n.parse().ok()).flatten())
        .unwrap_or(0);
    let crash = (!out.status.success()).then(|| format!("FAILURE: {}", stderr.trim()));
    Ok(Report {
        target: XDP_TARGET.to_owned(),
        executions,
        seconds,
        crash,
    })
}
