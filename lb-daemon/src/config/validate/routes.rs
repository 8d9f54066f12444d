//! Static and virtual routes, rules and static addresses: each must be one
//! the kernel accepts, and each may be configured once only, since
//! lb-daemon removes what it added when the owner (the daemon or the
//! instance) lets go, and two owners of one route would remove it under
//! each other.

use std::collections::HashMap;

use super::Check;
use crate::config::model::{Config, Route, Rule};

pub(super) fn check(check: &mut Check, config: &Config) {
    let mut routes: HashMap<&Route, String> = HashMap::new();
    let mut rules: HashMap<&Rule, String> = HashMap::new();
    let instances = config.vrrp_instance.iter().enumerate();
    let statics = (
        "static_".to_owned(),
        &config.static_routes,
        &config.static_rules,
    );
    let owners = std::iter::once(statics).chain(instances.map(|(i, instance)| {
        let prefix = format!("vrrp_instance.{i}.virtual_");
        (prefix, &instance.virtual_routes, &instance.virtual_rules)
    }));
    for (prefix, owned_routes, owned_rules) in owners {
        for (i, route) in owned_routes.iter().enumerate() {
            let path = format!("{prefix}routes.{i}");
            if let Some(problem) = route.problem() {
                check.error(&path, problem);
            }
            once(check, &mut routes, route, path, "route");
        }
        for (i, rule) in owned_rules.iter().enumerate() {
            let path = format!("{prefix}rules.{i}");
            if let Some(problem) = rule.problem() {
                check.error(&path, problem);
            }
            once(check, &mut rules, rule, path, "rule");
        }
    }
    for (i, address) in config.static_ipaddress.iter().enumerate() {
        if address.dev.is_none() {
            let message = format!("static address {} needs `dev`", address.address);
            check.error(&format!("static_ipaddress.{i}"), message);
        }
    }
}

/// Records `item` at `path`, reporting it when configured before.
fn once<'c, T: Eq + std::hash::Hash>(
    check: &mut Check,
    seen: &mut HashMap<&'c T, String>,
    item: &'c T,
    path: String,
    what: &str,
) {
    match seen.get(item) {
        Some(first) => check.error(
            &path,
            format!("the same {what} is configured at {first} too; each has one owner"),
        ),
        None => {
            seen.insert(item, path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse_keepalived_str;

    fn errors(text: &str) -> Vec<String> {
        match parse_keepalived_str(text, Path::new("k.conf")) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn good_routes_rules_and_addresses_load() {
        let text = "static_ipaddress {\n 192.0.2.7/24 dev lo\n}\n\
                    static_routes {\n 198.51.100.0/24 via 192.0.2.1 dev lo\n}\n\
                    static_rules {\n from 192.0.2.0/24 table 100\n}\n\
                    vrrp_instance V {\n interface lo\n virtual_router_id 1\n priority 100\n \
                    virtual_ipaddress {\n  192.0.2.9\n }\n virtual_routes {\n  \
                    blackhole 203.0.113.0/24 table 100\n }\n virtual_rules {\n  \
                    to 203.0.113.0/24 table 100\n }\n}\n";
        assert_eq!(errors(text), Vec::<String>::new());
    }

    #[test]
    fn bad_routes_rules_and_addresses_name_their_line() {
        let text = "static_ipaddress {\n 192.0.2.7/24\n}\n\
                    static_routes {\n 198.51.100.0/24\n 203.0.113.0/24 via 2001:db8::1\n \
                    blackhole 203.0.113.0/25 table 5\n}\n\
                    vrrp_instance V {\n virtual_routes {\n  blackhole 203.0.113.0/25 table 5\n }\n \
                    virtual_rules {\n  from 192.0.2.0/24 to 2001:db8::/32 table 9\n }\n}\n";
        let mut errors = errors(text);
        // The instance's own shortcomings are not the point here.
        errors.retain(|e| !e.starts_with("k.conf:9:"));
        assert_eq!(
            errors,
            [
                "k.conf:2:2: error: static address 192.0.2.7/24 needs `dev`",
                "k.conf:5:2: error: the route to 198.51.100.0/24 needs `via` or `dev`",
                "k.conf:6:2: error: `via` and the destination 203.0.113.0/24 are of different \
                 families",
                "k.conf:11:3: error: the same route is configured at static_routes.2 too; each \
                 has one owner",
                "k.conf:14:3: error: `from`, `to` and `inet6` name different families",
            ]
        );
    }
}
