//! The keepalived.conf front end: lexer, parser (with `include`), keyword
//! tables and binder.

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
mod top;
mod vip;
mod vrrp;
mod words;

use std::path::Path;

use super::diag::{Diagnostic, FieldLocations};
use super::model::Config;

pub use words::script_words;

/// Reads keepalived.conf `text` (from `origin`) into a model, with where
/// each field was written and every problem found on the way.
pub fn read(text: &str, origin: &Path) -> (Config, FieldLocations, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let statements = parser::parse(text, origin, &mut diagnostics);
    let (config, locations, more) = top::bind(&statements);
    diagnostics.extend(more);
    (config, locations, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        let (_, _, diagnostics) = read(text, Path::new("k.conf"));
        diagnostics.iter().map(ToString::to_string).collect()
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
        let text = "vrrp_instance V {\n track_process {\n  bogus\n }\n}\n";
        let messages = messages(text);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("unsupported: track_process"));
    }

    #[test]
    fn preempt_undoes_nopreempt() {
        let text = "vrrp_instance V {\n nopreempt\n preempt\n}\nvrrp_instance W {\n nopreempt\n}\n";
        let (config, _, diagnostics) = read(text, Path::new("k.conf"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let nopreempt: Vec<bool> = config.vrrp_instance.iter().map(|i| i.nopreempt).collect();
        assert_eq!(nopreempt, [false, true]);
    }

    #[test]
    fn sni_name_names_the_server_and_turns_sni_on() {
        let text = "virtual_server 192.0.2.1 443 {\n real_server 192.0.2.2 443 {\n  \
                    SSL_GET {\n   sni_name sni.example.test\n  }\n  SSL_GET {\n   sni_name\n  }\n }\n}\n";
        let (config, _, diagnostics) = read(text, Path::new("k.conf"));
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
        let (config, locations, diagnostics) = read(text, Path::new("k.conf"));
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
