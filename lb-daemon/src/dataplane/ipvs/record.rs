//! The services the reconciler programmed, kept in a file of the runtime
//! directory so that a restart knows which IPVS services are its own, and
//! removes those the configuration lost while the daemon was down.
use std::{collections::HashSet, fs, io, net::IpAddr, path::Path};

use serde::{Deserialize, Serialize};

use crate::config::Protocol;
use crate::state::desired::{Family, ServiceKey};

/// The record's file name in the runtime directory.
pub const FILE: &str = "ipvs-services.json";

/// One owned service, as written to the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Recorded {
    Addr {
        ip: IpAddr,
        port: u16,
        protocol: Protocol,
    },
    Fwmark {
        fwmark: u32,
        ipv6: bool,
    },
}

impl From<ServiceKey> for Recorded {
    fn from(key: ServiceKey) -> Recorded {
        match key {
            ServiceKey::Addr { ip, port, protocol } => Recorded::Addr { ip, port, protocol },
            ServiceKey::Fwmark { mark, family } => Recorded::Fwmark {
                fwmark: mark,
                ipv6: family == Family::V6,
            },
        }
    }
}

impl From<Recorded> for ServiceKey {
    fn from(recorded: Recorded) -> ServiceKey {
        match recorded {
            Recorded::Addr { ip, port, protocol } => ServiceKey::Addr { ip, port, protocol },
            Recorded::Fwmark { fwmark, ipv6 } => ServiceKey::Fwmark {
                mark: fwmark,
                family: if ipv6 { Family::V6 } else { Family::V4 },
            },
        }
    }
}

/// The services recorded in `path`; none when the file does not exist.
pub fn read(path: &Path) -> Result<HashSet<ServiceKey>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let recorded: Vec<Recorded> = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a list of IPVS services: {e}", path.display()))?;
    Ok(recorded.into_iter().map(ServiceKey::from).collect())
}

/// Records `owned` in `path` (replacing it whole), or removes the file when
/// nothing is owned.
pub fn write(path: &Path, owned: &HashSet<ServiceKey>) -> Result<(), String> {
    if owned.is_empty() {
        return match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(format!("removing {}: {e}", path.display()))
            }
            _ => Ok(()),
        };
    }
    let mut recorded: Vec<Recorded> = owned.iter().copied().map(Recorded::from).collect();
    recorded.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
    let text = serde_json::to_string_pretty(&recorded).map_err(|e| e.to_string())?;
    let partial = path.with_extension("json.new");
    fs::write(&partial, text + "\n")
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absent_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert_eq!(read(&path).unwrap(), HashSet::new());
        let owned = HashSet::from([
            ServiceKey::Addr {
                ip: "2001:db8::1".parse().unwrap(),
                port: 443,
                protocol: Protocol::Sctp,
            },
            ServiceKey::Fwmark {
                mark: 7,
                family: Family::V6,
            },
        ]);
        write(&path, &owned).unwrap();
        assert_eq!(read(&path).unwrap(), owned);
        write(&path, &HashSet::new()).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        fs::write(&path, "[{\"fwmark\": \"x\"}]").unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.contains(FILE), "{err}");
    }
}
