//! What the command line says about reading a configuration (`-i`, `-e`),
//! and the bounds on what templating may produce.

/// What the command line says about reading a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The config-id `@ID` lines are compared with and `${_INSTANCE}` is
    /// (`-i`).
    pub config_id: String,
    /// Every include problem is an error, as `include_check` with no
    /// option (`-e`).
    pub all_config: bool,
    /// How much text replication and definitions may produce.
    pub bounds: Bounds,
    /// When set, `include` reads only files under this directory (a path
    /// that leads elsewhere is reported and skipped): the fuzz targets'
    /// inputs must not read the host's files (`include /*/*` reached
    /// /proc/kmsg and blocked). None for the daemon, as keepalived.
    pub include_root: Option<std::path::PathBuf>,
}

/// How much text templating may produce before the reader stops with an
/// error: what keeps a short line of references or a `~SEQ(N, 0,
/// 9223372036854775807)` from exhausting time and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Lines replication and multi-line definitions may produce in all.
    pub generated_lines: usize,
    /// Characters those lines may hold in all.
    pub generated_chars: usize,
    /// Characters the whole configuration may have once definitions are
    /// replaced.
    pub text_chars: usize,
    /// Characters replacing definitions may move or insert in all (each
    /// replacement moves the rest of its line).
    pub replacement_chars: usize,
}

impl Bounds {
    /// The daemon's bounds: 200,000 generated lines (about 40,000 real
    /// servers) of at most 8 MiB, and as much text in all as one file may
    /// hold (a short line of references can stand for 64 KiB of text), and
    /// 64 Mi characters moved or inserted by replacing definitions (a
    /// definition that refers to itself runs into it; 40,000 replicated
    /// `real_server` lines with a reference each read well within it, as a
    /// unit test checks).
    pub const DAEMON: Bounds = Bounds {
        generated_lines: 200_000,
        generated_chars: 8 << 20,
        text_chars: crate::config::source::MAX_BYTES as usize,
        replacement_chars: 64 << 20,
    };
}

impl ReadOptions {
    /// `config_id`, or keepalived's default: the host name up to its first
    /// `.`.
    pub fn new(config_id: Option<String>, all_config: bool) -> ReadOptions {
        let config_id = config_id.unwrap_or_else(|| {
            let host = hostname::get().unwrap_or_default();
            let host = host.to_string_lossy();
            host.split('.').next().unwrap_or_default().to_string()
        });
        ReadOptions {
            config_id,
            all_config,
            bounds: Bounds::DAEMON,
            include_root: None,
        }
    }
}

#[cfg(test)]
impl ReadOptions {
    /// Config-id `id`, nothing else.
    pub fn id(id: &str) -> ReadOptions {
        ReadOptions::new(Some(id.to_string()), false)
    }
}
