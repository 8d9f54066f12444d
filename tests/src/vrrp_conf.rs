//! One VRRP instance's keepalived.conf, as the VRRP tests write it for both
//! lb-daemon and keepalived (the same text is valid for both).
use std::fmt::Write;

/// The lab's VIP.
pub const VIP: &str = "192.0.2.50";

/// The lab's IPv6 VIP.
pub const VIP6: &str = "2001:db8::50";

/// A `vrrp_instance VI_1` on `eth0`, VRID 51, holding one VIP.
#[derive(Debug, Clone)]
pub struct VrrpConf {
    /// `MASTER` or `BACKUP`.
    pub state: &'static str,
    /// Priority.
    pub priority: u8,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// `advert_int` as written (e.g. `1`, `0.1`).
    pub advert_int: &'static str,
    /// PASS authentication secret (VRRPv2).
    pub auth_pass: Option<&'static str>,
    /// Unicast: our source address and the peer's.
    pub unicast: Option<(String, String)>,
    /// More lines inside the instance block.
    pub extra: String,
    /// The VIP with its prefix ([`VIP`]/24 unless changed).
    pub vip: String,
}

impl VrrpConf {
    /// VRRPv3 at 0.1 s (fast failovers) with the given state and priority.
    pub fn fast(state: &'static str, priority: u8) -> VrrpConf {
        VrrpConf {
            state,
            priority,
            version: 3,
            advert_int: "0.1",
            auth_pass: None,
            unicast: None,
            extra: String::new(),
            vip: format!("{VIP}/24"),
        }
    }

    /// VRRPv2 at 1 s with PASS authentication (`lab-pass`), the given state
    /// and priority.
    pub fn v2(state: &'static str, priority: u8) -> VrrpConf {
        VrrpConf {
            version: 2,
            advert_int: "1",
            auth_pass: Some("lab-pass"),
            ..VrrpConf::fast(state, priority)
        }
    }

    /// The same instance holding [`VIP6`]/64 (VRRPv3 over IPv6).
    pub fn ipv6(self) -> VrrpConf {
        VrrpConf {
            version: 3,
            vip: format!("{VIP6}/64"),
            ..self
        }
    }

    /// Whether namespace `ns` holds this instance's VIP on eth0.
    pub fn held_by(&self, ns: &crate::Netns) -> bool {
        ns.ip(&["-o", "addr", "show", "dev", "eth0"])
            .map(|a| a.contains(&format!(" {} ", self.vip)))
            .unwrap_or(false)
    }

    /// The configuration text.
    pub fn render(&self) -> String {
        let mut s = format!(
            "vrrp_instance VI_1 {{\n    state {}\n    interface eth0\n    virtual_router_id 51\n    \
             priority {}\n    version {}\n    advert_int {}\n",
            self.state, self.priority, self.version, self.advert_int
        );
        if let Some(pass) = self.auth_pass {
            let _ = write!(
                s,
                "    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}\n"
            );
        }
        if let Some((src, peer)) = &self.unicast {
            let _ = write!(
                s,
                "    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n"
            );
        }
        s += &self.extra;
        let _ = write!(
            s,
            "    virtual_ipaddress {{\n        {} dev eth0\n    }}\n}}\n",
            self.vip
        );
        s
    }
}
