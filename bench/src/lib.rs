//! Helpers shared by the benchmark binaries.
pub mod fastpath;
pub mod flood;
pub mod nft;
pub mod procfs;
pub mod stats;
