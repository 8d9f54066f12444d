//! `IPVS_STATS_ATTR_*`: the counters nested in a service's or destination's
//! `STATS` (32-bit packet counters) and `STATS64` (all 64-bit) attributes.
use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable};

use super::attr;

/// Which counter (`IPVS_STATS_ATTR_CONNS` = 1 … `OUTBPS` = 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum StatKind {
    Conns,
    InPkts,
    OutPkts,
    InBytes,
    OutBytes,
    Cps,
    InPps,
    OutPps,
    InBps,
    OutBps,
}

/// Every kind, in attribute number order (number = index + 1).
pub const STAT_KINDS: [StatKind; 10] = [
    StatKind::Conns,
    StatKind::InPkts,
    StatKind::OutPkts,
    StatKind::InBytes,
    StatKind::OutBytes,
    StatKind::Cps,
    StatKind::InPps,
    StatKind::OutPps,
    StatKind::InBps,
    StatKind::OutBps,
];

impl StatKind {
    fn number(self) -> u16 {
        STAT_KINDS.iter().position(|k| *k == self).unwrap_or(0) as u16 + 1
    }
}

/// A counter value with its width on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A `u32` attribute.
    U32(u32),
    /// A `u64` attribute.
    U64(u64),
}

impl Counter {
    /// The value, whatever its width.
    pub fn value(self) -> u64 {
        match self {
            Counter::U32(v) => u64::from(v),
            Counter::U64(v) => v,
        }
    }
}

/// One attribute of a stats nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsNla {
    /// A counter.
    Counter(StatKind, Counter),
    /// `IPVS_STATS_ATTR_PAD` and anything newer.
    Other(DefaultNla),
}

impl Nla for StatsNla {
    fn value_len(&self) -> usize {
        match self {
            StatsNla::Counter(_, Counter::U32(_)) => 4,
            StatsNla::Counter(_, Counter::U64(_)) => 8,
            StatsNla::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            StatsNla::Counter(kind, _) => kind.number(),
            StatsNla::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            StatsNla::Counter(_, Counter::U32(v)) => buffer.copy_from_slice(&v.to_ne_bytes()),
            StatsNla::Counter(_, Counter::U64(v)) => buffer.copy_from_slice(&v.to_ne_bytes()),
            StatsNla::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for StatsNla {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<StatsNla, DecodeError> {
        let Some(kind) = STAT_KINDS.get(usize::from(buf.kind()).wrapping_sub(1)) else {
            return Ok(StatsNla::Other(DefaultNla::parse(buf)?));
        };
        let value = buf.value();
        let name = format!("IPVS stats counter {kind:?}");
        let counter = match value.len() {
            4 => Counter::U32(attr::u32(value, &name)?),
            _ => Counter::U64(attr::u64(value, &name)?),
        };
        Ok(StatsNla::Counter(*kind, counter))
    }
}
