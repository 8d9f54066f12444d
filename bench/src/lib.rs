//! Helpers shared by the benchmark binaries.
pub mod fastpath;
pub mod stats;
