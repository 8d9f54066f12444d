//! `cargo xtask fresh-check`: proves the README's two commands on a machine
//! brought back to the base image. It purges every Debian package the base
//! image lacks (so what setup installed, and anything installed by hand),
//! removes what setup installs outside apt and the caches it keeps (the
//! guest's packages; a fresh clone has no build or guest image), then
//! clones the committed checkout and runs `cargo xtask lab --hold` and
//! `bash .ci/run` there, printing each step's time and the test counts.
//!
//! It is destructive by design: run it on a development machine of the
//! project's kind, never on one whose packages matter.
use std::{
    collections::BTreeSet,
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context, Result};

use crate::{cmd, setup};

/// Where this workplace lists what a new machine of the project's kind has.
pub const DEFAULT_BASE_LIST: &str = "/work/.library/env/packages/installed-rust.txt";

/// How long the lab runs before it tears itself down.
const LAB_HOLD_SECONDS: &str = "5";

/// Options of the check.
pub struct Options {
    /// The base image's package list (`apt<TAB>name<TAB>version` lines).
    pub base_list: PathBuf,
    /// Keep the fresh clone afterwards (its path is printed).
    pub keep_clone: bool,
}

/// One timed step of the report.
struct Step {
    what: String,
    seconds: f64,
    outcome: String,
}

/// Runs the whole check.
pub fn run(options: &Options) -> Result<()> {
    let root = cmd::workspace_root();
    if !git_clean(&root)? {
        cmd::step("the work tree has uncommitted changes: the check runs the committed HEAD only");
    }
    let base = read_base_list(&options.base_list)?;
    let mut steps = Vec::new();

    let started = Instant::now();
    let purged = purge_packages_outside(&base)?;
    steps.push(Step {
        what: "purge packages the base image lacks".into(),
        seconds: started.elapsed().as_secs_f64(),
        outcome: format!("{} purged", purged.len()),
    });

    let started = Instant::now();
    let removed = remove_non_apt_state()?;
    steps.push(Step {
        what: "remove tools, caches and mounts setup made".into(),
        seconds: started.elapsed().as_secs_f64(),
        outcome: removed.join(", "),
    });

    let clone = std::env::temp_dir().join(format!("lb-fresh-{}", std::process::id()));
    let started = Instant::now();
    cmd::run(
        Command::new("git")
            .args(["clone", "-q"])
            .arg(&root)
            .arg(&clone),
    )?;
    steps.push(Step {
        what: "git clone of HEAD".into(),
        seconds: started.elapsed().as_secs_f64(),
        outcome: head(&clone)?,
    });

    let lab = timed_in(
        &clone,
        "cargo",
        &["xtask", "lab", "--hold", LAB_HOLD_SECONDS],
    )?;
    steps.push(Step {
        what: format!("cargo xtask lab --hold {LAB_HOLD_SECONDS} (first command: setup, builds)"),
        seconds: lab.seconds,
        outcome: lab.outcome(),
    });
    let installed = installed_outside(&base)?;
    let size_kib = installed_size_kib(&installed)?;

    let test = timed_in(&clone, "bash", &[".ci/run"])?;
    steps.push(Step {
        what: "bash .ci/run (= cargo xtask test)".into(),
        seconds: test.seconds,
        outcome: test.outcome(),
    });

    println!("\nfresh-check report ({})", head(&clone)?);
    println!("{:<70} {:>9}  outcome", "step", "seconds");
    for s in &steps {
        println!("{:<70} {:>9.1}  {}", s.what, s.seconds, s.outcome);
    }
    println!(
        "setup installed {} Debian packages ({:.0} MiB installed size) besides the base image",
        installed.len(),
        size_kib as f64 / 1024.0
    );
    for (what, path) in [
        ("bpf-linker", home().join(".cargo/bin/bpf-linker")),
        ("guest .debs", PathBuf::from(setup::GUEST_DEBS)),
    ] {
        println!("{what}: {:.0} MiB at {}", du_mib(&path), path.display());
    }
    if options.keep_clone {
        println!("fresh clone kept at {}", clone.display());
    } else {
        fs::remove_dir_all(&clone).with_context(|| format!("removing {}", clone.display()))?;
    }
    if !lab.success || !test.success {
        bail!("the fresh check failed (see the report above)");
    }
    Ok(())
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

fn git_clean(root: &Path) -> Result<bool> {
    let out = cmd::output(
        Command::new("git")
            .current_dir(root)
            .args(["status", "--porcelain"]),
    )?;
    Ok(out.trim().is_empty())
}

fn head(repo: &Path) -> Result<String> {
    Ok(cmd::output(
        Command::new("git")
            .current_dir(repo)
            .args(["log", "-1", "--format=%h %s"]),
    )?
    .trim()
    .to_owned())
}

/// Package names (`name` or `name:arch`, as dpkg's `binary:Package`) of the
/// base image.
fn read_base_list(path: &Path) -> Result<BTreeSet<String>> {
    let text = fs::read_to_string(path).with_context(|| {
        format!(
            "reading the base image's package list {} (--base-list)",
            path.display()
        )
    })?;
    let base: BTreeSet<String> = parse_base_list(&text);
    if base.len() < 100 {
        bail!(
            "{}: only {} packages listed; is it the base image's list?",
            path.display(),
            base.len()
        );
    }
    Ok(base)
}

fn parse_base_list(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split('\t');
            (fields.next() == Some("apt"))
                .then(|| fields.next())
                .flatten()
                .map(str::to_owned)
        })
        .collect()
}

/// Installed packages (as dpkg's `binary:Package`) that `base` lacks.
fn installed_outside(base: &BTreeSet<String>) -> Result<Vec<String>> {
    let listing = cmd::output(
        Command::new("dpkg-query").args(["-W", "-f=${binary:Package} ${db:Status-Abbrev}\n"]),
    )?;
    Ok(listing
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            (words.next() == Some("ii") && !base.contains(name)).then(|| name.to_owned())
        })
        .collect())
}

fn purge_packages_outside(base: &BTreeSet<String>) -> Result<Vec<String>> {
    let extra = installed_outside(base)?;
    if extra.is_empty() {
        cmd::step("no package outside the base image is installed");
        return Ok(extra);
    }
    cmd::step(&format!(
        "purging {} packages: {}",
        extra.len(),
        extra.join(" ")
    ));
    cmd::run(
        Command::new("apt-get")
            .args(["purge", "-y", "-qq"])
            .args(&extra)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let left = installed_outside(base)?;
    if !left.is_empty() {
        bail!("still installed after the purge: {}", left.join(" "));
    }
    cmd::run(Command::new("apt-get").args(["clean"]))?;
    Ok(extra)
}

/// bpf-linker, cargo-fuzz, cargo-deb, the guest's .debs and the bpffs mount: what
/// setup leaves outside apt. (cargo's crate cache is not the project's: kept.)
fn remove_non_apt_state() -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for tool in ["bpf-linker", "cargo-fuzz", "cargo-deb"] {
        if home().join(".cargo/bin").join(tool).exists() {
            cmd::run(Command::new("cargo").args(["uninstall", "-q", tool]))?;
            removed.push(tool.to_owned());
        }
    }
    // /var/cache/lb-daemon: the guest's .debs and anything else cached there.
    if let Some(cache) = Path::new(setup::GUEST_DEBS).parent() {
        if cache.exists() {
            fs::remove_dir_all(cache).with_context(|| format!("removing {}", cache.display()))?;
            removed.push(cache.display().to_string());
        }
    }
    let mounts = fs::read_to_string("/proc/self/mounts")?;
    if mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
    {
        cmd::run(Command::new("umount").arg("/sys/fs/bpf"))?;
        removed.push("bpffs mount".to_owned());
    }
    Ok(removed)
}

fn installed_size_kib(packages: &[String]) -> Result<u64> {
    if packages.is_empty() {
        return Ok(0);
    }
    let out = cmd::output(
        Command::new("dpkg-query")
            .args(["-W", "-f=${Installed-Size}\n"])
            .args(packages),
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .sum())
}

fn du_mib(path: &Path) -> f64 {
    Command::new("du")
        .args(["-sk"])
        .arg(path)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |k| k / 1024.0)
}

/// A command's result: time, status and the suite's closing counts.
struct Timed {
    seconds: f64,
    success: bool,
    counts: Option<String>,
}

impl Timed {
    fn outcome(&self) -> String {
        let status = if self.success { "ok" } else { "FAILED" };
        match &self.counts {
            Some(c) => format!("{status}: {c}"),
            None => status.to_owned(),
        }
    }
}

/// Runs `program args` in `dir` as a user would (none of cargo's variables
/// from this xtask, nor a developer's `LB_EBPF_OBJECT`, leak in), echoing its output and keeping the last
/// `N passed, N failed` line.
fn timed_in(dir: &Path, program: &str, args: &[&str]) -> Result<Timed> {
    cmd::step(&format!(
        "in {}: {program} {}",
        dir.display(),
        args.join(" ")
    ));
    let mut command = Command::new(program);
    command.current_dir(dir).args(args).stdout(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("CARGO")
            || key_text.starts_with("RUSTUP_TOOLCHAIN")
            || key_text == "LB_EBPF_OBJECT"
        {
            command.env_remove(&key);
        }
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let mut counts = None;
    let stdout = child.stdout.take().context("child stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if is_counts_line(&line) {
            counts = Some(line.trim().to_owned());
        }
    }
    let status = child.wait()?;
    Ok(Timed {
        seconds: started.elapsed().as_secs_f64(),
        success: status.success(),
        counts,
    })
}

fn is_counts_line(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    matches!(words.as_slice(), [p, "passed,", f, "failed"]
        if p.parse::<u64>().is_ok() && f.parse::<u64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_list_keeps_apt_names_with_their_architecture() {
        let text = "# kinds: rust\napt\tadduser\t3.134\napt\tlibacl1:amd64\t2.3\n\
                    pip 3.11\tFlask\t3.1.3\nnote, no package\tx\ty\n";
        assert_eq!(
            Vec::from_iter(parse_base_list(text)),
            ["adduser", "libacl1:amd64"]
        );
    }

    #[test]
    fn counts_lines_are_the_plain_closing_line_only() {
        assert!(is_counts_line("352 passed, 0 failed"));
        assert!(!is_counts_line("test result: ok. 7 passed; 0 failed;"));
        assert!(!is_counts_line("some passed, none failed"));
    }
}
