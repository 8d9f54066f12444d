//! The eBPF object embedded at build time (see `build.rs`).
use std::fmt;

/// Bytes of `lb-xdp`, 8-byte aligned as the ELF parser requires; empty when
/// the object had not been built when lb-daemon was compiled.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/lb-xdp.o"));

/// The embedded object was absent at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMissing;

impl fmt::Display for ObjectMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "this lb-daemon was built without its XDP program: run `cargo xtask build-ebpf`, \
             then rebuild lb-daemon",
        )
    }
}

impl std::error::Error for ObjectMissing {}

/// The embedded XDP object, or [`ObjectMissing`] when it was not built.
pub fn embedded_object() -> Result<&'static [u8], ObjectMissing> {
    if OBJECT.is_empty() {
        Err(ObjectMissing)
    } else {
        Ok(OBJECT)
    }
}
