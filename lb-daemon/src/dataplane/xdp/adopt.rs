//! Adopting the connection table of a daemon that was killed: its flows
//! name real servers by id, so the ids given are recorded in a file of the
//! runtime directory (before any map names them), and a restart copies the
//! pinned flows of those ids into its fresh maps and gives the same real
//! servers the same ids again (see [`super::Programmer::adopting`]).
//! Established connections then keep their real server wherever the
//! backend set is unchanged; flows of real servers that are gone are
//! dropped (their next packet is scheduled anew).
use std::{
    collections::{BTreeMap, BTreeSet},
    fs, io,
    net::IpAddr,
    path::Path,
};

use anyhow::{ensure, Context, Result};
use aya::maps::{Array, Map, MapData};
use lb_common::{FlowEntry, FlowSet, VipKey, CONNS_MAP, FAMILY_IPV4, FLOWS_MAP};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{tables::key_bytes, FastPath};

/// The id record's file name in the runtime directory.
pub const FILE: &str = "xdp-real-ids.json";

/// A real server of a service: service, address, port.
pub type RealSlot = (VipKey, IpAddr, u16);

/// Real ids by real server.
pub type RealIds = BTreeMap<RealSlot, u32>;

/// One record entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    vip: IpAddr,
    port: u16,
    protocol: u8,
    real: IpAddr,
    real_port: u16,
    id: u32,
}

fn vip_addr(key: &VipKey) -> IpAddr {
    if key.family == FAMILY_IPV4 {
        IpAddr::from([key.addr[0], key.addr[1], key.addr[2], key.addr[3]])
    } else {
        IpAddr::from(key.addr)
    }
}

fn vip_key(addr: IpAddr, port: u16, protocol: u8) -> VipKey {
    match addr {
        IpAddr::V4(v4) => VipKey::v4(v4.octets(), port, protocol),
        IpAddr::V6(_) => VipKey::v6(key_bytes(addr), port, protocol),
    }
}

/// The ids recorded in `path`; none when the file does not exist.
pub fn read(path: &Path) -> Result<RealIds, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(RealIds::new()),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let recorded: Vec<Recorded> = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a list of real ids: {e}", path.display()))?;
    Ok(recorded
        .into_iter()
        .map(|r| {
            (
                (vip_key(r.vip, r.port, r.protocol), r.real, r.real_port),
                r.id,
            )
        })
        .collect())
}

/// Records `ids` in `path` (replacing it whole), or removes the file when
/// there are none.
pub fn write(path: &Path, ids: &RealIds) -> Result<(), String> {
    if ids.is_empty() {
        return remove(path);
    }
    let recorded: Vec<Recorded> = ids
        .iter()
        .map(|((key, real, real_port), id)| Recorded {
            vip: vip_addr(key),
            port: key.port,
            protocol: key.proto,
            real: *real,
            real_port: *real_port,
            id: *id,
        })
        .collect();
    let text = serde_json::to_string_pretty(&recorded).map_err(|e| e.to_string())?;
    let partial = path.with_extension("json.new");
    fs::write(&partial, text + "\n")
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Removes the record (a clean stop leaves nothing to adopt).
pub fn remove(path: &Path) -> Result<(), String> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Copies the flows a killed run left pinned under `dir` into `fast_path`;
/// returns the real ids they name (none when nothing could be adopted).
pub fn adopt_flows(dir: &Path, record: &Path, fast_path: &mut FastPath) -> RealIds {
    let ids = match read(record) {
        Ok(ids) => ids,
        Err(e) => {
            warn!("XDP fast path: {e}; established flows are not adopted");
            return RealIds::new();
        }
    };
    let wanted: BTreeSet<u32> = ids.values().copied().collect();
    match copy_flows(dir, &wanted, fast_path) {
        Ok(0) => ids,
        Ok(n) => {
            info!("XDP fast path: adopted {n} established flows of the previous run");
            ids
        }
        Err(e) => {
            warn!("XDP fast path: established flows not adopted: {e:#}");
            RealIds::new()
        }
    }
}

/// Copies into `fast_path` the flows pinned under `dir` that name one of
/// `ids`, with those ids' connection counts; returns how many flows. No
/// pins (a first start, a clean stop before) is no flow. Each set is
/// copied to the same set (a flow's set depends on the table's size, so a
/// table of another size is not adopted).
fn copy_flows(dir: &Path, ids: &BTreeSet<u32>, fast_path: &mut FastPath) -> Result<usize> {
    let (flows_pin, conns_pin) = (dir.join(FLOWS_MAP), dir.join(CONNS_MAP));
    if ids.is_empty() || !flows_pin.exists() {
        return Ok(0);
    }
    let old_flows: Array<MapData, FlowSet> = Array::try_from(pinned(&flows_pin)?)
        .with_context(|| format!("{}: not the connection table", flows_pin.display()))?;
    let mut maps = fast_path.maps();
    let sets = maps.flow_sets()?;
    ensure!(
        old_flows.len() == sets,
        "{}: {} sets, this run's table has {sets}",
        flows_pin.display(),
        old_flows.len()
    );
    let mut copied = 0;
    for (index, set) in (0..sets).zip(old_flows.iter()) {
        let mut set = set.with_context(|| format!("reading {}", flows_pin.display()))?;
        let mut kept = 0;
        for entry in &mut set.ways {
            if entry.hash == 0 {
                continue;
            }
            if ids.contains(&u32::from(entry.real)) {
                kept += 1;
            } else {
                *entry = FlowEntry::default();
            }
        }
        if kept > 0 {
            maps.set_flow_set(index, &set)?;
            copied += kept;
        }
    }
    if conns_pin.exists() {
        let old_conns: Array<MapData, i64> = Array::try_from(pinned(&conns_pin)?)
            .with_context(|| format!("{}: not the connection counts", conns_pin.display()))?;
        for id in ids {
            let count = old_conns
                .get(id, 0)
                .with_context(|| format!("reading {}", conns_pin.display()))?;
            maps.set_connections(*id, count)?;
        }
    }
    Ok(copied)
}

fn pinned(path: &Path) -> Result<Map> {
    let data = MapData::from_pin(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Map::from_map_data(data)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_an_empty_record_is_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert_eq!(read(&path).unwrap(), RealIds::new());
        let ids = RealIds::from([
            (
                (
                    VipKey::v4([192, 0, 2, 50], 80, 6),
                    "192.0.2.11".parse().unwrap(),
                    80,
                ),
                7,
            ),
            (
                (
                    vip_key("2001:db8::50".parse().unwrap(), 443, 17),
                    "2001:db8::11".parse().unwrap(),
                    8443,
                ),
                4095,
            ),
        ]);
        write(&path, &ids).unwrap();
        assert_eq!(read(&path).unwrap(), ids);
        write(&path, &RealIds::new()).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        fs::write(&path, "[{\"vip\": \"x\"}]").unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.contains(FILE), "{err}");
    }
}
