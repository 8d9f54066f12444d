//! The connection sync daemons (`ipvsadm --start-daemon`): at most one
//! master and one backup per network namespace.
use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use netlink_packet_core::DecodeError;
use serde::Serialize;

use crate::dataplane::ipvs::wire::DaemonNla;

/// Which side of the sync protocol a daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncRole {
    /// Sends this director's connections (`IP_VS_STATE_MASTER`).
    Master,
    /// Receives the master's (`IP_VS_STATE_BACKUP`).
    Backup,
}

impl SyncRole {
    /// Both roles.
    pub const ALL: [SyncRole; 2] = [SyncRole::Master, SyncRole::Backup];

    /// `IP_VS_STATE_*`.
    pub fn state(self) -> u32 {
        match self {
            SyncRole::Master => 1,
            SyncRole::Backup => 2,
        }
    }

    fn of_state(state: u32) -> Result<SyncRole, DecodeError> {
        match state {
            1 => Ok(SyncRole::Master),
            2 => Ok(SyncRole::Backup),
            other => Err(DecodeError::from(format!(
                "IPVS_DAEMON_ATTR_STATE: {other} is neither master (1) nor backup (2)"
            ))),
        }
    }
}

impl fmt::Display for SyncRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncRole::Master => "master",
            SyncRole::Backup => "backup",
        })
    }
}

/// The kernel's multicast group when none is given (`IP_VS_SYNC_GROUP`).
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// The kernel's port when none is given (`IP_VS_SYNC_PORT`).
pub const DEFAULT_PORT: u16 = 8848;
/// The kernel's TTL when none is given.
pub const DEFAULT_TTL: u8 = 1;

/// A sync daemon: what `NEW_DAEMON` asks for, or what `GET_DAEMON` lists
/// (where the kernel fills in every setting). `None`: the kernel's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncDaemon {
    /// Master or backup.
    pub role: SyncRole,
    /// The multicast interface.
    pub interface: String,
    /// The sync id (0-255).
    pub sync_id: u8,
    /// Largest message payload (the interface's MTU less headers).
    pub maxlen: Option<u16>,
    /// Multicast group ([`DEFAULT_GROUP`]).
    pub group: Option<IpAddr>,
    /// UDP port ([`DEFAULT_PORT`]).
    pub port: Option<u16>,
    /// Multicast TTL ([`DEFAULT_TTL`]).
    pub ttl: Option<u8>,
}

impl SyncDaemon {
    /// The attributes of `NEW_DAEMON` (in libipvs's order).
    pub fn to_nlas(&self) -> Vec<DaemonNla> {
        let mut nlas = vec![
            DaemonNla::State(self.role.state()),
            DaemonNla::McastIfn(self.interface.clone()),
            DaemonNla::SyncId(u32::from(self.sync_id)),
        ];
        nlas.extend(self.maxlen.map(DaemonNla::SyncMaxlen));
        nlas.extend(self.port.map(DaemonNla::McastPort));
        nlas.extend(self.ttl.map(DaemonNla::McastTtl));
        nlas.extend(self.group.map(|group| match group {
            IpAddr::V4(v4) => DaemonNla::McastGroup(v4.octets()),
            IpAddr::V6(v6) => DaemonNla::McastGroup6(v6.octets()),
        }));
        nlas
    }

    /// The attributes of `DEL_DAEMON` for the daemon of `role`.
    pub fn stop_nlas(role: SyncRole) -> Vec<DaemonNla> {
        vec![DaemonNla::State(role.state()), DaemonNla::SyncId(0)]
    }

    /// A listed daemon; state, interface and sync id are required.
    pub fn from_nlas(nlas: &[DaemonNla]) -> Result<SyncDaemon, DecodeError> {
        let missing = |name: &str| DecodeError::from(format!("{name} missing"));
        let mut state = None;
        let mut daemon = SyncDaemon {
            role: SyncRole::Master,
            interface: String::new(),
            sync_id: 0,
            maxlen: None,
            group: None,
            port: None,
            ttl: None,
        };
        let (mut interface, mut sync_id) = (None, None);
        for nla in nlas {
            match nla {
                DaemonNla::State(v) => state = Some(*v),
                DaemonNla::McastIfn(name) => interface = Some(name.clone()),
                DaemonNla::SyncId(v) => sync_id = Some(*v),
                DaemonNla::SyncMaxlen(v) => daemon.maxlen = Some(*v),
                DaemonNla::McastGroup(v4) => daemon.group = Some(Ipv4Addr::from(*v4).into()),
                DaemonNla::McastGroup6(v6) => daemon.group = Some(Ipv6Addr::from(*v6).into()),
                DaemonNla::McastPort(v) => daemon.port = Some(*v),
                DaemonNla::McastTtl(v) => daemon.ttl = Some(*v),
                DaemonNla::Other(_) => {}
            }
        }
        daemon.role = SyncRole::of_state(state.ok_or_else(|| missing("IPVS_DAEMON_ATTR_STATE"))?)?;
        daemon.interface = interface.ok_or_else(|| missing("IPVS_DAEMON_ATTR_MCAST_IFN"))?;
        let sync_id = sync_id.ok_or_else(|| missing("IPVS_DAEMON_ATTR_SYNC_ID"))?;
        daemon.sync_id = u8::try_from(sync_id).map_err(|_| {
            DecodeError::from(format!("IPVS_DAEMON_ATTR_SYNC_ID: {sync_id} is above 255"))
        })?;
        Ok(daemon)
    }

    /// Whether this running daemon (as listed) is the one `wanted` asks
    /// for: same role, interface and sync id, and each setting equal to the
    /// wanted one or, when that is left to the kernel, to the kernel's
    /// default (`maxlen`, derived from the MTU, then matches anything).
    pub fn satisfies(&self, wanted: &SyncDaemon) -> bool {
        fn same<T: PartialEq>(running: Option<T>, wanted: Option<T>, default: Option<T>) -> bool {
            match (running, wanted.or(default)) {
                // An older kernel lists no such setting: it cannot differ.
                (None, _) | (_, None) => true,
                (Some(running), Some(wanted)) => running == wanted,
            }
        }
        self.role == wanted.role
            && self.interface == wanted.interface
            && self.sync_id == wanted.sync_id
            && same(self.maxlen, wanted.maxlen, None)
            && same(self.group, wanted.group, Some(DEFAULT_GROUP.into()))
            && same(self.port, wanted.port, Some(DEFAULT_PORT))
            && same(self.ttl, wanted.ttl, Some(DEFAULT_TTL))
    }
}

impl fmt::Display for SyncDaemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sync daemon on {} (sync id {})",
            self.role, self.interface, self.sync_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon(role: SyncRole) -> SyncDaemon {
        SyncDaemon {
            role,
            interface: "eth1".into(),
            sync_id: 7,
            maxlen: None,
            group: None,
            port: None,
            ttl: None,
        }
    }

    #[test]
    fn listed_daemons_decode_and_defaults_match() {
        let listed = [
            DaemonNla::State(2),
            DaemonNla::McastIfn("eth1".into()),
            DaemonNla::SyncId(7),
            DaemonNla::SyncMaxlen(1472),
            DaemonNla::McastPort(8848),
            DaemonNla::McastTtl(1),
            DaemonNla::McastGroup([224, 0, 0, 81]),
        ];
        let running = SyncDaemon::from_nlas(&listed).unwrap();
        assert_eq!(running.role, SyncRole::Backup);
        assert_eq!(running.group, Some(DEFAULT_GROUP.into()));
        assert!(running.satisfies(&daemon(SyncRole::Backup)));
        assert!(!running.satisfies(&daemon(SyncRole::Master)));
        for changed in [
            SyncDaemon {
                sync_id: 8,
                ..daemon(SyncRole::Backup)
            },
            SyncDaemon {
                port: Some(8850),
                ..daemon(SyncRole::Backup)
            },
            SyncDaemon {
                ttl: Some(2),
                ..daemon(SyncRole::Backup)
            },
            SyncDaemon {
                maxlen: Some(1400),
                ..daemon(SyncRole::Backup)
            },
            SyncDaemon {
                group: Some("ff02::81".parse().unwrap()),
                ..daemon(SyncRole::Backup)
            },
            SyncDaemon {
                interface: "eth2".into(),
                ..daemon(SyncRole::Backup)
            },
        ] {
            assert!(!running.satisfies(&changed), "{changed:?}");
        }
    }

    #[test]
    fn requests_carry_only_what_is_set() {
        let full = SyncDaemon {
            maxlen: Some(1400),
            group: Some("ff02::81".parse().unwrap()),
            port: Some(8850),
            ttl: Some(2),
            ..daemon(SyncRole::Master)
        };
        let nlas = full.to_nlas();
        assert_eq!(nlas.len(), 7);
        assert_eq!(SyncDaemon::from_nlas(&nlas).unwrap(), full);
        assert_eq!(daemon(SyncRole::Master).to_nlas().len(), 3);
    }

    #[test]
    fn malformed_listings_are_errors() {
        let err = |nlas: &[DaemonNla]| SyncDaemon::from_nlas(nlas).unwrap_err().to_string();
        assert!(err(&[]).contains("IPVS_DAEMON_ATTR_STATE"));
        let state = |s| {
            [
                DaemonNla::State(s),
                DaemonNla::McastIfn("x".into()),
                DaemonNla::SyncId(1),
            ]
        };
        assert!(err(&state(3)).contains("neither master"));
        assert!(err(&state(1)[..2]).contains("IPVS_DAEMON_ATTR_SYNC_ID"));
        let big = [
            DaemonNla::State(1),
            DaemonNla::McastIfn("x".into()),
            DaemonNla::SyncId(256),
        ];
        assert!(err(&big).contains("above 255"));
    }
}
