//! Checks of the model that both front ends share: ranges, address
//! families, references between blocks and duplicates. Findings name field
//! paths (`vrrp_instance.0.priority`); the front ends locate them.

mod bgp;
mod lvs;
mod routes;
mod strict;
mod syncd;
mod vrrp;

use std::collections::HashSet;
use std::fmt::Display;
use std::net::IpAddr;

use super::diag::{PathIssue, Severity};
use super::model::{Command, Config, GlobalDefs, TrackRef};

/// Connection table entries the fast path accepts (16 bytes each: up to
/// 1 GiB).
const FAST_PATH_FLOWS: (u32, u32) = (1024, 1 << 26);

/// Everything wrong with `config`.
pub fn validate(config: &Config) -> Vec<PathIssue> {
    let mut check = Check::default();
    vrrp::check(&mut check, config);
    lvs::check(&mut check, config);
    bgp::check(&mut check, config);
    routes::check(&mut check, config);
    strict::globals(&mut check, &config.global_defs);
    syncd::check(&mut check, config);
    notify_fifos(&mut check, &config.global_defs);
    process_names(&mut check, config);
    ssl_client(&mut check, config);
    check.range(
        "global_defs",
        "fast_path_flows",
        config.global_defs.fast_path_flows,
        FAST_PATH_FLOWS,
    );
    check.issues
}

/// `net_namespace` and `instance` become file names (`/run/netns/NAME`,
/// the runtime directory): one path component each.
fn process_names(check: &mut Check, config: &Config) {
    let names = [
        ("net_namespace", &config.net_namespace),
        ("instance", &config.instance),
    ];
    for (field, name) in names {
        if let Some(name) = name {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                check.error(field, format!("`{name}` is not a valid {field} name"));
            }
        }
    }
}

/// A client certificate needs its key, and a key its certificate.
fn ssl_client(check: &mut Check, config: &Config) {
    let Some(ssl) = &config.ssl else {
        return;
    };
    match (&ssl.certificate, &ssl.key) {
        (Some(_), None) => check.error("SSL.certificate", "`certificate` needs `key`"),
        (None, Some(_)) => check.error("SSL.key", "`key` needs `certificate`"),
        _ => {}
    }
}

/// A `*notify_fifo_script` needs its FIFO (keepalived ignores it otherwise);
/// a relative FIFO path is taken from `/`, keepalived's working directory.
fn notify_fifos(check: &mut Check, globals: &GlobalDefs) {
    let pairs = [
        ("", &globals.notify_fifo, &globals.notify_fifo_script),
        (
            "vrrp_",
            &globals.vrrp_notify_fifo,
            &globals.vrrp_notify_fifo_script,
        ),
        (
            "lvs_",
            &globals.lvs_notify_fifo,
            &globals.lvs_notify_fifo_script,
        ),
    ];
    for (prefix, fifo, script) in pairs {
        match fifo {
            None if script.is_some() => check.warning(
                &format!("global_defs.{prefix}notify_fifo_script"),
                format!("`{prefix}notify_fifo_script` without `{prefix}notify_fifo` is ignored"),
            ),
            Some(f) if !f.path.starts_with('/') => check.warning(
                &format!("global_defs.{prefix}notify_fifo"),
                format!(
                    "`{prefix}notify_fifo` {:?} is relative: taken from /",
                    f.path
                ),
            ),
            _ => {}
        }
    }
}

/// Collects issues.
#[derive(Default)]
struct Check {
    issues: Vec<PathIssue>,
}

impl Check {
    fn push(&mut self, severity: Severity, path: &str, message: String) {
        self.issues.push(PathIssue {
            severity,
            path: path.to_string(),
            message,
        });
    }

    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, path, message.into());
    }

    fn warning(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Warning, path, message.into());
    }

    /// `field` of the block at `path`, when set, lies in `low..=high`.
    fn range<T: PartialOrd + Display>(
        &mut self,
        path: &str,
        field: &str,
        value: Option<T>,
        (low, high): (T, T),
    ) {
        match value {
            Some(value) if value < low || value > high => {
                let message = format!("`{field}` must be {low}-{high}, not {value}");
                self.error(&format!("{path}.{field}"), message);
            }
            _ => {}
        }
    }

    /// `field` of the block at `path`, when set, is a finite number of
    /// seconds above zero.
    fn seconds(&mut self, path: &str, field: &str, value: Option<f64>) {
        if value.is_some_and(|value| !(value.is_finite() && value > 0.0)) {
            let message = format!("`{field}` must be a number of seconds above 0");
            self.error(&format!("{path}.{field}"), message);
        }
    }

    /// `field` of the block at `path` is present.
    fn required(&mut self, path: &str, field: &str, present: bool) {
        if !present {
            self.error(path, format!("`{field}` is required here"));
        }
    }

    /// The block at `path` has a name that no earlier block of its kind
    /// (recorded in `seen`) has.
    fn unique_name<'c>(&mut self, seen: &mut HashSet<&'c str>, path: &str, name: &'c str) {
        let kind = path.split('.').next().unwrap_or(path);
        if name.is_empty() {
            return self.error(path, format!("`{kind}` needs a name"));
        }
        if !seen.insert(name) {
            self.error(path, format!("{kind} `{name}` is defined twice"));
        }
    }

    /// Every entry of list `field` names something in `known` (of `kind`),
    /// and carries a weight in `weights`.
    fn references(
        &mut self,
        path: &str,
        field: &str,
        refs: &[TrackRef],
        known: Option<&[&str]>,
        weights: (i32, i32),
    ) {
        for (i, track) in refs.iter().enumerate() {
            let at = format!("{path}.{field}.{i}");
            self.range(&at, "weight", track.weight, weights);
            if known.is_some_and(|known| !known.contains(&track.name.as_str())) {
                let kind = if field == "track_script" {
                    "vrrp_script"
                } else {
                    field
                };
                self.error(
                    &at,
                    format!("{field} names unknown {kind} `{}`", track.name),
                );
            }
        }
    }

    /// Each script in `commands` (field name, value) is non-empty.
    fn commands(&mut self, path: &str, commands: &[(&str, &Option<Command>)]) {
        for (field, command) in commands {
            if command.as_ref().is_some_and(|c| c.script.trim().is_empty()) {
                self.error(
                    &format!("{path}.{field}"),
                    format!("`{field}` has an empty script"),
                );
            }
        }
    }

    /// `address` (of `field`) has the same family as the block's, `ipv6`.
    fn family(&mut self, at: &str, what: &str, address: IpAddr, ipv6: bool) {
        if address.is_ipv6() != ipv6 {
            let (is, should) = match ipv6 {
                true => ("IPv4", "IPv6"),
                false => ("IPv6", "IPv4"),
            };
            let message = format!("{what} {address} is {is}, but this block uses {should}");
            self.error(at, message);
        }
    }
}

fn names<T>(items: &[T], name: fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::VrrpInstance;

    #[test]
    fn ranges_and_seconds() {
        let mut check = Check::default();
        check.range("a", "priority", Some(300), (1, 255));
        check.range("a", "priority", Some(100), (1, 255));
        check.seconds("a", "advert_int", Some(f64::INFINITY));
        check.seconds("a", "advert_int", Some(0.5));
        let messages: Vec<_> = check.issues.iter().map(|i| &i.message).collect();
        assert_eq!(
            messages,
            [
                "`priority` must be 1-255, not 300",
                "`advert_int` must be a number of seconds above 0"
            ]
        );
        assert_eq!(check.issues[0].path, "a.priority");
    }

    #[test]
    fn names_must_be_unique_and_present() {
        let mut check = Check::default();
        let mut seen = HashSet::new();
        check.unique_name(&mut seen, "vrrp_instance.0", "a");
        check.unique_name(&mut seen, "vrrp_instance.1", "a");
        check.unique_name(&mut seen, "vrrp_instance.2", "");
        assert_eq!(check.issues.len(), 2);
        assert_eq!(
            check.issues[0].message,
            "vrrp_instance `a` is defined twice"
        );
        let instances = [VrrpInstance {
            name: "x".into(),
            ..VrrpInstance::default()
        }];
        assert_eq!(names(&instances, |i| &i.name), ["x"]);
    }
}
