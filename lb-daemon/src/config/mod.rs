//! Configuration model and its two front ends (keepalived.conf and TOML).
