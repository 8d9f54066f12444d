//! The XDP fast path: the embedded eBPF object, loading and attaching it, and
//! its maps.
mod loader;
mod object;

pub use loader::{FastPath, XdpAttachMode};
pub use object::{embedded_object, ObjectMissing};
