//! BIRD, the BGP daemon that announces this director's prefixes: its
//! configuration ([`conf`]), its control socket ([`control`]) and the child
//! process the daemon runs ([`child`]).
pub mod child;
pub mod conf;
pub mod control;
