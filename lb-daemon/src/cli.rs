//! Command line, keeping keepalived's habits: `-f`, `-t`, `-n`, `-l`, `-D`.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";
/// Where the pid file and control socket live unless `--runtime-dir` says otherwise.
pub const DEFAULT_RUNTIME_DIR: &str = "/run/lb-daemon";

/// lb-daemon: keepalived-compatible VRRP + load balancer with an XDP fast path.
///
/// Without a subcommand it runs in the foreground with the configuration of
/// `-f` (keepalived.conf syntax, or the native TOML form when the file name
/// ends in `.toml`).
#[derive(Debug, Parser)]
#[command(name = "lb-daemon", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; runs the daemon when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the daemon itself.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Options when running the daemon.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file.
    #[arg(short = 'f', long = "use-file", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Check the configuration and exit (0 when valid, 1 when not), like keepalived -t.
    #[arg(short = 't', long = "config-test")]
    pub config_test: bool,
    /// Accepted for keepalived compatibility: lb-daemon always stays in the foreground.
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Accepted for keepalived compatibility: lb-daemon always logs to the console (stderr).
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed (debug) logging.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,
    /// Leave the IPVS services in place at stop (keepalived -I): the next
    /// start adopts them, so established connections survive a restart.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Directory of the pid file and control socket (one per running instance).
    #[arg(long, default_value = DEFAULT_RUNTIME_DIR)]
    pub runtime_dir: PathBuf,
    /// Also let this user (numeric uid) use the control socket (`status`);
    /// root and the daemon's own user always may. Repeatable.
    #[arg(long, value_name = "UID")]
    pub control_allow_uid: Vec<u32>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a configuration file: exit 0 when valid, 1 when not.
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
