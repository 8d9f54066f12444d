//! `-t`/`--config-test` (and `lb-daemon check`): validates a configuration
//! and exits with keepalived's codes (`config_test_exit` in
//! keepalived/core/main.c, `KEEPALIVED_CHK_EXIT_*` in lib/scheduler.h).
//!
//! keepalived keeps the numerically highest `config_err_t` it reported, so
//! a SECURITY VIOLATION beats any error, and any error or warning beats a
//! missing file; [`Verdict`] orders the same way. Like keepalived, the test
//! also reports interfaces that do not exist (in the current network
//! namespace, so use `--namespace` or `ip netns exec` for another one).
use std::{
    env,
    path::{Path, PathBuf},
    process::ExitCode,
};

use nix::net::if_::if_nametoindex;

use crate::config::{self, Command, Config};

/// Where programs are looked for when `PATH` is not set.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a configuration test found, in keepalived's precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// `KEEPALIVED_CHK_EXIT_OK`: nothing to report.
    Valid = 0,
    /// `KEEPALIVED_CHK_EXIT_CONFIG`: cannot be run (the file cannot be read).
    CannotRun = 4,
    /// `KEEPALIVED_CHK_EXIT_CONFIG_TEST`: errors or warnings.
    Problems = 5,
    /// `KEEPALIVED_CHK_EXIT_CONFIG_TEST_SECURITY`: scripts without
    /// `enable_script_security`.
    Security = 6,
}

/// The outcome of a test: the verdict and what to tell the operator.
#[derive(Debug)]
pub struct Report {
    /// keepalived's class of the worst finding.
    pub verdict: Verdict,
    /// One line per finding.
    pub findings: Vec<String>,
    /// A closing sentence: what lb-daemon would do with the file.
    pub summary: String,
}

/// Tests `path`, prints the findings on stderr and the summary (stdout when
/// valid, stderr when not), and returns the exit code.
pub fn run(path: &Path) -> ExitCode {
    let report = test(path);
    for finding in &report.findings {
        eprintln!("{finding}");
    }
    match report.verdict {
        Verdict::Valid => println!("{}", report.summary),
        _ => eprintln!("{}", report.summary),
    }
    ExitCode::from(report.verdict as u8)
}

/// Tests the configuration at `path`.
pub fn test(path: &Path) -> Report {
    let name = path.display();
    if let Err(why) = config::source::read(path) {
        return Report {
            verdict: Verdict::CannotRun,
            findings: vec![format!("Unable to read configuration file: {why}")],
            summary: format!("{name}: configuration cannot be read"),
        };
    }
    let loaded = match config::load(path) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            let errors = diagnostics.0.iter().filter(|d| d.is_error()).count();
            return Report {
                verdict: Verdict::Problems,
                findings: diagnostics.0.iter().map(ToString::to_string).collect(),
                summary: format!(
                    "{name}: {errors} error(s); lb-daemon does not start with this configuration"
                ),
            };
        }
    };
    let mut findings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    findings.extend(missing_interfaces(&loaded.config));
    findings.extend(missing_track_scripts(&loaded.config));
    let insecure = insecure_scripts(&loaded.config);
    let verdict = match (&insecure, findings.is_empty()) {
        (Some(_), _) => Verdict::Security,
        (None, false) => Verdict::Problems,
        (None, true) => Verdict::Valid,
    };
    findings.extend(insecure);
    let summary = match verdict {
        Verdict::Valid => format!("{name}: configuration is valid"),
        Verdict::Security => format!(
            "{name}: lb-daemon runs this configuration, and its scripts without enable_script_security"
        ),
        _ => format!(
            "{name}: {} finding(s); lb-daemon runs this configuration, ignoring or correcting what is reported",
            findings.len()
        ),
    };
    Report {
        verdict,
        findings,
        summary,
    }
}

/// keepalived's "WARNING - interface X for vrrp_instance Y doesn't exist":
/// one line for each interface the configuration names that this network
/// namespace does not have.
fn missing_interfaces(config: &Config) -> Vec<String> {
    let mut named: Vec<(String, String)> = Vec::new();
    for instance in &config.vrrp_instance {
        let owner = format!("vrrp_instance {}", instance.name);
        let interface = instance.interface.as_ref();
        let interface = interface.or(config.global_defs.default_interface.as_ref());
        named.extend(interface.map(|i| (i.clone(), owner.clone())));
        let tracked = instance.track_interface.iter().map(|t| &t.name);
        named.extend(tracked.map(|i| (i.clone(), format!("track_interface of {owner}"))));
        let vips = instance.virtual_ipaddress.iter();
        let vips = vips.chain(&instance.virtual_ipaddress_excluded);
        named.extend(vips.filter_map(|vip| {
            let dev = vip.dev.clone()?;
            Some((dev, format!("virtual_ipaddress {} of {owner}", vip.address)))
        }));
    }
    for group in &config.vrrp_sync_group {
        let tracked = group.track_interface.iter().map(|t| &t.name);
        named.extend(tracked.map(|i| {
            (
                i.clone(),
                format!("track_interface of vrrp_sync_group {}", group.name),
            )
        }));
    }
    for server in &config.virtual_server {
        for real in &server.real_server {
            let binds = real.checker.iter().filter_map(|c| c.bind_if.clone());
            named.extend(binds.map(|i| {
                (
                    i,
                    format!("bind_if of a checker of real_server {}", real.address),
                )
            }));
        }
    }
    named
        .into_iter()
        .filter(|(interface, _)| if_nametoindex(interface.as_str()).is_err())
        .map(|(interface, owner)| format!("interface {interface} for {owner} doesn't exist"))
        .collect()
}

/// keepalived's "Disabling track script X since not found/accessible": a
/// `vrrp_script` whose program does not exist (keepalived looks for the
/// first word of the line, so a shell statement such as `if [ … ]` is not
/// found either; lb-daemon runs that one with the shell).
fn missing_track_scripts(config: &Config) -> Vec<String> {
    if config.vrrp_instance.is_empty() {
        return Vec::new();
    }
    let scripts = config.vrrp_script.iter();
    let lines = scripts.filter_map(|s| Some((&s.name, s.script.as_deref()?)));
    lines
        .filter(|(_, line)| program_found(line) == Some(false))
        .map(|(name, line)| {
            format!("vrrp_script {name}: the program of `{line}` is not found; keepalived disables the script")
        })
        .collect()
}

/// keepalived's "SECURITY VIOLATION - scripts are being executed but
/// script_security not enabled": any script that would execute (found on
/// disk, not a `</path` file test) without `enable_script_security`.
fn insecure_scripts(config: &Config) -> Option<String> {
    if config.global_defs.enable_script_security {
        return None;
    }
    let found: Vec<String> = scripts(config)
        .into_iter()
        .filter(|(_, line)| program_found(line) == Some(true))
        .map(|(what, line)| format!("{what} `{line}`"))
        .collect();
    (!found.is_empty()).then(|| {
        format!(
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled \
             (set enable_script_security in global_defs): {}",
            found.join(", ")
        )
    })
}

/// Every command line the configuration runs, with where it is configured
/// (keepalived looks at the VRRP ones only with an instance, and at the
/// checker ones only with a virtual server).
fn scripts(config: &Config) -> Vec<(String, String)> {
    let mut all = Vec::new();
    let mut notify = |owner: String, commands: [&Option<Command>; 5]| {
        let lines = commands.into_iter().flatten();
        all.extend(lines.map(|c| (format!("notify script of {owner}"), c.script.clone())));
    };
    if !config.vrrp_instance.is_empty() {
        for i in &config.vrrp_instance {
            let commands = [
                &i.notify_master,
                &i.notify_backup,
                &i.notify_fault,
                &i.notify_stop,
                &i.notify,
            ];
            notify(format!("vrrp_instance {}", i.name), commands);
        }
        for g in &config.vrrp_sync_group {
            let commands = [
                &g.notify_master,
                &g.notify_backup,
                &g.notify_fault,
                &g.notify_stop,
                &g.notify,
            ];
            notify(format!("vrrp_sync_group {}", g.name), commands);
        }
        let vrrp_scripts = config.vrrp_script.iter();
        all.extend(
            vrrp_scripts
                .filter_map(|s| Some((format!("vrrp_script {}", s.name), s.script.clone()?))),
        );
    }
    for server in &config.virtual_server {
        let quorum = [&server.quorum_up, &server.quorum_down]
            .into_iter()
            .flatten();
        all.extend(quorum.map(|c| {
            (
                "quorum_up/quorum_down of a virtual_server".to_owned(),
                c.script.clone(),
            )
        }));
        for real in &server.real_server {
            let owner = format!("real_server {}", real.address);
            let notify = [&real.notify_up, &real.notify_down].into_iter().flatten();
            all.extend(notify.map(|c| {
                (
                    format!("notify_up/notify_down of {owner}"),
                    c.script.clone(),
                )
            }));
            let misc = real.checker.iter().filter_map(|c| c.misc_path.clone());
            all.extend(misc.map(|line| (format!("MISC_CHECK of {owner}"), line)));
        }
    }
    all
}

/// Whether keepalived's `check_script_secure` finds the program of
/// `line` (by path, or on `PATH`); `None` for a `</path` file test, which
/// runs nothing.
fn program_found(line: &str) -> Option<bool> {
    let file_test = line.trim_start().strip_prefix('<');
    if file_test.is_some_and(|rest| rest.trim_start().starts_with('/')) {
        return None;
    }
    let words = config::script_words(line).ok()?;
    let program = words.into_iter().next()?;
    if program.contains('/') {
        return Some(Path::new(&program).exists());
    }
    let path = env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    Some(env::split_paths(&path).any(|dir: PathBuf| dir.join(&program).is_file()))
}

#[cfg(test)]
#[path = "config_test_tests.rs"]
mod tests;
