//! From what IPVS holds to what it must hold: the operations, and their
//! effect on a table (pure).
use std::collections::HashSet;
use std::net::IpAddr;

use crate::state::desired::ServiceKey;

use super::model::{Destination, Service};
use super::target::Table;

/// One change to IPVS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `NEW_SERVICE`.
    AddService(Service),
    /// `SET_SERVICE`: scheduler, flags or persistence changed.
    EditService(Service),
    /// `DEL_SERVICE` (its destinations go with it).
    DelService(ServiceKey),
    /// `NEW_DEST`.
    AddDest(ServiceKey, Destination),
    /// `SET_DEST`: weight, forwarding, thresholds or tunnel changed.
    EditDest(ServiceKey, Destination),
    /// `DEL_DEST`.
    DelDest(ServiceKey, IpAddr, u16),
}

/// The operations that turn `programmed` into `desired`. Services that are
/// programmed but not desired are removed only when `owned` lists them:
/// the rest belong to someone else. Within a desired service, every
/// destination not desired goes. Nothing that already matches is touched.
pub fn diff(desired: &[Table], programmed: &[Table], owned: &HashSet<ServiceKey>) -> Vec<Op> {
    let mut ops = Vec::new();
    for want in desired {
        let key = want.service.key;
        let Some(have) = programmed.iter().find(|t| t.service.key == key) else {
            ops.push(Op::AddService(want.service.clone()));
            ops.extend(want.dests.iter().map(|d| Op::AddDest(key, d.clone())));
            continue;
        };
        if have.service != want.service {
            ops.push(Op::EditService(want.service.clone()));
        }
        for dest in &want.dests {
            match find(&have.dests, dest.addr, dest.port) {
                None => ops.push(Op::AddDest(key, dest.clone())),
                Some(old) if old != dest => ops.push(Op::EditDest(key, dest.clone())),
                Some(_) => {}
            }
        }
        for old in &have.dests {
            if find(&want.dests, old.addr, old.port).is_none() {
                ops.push(Op::DelDest(key, old.addr, old.port));
            }
        }
    }
    for have in programmed {
        let key = have.service.key;
        if owned.contains(&key) && !desired.iter().any(|t| t.service.key == key) {
            ops.push(Op::DelService(key));
        }
    }
    ops
}

fn find(dests: &[Destination], addr: IpAddr, port: u16) -> Option<&Destination> {
    dests.iter().find(|d| d.addr == addr && d.port == port)
}

/// What `tables` become once `op` succeeded: the reconciler's view of IPVS
/// after a pass, without dumping it again.
pub fn apply(tables: &mut Vec<Table>, op: &Op) {
    let table = |tables: &mut Vec<Table>, key: &ServiceKey| {
        tables.iter_mut().position(|t| t.service.key == *key)
    };
    match op {
        Op::AddService(service) => tables.push(Table {
            service: service.clone(),
            dests: Vec::new(),
        }),
        Op::EditService(service) => {
            if let Some(i) = table(tables, &service.key) {
                tables[i].service = service.clone();
            }
        }
        Op::DelService(key) => tables.retain(|t| t.service.key != *key),
        Op::AddDest(key, dest) | Op::EditDest(key, dest) => {
            if let Some(i) = table(tables, key) {
                let dests = &mut tables[i].dests;
                dests.retain(|d| (d.addr, d.port) != (dest.addr, dest.port));
                dests.push(dest.clone());
            }
        }
        Op::DelDest(key, addr, port) => {
            if let Some(i) = table(tables, key) {
                tables[i]
                    .dests
                    .retain(|d| (d.addr, d.port) != (*addr, *port));
            }
        }
    }
}

#[cfg(test)]
mod tests;
