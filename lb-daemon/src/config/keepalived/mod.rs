//! The keepalived.conf front end: line reader (templating and `include`),
//! lexer, parser, keyword tables and binder.

mod args;
mod bgp;
mod bind;
#[cfg(test)]
mod coverage;
mod keywords;
mod lexer;
mod lvs;
mod lvs_args;
mod missing;
mod parser;
mod routes;
mod syncd;
mod template;
mod top;
mod vip;
mod vrrp;
mod vrrp_lines;
mod words;

use std::path::Path;
use std::sync::OnceLock;

use super::diag::{Diagnostic, FieldLocations};
use super::model::Config;

pub use template::{Bounds, ReadOptions};
pub use words::script_words;

/// The options of this process's command line.
static OPTIONS: OnceLock<ReadOptions> = OnceLock::new();

/// Sets how this process reads configurations (`-i`, `-e`). Only the first
/// call counts: the command line sets them before the configuration is
/// first read, and reloads keep them.
pub fn set_read_options(options: ReadOptions) {
    let _ = OPTIONS.set(options);
}

/// The options set by [`set_read_options`] (keepalived's defaults when it
/// was not called).
pub fn read_options() -> &'static ReadOptions {
    OPTIONS.get_or_init(|| ReadOptions::new(None, false))
}

/// Reads keepalived.conf `text` (from `origin`) as `options` say into a
/// model, with where each field was written and every problem found on
/// the way.
pub fn read(
    text: &str,
    origin: &Path,
    options: &ReadOptions,
) -> (Config, FieldLocations, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let statements = parser::parse(text, origin, options, &mut diagnostics);
    let (config, locations, more) = top::bind(&statements);
    diagnostics.extend(more);
    (config, locations, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages_of(text: &str) -> Vec<String> {
        messages(text)
    }

    fn messages(text: &str) -> Vec<String> {
        let (_, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
        diagnostics.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn no_refused_or_ignored_entry_is_shadowed_by_a_bound_keyword() {
        let shadowed = [
            vrrp::GLOBAL.shadowed(),
            vrrp::INSTANCE.shadowed(),
            vrrp::SYNC_GROUP.shadowed(),
            lvs::VIRTUAL_SERVER.shadowed(),
            lvs::REAL_SERVER.shadowed(),
            lvs::CHECKER.shadowed(),
            lvs::URL.shadowed(),
            top::TOP.shadowed(),
            top::SSL.shadowed(),
        ];
        assert_eq!(shadowed.concat(), Vec::<&str>::new());
    }

    #[test]
    fn conditional_conf_sample_selects_lines_by_config_id() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/keepalived-samples/keepalived.conf.conditional_conf");
        let sample = std::fs::read_to_string(&path).unwrap();
        let high = Some("/etc/keepalived/scripts/check_high_VI_0.sh");
        let low = Some("/etc/keepalived/scripts/check_low_VI_0.sh");
        for (id, namespace, priority, script) in [
            ("high", Some("high"), Some(170), high),
            ("low", Some("low"), Some(85), low),
            ("vm", None, None, None),
        ] {
            let (config, _, diagnostics) = read(&sample, &path, &ReadOptions::id(id));
            assert!(diagnostics.is_empty(), "{id}: {diagnostics:?}");
            assert_eq!(config.net_namespace.as_deref(), namespace, "{id}");
            assert!(config.vrrp_instance[0].use_vmac, "{id}");
            assert_eq!(config.vrrp_instance[0].priority, priority, "{id}");
            assert_eq!(config.vrrp_script[0].script.as_deref(), script, "{id}");
        }
    }

    #[test]
    fn smtp_check_host_blocks_are_one_checker_each() {
        let server = |checker: &str| {
            let text = format!(
                "virtual_server 192.0.2.1 25 {{\n real_server 192.0.2.2 25 {{\n  \
                 SMTP_CHECK {{\n{checker}  }}\n }}\n}}\n"
            );
            let (config, _, diagnostics) =
                read(&text, Path::new("k.conf"), &ReadOptions::id("node"));
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            let checkers = &config.virtual_server[0].real_server[0].checker;
            checkers
                .iter()
                .map(|c| {
                    let ip = c.connect_ip.map(|ip| ip.to_string());
                    (ip, c.connect_port, c.helo_name.clone(), c.retry)
                })
                .collect::<Vec<_>>()
        };
        let hosts = "   host {\n    connect_ip 192.0.2.2\n   }\n   host {\n    \
                     connect_ip 198.51.100.7\n    connect_port 587\n    retry 5\n   }\n";
        let helo = Some("lb.example".to_owned());
        let ip = |s: &str| Some(s.to_owned());
        // Without a connection of its own the checker is the first host's.
        assert_eq!(
            server(&format!("{hosts}   helo_name lb.example\n   retry 2\n")),
            [
                (ip("192.0.2.2"), None, helo.clone(), Some(2)),
                (ip("198.51.100.7"), Some(587), helo.clone(), Some(5)),
            ]
        );
        // With one, it stays and each host is one more.
        assert_eq!(
            server(&format!("   connect_port 2525\n{hosts}")),
            [
                (None, Some(2525), None, None),
                (ip("192.0.2.2"), Some(2525), None, None),
                (ip("198.51.100.7"), Some(587), None, Some(5)),
            ]
        );
    }

    #[test]
    fn the_ssl_block_names_the_client_certificate() {
        let text = "SSL {\n certificate /etc/lb/c.pem\n key /etc/lb/k.pem\n ca /etc/lb/ca.pem\n}\n";
        let (config, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
        let ssl = config.ssl.unwrap();
        assert_eq!(ssl.certificate.as_deref(), Some("/etc/lb/c.pem"));
        assert_eq!(ssl.key.as_deref(), Some("/etc/lb/k.pem"));
        let messages: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            ["k.conf:4:2: warning: `ca` (verifying servers with a CA) is not implemented; ignored"]
        );
        assert_eq!(
            messages_of("SSL {\n password secret\n}\n"),
            ["k.conf:2:2: error: unsupported: password (encrypted private keys) is not implemented"]
        );
    }

    #[test]
    fn unknown_refused_ignored_and_miscased_keywords() {
        let text = "global_defs {\n vrrp_iptables\n Router_ID x\n lvs_flus\n umask 022\n}\n";
        assert_eq!(
            messages(text),
            [
                "k.conf:2:2: error: unsupported: vrrp_iptables (iptables rules for accept mode) \
                 is not implemented",
                "k.conf:3:2: warning: keyword `Router_ID` should be written `router_id`; \
                 keepalived itself rejects this spelling",
                "k.conf:4:2: error: unknown keyword `lvs_flus` in global_defs; did you mean `lvs_flush`?",
                "k.conf:5:2: warning: `umask` (the mode of files keepalived writes) is not \
                 implemented; ignored",
            ]
        );
    }

    #[test]
    fn suggestions_for_the_first_32_unknown_words_and_their_repeats() {
        let words: Vec<String> = (0..40).map(|n| format!("lvs_flus{n}")).collect();
        let text = format!("global_defs {{\n{}\n lvs_flus0\n}}\n", words.join("\n"));
        let suggested: Vec<bool> = (messages(&text).iter())
            .map(|m| m.ends_with("did you mean `lvs_flush`?"))
            .collect();
        assert_eq!(suggested.len(), 41);
        assert!(suggested[..32].iter().all(|s| *s), "{suggested:?}");
        assert!(!suggested[32..40].iter().any(|s| *s), "{suggested:?}");
        assert!(
            suggested[40],
            "a word suggested for before keeps its suggestion"
        );
    }

    #[test]
    fn refused_blocks_are_skipped_whole() {
        let text = "vrrp_instance V {\n track_bfd {\n  bogus\n }\n}\n";
        let messages = messages(text);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("unsupported: track_bfd"));
    }

    #[test]
    fn preempt_undoes_nopreempt() {
        let text = "vrrp_instance V {\n nopreempt\n preempt\n}\nvrrp_instance W {\n nopreempt\n}\n";
        let (config, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let nopreempt: Vec<bool> = config.vrrp_instance.iter().map(|i| i.nopreempt).collect();
        assert_eq!(nopreempt, [false, true]);
    }

    #[test]
    fn sni_name_names_the_server_and_turns_sni_on() {
        let text = "virtual_server 192.0.2.1 443 {\n real_server 192.0.2.2 443 {\n  \
                    SSL_GET {\n   sni_name sni.example.test\n  }\n  SSL_GET {\n   sni_name\n  }\n }\n}\n";
        let (config, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let checkers = &config.virtual_server[0].real_server[0].checker;
        let sni: Vec<_> = checkers
            .iter()
            .map(|c| (c.enable_sni, c.sni_name.as_deref()))
            .collect();
        assert_eq!(sni, [(true, Some("sni.example.test")), (true, None)]);
    }

    #[test]
    fn peer_ttl_ranges_are_read_and_bad_ones_named() {
        let text = "vrrp_instance V {\n unicast_peer {\n  192.0.2.9\n  \
                    192.0.2.8 min_ttl 2 max_ttl 64\n  192.0.2.7 max_ttl 1\n }\n}\n";
        let (config, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let ranges: Vec<_> = config.vrrp_instance[0]
            .unicast_peer
            .iter()
            .map(|p| (p.address.to_string(), p.min_ttl, p.max_ttl))
            .collect();
        assert_eq!(
            ranges,
            [
                ("192.0.2.9".into(), 0, 255),
                ("192.0.2.8".into(), 2, 64),
                ("192.0.2.7".into(), 0, 1)
            ]
        );
        let bad = "vrrp_instance V {\n unicast_peer {\n  192.0.2.8 min_ttl 300\n  \
                   192.0.2.7 ttl 3\n  192.0.2.6 max_ttl\n }\n}\n";
        assert_eq!(
            messages(bad),
            [
                "k.conf:3:21: error: `unicast_peer`: `300` is not a whole number from 0 to 255",
                "k.conf:4:13: error: `unicast_peer`: unexpected `ttl`: expected min_ttl or max_ttl",
                "k.conf:5:3: error: `unicast_peer`: the TTL is missing",
            ]
        );
    }

    #[test]
    fn blocks_and_values_are_not_confused() {
        let text = "vrrp_instance V {\n priority 1 {\n }\n virtual_ipaddress 192.0.2.1\n}\n";
        assert_eq!(
            messages(text),
            [
                "k.conf:2:2: error: `priority` does not take a `{ … }` block",
                "k.conf:4:2: error: `virtual_ipaddress` needs a `{ … }` block",
            ]
        );
    }

    #[test]
    fn aliases_one_line_blocks_and_field_locations() {
        let text = "virtual_server 192.0.2.1 80 {\n lvs_sched wrr\n real_server 192.0.2.2 80 {\n  \
                    SSL_GET { url { path /x } }\n }\n}\nvrrp_instance V { unicast_peer { 192.0.2.9 } }\n";
        let (config, locations, diagnostics) =
            read(text, Path::new("k.conf"), &ReadOptions::id("node"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let server = &config.virtual_server[0];
        assert_eq!(server.lb_algo, Some(crate::config::model::LbAlgo::Wrr));
        let url = &server.real_server[0].checker[0].url[0];
        assert_eq!(url.path.as_deref(), Some("/x"));
        assert_eq!(config.vrrp_instance[0].unicast_peer.len(), 1);
        let at = |path| locations.resolve(path).map(|l| (l.line, l.column));
        assert_eq!(at("virtual_server.0.lb_algo"), Some((2, 12)));
        assert_eq!(at("virtual_server.0.port"), Some((1, 26)));
        assert_eq!(
            at("virtual_server.0.real_server.0.checker.0.url.0"),
            Some((4, 13))
        );
        assert_eq!(at("vrrp_instance.0.unicast_peer.0"), Some((7, 34)));
    }
}
