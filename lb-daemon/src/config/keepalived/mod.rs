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
mod missing;
mod parser;
mod routes;
mod syncd;
mod template;
mod top;
mod vip;
mod vrrp;
mod words;

use std::path::Path;
use std::sync::OnceLock;

use super::diag::{Diagnostic, FieldLocations};
use super::model::Config;

pub use template::ReadOptions;
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

    fn messages(text: &str) -> Vec<String> {
        let (_, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
        diagnostics.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn conditional_conf_sample_selects_lines_by_config_id() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/keepalived-samples/keepalived.conf.conditional_conf");
        let sample = std::fs::read_to_string(&path).unwrap();
        // Templating is not what stops it: only net_namespace (selected by
        // -i high or -i low) is refused, a feature of its own.
        for (id, refused) in [("high", true), ("low", true), ("vm", false)] {
            let (_, _, diagnostics) = read(&sample, &path, &ReadOptions::id(id));
            let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
            let net_namespace =
                |d: &&Diagnostic| d.message.starts_with("unsupported: net_namespace");
            assert_eq!(errors.len(), usize::from(refused), "{id}: {errors:?}");
            assert!(errors.iter().all(net_namespace), "{id}: {errors:?}");
        }
        let without: String = sample
            .lines()
            .filter(|l| !l.contains("net_namespace"))
            .map(|l| format!("{l}\n"))
            .collect();
        for (id, priority, script) in [
            (
                "high",
                Some(170),
                Some("/etc/keepalived/scripts/check_high_VI_0.sh"),
            ),
            (
                "low",
                Some(85),
                Some("/etc/keepalived/scripts/check_low_VI_0.sh"),
            ),
            ("vm", None, None),
        ] {
            let (config, _, diagnostics) = read(&without, &path, &ReadOptions::id(id));
            assert!(diagnostics.is_empty(), "{id}: {diagnostics:?}");
            assert!(config.vrrp_instance[0].use_vmac, "{id}");
            assert_eq!(config.vrrp_instance[0].priority, priority, "{id}");
            assert_eq!(config.vrrp_script[0].script.as_deref(), script, "{id}");
        }
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
    fn peer_ttl_ranges_are_refused_by_name() {
        let text =
            "vrrp_instance V {\n unicast_peer {\n  192.0.2.9\n  192.0.2.8 min_ttl 2\n }\n}\n";
        assert_eq!(
            messages(text),
            ["k.conf:4:13: error: `unicast_peer`: unsupported: min_ttl (a TTL range for the peer's \
              adverts) is not implemented"]
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
