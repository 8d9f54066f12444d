//! The label sets of a configuration's virtual services, real servers and
//! checkers, rendered once per configuration and kept between scrapes: at
//! 1,000 services x 16 real servers rendering them took longer than the
//! whole scrape may. Services and destinations get dense indices, so that
//! a scrape sums counters into arrays after one hash lookup per counter
//! source. (The checkers' label sets, filled as checkers report, are kept
//! beside these in [`super::checker_labels`].)
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::HashMap;

use super::family::Labels;
use super::service::{endpoint, Service};
use crate::config::Config;
use crate::state::desired::{Model, ServiceKey};

/// A destination of a service: the service, the real server's address and
/// port.
pub type DestKey = (ServiceKey, IpAddr, u16);

/// A service's label sets.
#[derive(Debug, Clone)]
pub struct ServiceLabels {
    /// `vip`, `proto`.
    pub vip: Labels,
    /// `addr`, `proto`: the labels of gen2brain's `keepalived_lvs_vip_*`.
    pub exporter: Labels,
}

impl ServiceLabels {
    fn of(key: &ServiceKey) -> ServiceLabels {
        let s = Service::of_key(key);
        let render = |name| Labels::new([(name, s.vip.as_str()), ("proto", s.proto)]);
        ServiceLabels {
            vip: render("vip"),
            exporter: render("addr"),
        }
    }
}

/// The label sets of one configuration (none by default: every label set
/// is then rendered when asked for).
#[derive(Debug, Default)]
pub struct LvsLabels {
    config: Arc<Config>,
    services: Vec<ServiceLabels>,
    service_index: HashMap<ServiceKey, usize>,
    /// `vip`, `addr`, `proto` of each destination.
    dests: Vec<Labels>,
    dest_index: HashMap<DestKey, usize>,
    /// Per virtual server, per real server, per service: its destination.
    reals: Vec<Vec<Vec<usize>>>,
}

impl LvsLabels {
    /// The label sets of `model`'s configuration.
    pub fn of(model: &Model) -> LvsLabels {
        let mut labels = LvsLabels {
            config: Arc::clone(model.config()),
            ..LvsLabels::default()
        };
        for view in model.views() {
            for s in view.services {
                labels.service_index.entry(s.key).or_insert_with(|| {
                    labels.services.push(ServiceLabels::of(&s.key));
                    labels.services.len() - 1
                });
            }
            let reals: Vec<Vec<usize>> = view
                .reals()
                .map(|real| {
                    let port = real.port.unwrap_or(0);
                    let dests = view.services.iter();
                    dests
                        .map(|s| labels.add_dest((s.key, real.address, port)))
                        .collect()
                })
                .collect();
            labels.reals.push(reals);
        }
        labels
    }

    fn add_dest(&mut self, dest: DestKey) -> usize {
        *self.dest_index.entry(dest).or_insert_with(|| {
            self.dests.push(dest_labels(&dest));
            self.dests.len() - 1
        })
    }

    /// Whether these are the label sets of `model`'s configuration.
    pub fn serve(&self, model: &Model) -> bool {
        Arc::ptr_eq(&self.config, model.config())
    }

    /// How many services have an index.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// The index of service `key`, if the configuration has it.
    pub fn service_index(&self, key: &ServiceKey) -> Option<usize> {
        self.service_index.get(key).copied()
    }

    /// The service of index `index`.
    pub fn service_at(&self, index: usize) -> &ServiceLabels {
        &self.services[index]
    }

    /// The service `key` (rendered now if the configuration does not have
    /// it).
    pub fn service(&self, key: &ServiceKey) -> ServiceLabels {
        match self.service_index(key) {
            Some(i) => self.services[i].clone(),
            None => ServiceLabels::of(key),
        }
    }

    /// How many destinations have an index.
    pub fn dest_count(&self) -> usize {
        self.dests.len()
    }

    /// The index of destination `dest`, if the configuration has it.
    pub fn dest_index(&self, dest: &DestKey) -> Option<usize> {
        self.dest_index.get(dest).copied()
    }

    /// The destination of index `index`.
    pub fn dest_at(&self, index: usize) -> &Labels {
        &self.dests[index]
    }

    /// The destination `dest` (rendered now for one the configuration does
    /// not list, such as a sorry server).
    pub fn dest(&self, dest: &DestKey) -> Labels {
        match self.dest_index(dest) {
            Some(i) => self.dests[i].clone(),
            None => dest_labels(dest),
        }
    }

    /// Real server `rs` of virtual server `vs`: its destination per
    /// service.
    pub fn real(&self, vs: usize, rs: usize) -> impl Iterator<Item = &Labels> {
        let dests = self.reals.get(vs).and_then(|r| r.get(rs));
        dests.into_iter().flatten().map(|&i| &self.dests[i])
    }
}

fn dest_labels(&(key, addr, port): &DestKey) -> Labels {
    let s = Service::of_key(&key);
    let addr = endpoint(addr, port.into());
    Labels::new([
        ("vip", s.vip.as_str()),
        ("addr", addr.as_str()),
        ("proto", s.proto),
    ])
}
