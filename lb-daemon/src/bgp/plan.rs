//! What to announce, as a pure function of the configuration, the desired
//! state, VRRP ownership and which services had their first health checks:
//! a prefix is announced while at least one of its services is ready, that
//! is while it has `min_healthy` real servers up (drained ones do not
//! count), its first checks are done (on first announcement only, so that
//! every director starts from the same Maglev table; a reload that restarts
//! the checkers does not withdraw), its `announce_delay` has passed, and,
//! under `only_while_master`, this node is VRRP MASTER of the address.
use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    time::Duration,
};

use ipnet::IpNet;

use super::bird::conf::Announcement;
use crate::{
    config::{BgpAnnounce, Config},
    state::{desired::DesiredState, ownership::Ownership},
};

/// `min_healthy` when absent.
pub const DEFAULT_MIN_HEALTHY: u32 = 1;

/// One announced virtual server, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Announced {
    /// Index of the virtual server.
    pub vs: usize,
    /// Its address.
    pub address: IpAddr,
    /// The prefix announced for it.
    pub prefix: IpNet,
    /// Its `bgp_announce` block.
    pub settings: BgpAnnounce,
}

/// Every announced virtual server of `config`.
pub fn announced(config: &Config) -> Vec<Announced> {
    config
        .virtual_server
        .iter()
        .enumerate()
        .filter_map(|(vs, server)| {
            let settings = server.bgp_announce.clone()?;
            let address = server.address?;
            let prefix = settings.prefix.unwrap_or_else(|| IpNet::from(address));
            Some(Announced {
                vs,
                address,
                prefix,
                settings,
            })
        })
        .collect()
}

/// The static protocols BIRD needs: one per prefix, with the communities of
/// every service announcing it.
pub fn announcements(services: &[Announced]) -> Vec<Announcement> {
    let mut by_prefix: BTreeMap<IpNet, BTreeSet<_>> = BTreeMap::new();
    for s in services {
        by_prefix
            .entry(s.prefix)
            .or_default()
            .extend(s.settings.community.iter().copied());
    }
    by_prefix
        .into_iter()
        .map(|(prefix, communities)| Announcement {
            prefix,
            communities,
        })
        .collect()
}

/// What the plan is given besides the configuration.
pub struct Inputs<'a> {
    /// The desired state (real servers up, weights, drains).
    pub desired: &'a DesiredState,
    /// VRRP ownership (for `only_while_master`).
    pub ownership: &'a Ownership,
    /// Virtual servers some of whose checkers have not made a first
    /// attempt.
    pub unchecked: &'a BTreeSet<usize>,
    /// Virtual servers whose `bgp_announce` tracking is in FAULT.
    pub failing: &'a BTreeSet<usize>,
    /// Prefixes announced now.
    pub announced: &'a BTreeSet<IpNet>,
    /// Time since the announcer started.
    pub running_for: Duration,
}

/// For each prefix: `Ok(())` to announce it, or why not.
pub fn wanted(services: &[Announced], inputs: &Inputs) -> BTreeMap<IpNet, Result<(), String>> {
    let mut plan: BTreeMap<IpNet, Result<(), String>> = BTreeMap::new();
    for s in services {
        let verdict = ready(s, inputs);
        let entry = plan.entry(s.prefix).or_insert_with(|| verdict.clone());
        if verdict.is_ok() {
            *entry = Ok(());
        }
    }
    plan
}

fn ready(s: &Announced, inputs: &Inputs) -> Result<(), String> {
    let healthy: usize = inputs
        .desired
        .services
        .iter()
        .filter(|service| service.vs == s.vs && !service.sorry)
        .flat_map(|service| &service.backends)
        .filter(|b| b.weight > 0 && !b.sorry)
        .count();
    let min = s.settings.min_healthy.unwrap_or(DEFAULT_MIN_HEALTHY) as usize;
    if healthy < min {
        return Err(format!("{healthy} of {min} real servers needed are up"));
    }
    if inputs.failing.contains(&s.vs) {
        return Err("a tracked script, interface or file fails".into());
    }
    if !inputs.announced.contains(&s.prefix) {
        if inputs.unchecked.contains(&s.vs) {
            return Err("waiting for the first health checks".into());
        }
        let delay = Duration::from_secs_f64(s.settings.announce_delay.unwrap_or(0.0));
        if inputs.running_for < delay {
            return Err(format!("announce_delay ({delay:?}) not over"));
        }
    }
    if s.settings.only_while_master {
        let master = inputs
            .ownership
            .values()
            .any(|owned| owned.master && owned.vips.iter().any(|(_, net)| net.addr() == s.address));
        if !master {
            return Err("not VRRP MASTER of the address".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_keepalived_str;
    use crate::state::desired;
    use crate::state::ownership::Owned;
    use std::path::Path;

    const CONF: &str = "bgp_speaker {
 local_as 64513
 interface eth0
 neighbor 198.51.100.1 {
  remote_as 64512
 }
}
virtual_server 192.0.2.10 80 {
 lb_algo mh
 lb_kind DR
 bgp_announce {
  min_healthy 2
  community 64513:100
 }
 real_server 198.51.100.21 80 {
 }
 real_server 198.51.100.22 80 {
 }
}
virtual_server 192.0.2.10 443 {
 lb_algo mh
 lb_kind DR
 bgp_announce {
  community 64513:443
 }
 real_server 198.51.100.21 443 {
 }
}
";

    fn config(text: &str) -> Config {
        parse_keepalived_str(text, Path::new("k.conf"))
            .unwrap()
            .config
    }

    fn inputs<'a>(
        desired: &'a DesiredState,
        ownership: &'a Ownership,
        unchecked: &'a BTreeSet<usize>,
        announced: &'a BTreeSet<IpNet>,
    ) -> Inputs<'a> {
        Inputs {
            desired,
            ownership,
            unchecked,
            failing: &NONE,
            announced,
            running_for: Duration::from_secs(10),
        }
    }

    static NONE: BTreeSet<usize> = BTreeSet::new();

    fn vip() -> IpNet {
        "192.0.2.10/32".parse().unwrap()
    }

    #[test]
    fn one_static_per_prefix_with_every_services_communities() {
        let services = announced(&config(CONF));
        let statics = announcements(&services);
        assert_eq!(statics.len(), 1);
        assert_eq!(statics[0].prefix, vip());
        assert_eq!(statics[0].communities.len(), 2);
    }

    #[test]
    fn a_prefix_waits_for_first_checks_then_follows_health() {
        let config = config(CONF);
        let services = announced(&config);
        let desired = desired::channel(&config).0.snapshot().desired();
        let none = BTreeSet::new();
        let ownership = Ownership::new();
        let unchecked = BTreeSet::from([0, 1]);
        let plan = wanted(&services, &inputs(&desired, &ownership, &unchecked, &none));
        assert!(plan[&vip()]
            .as_ref()
            .unwrap_err()
            .contains("first health checks"));
        let checked = BTreeSet::new();
        let plan = wanted(&services, &inputs(&desired, &ownership, &checked, &none));
        assert_eq!(plan[&vip()], Ok(()));
        // Port 80 loses a real server (below min_healthy 2), 443 keeps
        // its one: the prefix stays announced for 443.
        let mut fewer = desired.clone();
        fewer.services[0].backends[1].weight = 0;
        let plan = wanted(&services, &inputs(&fewer, &ownership, &checked, &none));
        assert_eq!(plan[&vip()], Ok(()));
        fewer.services[1].backends.clear();
        let announced_now = BTreeSet::from([vip()]);
        let plan = wanted(
            &services,
            &inputs(&fewer, &ownership, &checked, &announced_now),
        );
        assert_eq!(
            plan[&vip()],
            Err("1 of 2 real servers needed are up".to_string())
        );
        // Once announced, restarted checkers (a reload) do not withdraw.
        let plan = wanted(
            &services,
            &inputs(&desired, &ownership, &unchecked, &announced_now),
        );
        assert_eq!(plan[&vip()], Ok(()));
    }

    #[test]
    fn failing_tracking_withdraws() {
        let config = config(CONF);
        let services = announced(&config);
        let desired = desired::channel(&config).0.snapshot().desired();
        let (none, nothing) = (BTreeSet::new(), BTreeSet::new());
        let ownership = Ownership::new();
        let with = |failing: &BTreeSet<usize>| {
            let inputs = Inputs {
                failing,
                ..inputs(&desired, &ownership, &none, &nothing)
            };
            wanted(&services, &inputs)[&vip()].clone()
        };
        assert!(with(&BTreeSet::from([0, 1]))
            .unwrap_err()
            .contains("tracked"));
        assert_eq!(with(&BTreeSet::from([0])), Ok(()));
    }

    #[test]
    fn only_while_master_follows_vrrp_ownership() {
        let vrrp = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n";
        let text = CONF.replace("  community", "  only_while_master\n  community") + vrrp;
        let services = announced(&config(&text));
        let desired = desired::channel(&config(&text)).0.snapshot().desired();
        let checked = BTreeSet::new();
        let none = BTreeSet::new();
        let mut ownership = Ownership::new();
        let owned = |master| Owned {
            interface: "eth0".into(),
            master,
            vips: vec![("eth0".into(), "192.0.2.10/24".parse().unwrap())],
        };
        ownership.insert("VI_1".into(), owned(false));
        let plan = wanted(&services, &inputs(&desired, &ownership, &checked, &none));
        assert!(plan[&vip()].is_err());
        ownership.insert("VI_1".into(), owned(true));
        let plan = wanted(&services, &inputs(&desired, &ownership, &checked, &none));
        assert_eq!(plan[&vip()], Ok(()));
    }
}
