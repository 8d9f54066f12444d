//! The XDP fast path: the embedded eBPF object, loading and attaching it,
//! its maps, and the pure table builders the daemon fills them with.
pub mod adopt;
mod digest;
mod filter;
mod flow_view;
mod links;
mod loader;
mod maps;
mod object;
mod plan;
mod programmer;
mod reconcile;
mod resolve;
mod stats;
mod status;
pub mod tables;

pub use links::{XdpAttachMode, BPFFS_ROOT};
pub use loader::{unpin, FastPath, PassProgram};
pub use maps::Maps;
pub use object::{embedded_object, ObjectMissing};
pub use plan::{NotServed, Plan};
pub use programmer::{addr_of, Backend, Programmer, RealId, ServiceIds, SLOT_QUIET};
pub use reconcile::{Reconciler, Settings};
pub use stats::PacketCounts;
