//! Attribute value readers that name the attribute when a value is malformed.
use netlink_packet_core::{DecodeError, NlaBuffer, NlasIterator, Parseable};

fn fixed<const N: usize>(value: &[u8], name: &str) -> Result<[u8; N], DecodeError> {
    value.try_into().map_err(|_| {
        DecodeError::from(format!(
            "{name}: expected {N} bytes, the kernel sent {}",
            value.len()
        ))
    })
}

/// A `u8`.
pub fn u8(value: &[u8], name: &str) -> Result<u8, DecodeError> {
    fixed::<1>(value, name).map(|b| b[0])
}

/// A host-order `u16`.
pub fn u16(value: &[u8], name: &str) -> Result<u16, DecodeError> {
    fixed(value, name).map(u16::from_ne_bytes)
}

/// A network-order (`__be16`) port.
pub fn be16(value: &[u8], name: &str) -> Result<u16, DecodeError> {
    fixed(value, name).map(u16::from_be_bytes)
}

/// A host-order `u32`.
pub fn u32(value: &[u8], name: &str) -> Result<u32, DecodeError> {
    fixed(value, name).map(u32::from_ne_bytes)
}

/// Four raw bytes.
pub fn raw4(value: &[u8], name: &str) -> Result<[u8; 4], DecodeError> {
    fixed(value, name)
}

/// Sixteen raw bytes.
pub fn raw16(value: &[u8], name: &str) -> Result<[u8; 16], DecodeError> {
    fixed(value, name)
}

/// A host-order `u64`.
pub fn u64(value: &[u8], name: &str) -> Result<u64, DecodeError> {
    fixed(value, name).map(u64::from_ne_bytes)
}

/// A NUL-terminated string.
pub fn string(value: &[u8], name: &str) -> Result<String, DecodeError> {
    let text = value.strip_suffix(&[0]).unwrap_or(value);
    String::from_utf8(text.to_vec())
        .map_err(|_| DecodeError::from(format!("{name}: not UTF-8: {value:02x?}")))
}

/// The attributes nested in `value`.
pub fn nested<N>(value: &[u8]) -> Result<Vec<N>, DecodeError>
where
    N: for<'a> Parseable<NlaBuffer<&'a [u8]>>,
{
    NlasIterator::new(value)
        .map(|nla| N::parse(&nla?))
        .collect()
}

/// Emits `text` with its terminating NUL.
pub fn emit_string(text: &str, buffer: &mut [u8]) {
    buffer[..text.len()].copy_from_slice(text.as_bytes());
    buffer[text.len()] = 0;
}
