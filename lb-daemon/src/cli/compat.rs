//! keepalived's command line as lb-daemon reads it: getopt's habits (long
//! options abbreviated, options repeated, `-T` taking the rest of the line
//! as genhash's), the order-dependent `-P`/`-C`/`--all`, and the notice for
//! each keepalived option lb-daemon accepts without acting on it.
use std::{ffi::OsString, path::PathBuf};

use clap::{parser::ValueSource, ArgMatches, CommandFactory, FromArgMatches};

use super::{Cli, RunArgs, DEFAULT_RUNTIME_DIR};
use crate::config::Config;

/// The subsystems that run: keepalived's VRRP and checker children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsystems {
    /// VRRP instances, sync groups and their scripts.
    pub vrrp: bool,
    /// Health checkers, IPVS and the fast path.
    pub checkers: bool,
}

impl Default for Subsystems {
    fn default() -> Subsystems {
        Subsystems {
            vrrp: true,
            checkers: true,
        }
    }
}

impl Subsystems {
    /// `config` without the blocks of the subsystems that do not run (a
    /// `track_file` stays: FILE_CHECK reads it too).
    pub fn select(self, mut config: Config) -> Config {
        // keepalived's VRRP process runs the sync daemon that follows an
        // instance, its checker process the one that follows none.
        let sync_runs = match config.sync_daemon().map(|s| s.instance.is_some()) {
            Some(true) => self.vrrp,
            Some(false) => self.checkers,
            None => true,
        };
        if !sync_runs {
            config.global_defs.lvs_sync_daemon = None;
        }
        if !self.vrrp {
            config.vrrp_instance.clear();
            config.vrrp_sync_group.clear();
            config.vrrp_script.clear();
            // keepalived's VRRP process holds the static ones.
            config.static_ipaddress.clear();
            config.static_routes.clear();
            config.static_rules.clear();
        }
        if !self.checkers {
            config.virtual_server.clear();
            config.virtual_server_group.clear();
        }
        config
    }

    /// keepalived's flags for this selection, for the start-up log.
    pub fn describe(self) -> &'static str {
        match (self.vrrp, self.checkers) {
            (true, true) => "VRRP and checkers",
            (true, false) => "VRRP only (-P)",
            (false, true) => "checkers only (-C)",
            (false, false) => "neither VRRP nor checkers (-P and -C)",
        }
    }
}

/// Reads the process's command line; prints the error and exits 1 (as
/// keepalived does for a bad option) when it is not valid, 0 after
/// `--help`/`--version`.
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|e| {
        let _ = e.print();
        std::process::exit(if e.use_stderr() { 1 } else { 0 })
    })
}

/// Reads command line `args` (the program name first).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = attached_optional_values(genhash_mode(args.into_iter().map(Into::into).collect()));
    let matches = Cli::command()
        .args_override_self(true)
        .try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.run.subsystems = subsystems(&matches);
    cli.run.runtime_dir_given =
        matches.value_source("runtime_dir") == Some(ValueSource::CommandLine);
    cli.run.name_runtime_dir();
    Ok(cli)
}

/// keepalived's `-T`/`--genhash`: the rest of the line is genhash's, and
/// options before it are ignored (with keepalived's warning).
fn genhash_mode(args: Vec<OsString>) -> Vec<OsString> {
    let is_genhash = |arg: &OsString| {
        let arg = arg.to_string_lossy();
        arg == "-T" || (arg.len() > 2 && arg.starts_with("--") && "--genhash".starts_with(&*arg))
    };
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let Some(at) = args[..end]
        .iter()
        .skip(1)
        .position(is_genhash)
        .map(|i| i + 1)
    else {
        return args;
    };
    if at > 1 {
        eprintln!(
            "Warning -- `{}` not used as first option, previous options ignored",
            args[at].to_string_lossy()
        );
    }
    let mut genhash = vec![args[0].clone(), "genhash".into()];
    genhash.extend_from_slice(&args[at + 1..]);
    genhash
}

/// getopt gives a short option's optional argument attached (`-tFILE`,
/// `-Dt/tmp/log`, `-gFILE`, `-MPATN`); clap wants `-t=FILE`. Rewrites the
/// daemon's option clusters (not a subcommand's) that way.
fn attached_optional_values(args: Vec<OsString>) -> Vec<OsString> {
    if args
        .get(1)
        .is_some_and(|a| !a.to_string_lossy().starts_with('-'))
    {
        return args;
    }
    let mut command = Cli::command();
    command.build();
    let (mut optional, mut with_value) = (Vec::new(), Vec::new());
    for arg in command.get_arguments() {
        let (Some(short), Some(range)) = (arg.get_short(), arg.get_num_args()) else {
            continue;
        };
        match (arg.get_action().takes_values(), range.min_values()) {
            (true, 0) => optional.push(short),
            (true, _) => with_value.push(short),
            _ => {}
        }
    }
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let cluster = |arg: &OsString| -> Option<OsString> {
        let letters = arg
            .to_str()?
            .strip_prefix('-')
            .filter(|l| !l.starts_with('-'))?;
        for (at, letter) in letters.char_indices() {
            if with_value.contains(&letter) {
                return None;
            }
            if optional.contains(&letter) {
                let (options, value) = letters.split_at(at + letter.len_utf8());
                return (!value.is_empty() && !value.starts_with('='))
                    .then(|| format!("-{options}={value}").into());
            }
        }
        None
    };
    let (options, rest) = args.split_at(end);
    let options = options
        .iter()
        .map(|a| cluster(a).unwrap_or_else(|| a.clone()));
    options.chain(rest.iter().cloned()).collect()
}

/// -P, -C and --all applied in command-line order, as keepalived's getopt
/// loop does (`-P --all` runs everything, `--all -P` VRRP only).
fn subsystems(matches: &ArgMatches) -> Subsystems {
    let mut flags: Vec<(usize, &str)> = ["vrrp_only", "checkers_only", "all"]
        .into_iter()
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .filter_map(|id| Some((matches.indices_of(id)?.max()?, id)))
        .collect();
    flags.sort();
    let mut selected = Subsystems::default();
    for (_, id) in flags {
        match id {
            "vrrp_only" => selected.checkers = false,
            "checkers_only" => selected.vrrp = false,
            _ => selected = Subsystems::default(),
        }
    }
    selected
}

impl RunArgs {
    /// Without `--runtime-dir`: the runtime directory the namespace and the
    /// `instance` name imply, `/run/lb-daemon[/NAMESPACE][/instance-NAME]`,
    /// so that daemons in other namespaces, or with other instance names,
    /// keep their pid files, sockets and pinned maps apart.
    pub fn name_runtime_dir(&mut self) {
        if self.runtime_dir_given {
            return;
        }
        let mut dir = PathBuf::from(DEFAULT_RUNTIME_DIR);
        if let Some(namespace) = &self.namespace {
            dir.push(namespace);
        }
        if let Some(instance) = &self.instance {
            dir.push(format!("instance-{instance}"));
        }
        self.runtime_dir = dir;
    }

    /// The log filter -D asks for: info, debug, or (twice) lb-daemon's trace.
    pub fn log_filter(&self) -> &'static str {
        match self.log_detail {
            0 => "info",
            1 => "debug",
            _ => "debug,lb_daemon=trace",
        }
    }

    /// The pid files to write besides the runtime directory's (-p, and -r
    /// and -c for the subsystems that run).
    pub fn pid_files(&self) -> Vec<PathBuf> {
        let Subsystems { vrrp, checkers } = self.subsystems;
        [
            (true, &self.pid_file),
            (vrrp, &self.vrrp_pid_file),
            (checkers, &self.checkers_pid_file),
        ]
        .into_iter()
        .filter_map(|(runs, file)| file.clone().filter(|_| runs))
        .collect()
    }

    /// One line for each keepalived option given that lb-daemon accepts
    /// but does not act on. Options whose meaning always holds in lb-daemon
    /// (-n, -l, -G, -R, -B, -e) need none.
    pub fn ignored(&self) -> Vec<String> {
        let debug_build = "a keepalived debug or profiling build option";
        let flags = [
            (
                self.release_vips,
                "-X/--release-vips",
                "VIPs are not dropped on a signal",
            ),
            (
                self.dont_release_vrrp,
                "-V/--dont-release-vrrp",
                "lb-daemon removes its VIPs and routes at stop",
            ),
            (
                self.flush_log_file,
                "--flush-log-file",
                "lb-daemon logs to stderr only",
            ),
            (
                self.address_monitoring,
                "-a/--address-monitoring",
                "address changes are not logged",
            ),
            (
                self.snmp,
                "-x/--snmp",
                "lb-daemon has no SNMP agent (see `lb-daemon status --json`)",
            ),
            (
                self.ignore_sigint,
                "--ignore-sigint",
                "SIGINT stops lb-daemon",
            ),
            (self.mem_check_log, "-L/--mem-check-log", debug_build),
            (self.no_mem_check, "--no-mem-check", debug_build),
            (
                self.openssl_mem_check,
                "-O/--openssl-mem-check",
                debug_build,
            ),
        ];
        let with_values = [
            (
                self.log_facility.clone(),
                "-S/--log-facility",
                "lb-daemon logs to stderr (the journal under systemd), not to syslog",
            ),
            (
                self.log_file.clone().map(Option::unwrap_or_default),
                "-g/--log-file",
                "lb-daemon logs to stderr only",
            ),
            (
                self.bfd_pid_file.as_ref().map(|p| p.display().to_string()),
                "-b/--bfd_pid",
                "lb-daemon has no BFD",
            ),
            (
                self.snmp_agent_socket.clone(),
                "-A/--snmp-agent-socket",
                "lb-daemon has no SNMP agent",
            ),
            (
                self.core_dump_pattern.clone().flatten(),
                "-M/--core-dump-pattern",
                "core dumps are enabled as with -m, the kernel's core_pattern is left as it is",
            ),
            (
                self.config_fd.clone(),
                "--config-fd",
                "a keepalived internal option",
            ),
            (
                self.perf.clone().map(Option::unwrap_or_default),
                "--perf",
                debug_build,
            ),
            (
                self.debug.clone().map(Option::unwrap_or_default),
                "--debug",
                debug_build,
            ),
        ];
        let flags = flags
            .into_iter()
            .filter(|(given, ..)| *given)
            .map(|(_, option, why)| format!("{option}: ignored; {why}"));
        let with_values = with_values.into_iter().filter_map(|(value, option, why)| {
            Some(match value?.as_str() {
                "" => format!("{option}: ignored; {why}"),
                value => format!("{option} `{value}`: ignored; {why}"),
            })
        });
        flags.chain(with_values).collect()
    }
}

#[cfg(test)]
#[path = "compat_tests.rs"]
mod tests;
