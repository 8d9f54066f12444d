//! Routes, routing rules and static addresses held by lb-daemon: added with
//! ownership (one already in the kernel belongs to someone else and is left
//! alone on removal) and removed only when lb-daemon added them.
use anyhow::{Context, Result};
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::{
    packet_route::{route::RouteMessage, rule::RuleMessage},
    IpVersion,
};
use tracing::{debug, error, info, warn};

use super::changes::Changes;
use super::route_match::{same_route, same_rule};
use super::route_msg::{family, route_message, rule_message, Oifs};
use super::{errno, Netlink, EEXIST};
use crate::config::{Route, Rule, VirtualIp};

/// "No such route" / "no such rule" from the kernel.
const ESRCH: i32 = 3;
const ENOENT: i32 = 2;

/// What adding found: whether lb-daemon added the item, or it was there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// lb-daemon added it, and removes it.
    Added,
    /// It was already there: someone else's, left alone on removal.
    Present,
}

impl Netlink {
    /// The routes of one family, every table.
    async fn routes(&self, ipv6: bool) -> Result<Vec<RouteMessage>> {
        debug!("listing the {} routes", ip_version(ipv6));
        let mut dump = RouteMessage::default();
        dump.header.address_family = family(ipv6);
        let _dump = self.dumping.lock().await;
        (self.handle.route().get(dump).execute())
            .try_collect()
            .await
            .context("listing routes")
    }

    /// The routing rules of one family.
    async fn rules(&self, ipv6: bool) -> Result<Vec<RuleMessage>> {
        debug!("listing the {} rules", ip_version(ipv6));
        let version = match ipv6 {
            true => IpVersion::V6,
            false => IpVersion::V4,
        };
        let _dump = self.dumping.lock().await;
        (self.handle.rule().get(version).execute())
            .try_collect()
            .await
            .context("listing routing rules")
    }

    /// Whether `rule` is in the kernel.
    pub async fn has_rule(&self, rule: &Rule) -> Result<bool> {
        let ours = rule_message(rule);
        let rules = self.rules(rule.is_ipv6()).await?;
        Ok(rules.iter().any(|existing| same_rule(existing, &ours)))
    }

    /// Adds `route`; one already there is reported as [`Installed::Present`].
    pub async fn add_route(&self, route: &Route) -> Result<Installed> {
        let msg = route_message(route, &self.oifs(route).await?);
        match self.handle.route().add(msg).execute().await {
            Ok(()) => Ok(Installed::Added),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(Installed::Present),
            Err(e) => Err(e).with_context(|| format!("adding route to {}", route.to)),
        }
    }

    /// Deletes `route`; an absent one counts as deleted.
    pub async fn del_route(&self, route: &Route) -> Result<()> {
        let msg = route_message(route, &self.oifs(route).await?);
        match self.handle.route().del(msg).execute().await {
            Err(e) if errno(&e) == Some(ESRCH) => Ok(()),
            other => other.with_context(|| format!("removing route to {}", route.to)),
        }
    }

    /// Adds `rule`; one already there is reported as [`Installed::Present`]
    /// (the kernel would add a rule without priority twice).
    pub async fn add_rule(&self, rule: &Rule) -> Result<Installed> {
        if self.has_rule(rule).await? {
            return Ok(Installed::Present);
        }
        let mut req = self.handle.rule().add();
        *req.message_mut() = rule_message(rule);
        match req.execute().await {
            Ok(()) => Ok(Installed::Added),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(Installed::Present),
            Err(e) => Err(e).with_context(|| format!("adding rule to table {}", rule.table)),
        }
    }

    /// Deletes `rule`; an absent one counts as deleted.
    pub async fn del_rule(&self, rule: &Rule) -> Result<()> {
        match self.handle.rule().del(rule_message(rule)).execute().await {
            Err(e) if errno(&e) == Some(ENOENT) => Ok(()),
            other => other.with_context(|| format!("removing rule to table {}", rule.table)),
        }
    }

    /// The indexes of the interfaces `route` names.
    async fn oifs(&self, route: &Route) -> Result<Oifs> {
        let mut oifs = Oifs {
            route: self.index_of(route.dev.as_deref()).await?,
            hops: Vec::with_capacity(route.nexthop.len()),
        };
        for hop in &route.nexthop {
            oifs.hops.push(self.index_of(hop.dev.as_deref()).await?);
        }
        Ok(oifs)
    }

    async fn index_of(&self, dev: Option<&str>) -> Result<Option<u32>> {
        match dev {
            Some(dev) => Ok(Some(self.interface(dev).await?.index)),
            None => Ok(None),
        }
    }
}

/// The kernel's routes and rules, dumped at most once per family for one
/// look at what lb-daemon holds (index 0: IPv4, 1: IPv6).
#[derive(Default)]
struct Kernel {
    routes: [Option<Vec<RouteMessage>>; 2],
    rules: [Option<Vec<RuleMessage>>; 2],
}

/// One thing lb-daemon holds in the kernel.
#[derive(Debug, Clone)]
enum Item {
    Address(VirtualIp),
    Route(Route),
    Rule(Rule),
}

impl Item {
    async fn add(&self, netlink: &Netlink) -> Result<Installed> {
        match self {
            Item::Route(route) => netlink.add_route(route).await,
            Item::Rule(rule) => netlink.add_rule(rule).await,
            Item::Address(address) => {
                let index = netlink.interface(address_dev(address)).await?.index;
                if netlink.addresses(index).await?.contains(&address.address) {
                    return Ok(Installed::Present);
                }
                netlink.add_address(index, address).await?;
                Ok(Installed::Added)
            }
        }
    }

    /// Whether the item is in the kernel, looked up in `kernel`.
    async fn exists(&self, netlink: &Netlink, kernel: &mut Kernel) -> Result<bool> {
        match self {
            Item::Route(route) => {
                let ours = kernel_key(route);
                let ipv6 = route.to.addr().is_ipv6();
                let routes = match &mut kernel.routes[usize::from(ipv6)] {
                    Some(routes) => routes,
                    slot => slot.insert(netlink.routes(ipv6).await?),
                };
                Ok(routes.iter().any(|existing| same_route(existing, &ours)))
            }
            Item::Rule(rule) => {
                let ours = rule_message(rule);
                let ipv6 = rule.is_ipv6();
                let rules = match &mut kernel.rules[usize::from(ipv6)] {
                    Some(rules) => rules,
                    slot => slot.insert(netlink.rules(ipv6).await?),
                };
                Ok(rules.iter().any(|existing| same_rule(existing, &ours)))
            }
            Item::Address(address) => {
                let index = netlink.interface(address_dev(address)).await?.index;
                let present = netlink.addresses(index).await?;
                Ok(present.iter().any(|a| a.addr() == address.address.addr()))
            }
        }
    }

    /// Whether `changes` may have deleted it.
    fn may_be_deleted(&self, changes: &Changes) -> bool {
        match self {
            Item::Route(route) => changes.may_delete_route(&kernel_key(route)),
            Item::Rule(rule) => changes.may_delete_rule(&rule_message(rule)),
            Item::Address(_) => changes.everything,
        }
    }

    /// Whether its deletion counts (keepalived: unless `no_track`).
    fn tracked(&self) -> bool {
        match self {
            Item::Address(a) => !a.no_track,
            Item::Route(r) => !r.no_track,
            Item::Rule(r) => !r.no_track,
        }
    }

    async fn del(&self, netlink: &Netlink) -> Result<()> {
        match self {
            Item::Route(route) => netlink.del_route(route).await,
            Item::Rule(rule) => netlink.del_rule(rule).await,
            Item::Address(address) => {
                let index = netlink.interface(address_dev(address)).await?.index;
                netlink.del_address(index, address.address).await
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Item::Address(a) => format!("address {} on {}", a.address, address_dev(a)),
            Item::Route(r) => match r.table {
                Some(table) => format!("route to {} (table {table})", r.to),
                None => format!("route to {}", r.to),
            },
            Item::Rule(r) => {
                let any = |p: Option<IpNet>| p.map_or("all".to_string(), |p| p.to_string());
                format!(
                    "rule from {} to {} table {}",
                    any(r.from),
                    any(r.to),
                    r.table
                )
            }
        }
    }
}

fn ip_version(ipv6: bool) -> &'static str {
    match ipv6 {
        true => "IPv6",
        false => "IPv4",
    }
}

/// `route` as the kernel reports it: its destination's host bits masked.
fn kernel_key(route: &Route) -> RouteMessage {
    let masked = Route {
        to: route.to.trunc(),
        ..route.clone()
    };
    route_message(&masked, &Oifs::default())
}

/// The interface a static address names (validation requires `dev`).
fn address_dev(address: &VirtualIp) -> &str {
    address.dev.as_deref().unwrap_or_default()
}

/// Addresses, routes and rules one owner (the daemon, or an instance while
/// MASTER) holds together: [`Held::install`] adds them, remembering which
/// it added; [`Held::remove`] removes only those.
pub struct Held {
    /// Owner, for logs: `static` or the instance name.
    owner: String,
    items: Vec<Item>,
    /// Which of `items` lb-daemon added (and still holds).
    added: Vec<bool>,
    /// Why adding back a deleted item of `items` failed, while it does:
    /// tried again at every wake-up, logged only when the reason changes.
    failing: Vec<Option<String>>,
}

impl Held {
    /// What `owner` holds: `addresses`, then `routes` (which may use
    /// them), then `rules`.
    pub fn new(owner: &str, addresses: &[VirtualIp], routes: &[Route], rules: &[Rule]) -> Held {
        let items: Vec<Item> = (addresses.iter().cloned().map(Item::Address))
            .chain(routes.iter().cloned().map(Item::Route))
            .chain(rules.iter().cloned().map(Item::Rule))
            .collect();
        Held {
            owner: owner.to_owned(),
            added: vec![false; items.len()],
            failing: vec![None; items.len()],
            items,
        }
    }

    /// Whether there is nothing to hold.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds every item not yet held; those already in the kernel are
    /// someone else's.
    pub async fn install(&mut self, netlink: &Netlink) {
        for (item, added) in self.items.iter().zip(&mut self.added) {
            if *added {
                continue;
            }
            match item.add(netlink).await {
                Ok(Installed::Added) => {
                    info!("({}) added {}", self.owner, item.describe());
                    *added = true;
                }
                Ok(Installed::Present) => info!(
                    "({}) {} already exists: not ours, left alone on removal",
                    self.owner,
                    item.describe()
                ),
                Err(e) => error!("({}) {e:#}", self.owner),
            }
        }
    }

    /// The indexes of the tracked items (not `no_track`) lb-daemon added
    /// that `changes` may have deleted, or that could not be added back.
    fn watched(&self, changes: &Changes) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.added[i] && self.items[i].tracked())
            .filter(|&i| self.failing[i].is_some() || self.items[i].may_be_deleted(changes))
            .collect()
    }

    /// A tracked item (not `no_track`) lb-daemon added that is no longer in
    /// the kernel, described; only items `changes` may have deleted are
    /// looked up. An item that cannot be looked up (its interface is gone)
    /// is not counted.
    pub async fn deleted(&self, netlink: &Netlink, changes: &Changes) -> Option<String> {
        let mut kernel = Kernel::default();
        for i in self.watched(changes) {
            let item = &self.items[i];
            if matches!(item.exists(netlink, &mut kernel).await, Ok(false)) {
                return Some(item.describe());
            }
        }
        None
    }

    /// Adds back every tracked item lb-daemon added that `changes` deleted
    /// (keepalived reinstates static addresses, routes and rules); one that
    /// cannot be added back yet (its interface is down) is tried again at
    /// every wake-up, without a look at the kernel's tables first, and its
    /// error logged once per reason.
    pub async fn reinstate(&mut self, netlink: &Netlink, changes: &Changes) {
        let mut kernel = Kernel::default();
        for i in self.watched(changes) {
            let item = &self.items[i];
            let retry = self.failing[i].is_some();
            if !retry && !matches!(item.exists(netlink, &mut kernel).await, Ok(false)) {
                continue;
            }
            match item.add(netlink).await {
                Ok(Installed::Added) => {
                    warn!(
                        "({}) {} was deleted: reinstated",
                        self.owner,
                        item.describe()
                    );
                    self.failing[i] = None;
                }
                // Someone else added it back meanwhile.
                Ok(Installed::Present) => self.failing[i] = None,
                Err(e) => {
                    let why = format!("{e:#}");
                    if self.failing[i].as_ref() != Some(&why) {
                        error!("({}) reinstating: {why}", self.owner);
                    }
                    self.failing[i] = Some(why);
                }
            }
        }
    }

    /// Removes every item lb-daemon added, in reverse order.
    pub async fn remove(&mut self, netlink: &Netlink) {
        for (item, added) in self.items.iter().zip(&mut self.added).rev() {
            if !*added {
                continue;
            }
            match item.del(netlink).await {
                Ok(()) => {
                    info!("({}) removed {}", self.owner, item.describe());
                    *added = false;
                }
                Err(e) => error!("({}) {e:#}", self.owner),
            }
        }
    }
}
