//! The soak's configuration texts: the lb-daemon directors' (two variants,
//! for reloads that change something), keepalived's, and a broken one.
use std::{fmt::Write, net::Ipv4Addr, time::Duration};

use crate::Lab;

/// The VIPs, their VRIDs and the node that owns each when all is well.
pub const VIPS: [(Ipv4Addr, u8, &str); 3] = [
    (Ipv4Addr::new(192, 0, 2, 50), 51, "dir1"),
    (Ipv4Addr::new(192, 0, 2, 51), 52, "dir1"),
    (Ipv4Addr::new(192, 0, 2, 52), 53, "dir3"),
];

/// One `vrrp_instance VI_{vrid - 50}` on eth0 holding `vip`/24, VRRPv3.
fn instance(vrid: u8, vip: Ipv4Addr, priority: u8, advert: Duration) -> String {
    let state = if priority >= 150 { "MASTER" } else { "BACKUP" };
    format!(
        "vrrp_instance VI_{} {{\n    state {state}\n    interface eth0\n    virtual_router_id {vrid}\n    \
         priority {priority}\n    version 3\n    advert_int {}\n    virtual_ipaddress {{\n        \
         {vip}/24 dev eth0\n    }}\n}}\n",
        vrid - 50,
        advert.as_secs_f64()
    )
}

/// Director `n`'s (1 or 2) configuration: G1 = {VI_1, VI_2} with dir1 at
/// 150 and dir2 at 100; VI_3 with dir2 at 150 and dir1 at 100 (keepalived,
/// at 200, is its master); the `mh` fast-path DR service on VI_1's VIP with
/// the three real servers, TCP_CHECK'd. `changed` is the variant a reload
/// switches to: other checker timings, nothing that moves a flow.
pub fn director(lab: &Lab, n: usize, advert: Duration, changed: bool) -> String {
    let (group, vi3) = if n == 1 { (150, 100) } else { (100, 150) };
    let mut text = format!(
        "global_defs {{\n    router_id soak-dir{n}\n}}\n\
         vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n"
    );
    for (vip, vrid, _) in VIPS {
        text += &instance(vrid, vip, if vrid == 53 { vi3 } else { group }, advert);
    }
    let (delay, timeout) = if changed { ("0.7", 2) } else { ("0.5", 1) };
    let _ = write!(
        text,
        "virtual_server {} 80 {{\n    lb_algo mh\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n",
        VIPS[0].0
    );
    for rs in lab.real_servers() {
        let _ = write!(
            text,
            "    real_server {} 80 {{\n        weight 1\n        TCP_CHECK {{\n            \
             connect_timeout {timeout}\n            delay_loop {delay}\n        }}\n    }}\n",
            rs.ipv4()
        );
    }
    text + "}\n"
}

/// keepalived's configuration: VI_3 alone, at priority 200.
pub fn keepalived(advert: Duration) -> String {
    let (vip, vrid, _) = VIPS[2];
    instance(vrid, vip, 200, advert)
}

/// `text` made invalid: VI_2's VRID out of range.
pub fn broken(text: &str) -> String {
    text.replace("virtual_router_id 52", "virtual_router_id 300")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_render_keepalived_syntax() {
        let text = instance(53, VIPS[2].0, 200, Duration::from_millis(500));
        assert!(text.starts_with("vrrp_instance VI_3 {\n    state MASTER\n"));
        assert!(text.contains("    advert_int 0.5\n"));
        assert!(text.contains("        192.0.2.52/24 dev eth0\n"));
        assert!(
            broken(&instance(52, VIPS[1].0, 100, Duration::from_secs(1)))
                .contains("virtual_router_id 300")
        );
    }
}
