//! Lab library: network-namespace topologies for integration tests and `cargo xtask lab`.
