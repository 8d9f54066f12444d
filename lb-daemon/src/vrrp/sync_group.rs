//! keepalived `vrrp_sync_group`: instances that change state together.
