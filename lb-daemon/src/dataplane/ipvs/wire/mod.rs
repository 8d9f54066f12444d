//! The generic netlink family "IPVS" on the wire (`include/uapi/linux/ip_vs.h`):
//! one message type, [`IpvsMessage`], whose attributes are typed netlink
//! attribute enums ([`CmdNla`], [`SvcNla`], [`DestNla`], [`StatsNla`],
//! [`DaemonNla`]), each
//! implementing `netlink-packet-core`'s `Nla` (hence `Emitable`) and `Parseable`.
//!
//! Values are kept as the kernel sends them (addresses as raw bytes, the
//! netmask as stored); [`super::types`] gives them meaning.
mod attr;
mod daemon;
mod dest;
mod family;
mod service;
mod stats;

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, ErrorContext, Nla, NlaBuffer, NlasIterator, Parseable,
    ParseableParametrized, NLA_F_NESTED,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

pub use daemon::DaemonNla;
pub use dest::DestNla;
pub use family::FamilyQuery;
pub use service::{SvcFlags, SvcNla};
pub use stats::{Counter, StatKind, StatsNla};

/// The family's registered name.
pub const FAMILY_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`.
pub const FAMILY_VERSION: u8 = 1;

/// `IPVS_CMD_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum IpvsCmd {
    NewService,
    SetService,
    DelService,
    GetService,
    NewDest,
    SetDest,
    DelDest,
    GetDest,
    NewDaemon,
    DelDaemon,
    GetDaemon,
    SetConfig,
    GetConfig,
    SetInfo,
    GetInfo,
    Zero,
    Flush,
}

/// Every command, in `IPVS_CMD_*` order (value = index + 1).
const COMMANDS: [IpvsCmd; 17] = [
    IpvsCmd::NewService,
    IpvsCmd::SetService,
    IpvsCmd::DelService,
    IpvsCmd::GetService,
    IpvsCmd::NewDest,
    IpvsCmd::SetDest,
    IpvsCmd::DelDest,
    IpvsCmd::GetDest,
    IpvsCmd::NewDaemon,
    IpvsCmd::DelDaemon,
    IpvsCmd::GetDaemon,
    IpvsCmd::SetConfig,
    IpvsCmd::GetConfig,
    IpvsCmd::SetInfo,
    IpvsCmd::GetInfo,
    IpvsCmd::Zero,
    IpvsCmd::Flush,
];

impl From<IpvsCmd> for u8 {
    fn from(cmd: IpvsCmd) -> u8 {
        COMMANDS
            .iter()
            .position(|c| *c == cmd)
            .map_or(0, |i| i as u8 + 1)
    }
}

impl TryFrom<u8> for IpvsCmd {
    type Error = DecodeError;

    fn try_from(value: u8) -> Result<IpvsCmd, DecodeError> {
        value
            .checked_sub(1)
            .and_then(|i| COMMANDS.get(usize::from(i)))
            .copied()
            .ok_or_else(|| DecodeError::from(format!("unknown IPVS command {value}")))
    }
}

/// `IPVS_CMD_ATTR_*` (and, in `SET_INFO` replies, `IPVS_INFO_ATTR_*`,
/// which reuse the same numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdNla {
    /// `IPVS_CMD_ATTR_SERVICE`: a nested service.
    Service(Vec<SvcNla>),
    /// `IPVS_CMD_ATTR_DEST`: a nested destination.
    Dest(Vec<DestNla>),
    /// `IPVS_CMD_ATTR_DAEMON`: a nested sync daemon.
    Daemon(Vec<DaemonNla>),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP`, seconds.
    TimeoutTcp(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`, seconds.
    TimeoutTcpFin(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP`, seconds.
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (`SET_INFO` only): `major << 16 | minor << 8 | patch`.
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (`SET_INFO` only).
    InfoConnTabSize(u32),
    /// Anything else (newer attributes).
    Other(DefaultNla),
}

const CMD_ATTR_SERVICE: u16 = 1;
const CMD_ATTR_DEST: u16 = 2;
const CMD_ATTR_DAEMON: u16 = 3;
const CMD_ATTR_TIMEOUT_TCP: u16 = 4;
const CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
const CMD_ATTR_TIMEOUT_UDP: u16 = 6;
const INFO_ATTR_VERSION: u16 = 1;
const INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

impl Nla for CmdNla {
    fn value_len(&self) -> usize {
        match self {
            CmdNla::Service(nlas) => nlas.as_slice().buffer_len(),
            CmdNla::Dest(nlas) => nlas.as_slice().buffer_len(),
            CmdNla::Daemon(nlas) => nlas.as_slice().buffer_len(),
            CmdNla::TimeoutTcp(_)
            | CmdNla::TimeoutTcpFin(_)
            | CmdNla::TimeoutUdp(_)
            | CmdNla::InfoVersion(_)
            | CmdNla::InfoConnTabSize(_) => 4,
            CmdNla::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            // Sent with NLA_F_NESTED, as libnl (ipvsadm) does; the
            // kernel's replies leave it out.
            CmdNla::Service(_) => CMD_ATTR_SERVICE | NLA_F_NESTED,
            CmdNla::Dest(_) => CMD_ATTR_DEST | NLA_F_NESTED,
            CmdNla::Daemon(_) => CMD_ATTR_DAEMON | NLA_F_NESTED,
            CmdNla::TimeoutTcp(_) => CMD_ATTR_TIMEOUT_TCP,
            CmdNla::TimeoutTcpFin(_) => CMD_ATTR_TIMEOUT_TCP_FIN,
            CmdNla::TimeoutUdp(_) => CMD_ATTR_TIMEOUT_UDP,
            CmdNla::InfoVersion(_) => INFO_ATTR_VERSION,
            CmdNla::InfoConnTabSize(_) => INFO_ATTR_CONN_TAB_SIZE,
            CmdNla::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            CmdNla::Service(nlas) => nlas.as_slice().emit(buffer),
            CmdNla::Dest(nlas) => nlas.as_slice().emit(buffer),
            CmdNla::Daemon(nlas) => nlas.as_slice().emit(buffer),
            CmdNla::TimeoutTcp(v)
            | CmdNla::TimeoutTcpFin(v)
            | CmdNla::TimeoutUdp(v)
            | CmdNla::InfoVersion(v)
            | CmdNla::InfoConnTabSize(v) => buffer.copy_from_slice(&v.to_ne_bytes()),
            CmdNla::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ParseableParametrized<NlaBuffer<&'a T>, IpvsCmd> for CmdNla {
    fn parse_with_param(buf: &NlaBuffer<&'a T>, cmd: IpvsCmd) -> Result<CmdNla, DecodeError> {
        let value = buf.value();
        Ok(match (cmd, buf.kind()) {
            (IpvsCmd::SetInfo, INFO_ATTR_VERSION) => {
                CmdNla::InfoVersion(attr::u32(value, "IPVS_INFO_ATTR_VERSION")?)
            }
            (IpvsCmd::SetInfo, INFO_ATTR_CONN_TAB_SIZE) => {
                CmdNla::InfoConnTabSize(attr::u32(value, "IPVS_INFO_ATTR_CONN_TAB_SIZE")?)
            }
            (IpvsCmd::SetInfo, _) => CmdNla::Other(DefaultNla::parse(buf)?),
            (_, CMD_ATTR_SERVICE) => {
                CmdNla::Service(attr::nested(value).context("in IPVS_CMD_ATTR_SERVICE")?)
            }
            (_, CMD_ATTR_DEST) => {
                CmdNla::Dest(attr::nested(value).context("in IPVS_CMD_ATTR_DEST")?)
            }
            (_, CMD_ATTR_DAEMON) => {
                CmdNla::Daemon(attr::nested(value).context("in IPVS_CMD_ATTR_DAEMON")?)
            }
            (_, CMD_ATTR_TIMEOUT_TCP) => {
                CmdNla::TimeoutTcp(attr::u32(value, "IPVS_CMD_ATTR_TIMEOUT_TCP")?)
            }
            (_, CMD_ATTR_TIMEOUT_TCP_FIN) => {
                CmdNla::TimeoutTcpFin(attr::u32(value, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN")?)
            }
            (_, CMD_ATTR_TIMEOUT_UDP) => {
                CmdNla::TimeoutUdp(attr::u32(value, "IPVS_CMD_ATTR_TIMEOUT_UDP")?)
            }
            _ => CmdNla::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// One IPVS generic netlink message: a command and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command (`genlmsghdr.cmd`).
    pub cmd: IpvsCmd,
    /// Its attributes.
    pub nlas: Vec<CmdNla>,
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd.into()
    }

    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.nlas.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.nlas.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<IpvsMessage, DecodeError> {
        let cmd = IpvsCmd::try_from(header.cmd)?;
        let nlas = NlasIterator::new(buf)
            .map(|nla| CmdNla::parse_with_param(&nla?, cmd))
            .collect::<Result<_, _>>()
            .with_context(|| format!("in IPVS {cmd:?} message"))?;
        Ok(IpvsMessage { cmd, nlas })
    }
}

#[cfg(test)]
mod tests;
