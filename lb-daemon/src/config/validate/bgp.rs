//! Checks of the BGP blocks: a speaker that can run, and announcements that
//! cannot break flows: only mh/sh services (every director must pick the
//! same real server), and no address that a VRRP instance also moves unless
//! the announcement follows it (`only_while_master`).
use std::net::IpAddr;

use super::Check;
use crate::config::model::{BgpSpeaker, Config, LbAlgo, VirtualServer};

pub(super) fn check(check: &mut Check, config: &Config) {
    if let Some(speaker) = &config.bgp_speaker {
        speaker_fields(check, speaker);
    }
    let vips: Vec<IpAddr> = config
        .vrrp_instance
        .iter()
        .flat_map(|i| &i.virtual_ipaddress)
        .map(|vip| vip.address.addr())
        .collect();
    for (i, server) in config.virtual_server.iter().enumerate() {
        if server.bgp_announce.is_some() {
            let path = format!("virtual_server.{i}.bgp_announce");
            announce(check, &path, server, config.bgp_speaker.is_some(), &vips);
        }
    }
}

fn speaker_fields(check: &mut Check, speaker: &BgpSpeaker) {
    if speaker.interface.is_none() {
        check.error(
            "bgp_speaker",
            "`bgp_speaker` needs `interface` (where routed traffic arrives; the fast path attaches there)",
        );
    }
    if speaker.bird_include.is_some() {
        system_bird_fields(check, speaker);
        return;
    }
    if speaker.bird_socket.is_some() {
        check.error(
            "bgp_speaker.bird_socket",
            "`bird_socket` is the system BIRD's socket: it goes with `bird_include`",
        );
    }
    if speaker.local_as.is_none() {
        check.error("bgp_speaker", "`bgp_speaker` needs `local_as`");
    }
    if speaker.neighbor.is_empty() {
        check.error("bgp_speaker", "`bgp_speaker` needs at least one `neighbor`");
    }
    if speaker.hold_time.is_some_and(|h| h != 0 && h < 3) {
        check.error(
            "bgp_speaker.hold_time",
            "`hold_time` is 0 or at least 3 seconds (RFC 4271)",
        );
    }
    if let Some(bfd) = &speaker.bfd {
        if bfd.interval.is_some_and(|i| !(10..=60_000).contains(&i)) {
            check.error(
                "bgp_speaker.bfd.interval",
                "`interval` is in milliseconds, from 10 to 60000",
            );
        }
        if bfd.multiplier == Some(0) {
            check.error("bgp_speaker.bfd.multiplier", "`multiplier` is at least 1");
        }
    }
    for (i, neighbor) in speaker.neighbor.iter().enumerate() {
        if neighbor.remote_as.is_none() {
            check.error(
                &format!("bgp_speaker.neighbor.{i}"),
                format!("neighbor {} needs `remote_as`", neighbor.address),
            );
        }
    }
}

/// With `bird_include` the system BIRD's own configuration has the
/// sessions: settings for a child BIRD would silently do nothing.
fn system_bird_fields(check: &mut Check, speaker: &BgpSpeaker) {
    let child_only = [
        ("router_id", speaker.router_id.is_some()),
        ("local_as", speaker.local_as.is_some()),
        ("hold_time", speaker.hold_time.is_some()),
        ("bfd", speaker.bfd.is_some()),
        ("bird_binary", speaker.bird_binary.is_some()),
        ("neighbor", !speaker.neighbor.is_empty()),
    ];
    for (field, set) in child_only {
        if set {
            check.error(
                &format!("bgp_speaker.{field}"),
                format!(
                    "`{field}` configures the BIRD lb-daemon runs as its child; with \
                     `bird_include` it belongs in the system BIRD's own configuration"
                ),
            );
        }
    }
    if speaker
        .bird_include
        .as_ref()
        .is_some_and(|p| !p.is_absolute())
    {
        check.error(
            "bgp_speaker.bird_include",
            "`bird_include` is an absolute path (the system BIRD includes it)",
        );
    }
}

fn announce(
    check: &mut Check,
    path: &str,
    server: &VirtualServer,
    has_speaker: bool,
    vrrp_vips: &[IpAddr],
) {
    let Some(announce) = &server.bgp_announce else {
        return;
    };
    if !has_speaker {
        check.error(path, "`bgp_announce` needs a `bgp_speaker` block");
    }
    let Some(address) = server.address else {
        check.error(
            path,
            "`bgp_announce` is for `virtual_server ADDRESS PORT` (not fwmark or group services)",
        );
        return;
    };
    if !matches!(server.lb_algo, Some(LbAlgo::Mh | LbAlgo::Sh)) {
        check.error(
            path,
            "an announced service needs `lb_algo mh` or `sh`: other schedulers send a flow \
             to a different real server on each director, so flows break when routers \
             move them",
        );
    }
    if let Some(prefix) = announce.prefix {
        if !prefix.contains(&address) {
            check.error(
                &format!("{path}.prefix"),
                format!("prefix {prefix} does not contain the service address {address}"),
            );
        }
    }
    let in_vrrp = vrrp_vips.contains(&address);
    if in_vrrp && !announce.only_while_master {
        check.error(
            path,
            format!(
                "{address} is a VIP of a vrrp_instance and announced over BGP: two mechanisms \
                 would move it; add `only_while_master` to announce it only while MASTER"
            ),
        );
    }
    if announce.only_while_master && !in_vrrp {
        check.error(
            &format!("{path}.only_while_master"),
            format!("`only_while_master`, but {address} is no vrrp_instance's VIP"),
        );
    }
    for (field, value) in [
        ("drain", announce.drain),
        ("announce_delay", announce.announce_delay),
    ] {
        if value.is_some_and(|v| !(0.0..=3600.0).contains(&v)) {
            check.error(
                &format!("{path}.{field}"),
                format!("`{field}` is in seconds, from 0 to 3600"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse_keepalived_str;

    fn errors(conf: &str) -> String {
        match parse_keepalived_str(conf, Path::new("k.conf")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    const SPEAKER: &str = "bgp_speaker {\n local_as 64513\n interface eth0\n neighbor 198.51.100.1 {\n  remote_as 64512\n }\n}\n";

    fn service(algo: &str, announce: &str) -> String {
        format!(
            "virtual_server 192.0.2.10 80 {{\n lb_algo {algo}\n lb_kind DR\n bgp_announce {{\n{announce} }}\n real_server 198.51.100.21 80 {{\n }}\n}}\n"
        )
    }

    #[test]
    fn a_complete_configuration_passes() {
        assert_eq!(errors(&format!("{SPEAKER}{}", service("mh", ""))), "");
    }

    #[test]
    fn schedulers_that_differ_between_directors_are_refused() {
        let text = errors(&format!("{SPEAKER}{}", service("rr", "")));
        assert!(
            text.contains("k.conf:11") && text.contains("`lb_algo mh` or `sh`"),
            "{text}"
        );
    }

    #[test]
    fn announcing_without_a_speaker_or_with_missing_fields_is_refused() {
        assert!(errors(&service("mh", "")).contains("needs a `bgp_speaker`"));
        let partial = "bgp_speaker {\n neighbor 198.51.100.1 {\n }\n}\n";
        let text = errors(partial);
        for needed in ["`local_as`", "`interface`", "needs `remote_as`"] {
            assert!(text.contains(needed), "{needed}: {text}");
        }
    }

    #[test]
    fn a_system_bird_has_its_own_sessions() {
        let system = "bgp_speaker {\n interface eth0\n bird_include /etc/bird/lb-daemon.conf\n bird_socket /run/bird/bird.ctl\n}\n";
        assert_eq!(errors(&format!("{system}{}", service("mh", ""))), "");
        let both = "bgp_speaker {\n interface eth0\n bird_include /etc/bird/lb.conf\n local_as 64513\n neighbor 198.51.100.1 {\n  remote_as 64512\n }\n}\n";
        let text = errors(both);
        for field in ["`local_as` configures", "`neighbor` configures"] {
            assert!(text.contains(field), "{field}: {text}");
        }
        let relative = "bgp_speaker {\n interface eth0\n bird_include lb.conf\n}\n";
        assert!(errors(relative).contains("absolute path"));
        let socket_alone =
            SPEAKER.replace("interface eth0", "interface eth0\n bird_socket /run/b.ctl");
        assert!(errors(&socket_alone).contains("goes with `bird_include`"));
    }

    #[test]
    fn a_vrrp_vip_is_announced_only_while_master() {
        let vrrp = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n";
        let text = errors(&format!("{SPEAKER}{vrrp}{}", service("mh", "")));
        assert!(text.contains("only_while_master"), "{text}");
        let ok = service("mh", "  only_while_master\n");
        assert_eq!(errors(&format!("{SPEAKER}{vrrp}{ok}")), "");
        let text = errors(&format!("{SPEAKER}{ok}"));
        assert!(text.contains("is no vrrp_instance's VIP"), "{text}");
    }

    #[test]
    fn a_prefix_must_hold_the_address() {
        let text = errors(&format!(
            "{SPEAKER}{}",
            service("sh", "  prefix 203.0.113.0/24\n")
        ));
        assert!(text.contains("does not contain"), "{text}");
    }
}
