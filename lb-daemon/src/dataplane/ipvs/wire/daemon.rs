//! `IPVS_DAEMON_ATTR_*`: the attributes nested in `IPVS_CMD_ATTR_DAEMON`,
//! which start (`NEW_DAEMON`), stop (`DEL_DAEMON`) and list (`GET_DAEMON`,
//! a dump answered with one `NEW_DAEMON` message per running daemon) the
//! connection sync daemons.
use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable};

use super::attr;

/// One attribute of a sync daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonNla {
    /// `STATE`: `IP_VS_STATE_MASTER` (1) or `IP_VS_STATE_BACKUP` (2).
    State(u32),
    /// `MCAST_IFN`: the interface (NUL-terminated).
    McastIfn(String),
    /// `SYNC_ID`.
    SyncId(u32),
    /// `SYNC_MAXLEN` (Linux 4.3+): largest message payload.
    SyncMaxlen(u16),
    /// `MCAST_GROUP` (Linux 4.3+): IPv4 group, network order.
    McastGroup([u8; 4]),
    /// `MCAST_GROUP6` (Linux 4.3+): IPv6 group.
    McastGroup6([u8; 16]),
    /// `MCAST_PORT` (Linux 4.3+), host order as the kernel reads it.
    McastPort(u16),
    /// `MCAST_TTL` (Linux 4.3+).
    McastTtl(u8),
    /// Anything newer.
    Other(DefaultNla),
}

const STATE: u16 = 1;
const MCAST_IFN: u16 = 2;
const SYNC_ID: u16 = 3;
const SYNC_MAXLEN: u16 = 4;
const MCAST_GROUP: u16 = 5;
const MCAST_GROUP6: u16 = 6;
const MCAST_PORT: u16 = 7;
const MCAST_TTL: u16 = 8;

impl Nla for DaemonNla {
    fn value_len(&self) -> usize {
        match self {
            DaemonNla::McastIfn(name) => name.len() + 1,
            DaemonNla::McastTtl(_) => 1,
            DaemonNla::SyncMaxlen(_) | DaemonNla::McastPort(_) => 2,
            DaemonNla::State(_) | DaemonNla::SyncId(_) | DaemonNla::McastGroup(_) => 4,
            DaemonNla::McastGroup6(_) => 16,
            DaemonNla::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            DaemonNla::State(_) => STATE,
            DaemonNla::McastIfn(_) => MCAST_IFN,
            DaemonNla::SyncId(_) => SYNC_ID,
            DaemonNla::SyncMaxlen(_) => SYNC_MAXLEN,
            DaemonNla::McastGroup(_) => MCAST_GROUP,
            DaemonNla::McastGroup6(_) => MCAST_GROUP6,
            DaemonNla::McastPort(_) => MCAST_PORT,
            DaemonNla::McastTtl(_) => MCAST_TTL,
            DaemonNla::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            DaemonNla::State(v) | DaemonNla::SyncId(v) => buffer.copy_from_slice(&v.to_ne_bytes()),
            DaemonNla::McastIfn(name) => attr::emit_string(name, buffer),
            DaemonNla::SyncMaxlen(v) | DaemonNla::McastPort(v) => {
                buffer.copy_from_slice(&v.to_ne_bytes())
            }
            DaemonNla::McastGroup(bytes) => buffer.copy_from_slice(bytes),
            DaemonNla::McastGroup6(bytes) => buffer.copy_from_slice(bytes),
            DaemonNla::McastTtl(v) => buffer[0] = *v,
            DaemonNla::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DaemonNla {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<DaemonNla, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            STATE => DaemonNla::State(attr::u32(v, "IPVS_DAEMON_ATTR_STATE")?),
            MCAST_IFN => DaemonNla::McastIfn(attr::string(v, "IPVS_DAEMON_ATTR_MCAST_IFN")?),
            SYNC_ID => DaemonNla::SyncId(attr::u32(v, "IPVS_DAEMON_ATTR_SYNC_ID")?),
            SYNC_MAXLEN => DaemonNla::SyncMaxlen(attr::u16(v, "IPVS_DAEMON_ATTR_SYNC_MAXLEN")?),
            MCAST_GROUP => DaemonNla::McastGroup(attr::raw4(v, "IPVS_DAEMON_ATTR_MCAST_GROUP")?),
            MCAST_GROUP6 => {
                DaemonNla::McastGroup6(attr::raw16(v, "IPVS_DAEMON_ATTR_MCAST_GROUP6")?)
            }
            MCAST_PORT => DaemonNla::McastPort(attr::u16(v, "IPVS_DAEMON_ATTR_MCAST_PORT")?),
            MCAST_TTL => DaemonNla::McastTtl(attr::u8(v, "IPVS_DAEMON_ATTR_MCAST_TTL")?),
            _ => DaemonNla::Other(DefaultNla::parse(buf)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{Emitable, ParseableParametrized};
    use netlink_packet_generic::GenlHeader;

    use super::super::{CmdNla, IpvsCmd, IpvsMessage};
    use super::*;

    /// One attribute: length, type, value, padding to 4 bytes.
    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut bytes = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        bytes.extend(kind.to_ne_bytes());
        bytes.extend(value);
        bytes.resize(bytes.len().next_multiple_of(4), 0);
        bytes
    }

    /// What Linux 6.1's `ip_vs_genl_fill_daemon` sends for a backup daemon
    /// on eth1, sync id 7, with its defaults filled in.
    fn kernel_listing() -> Vec<u8> {
        let nest = [
            nla(1, &2u32.to_ne_bytes()),
            nla(2, b"eth1\0"),
            nla(3, &7u32.to_ne_bytes()),
            nla(4, &1472u16.to_ne_bytes()),
            nla(7, &8848u16.to_ne_bytes()),
            nla(8, &[1]),
            nla(5, &[224, 0, 0, 81]),
        ]
        .concat();
        nla(3, &nest)
    }

    fn parse(cmd: IpvsCmd, bytes: &[u8]) -> Result<IpvsMessage, DecodeError> {
        let header = GenlHeader {
            cmd: cmd.into(),
            version: 1,
        };
        IpvsMessage::parse_with_param(bytes, header)
    }

    #[test]
    fn the_kernels_listing_decodes_and_requests_encode_as_ip_vs_h_says() {
        let message = parse(IpvsCmd::NewDaemon, &kernel_listing()).unwrap();
        let expected = vec![
            DaemonNla::State(2),
            DaemonNla::McastIfn("eth1".into()),
            DaemonNla::SyncId(7),
            DaemonNla::SyncMaxlen(1472),
            DaemonNla::McastPort(8848),
            DaemonNla::McastTtl(1),
            DaemonNla::McastGroup([224, 0, 0, 81]),
        ];
        assert_eq!(message.nlas, [CmdNla::Daemon(expected.clone())]);
        // Sent nested with NLA_F_NESTED, like libnl; otherwise the same bytes.
        let request = IpvsMessage {
            cmd: IpvsCmd::NewDaemon,
            nlas: vec![CmdNla::Daemon(expected)],
        };
        let mut bytes = vec![0; request.buffer_len()];
        request.emit(&mut bytes);
        let mut kernel = kernel_listing();
        kernel[3] |= 0x80;
        assert_eq!(bytes, kernel);
        let group6 = DaemonNla::McastGroup6([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81]);
        let mut bytes = vec![0; group6.buffer_len()];
        group6.emit(&mut bytes);
        assert_eq!(bytes[..4], [20, 0, 6, 0]);
    }

    #[test]
    fn malformed_daemon_attributes_are_named_errors() {
        for (kind, value, name) in [
            (1u16, &[1u8, 0][..], "IPVS_DAEMON_ATTR_STATE"),
            (2, &[0xff, 0xfe, 0][..], "IPVS_DAEMON_ATTR_MCAST_IFN"),
            (3, &[7][..], "IPVS_DAEMON_ATTR_SYNC_ID"),
            (4, &[][..], "IPVS_DAEMON_ATTR_SYNC_MAXLEN"),
            (5, &[224, 0, 0][..], "IPVS_DAEMON_ATTR_MCAST_GROUP"),
            (6, &[0xff; 15][..], "IPVS_DAEMON_ATTR_MCAST_GROUP6"),
            (7, &[1, 2, 3][..], "IPVS_DAEMON_ATTR_MCAST_PORT"),
            (8, &[1, 2][..], "IPVS_DAEMON_ATTR_MCAST_TTL"),
        ] {
            let bytes = nla(3, &nla(kind, value));
            let err = parse(IpvsCmd::NewDaemon, &bytes).unwrap_err();
            assert!(format!("{err:?}").contains(name), "{name}: {err:?}");
        }
        // A nest cut short, and an attribute claiming more than there is.
        let mut cut = kernel_listing();
        cut.truncate(20);
        assert!(parse(IpvsCmd::NewDaemon, &cut).is_err());
        let overrun = nla(3, &[200, 0, 1, 0, 0, 0, 0, 0]);
        assert!(parse(IpvsCmd::NewDaemon, &overrun).is_err());
    }
}
