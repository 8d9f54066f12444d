//! What the fast path must serve now (pure): the desired state's `fast_path`
//! services whose VIP this node owns, on the interface holding the VIP, and
//! why the others are left to IPVS classic mode.
use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::IpAddr,
};

use lb_common::{VipKey, FWD_DR, FWD_TUN};

use super::tables::{key_bytes, Scheduler};
use crate::{
    config::{LbAlgo, LbKind, Protocol},
    state::{
        desired::{DesiredState, ServiceKey, VirtualService},
        ownership::Ownership,
    },
};

/// One service the fast path serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedService {
    /// Readable name (`TCP 192.0.2.50:80`, as `ipvsadm -Ln` says).
    pub label: String,
    /// Its scheduler.
    pub sched: Scheduler,
    /// Interface holding the VIP, where the program must be attached.
    pub interface: String,
    /// Its real servers (weight 0 ones included: they keep their flows).
    pub backends: Vec<PlannedBackend>,
}

/// One real server of a [`PlannedService`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlannedBackend {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Weight.
    pub weight: u32,
    /// `FWD_DR` or `FWD_TUN`.
    pub forward: u8,
}

/// Why a `fast_path xdp` service is served by IPVS classic mode instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotServed {
    /// A real server (or the service) forwards by NAT.
    Nat,
    /// The scheduler has no fast-path version.
    Scheduler(LbAlgo),
    /// `fwmark` services are matched by the kernel's firewall marks.
    Fwmark,
    /// Only TCP and UDP are parsed.
    Sctp,
    /// A real server's address family differs from the VIP's.
    MixedFamily,
    /// No VRRP instance configures the address, so nothing gates it.
    NotAVip,
}

impl fmt::Display for NotServed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotServed::Nat => f.write_str("lb_kind NAT is not forwarded in XDP"),
            NotServed::Scheduler(a) => write!(
                f,
                "lb_algo {a:?} has no XDP scheduler (rr, wrr, lc, wlc, sh, mh)"
            ),
            NotServed::Fwmark => f.write_str("fwmark services are not matched in XDP"),
            NotServed::Sctp => f.write_str("SCTP is not parsed in XDP"),
            NotServed::MixedFamily => {
                f.write_str("real servers of another address family than the VIP")
            }
            NotServed::NotAVip => {
                f.write_str("the address is no VRRP instance's virtual_ipaddress")
            }
        }
    }
}

/// The fast path's work for one desired state and ownership.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Services to program, by key.
    pub services: BTreeMap<VipKey, PlannedService>,
    /// `fast_path` services left to IPVS, with the reason.
    pub not_served: BTreeMap<String, NotServed>,
    /// `fast_path` services whose VIP an instance configures but this node
    /// does not own now (BACKUP, or not started yet).
    pub waiting: BTreeSet<String>,
}

impl Plan {
    /// Interfaces the program must be attached to.
    pub fn interfaces(&self) -> BTreeSet<&str> {
        self.services
            .values()
            .map(|s| s.interface.as_str())
            .collect()
    }
}

/// The plan for `desired` given `ownership`.
pub fn plan(desired: &DesiredState, ownership: &Ownership) -> Plan {
    let mut plan = Plan::default();
    for service in desired.services.iter().filter(|s| s.fast_path) {
        let label = service.key.to_string();
        match planned(service, ownership) {
            Ok(Some((key, planned))) => {
                plan.services
                    .insert(key, PlannedService { label, ..planned });
            }
            Ok(None) => {
                plan.waiting.insert(label);
            }
            Err(reason) => {
                plan.not_served.insert(label, reason);
            }
        }
    }
    plan
}

/// `Ok(None)`: served by the fast path, but not here now (BACKUP).
fn planned(
    service: &VirtualService,
    ownership: &Ownership,
) -> Result<Option<(VipKey, PlannedService)>, NotServed> {
    let ServiceKey::Addr { ip, port, protocol } = service.key else {
        return Err(NotServed::Fwmark);
    };
    let proto = match protocol {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => return Err(NotServed::Sctp),
    };
    let sched = Scheduler::of(service.scheduler).ok_or(NotServed::Scheduler(service.scheduler))?;
    let mut backends = Vec::with_capacity(service.backends.len());
    for b in &service.backends {
        let forward = match b.forwarding {
            LbKind::Dr => FWD_DR,
            LbKind::Tun => FWD_TUN,
            LbKind::Nat => return Err(NotServed::Nat),
        };
        if b.addr.is_ipv4() != ip.is_ipv4() {
            return Err(NotServed::MixedFamily);
        }
        backends.push(PlannedBackend {
            addr: b.addr,
            port: b.port,
            weight: b.weight,
            forward,
        });
    }
    let holder = ownership.values().find_map(|owned| {
        owned
            .vips
            .iter()
            .find(|(_, net)| net.addr() == ip)
            .map(|(dev, _)| (owned.master, dev))
    });
    let Some((master, interface)) = holder else {
        return Err(NotServed::NotAVip);
    };
    if !master {
        return Ok(None);
    }
    let key = match ip {
        IpAddr::V4(v4) => VipKey::v4(v4.octets(), port, proto),
        IpAddr::V6(_) => VipKey::v6(key_bytes(ip), port, proto),
    };
    Ok(Some((
        key,
        PlannedService {
            label: String::new(),
            sched,
            interface: interface.clone(),
            backends,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{
        desired::{Backend, Family},
        ownership::Owned,
    };

    fn service(lb_kind: LbKind, algo: LbAlgo) -> VirtualService {
        VirtualService {
            vs: 0,
            key: ServiceKey::Addr {
                ip: "192.0.2.50".parse().unwrap(),
                port: 80,
                protocol: Protocol::Tcp,
            },
            scheduler: algo,
            ops: false,
            forwarding: lb_kind,
            persistence: None,
            fast_path: true,
            backends: vec![Backend {
                addr: "192.0.2.11".parse().unwrap(),
                port: 80,
                weight: 2,
                forwarding: lb_kind,
                uthreshold: 0,
                lthreshold: 0,
                drained: false,
                up: true,
                sorry: false,
            }],
            sorry: false,
        }
    }

    fn owned(master: bool) -> Ownership {
        let vips = vec![("eth1".to_string(), "192.0.2.50/24".parse().unwrap())];
        Ownership::from([(
            "VI_1".to_string(),
            Owned {
                interface: "eth0".into(),
                master,
                vips,
            },
        )])
    }

    fn desired(services: Vec<VirtualService>) -> DesiredState {
        DesiredState { services }
    }

    #[test]
    fn a_master_serves_its_vips_on_the_vips_interface() {
        let p = plan(
            &desired(vec![service(LbKind::Dr, LbAlgo::Mh)]),
            &owned(true),
        );
        let (key, s) = p.services.iter().next().unwrap();
        assert_eq!(*key, VipKey::v4([192, 0, 2, 50], 80, 6));
        assert_eq!(
            (s.label.as_str(), s.interface.as_str()),
            ("TCP 192.0.2.50:80", "eth1")
        );
        assert_eq!(s.sched, Scheduler::Mh);
        assert_eq!(s.backends[0].forward, FWD_DR);
        assert_eq!(p.interfaces().into_iter().collect::<Vec<_>>(), ["eth1"]);
    }

    #[test]
    fn a_backup_serves_nothing_and_waits_for_ownership() {
        let p = plan(
            &desired(vec![service(LbKind::Tun, LbAlgo::Rr)]),
            &owned(false),
        );
        assert!(p.services.is_empty());
        assert!(p.not_served.is_empty(), "a configured VIP is no reason");
        assert_eq!(Vec::from_iter(p.waiting), ["TCP 192.0.2.50:80"]);
    }

    #[test]
    fn services_the_fast_path_cannot_serve_say_why() {
        let mut fwmark = service(LbKind::Dr, LbAlgo::Rr);
        fwmark.key = ServiceKey::Fwmark {
            mark: 7,
            family: Family::V4,
        };
        let mut not_fast = service(LbKind::Nat, LbAlgo::Rr);
        not_fast.fast_path = false;
        let p = plan(
            &desired(vec![service(LbKind::Nat, LbAlgo::Rr), fwmark, not_fast]),
            &owned(true),
        );
        assert!(p.services.is_empty());
        assert_eq!(p.not_served["TCP 192.0.2.50:80"], NotServed::Nat);
        assert_eq!(p.not_served["FWM 7 IPv4"], NotServed::Fwmark);
        assert_eq!(
            p.not_served.len(),
            2,
            "services without fast_path are not mentioned"
        );
        let p = plan(
            &desired(vec![service(LbKind::Dr, LbAlgo::Lblc)]),
            &owned(true),
        );
        assert_eq!(
            p.not_served["TCP 192.0.2.50:80"],
            NotServed::Scheduler(LbAlgo::Lblc)
        );
        let p = plan(
            &desired(vec![service(LbKind::Dr, LbAlgo::Rr)]),
            &Ownership::new(),
        );
        assert_eq!(p.not_served["TCP 192.0.2.50:80"], NotServed::NotAVip);
    }
}
