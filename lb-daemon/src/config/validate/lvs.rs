//! Checks of the load-balancing side: services, real servers, checkers.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::{names, Check};
use crate::config::model::{
    Checker, CheckerKind, Config, GroupMember, LbAlgo, RealServer, VirtualServer,
};
use crate::config::toml::set_fields;

const PORT: (u16, u16) = (1, 65535);

pub(super) fn check(check: &mut Check, config: &Config) {
    let mut seen = HashSet::new();
    for (i, group) in config.virtual_server_group.iter().enumerate() {
        let path = format!("virtual_server_group.{i}");
        check.unique_name(&mut seen, &path, &group.name);
        for (j, member) in group.member.iter().enumerate() {
            group_member(check, &format!("{path}.member.{j}"), member);
        }
    }
    let groups = names(&config.virtual_server_group, |g| &g.name);
    let files = names(&config.track_file, |f| &f.name);
    let mut services = HashSet::new();
    for (i, server) in config.virtual_server.iter().enumerate() {
        let path = format!("virtual_server.{i}");
        virtual_server(check, &path, server, &groups);
        let service = (
            server.address,
            server.port,
            server.fwmark,
            &server.group,
            server.protocol,
        );
        if !services.insert(service) {
            check.error(&path, "this virtual_server is defined twice");
        }
        let mut reals = HashSet::new();
        for (j, real) in server.real_server.iter().enumerate() {
            let at = format!("{path}.real_server.{j}");
            real_server(check, &at, server, real, &files);
            if !reals.insert((real.address, real.port)) {
                check.error(&at, format!("real_server {} is listed twice", real.address));
            }
        }
    }
}

fn group_member(check: &mut Check, path: &str, member: &GroupMember) {
    check.range(path, "port", member.port, PORT);
    check.range(path, "fwmark", member.fwmark, (1, u32::MAX));
    let (Some(address), Some(end)) = (member.address, member.range_end) else {
        return;
    };
    let (last, max) = match address {
        std::net::IpAddr::V4(v4) => (u16::from(v4.octets()[3]), 255),
        std::net::IpAddr::V6(v6) => (v6.segments()[7], u16::MAX),
    };
    check.range(path, "range_end", Some(end), (last, max));
}

fn virtual_server(check: &mut Check, path: &str, server: &VirtualServer, groups: &[&str]) {
    let forms = [
        server.address.is_some(),
        server.fwmark.is_some(),
        server.group.is_some(),
    ];
    if forms.iter().filter(|set| **set).count() != 1 {
        check.error(
            path,
            "a virtual_server needs exactly one of `ADDR PORT`, `fwmark N`, `group NAME`",
        );
    }
    if server.address.is_some() {
        check.required(path, "port", server.port.is_some());
    }
    check.range(path, "port", server.port, PORT);
    check.range(path, "fwmark", server.fwmark, (1, u32::MAX));
    check.range(path, "weight", server.weight, (1, 65535));
    if let Some(group) = server
        .group
        .as_ref()
        .filter(|g| !groups.contains(&g.as_str()))
    {
        check.error(
            &format!("{path}.group"),
            format!("no virtual_server_group is named `{group}`"),
        );
    }
    check.seconds(path, "delay_loop", server.delay_loop);
    check.seconds(path, "connect_timeout", server.connect_timeout);
    check.seconds(path, "delay_before_retry", server.delay_before_retry);
    check.range(path, "quorum", server.quorum, (1, u32::MAX));
    if let Some(granularity) = &server.persistence_granularity {
        if !is_granularity(granularity) {
            let message = format!(
                "`persistence_granularity` {granularity} is not a netmask or prefix length"
            );
            check.error(&format!("{path}.persistence_granularity"), message);
        }
    }
    scheduler_flags(check, path, server);
    if let Some(sorry) = &server.sorry_server {
        let at = format!("{path}.sorry_server");
        check.range(&at, "port", Some(sorry.port), PORT);
        if let Some(address) = server.address {
            check.family(&at, "sorry_server", sorry.address, address.is_ipv6());
        }
    }
}

/// `sh-*` flags belong to the `sh` scheduler and `mh-*` ones to `mh`;
/// keepalived ignores them with other schedulers, and so do we, saying so.
fn scheduler_flags(check: &mut Check, path: &str, server: &VirtualServer) {
    let algo = server.lb_algo.map(LbAlgo::name);
    let flags = [
        ("sh", "sh-port", server.sh_port),
        ("sh", "sh-fallback", server.sh_fallback),
        ("mh", "mh-port", server.mh_port),
        ("mh", "mh-fallback", server.mh_fallback),
    ];
    for (scheduler, flag, _) in flags.iter().filter(|f| f.2 && algo != Some(f.0)) {
        check.warning(
            &format!("{path}.{flag}"),
            format!("`{flag}` only applies to lb_algo {scheduler}; ignored"),
        );
    }
}

/// A netmask with contiguous ones, or a prefix length up to 128.
fn is_granularity(text: &str) -> bool {
    match text.parse::<Ipv4Addr>() {
        Ok(mask) => u32::from(mask).leading_ones() == u32::from(mask).count_ones(),
        Err(_) => text.parse::<u8>().is_ok_and(|len| len <= 128),
    }
}

fn real_server(
    check: &mut Check,
    path: &str,
    server: &VirtualServer,
    real: &RealServer,
    files: &[&str],
) {
    if let Some(address) = server.address {
        check.family(path, "real_server", real.address, address.is_ipv6());
        check.required(path, "port", real.port.is_some());
    }
    check.range(path, "port", real.port, PORT);
    check.range(path, "weight", real.weight, (0, 65535));
    check.seconds(path, "delay_loop", real.delay_loop);
    check.seconds(path, "connect_timeout", real.connect_timeout);
    check.seconds(path, "delay_before_retry", real.delay_before_retry);
    for (i, checker) in real.checker.iter().enumerate() {
        health_check(check, &format!("{path}.checker.{i}"), checker, files);
    }
}

/// Fields every checker accepts.
const COMMON: &[&str] = &[
    "type",
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "alpha",
];

/// Fields only some kinds of checker accept.
fn own_fields(kind: CheckerKind) -> &'static [&'static str] {
    match kind {
        CheckerKind::HttpGet | CheckerKind::SslGet => &[
            "url",
            "http_protocol",
            "virtualhost",
            "enable_sni",
            "sni_name",
        ],
        CheckerKind::MiscCheck => &["misc_path", "misc_timeout", "misc_dynamic", "user"],
        CheckerKind::SmtpCheck => &["helo_name"],
        CheckerKind::DnsCheck => &["dns_type", "name"],
        CheckerKind::UdpCheck => &[
            "payload",
            "require_reply",
            "min_reply_length",
            "max_reply_length",
        ],
        CheckerKind::FileCheck => &["track_file", "weight"],
        CheckerKind::TcpCheck | CheckerKind::PingCheck => &[],
    }
}

fn health_check(check: &mut Check, path: &str, checker: &Checker, files: &[&str]) {
    let kind = checker.kind;
    let own = own_fields(kind);
    for field in set_fields(checker) {
        if !COMMON.contains(&field.as_str()) && !own.contains(&field.as_str()) {
            let name = serde_json::to_value(kind).unwrap_or_default();
            let name = name.as_str().unwrap_or_default();
            check.error(
                &format!("{path}.{field}"),
                format!("`{field}` does not apply to {name}"),
            );
        }
    }
    check.range(path, "connect_port", checker.connect_port, PORT);
    check.seconds(path, "connect_timeout", checker.connect_timeout);
    check.seconds(path, "delay_loop", checker.delay_loop);
    match kind {
        CheckerKind::HttpGet | CheckerKind::SslGet => {
            check.required(path, "url", !checker.url.is_empty());
            for (i, url) in checker.url.iter().enumerate() {
                let at = format!("{path}.url.{i}");
                check.required(&at, "path", url.path.is_some());
                if url
                    .digest
                    .as_ref()
                    .is_some_and(|d| d.len() != 32 || !is_hex(d))
                {
                    check.error(
                        &format!("{at}.digest"),
                        "`digest` must be 32 hex digits (an MD5 sum)",
                    );
                }
                for (j, codes) in url.status_code.iter().enumerate() {
                    if codes.from < 100 || codes.to > 599 || codes.from > codes.to {
                        let message = format!("`status_code` {codes} is not within 100-599");
                        check.error(&format!("{at}.status_code.{j}"), message);
                    }
                }
            }
        }
        CheckerKind::MiscCheck => check.required(path, "misc_path", checker.misc_path.is_some()),
        CheckerKind::DnsCheck => dns_type(check, path, checker.dns_type.as_deref()),
        CheckerKind::UdpCheck => {
            for (field, hex) in [
                ("payload", &checker.payload),
                ("require_reply", &checker.require_reply),
            ] {
                if hex.as_ref().is_some_and(|h| !is_hex(h) || h.len() % 2 != 0) {
                    check.error(
                        &format!("{path}.{field}"),
                        format!("`{field}` must be pairs of hex digits"),
                    );
                }
            }
        }
        CheckerKind::FileCheck => match &checker.track_file {
            None => check.required(path, "track_file", false),
            Some(name) if !files.contains(&name.as_str()) => {
                check.error(
                    &format!("{path}.track_file"),
                    format!("FILE_CHECK names unknown track_file `{name}`"),
                );
            }
            Some(_) => {}
        },
        CheckerKind::TcpCheck | CheckerKind::SmtpCheck | CheckerKind::PingCheck => {}
    }
}

fn dns_type(check: &mut Check, path: &str, query: Option<&str>) {
    const TYPES: &[&str] = &["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"];
    if let Some(query) = query.filter(|q| !TYPES.contains(q)) {
        let message = format!("DNS `type` {query} is not one of {}", TYPES.join(", "));
        check.error(&format!("{path}.dns_type"), message);
    }
}

fn is_hex(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_hexdigit())
}
