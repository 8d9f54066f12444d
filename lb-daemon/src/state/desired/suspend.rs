//! `ha_suspend`: a virtual server's checkers pause while this node does not
//! hold its address. keepalived counts the service's addresses present on
//! the node (`ha_suspend_addr_count`) and suspends at 0; lb-daemon knows
//! the addresses VRRP manages, so a service is suspended when every one of
//! its addresses is a VIP of some instance and none of those instances is
//! MASTER here. Addresses no instance manages are taken as configured
//! statically (present); fwmark services are never suspended.
use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::config::Config;
use crate::state::ownership::Ownership;

use super::services::addresses;

/// Indexes of the virtual servers whose checks are suspended.
pub fn suspended(config: &Config, ownership: &Ownership) -> BTreeSet<usize> {
    config
        .virtual_server
        .iter()
        .enumerate()
        .filter(|(_, server)| server.ha_suspend)
        .filter(|(_, server)| {
            let addrs = addresses(config, server);
            !addrs.is_empty() && addrs.iter().all(|ip| managed_elsewhere(*ip, ownership))
        })
        .map(|(vs, _)| vs)
        .collect()
}

/// `ip` is a VIP of some instance, and no instance holding it is MASTER.
fn managed_elsewhere(ip: IpAddr, ownership: &Ownership) -> bool {
    let holders: Vec<bool> = ownership
        .values()
        .filter(|owned| owned.vips.iter().any(|(_, net)| net.addr() == ip))
        .map(|owned| owned.master)
        .collect();
    !holders.is_empty() && !holders.contains(&true)
}
