//! Command line: keepalived's (every daemon option `keepalived` 2.2 and
//! later accepts, with keepalived's meaning), plus lb-daemon's subcommands.
//!
//! [`parse`] reads it; [`compat`] says what lb-daemon makes of keepalived's
//! options, [`setup`] applies the process-wide ones, [`config_test`] is `-t`
//! and [`signum`] is `--signum`.
pub mod compat;
pub mod config_test;
pub mod setup;
pub mod signum;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

pub use compat::{parse, parse_from, Subsystems};

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";
/// Where the pid file and control socket live unless `--runtime-dir` says otherwise.
pub const DEFAULT_RUNTIME_DIR: &str = "/run/lb-daemon";

/// What `-t`/`--config-test` and `lb-daemon check` exit with: keepalived's
/// codes, and why.
const EXIT_CODES: &str = "\
Exit status of -t/--config-test and of `check` (keepalived -t's codes):
  0  the configuration is valid.
  4  the configuration cannot be run: the file cannot be read.
  5  the configuration has errors or warnings: keywords that are unknown or
     ignored, values out of range, unbalanced braces, undefined track
     scripts, interfaces that do not exist... keepalived would run it,
     ignoring what is reported; lb-daemon runs it only when everything
     reported is a warning.
  6  scripts are configured but enable_script_security is not set
     (keepalived's SECURITY VIOLATION); takes precedence over 5.
Otherwise lb-daemon exits 0 after a clean stop and 1 on an error or a bad
command line (as keepalived does for a bad option).

-T/--genhash, as keepalived, runs the rest of the command line as
`lb-daemon genhash`.";

/// lb-daemon: keepalived-compatible VRRP + load balancer with an XDP fast path.
///
/// Without a subcommand it runs in the foreground with the configuration of
/// `-f` (keepalived.conf syntax, or the native TOML form when the file name
/// ends in `.toml`). It accepts every option of keepalived's command line
/// (as found in /etc/default/keepalived): the ones whose meaning lb-daemon
/// has take effect, the others are logged once as ignored at start.
#[derive(Debug, Parser)]
#[command(
    name = "lb-daemon",
    version,
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    infer_long_args = true,
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    /// What to do; runs the daemon when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the daemon itself.
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the version and exit (keepalived's -v; -V is --dont-release-vrrp).
    // clap prints the version and exits: the field holds nothing.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: (),
}

/// Options when running the daemon: keepalived's, then lb-daemon's own.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Only run VRRP: no health checkers, IPVS or fast path.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp_only: bool,
    /// Only run the health checkers (with IPVS and the fast path): no VRRP.
    #[arg(short = 'C', long = "check")]
    pub checkers_only: bool,
    /// Run every subsystem (undoes an earlier -P or -C, as in keepalived).
    #[arg(long = "all")]
    pub all: bool,
    /// Do not run BFD (lb-daemon has no BFD: always the case).
    #[arg(short = 'B', long = "no_bfd")]
    pub no_bfd: bool,
    /// Log to the console (lb-daemon always logs to stderr: always the case).
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed (debug) logging; twice for extra detail (trace).
    #[arg(short = 'D', long = "log-detail", action = ArgAction::Count)]
    pub log_detail: u8,
    /// Syslog facility: ignored, lb-daemon logs to stderr (the journal under systemd).
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY")]
    pub log_facility: Option<String>,
    /// Also log to FILE: ignored, lb-daemon logs to stderr.
    #[arg(short = 'g', long = "log-file", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub log_file: Option<Option<String>>,
    /// Flush the log file on write: ignored (no log file).
    #[arg(long = "flush-log-file")]
    pub flush_log_file: bool,
    /// Do not log via syslog (lb-daemon never does: always the case).
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,
    /// umask for files created, in numeric form (022, 0x12, 18).
    #[arg(short = 'u', long = "umask", value_name = "MASK")]
    pub umask: Option<String>,
    /// Drop VIPs on transition from a signal: ignored.
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,
    /// Do not remove VRRP VIPs and routes at stop: ignored, lb-daemon
    /// always removes them.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Leave the IPVS services in place at stop (keepalived -I): the next
    /// start adopts them, so established connections survive a restart.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Do not respawn child processes (lb-daemon has none: always the case).
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,
    /// Stay in the foreground (lb-daemon always does: always the case).
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Dump the configuration data at start (the SIGUSR1 data dump, written
    /// in the runtime directory).
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,
    /// Also write the pid to FILE (keepalived's main pid file).
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Also write the pid to FILE when VRRP runs (keepalived's VRRP child
    /// pid file; lb-daemon is one process).
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid_file: Option<PathBuf>,
    /// Also write the pid to FILE when the checkers run (keepalived's
    /// checkers child pid file; lb-daemon is one process).
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid_file: Option<PathBuf>,
    /// BFD child pid file: ignored (no BFD).
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE")]
    pub bfd_pid_file: Option<PathBuf>,
    /// Report every address change netlink notifies: ignored.
    #[arg(short = 'a', long = "address-monitoring")]
    pub address_monitoring: bool,
    /// Enable SNMP: ignored (lb-daemon has no SNMP agent; see `status --json`).
    #[arg(short = 'x', long = "snmp")]
    pub snmp: bool,
    /// SNMP master agent socket: ignored.
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    pub snmp_agent_socket: Option<String>,
    /// Produce a core dump on abnormal termination (no core size limit).
    #[arg(short = 'm', long = "core-dump")]
    pub core_dump: bool,
    /// As -m; the kernel's core_pattern is not changed (ignored PATN).
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATN", num_args = 0..=1, require_equals = true)]
    pub core_dump_pattern: Option<Option<String>>,
    /// keepalived debug build option: ignored.
    #[arg(short = 'L', long = "mem-check-log")]
    pub mem_check_log: bool,
    /// keepalived debug build option: ignored.
    #[arg(long = "no-mem-check")]
    pub no_mem_check: bool,
    /// keepalived debug build option: ignored.
    #[arg(short = 'O', long = "openssl-mem-check")]
    pub openssl_mem_check: bool,
    /// Run in network namespace NAME (/run/netns/NAME; wins over the
    /// configuration's net_namespace); the default runtime directory
    /// becomes /run/lb-daemon/NAME.
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    pub namespace: Option<String>,
    /// Error if any configuration file is missing: the main one (lb-daemon:
    /// always) and included ones (as include_check with no option).
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,
    /// Configuration id: lines beginning '@ID' are used only when ID is it
    /// ('@^ID' only when it is not), and it is ${_INSTANCE} (default: the
    /// host name up to its first '.').
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
    /// Ignore SIGINT: ignored, SIGINT stops lb-daemon.
    #[arg(long = "ignore-sigint")]
    pub ignore_sigint: bool,
    /// Print the signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR
    /// or JSON and exit (1 for another name).
    #[arg(long = "signum", value_name = "SIGFUNC")]
    pub signum: Option<String>,
    /// Check the configuration and exit with keepalived's codes (see
    /// below); messages go to LOG_FILE (appended) instead of stderr.
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1, require_equals = true)]
    pub config_test: Option<Option<PathBuf>>,
    /// keepalived internal option: ignored.
    #[arg(long = "config-fd", value_name = "FD", hide = true)]
    pub config_fd: Option<String>,
    /// keepalived perf build option: ignored.
    #[arg(long = "perf", value_name = "PERF_TYPE", num_args = 0..=1, require_equals = true)]
    pub perf: Option<Option<String>>,
    /// keepalived debug build option: ignored.
    #[arg(long = "debug", value_name = "OPTIONS", num_args = 0..=1, require_equals = true)]
    pub debug: Option<Option<String>>,
    /// Directory of the pid file and control socket (one per running instance).
    #[arg(long, default_value = DEFAULT_RUNTIME_DIR)]
    pub runtime_dir: PathBuf,
    /// Also let this user (numeric uid) use the control socket (`status`);
    /// root and the daemon's own user always may. Repeatable.
    #[arg(long, value_name = "UID")]
    pub control_allow_uid: Vec<u32>,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics (IPv6 as
    /// `[ADDR]:PORT`); wins over global_defs `metrics_listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Which subsystems run, from -P, -C and --all in their order.
    #[arg(skip)]
    pub subsystems: Subsystems,
    /// Whether `--runtime-dir` was on the command line (else the
    /// namespace and the configuration's `instance` name it).
    #[arg(skip)]
    pub runtime_dir_given: bool,
    /// The configuration's `instance` name, if any.
    #[arg(skip)]
    pub instance: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a configuration file, exiting as -t does (0 valid, 4 cannot
    /// be read, 5 errors or warnings, 6 scripts without enable_script_security).
    Check(FileArg),
    /// Print a configuration in the native TOML form.
    Convert(FileArg),
    /// Fetch a URL and print the MD5 digest of its body, for HTTP_GET/SSL_GET
    /// `digest` (keepalived's genhash: `genhash -s SERVER -p PORT -u PATH`).
    Genhash(GenhashArgs),
    /// Show the state of the daemon running on a runtime directory.
    Status {
        /// Runtime directory of the daemon to ask.
        #[arg(long, default_value = DEFAULT_RUNTIME_DIR)]
        runtime_dir: PathBuf,
        /// Print JSON instead of text (schema: docs/status-schema.md).
        #[arg(long)]
        json: bool,
    },
    /// Take a real server out of a service without editing the
    /// configuration: weight 0, no new flows, established ones continue.
    /// Kept across reloads that keep the real server.
    Drain(DrainArgs),
    /// Give a drained real server its configured weight back.
    Undrain(DrainArgs),
}

/// `drain`/`undrain [--runtime-dir DIR] SERVICE REAL`.
#[derive(Debug, Args)]
pub struct DrainArgs {
    /// Runtime directory of the daemon to ask.
    #[arg(long, default_value = DEFAULT_RUNTIME_DIR)]
    pub runtime_dir: PathBuf,
    /// The service: VIP:PORT ([2001:db8::1]:80 for IPv6; TCP and UDP
    /// services on it alike) or fwmark:N.
    #[arg(value_name = "VIP:PORT")]
    pub service: String,
    /// The real server: RS:PORT.
    #[arg(value_name = "RS:PORT")]
    pub server: String,
}

/// A configuration file argument.
#[derive(Debug, Args)]
pub struct FileArg {
    /// Configuration file.
    #[arg(short = 'f', long = "use-file", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Configuration id for '@ID' lines and ${_INSTANCE}, as the daemon's
    /// -i (default: the host name up to its first '.').
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
}

/// `genhash` options, as keepalived's genhash names them.
#[derive(Debug, Args)]
pub struct GenhashArgs {
    /// Server address.
    #[arg(short = 's', long = "server")]
    pub server: String,
    /// Port (default 80, or 443 with --use-ssl).
    #[arg(short = 'p', long = "port")]
    pub port: Option<u16>,
    /// Path of the URL.
    #[arg(short = 'u', long = "url", default_value = "/")]
    pub url: String,
    /// Use TLS (SSL_GET).
    #[arg(short = 'S', long = "use-ssl")]
    pub ssl: bool,
    /// Host header (and SNI with TLS).
    #[arg(short = 'V', long = "use-virtualhost")]
    pub virtualhost: Option<String>,
}
