//! The daemon process's CPU time, memory and file descriptors from `/proc`,
//! under the names every Prometheus client library uses (`process_*`).
use std::fs;

use super::family::{labels, Family, Kind};

/// Indexes of `/proc/self/stat` fields after the command name: proc(5)'s
/// field number minus 3 (state, field 3, is index 0).
const UTIME: usize = 14 - 3;
const STIME: usize = 15 - 3;
const STARTTIME: usize = 22 - 3;
const VSIZE: usize = 23 - 3;
const RSS: usize = 24 - 3;

/// The process families; a family whose source cannot be read is left out.
pub fn families() -> Vec<Family> {
    let none = labels([]);
    let mut cpu = Family::new(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds.",
        Kind::Counter,
    );
    let mut rss = Family::new(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        Kind::Gauge,
    );
    let mut vsize = Family::new(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        Kind::Gauge,
    );
    let mut start = Family::new(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        Kind::Gauge,
    );
    let mut fds = Family::new(
        "process_open_fds",
        "Number of open file descriptors.",
        Kind::Gauge,
    );
    let mut max_fds = Family::new(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        Kind::Gauge,
    );
    let ticks = ticks_per_second();
    if let Some(stat) = fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(fields)
    {
        let field = |i: usize| stat.get(i).and_then(|f| f.parse::<u64>().ok());
        if let (Some(u), Some(s)) = (field(UTIME), field(STIME)) {
            cpu.push(&none, (u + s) as f64 / ticks);
        }
        if let Some(pages) = field(RSS) {
            rss.push(&none, pages * page_size());
        }
        if let Some(bytes) = field(VSIZE) {
            vsize.push(&none, bytes);
        }
        if let (Some(at), Some(boot)) = (field(STARTTIME), boot_time()) {
            start.push(&none, boot as f64 + at as f64 / ticks);
        }
    }
    if let Ok(dir) = fs::read_dir("/proc/self/fd") {
        fds.push(&none, dir.count() as u64);
    }
    if let Some(limit) = open_files_limit() {
        max_fds.push(&none, limit);
    }
    vec![cpu, rss, vsize, start, fds, max_fds]
}

/// The fields after `(comm)` (which may hold spaces).
fn fields(stat: &str) -> Option<Vec<&str>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Boot time (`btime` of /proc/stat), in Unix seconds.
fn boot_time() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit on open files.
fn open_files_limit() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_measured() {
        let all = families();
        for family in &all {
            assert_eq!(family.samples().len(), 1, "{}", family.name);
        }
        let fds = all.iter().find(|f| f.name == "process_open_fds").unwrap();
        assert!(matches!(fds.samples()[0].1, super::super::family::Number::Int(n) if n >= 3));
    }

    #[test]
    fn command_names_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 2 3";
        assert_eq!(fields(stat).unwrap(), ["S", "1", "2", "3"]);
    }
}
