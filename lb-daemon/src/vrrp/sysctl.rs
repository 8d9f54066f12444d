//! Per-interface kernel settings (`/proc/sys/net/{ipv4,ipv6}/conf/IF/KEY`)
//! that `use_vmac` and `promote_secondaries` change.
use std::{fs, io, path::PathBuf};

/// The file of `net.FAMILY.conf.INTERFACE.KEY`.
pub fn path(family: &str, interface: &str, key: &str) -> PathBuf {
    format!("/proc/sys/net/{family}/conf/{interface}/{key}").into()
}

/// Writes `net.FAMILY.conf.INTERFACE.KEY`.
pub fn write(family: &str, interface: &str, key: &str, value: u32) -> io::Result<()> {
    fs::write(path(family, interface, key), value.to_string())
}

/// Reads `net.ipv4.conf.INTERFACE.KEY`, `None` when it cannot be read.
pub fn read(interface: &str, key: &str) -> Option<u32> {
    let text = fs::read_to_string(path("ipv4", interface, key)).ok()?;
    text.trim().parse().ok()
}

/// The names under `net.ipv4.conf` that are interfaces (not `all` or
/// `default`).
pub fn interfaces() -> Vec<String> {
    let Ok(entries) = fs::read_dir("/proc/sys/net/ipv4/conf") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name != "all" && name != "default")
        .collect()
}
