//! `vrrp_track_process`: whether enough processes of a command run, as
//! keepalived decides it. A process matches by its name (`/proc/PID/comm`),
//! or with `full_command` or parameters by its command line: the first
//! word equal to `process`'s, then the parameters as `param_match` says.
//! Zombies do not count. Quorum holds while `quorum` (default 1) to
//! `quorum_max` (default unlimited) processes match; gaining it counts after
//! `fork_delay`, losing it after `terminate_delay`.
//!
//! keepalived follows process events through the kernel's proc connector;
//! lb-daemon scans /proc every [`POLL_INTERVAL`], which sees the same
//! changes a fraction of a second later.
use std::{fs, time::Duration};

use tokio::time::Instant;

use crate::config::{ParamMatch, TrackProcess};

use super::plan::{Key, Kind};
use super::priority::State;
use super::registry::Registry;

/// How often /proc is scanned.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One running process as matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// `/proc/PID/comm`.
    pub comm: String,
    /// The command line's words (read only when some match needs them).
    pub argv: Vec<String>,
}

/// Whether `def` needs command lines.
fn needs_argv(def: &TrackProcess) -> bool {
    def.full_command || def.process.len() > 1 || def.param_match.is_some()
}

/// Whether `process` is one of `def`'s.
pub fn matches(def: &TrackProcess, process: &Process) -> bool {
    let Some((command, params)) = def.process.split_first() else {
        return false;
    };
    if !needs_argv(def) {
        return process.comm == *command;
    }
    let Some((first, args)) = process.argv.split_first() else {
        return false;
    };
    if first != command {
        return false;
    }
    let mode = def.param_match.unwrap_or(match params.is_empty() {
        // `full_command` alone: the command, whatever its parameters.
        true => ParamMatch::Partial,
        false => ParamMatch::Exact,
    });
    match mode {
        ParamMatch::Exact => args == params,
        ParamMatch::Partial => args.starts_with(params),
        ParamMatch::Initial => match params.split_last() {
            None => true,
            Some((last, before)) => {
                args.starts_with(before)
                    && args
                        .get(before.len())
                        .is_some_and(|arg| arg.starts_with(last.as_str()))
            }
        },
    }
}

/// Whether `count` matching processes make quorum for `def`.
pub fn quorum(def: &TrackProcess, count: usize) -> bool {
    let at_least = usize::try_from(def.quorum.unwrap_or(1)).unwrap_or(usize::MAX);
    let at_most = def
        .quorum_max
        .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    (at_least..=at_most).contains(&count)
}

/// The reported quorum of one tracked process, changing only once a
/// change lasted its delay (nothing reported yet by default).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Debounce {
    /// What was reported (`None` before the first scan).
    reported: Option<bool>,
    /// A change seen, and when it counts.
    pending: Option<(bool, Instant)>,
}

impl Debounce {
    /// Takes the quorum seen `now`; returns the quorum to report when it
    /// changes. The first scan reports at once; later changes after
    /// `fork_delay` (gained) or `terminate_delay` (lost).
    pub fn update(&mut self, def: &TrackProcess, seen: bool, now: Instant) -> Option<bool> {
        let Some(reported) = self.reported else {
            self.reported = Some(seen);
            return Some(seen);
        };
        if seen == reported {
            self.pending = None;
            return None;
        }
        let delay = match seen {
            true => def.fork_delay,
            false => def.terminate_delay,
        };
        let delay = delay.map_or(Duration::ZERO, |d| {
            Duration::try_from_secs_f64(d).unwrap_or_default()
        });
        let due = match self.pending {
            Some((pending, due)) if pending == seen => due,
            _ => now + delay,
        };
        if now >= due {
            self.pending = None;
            self.reported = Some(seen);
            return Some(seen);
        }
        self.pending = Some((seen, due));
        None
    }
}

/// The running processes (command lines read when `argv`), zombies left out.
fn scan(argv: bool) -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let pids = entries.filter_map(Result::ok).filter(|e| {
        e.file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
    });
    let mut processes = Vec::new();
    for entry in pids {
        let dir = entry.path();
        // `PID (comm) S ...`: comm may hold spaces and parentheses.
        let Ok(stat) = fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if stat[close + 1..].trim_start().starts_with('Z') || close < open {
            continue;
        }
        let comm = stat[open + 1..close].to_owned();
        let argv = match argv {
            true => fs::read(dir.join("cmdline"))
                .map(|raw| {
                    raw.split(|b| *b == 0)
                        .filter(|w| !w.is_empty())
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .collect()
                })
                .unwrap_or_default(),
            false => Vec::new(),
        };
        processes.push(Process { comm, argv });
    }
    processes
}

/// Keeps the quorum of each of `defs` current in `registry`.
pub(crate) async fn run(defs: Vec<TrackProcess>, registry: Registry) {
    let argv = defs.iter().any(needs_argv);
    let mut debounces: Vec<Debounce> = defs.iter().map(|_| Debounce::default()).collect();
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    loop {
        ticks.tick().await;
        let Ok(processes) = tokio::task::spawn_blocking(move || scan(argv)).await else {
            continue;
        };
        let now = Instant::now();
        for (def, debounce) in defs.iter().zip(&mut debounces) {
            let count = processes.iter().filter(|p| matches(def, p)).count();
            if let Some(up) = debounce.update(def, quorum(def, count), now) {
                let verb = if up { "gained" } else { "lost" };
                tracing::info!("Track process {} quorum {verb} ({count} running)", def.name);
                let key = Key {
                    kind: Kind::Process,
                    name: def.name.clone(),
                };
                registry.set(&key, if up { State::Up } else { State::Down });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(process: &[&str], param_match: Option<ParamMatch>, full: bool) -> TrackProcess {
        TrackProcess {
            name: "p".into(),
            process: process.iter().map(|w| w.to_string()).collect(),
            param_match,
            full_command: full,
            ..TrackProcess::default()
        }
    }

    fn process(comm: &str, argv: &[&str]) -> Process {
        Process {
            comm: comm.into(),
            argv: argv.iter().map(|w| w.to_string()).collect(),
        }
    }

    #[test]
    fn names_command_lines_and_parameters() {
        let haproxy = process("haproxy", &["/usr/sbin/haproxy", "-f", "/etc/h.cfg"]);
        assert!(matches(&def(&["haproxy"], None, false), &haproxy));
        // An exact name, not a pattern (pgrep "^ssh$").
        assert!(!matches(&def(&["haprox"], None, false), &haproxy));
        let full = def(&["/usr/sbin/haproxy"], None, true);
        assert!(matches(&full, &haproxy));
        let exact = def(&["/usr/sbin/haproxy", "-f", "/etc/h.cfg"], None, false);
        assert!(matches(&exact, &haproxy));
        let fewer = def(&["/usr/sbin/haproxy", "-f"], None, false);
        assert!(!matches(&fewer, &haproxy));
        let partial = def(
            &["/usr/sbin/haproxy", "-f"],
            Some(ParamMatch::Partial),
            false,
        );
        assert!(matches(&partial, &haproxy));
        let initial = def(
            &["/usr/sbin/haproxy", "-f", "/etc/h"],
            Some(ParamMatch::Initial),
            false,
        );
        assert!(matches(&initial, &haproxy));
        // `param_match` without parameters: none allowed.
        let none = def(&["/usr/sbin/haproxy"], Some(ParamMatch::Exact), false);
        assert!(!matches(&none, &haproxy));
        assert!(matches(&none, &process("haproxy", &["/usr/sbin/haproxy"])));
    }

    #[test]
    fn quorum_bounds() {
        let mut d = def(&["x"], None, false);
        assert!(!quorum(&d, 0) && quorum(&d, 1) && quorum(&d, 9));
        (d.quorum, d.quorum_max) = (Some(2), Some(3));
        assert!(!quorum(&d, 1) && quorum(&d, 2) && quorum(&d, 3) && !quorum(&d, 4));
        (d.quorum, d.quorum_max) = (Some(0), Some(0));
        assert!(quorum(&d, 0) && !quorum(&d, 1));
    }

    #[test]
    fn changes_count_after_their_delay() {
        let mut d = def(&["x"], None, false);
        (d.fork_delay, d.terminate_delay) = (Some(1.0), Some(2.0));
        let t0 = Instant::now();
        let s = |secs: f64| t0 + Duration::from_secs_f64(secs);
        let mut debounce = Debounce::default();
        assert_eq!(
            debounce.update(&d, true, t0),
            Some(true),
            "first scan at once"
        );
        assert_eq!(debounce.update(&d, false, s(0.5)), None);
        assert_eq!(
            debounce.update(&d, true, s(1.0)),
            None,
            "back: nothing pending"
        );
        assert_eq!(debounce.update(&d, false, s(1.5)), None);
        assert_eq!(debounce.update(&d, false, s(3.4)), None);
        assert_eq!(
            debounce.update(&d, false, s(3.5)),
            Some(false),
            "lost after 2 s"
        );
        assert_eq!(debounce.update(&d, true, s(4.0)), None);
        assert_eq!(
            debounce.update(&d, true, s(5.0)),
            Some(true),
            "gained after 1 s"
        );
    }
}
