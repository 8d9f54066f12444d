//! What the command line says about reading a configuration (`-i`, `-e`).

/// What the command line says about reading a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The config-id `@ID` lines are compared with and `${_INSTANCE}` is
    /// (`-i`).
    pub config_id: String,
    /// Every include problem is an error, as `include_check` with no
    /// option (`-e`).
    pub all_config: bool,
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
