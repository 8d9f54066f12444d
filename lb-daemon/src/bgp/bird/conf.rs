//! The configuration of the BIRD the daemon runs: one BGP session per
//! neighbour (short hold time, BFD when configured, no graceful restart, so
//! that routers drop a dead director at once), and one static protocol per
//! announced prefix, disabled until the announcer enables it. BIRD has no
//! kernel protocol here: it never touches the director's routing table.
use std::{collections::BTreeSet, fmt::Write, net::IpAddr};

use ipnet::IpNet;

use crate::config::{BgpSpeaker, Community};

/// Hold time when the configuration gives none.
pub const DEFAULT_HOLD_TIME: u16 = 3;
/// BFD interval (ms) and multiplier when a `bfd` block gives none.
pub const DEFAULT_BFD: (u32, u8) = (100, 3);

/// A prefix the announcer may announce: its static protocol, disabled
/// until enabled over the control socket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Announcement {
    /// The prefix.
    pub prefix: IpNet,
    /// Communities attached to the route.
    pub communities: BTreeSet<Community>,
}

impl Announcement {
    /// The name of its static protocol in BIRD (`lbvip_192_0_2_10_32`):
    /// derived from the prefix, so that it survives reloads.
    pub fn protocol(&self) -> String {
        let text: String = self
            .prefix
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("lbvip_{text}")
    }
}

/// The name of neighbour `index`'s BGP protocol.
pub fn session(index: usize) -> String {
    format!("upstream_{index}")
}

/// Where an announced route points. Nothing is ever forwarded by these
/// routes (BIRD has no kernel protocol here); what matters is when BIRD
/// considers them reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Always reachable: a child BIRD dies with the daemon anyway.
    Blackhole,
    /// Reachable while this interface exists and is up (a system BIRD's
    /// routes go when the daemon's liveness interface does).
    Interface(&'a str),
}

/// The whole configuration of a child BIRD for `speaker` with
/// `announcements` (each disabled unless in `enabled`, so a
/// reconfiguration keeps what is announced announced).
pub fn render(
    speaker: &BgpSpeaker,
    announcements: &[Announcement],
    enabled: &BTreeSet<IpNet>,
) -> String {
    let mut out = String::from("# Written by lb-daemon; changes are overwritten.\n");
    if let Some(id) = router_id(speaker) {
        let _ = writeln!(out, "router id {id};");
    }
    out.push_str("protocol device {}\n");
    if let Some(bfd) = &speaker.bfd {
        let interval = bfd.interval.unwrap_or(DEFAULT_BFD.0);
        let multiplier = bfd.multiplier.unwrap_or(DEFAULT_BFD.1);
        let _ = writeln!(
            out,
            "protocol bfd {{\n  interface \"*\" {{ interval {interval} ms; multiplier {multiplier}; }};\n}}"
        );
    }
    statics(&mut out, announcements, enabled, Target::Blackhole);
    sessions(&mut out, speaker);
    out
}

/// The file a system BIRD includes: the static protocols alone, through
/// `target`. The system BIRD's sessions export them with
/// `export where proto ~ "lbvip_*";`.
pub fn render_include(
    announcements: &[Announcement],
    enabled: &BTreeSet<IpNet>,
    target: Target<'_>,
) -> String {
    let mut out = String::from(
        "# Written by lb-daemon; changes are overwritten. Included by the system BIRD's\n\
         # configuration; its BGP sessions export these with `export where proto ~ \"lbvip_*\";`.\n",
    );
    statics(&mut out, announcements, enabled, target);
    out
}

/// One static protocol per announcement.
fn statics(
    out: &mut String,
    announcements: &[Announcement],
    enabled: &BTreeSet<IpNet>,
    target: Target<'_>,
) {
    let target = match target {
        Target::Blackhole => "blackhole".to_owned(),
        Target::Interface(name) => format!("via \"{name}\""),
    };
    for a in announcements {
        let channel = if a.prefix.addr().is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        let disabled = if enabled.contains(&a.prefix) {
            ""
        } else {
            "  disabled;\n"
        };
        let attrs: String = a
            .communities
            .iter()
            .map(|c| format!(" bgp_community.add(({},{}));", c.0, c.1))
            .collect();
        let _ = writeln!(
            out,
            "protocol static {} {{\n  {channel};\n{disabled}  route {} {target} {{{attrs} }};\n}}",
            a.protocol(),
            a.prefix
        );
    }
}

/// One BGP protocol per neighbour.
fn sessions(out: &mut String, speaker: &BgpSpeaker) {
    let local_as = speaker.local_as.unwrap_or_default();
    let hold = speaker.hold_time.unwrap_or(DEFAULT_HOLD_TIME);
    let keepalive = (hold / 3).max(1);
    for (i, n) in speaker.neighbor.iter().enumerate() {
        let local = n.local_address.map(|a| format!("{a} ")).unwrap_or_default();
        let port = n.port.map(|p| format!(" port {p}")).unwrap_or_default();
        let bfd = if speaker.bfd.is_some() {
            "  bfd on;\n"
        } else {
            ""
        };
        let channel = if n.address.is_ipv4() { "ipv4" } else { "ipv6" };
        let _ = writeln!(
            out,
            "protocol bgp {} {{\n  local {local}as {local_as};\n  neighbor {} as {}{port};\n  \
             hold time {hold};\n  keepalive time {keepalive};\n  graceful restart off;\n  \
             error wait time 1, 10;\n  connect retry time 2;\n{bfd}  {channel} {{\n    \
             import none;\n    export where proto ~ \"lbvip_*\";\n    next hop self;\n  }};\n}}",
            session(i),
            n.address,
            n.remote_as.unwrap_or_default(),
        );
    }
}

/// The router id: configured, else the first IPv4 local address of a
/// neighbour (BIRD otherwise takes the lowest address of an interface).
fn router_id(speaker: &BgpSpeaker) -> Option<IpAddr> {
    speaker.router_id.map(IpAddr::V4).or_else(|| {
        speaker
            .neighbor
            .iter()
            .filter_map(|n| n.local_address)
            .find(IpAddr::is_ipv4)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Bfd, Neighbor};

    fn speaker() -> BgpSpeaker {
        BgpSpeaker {
            local_as: Some(64513),
            bfd: Some(Bfd::default()),
            neighbor: vec![Neighbor {
                remote_as: Some(64512),
                local_address: Some("198.51.100.11".parse().unwrap()),
                ..Neighbor::at("198.51.100.1".parse().unwrap())
            }],
            ..BgpSpeaker::default()
        }
    }

    fn vip() -> Announcement {
        Announcement {
            prefix: "192.0.2.10/32".parse().unwrap(),
            communities: [Community(64513, 100)].into(),
        }
    }

    #[test]
    fn sessions_are_short_lived_and_export_only_the_announcements() {
        let text = render(&speaker(), &[vip()], &BTreeSet::new());
        for line in [
            "router id 198.51.100.11;",
            "interface \"*\" { interval 100 ms; multiplier 3; };",
            "protocol static lbvip_192_0_2_10_32 {",
            "  disabled;",
            "route 192.0.2.10/32 blackhole { bgp_community.add((64513,100)); };",
            "protocol bgp upstream_0 {",
            "local 198.51.100.11 as 64513;",
            "neighbor 198.51.100.1 as 64512;",
            "hold time 3;",
            "graceful restart off;",
            "bfd on;",
            "export where proto ~ \"lbvip_*\";",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(!text.contains("protocol kernel"), "{text}");
    }

    #[test]
    fn enabled_prefixes_stay_enabled_across_a_rewrite() {
        let enabled = BTreeSet::from([vip().prefix]);
        let text = render(&speaker(), &[vip()], &enabled);
        assert!(!text.contains("disabled;"), "{text}");
    }

    #[test]
    fn an_include_for_a_system_bird_has_only_the_statics_through_the_interface() {
        let text = render_include(&[vip()], &BTreeSet::new(), Target::Interface("lb-alive"));
        assert!(
            text.contains(
                "route 192.0.2.10/32 via \"lb-alive\" { bgp_community.add((64513,100)); };"
            ),
            "{text}"
        );
        assert!(text.contains("  disabled;"), "{text}");
        for absent in [
            "protocol bgp",
            "router id",
            "protocol device",
            "protocol bfd",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
    }

    #[test]
    fn protocol_names_are_stable_and_valid_for_ipv6() {
        let v6 = Announcement {
            prefix: "2001:db8::10/128".parse().unwrap(),
            communities: BTreeSet::new(),
        };
        assert_eq!(v6.protocol(), "lbvip_2001_db8__10_128");
        assert_eq!(vip().protocol(), "lbvip_192_0_2_10_32");
    }
}
