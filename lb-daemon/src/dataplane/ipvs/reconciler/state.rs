//! The reconciler's state and its blocking steps: start, one pass, stop.
//! Each runs under the state's lock on a blocking thread.
use std::collections::HashSet;
use std::path::PathBuf;

use tracing::{debug, error, info, warn};

use crate::state::desired::ServiceKey;

use super::super::diff::{apply, diff, Op};
use super::super::model::Timeouts;
use super::super::target::{Table, Target};
use super::super::{endpoint, record, IpvsClient, IpvsError};

/// What happens to IPVS when the daemon stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// Remove the services this daemon programmed (keepalived's default,
    /// and `lvs_flush_onstop VS`).
    RemoveOwn,
    /// Remove every service (`lvs_flush_onstop`).
    FlushAll,
    /// Leave IPVS as it is (`--dont-release-ipvs`): the next start adopts it.
    Keep,
}

/// How the reconciler starts and stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Remove every IPVS service at start (`lvs_flush`).
    pub flush_at_start: bool,
    /// What to do at stop.
    pub on_stop: OnStop,
    /// Connection timeouts to set at start (`lvs_timeouts`).
    pub timeouts: Option<Timeouts>,
    /// Where to record the services it owns (`None`: nowhere, so a restart
    /// adopts only what the configuration still names).
    pub record: Option<PathBuf>,
}

/// Everything the reconciler knows.
pub struct State {
    /// The connection, `None` when IPVS is unavailable.
    pub client: Option<IpvsClient>,
    /// Why IPVS is unavailable.
    pub unavailable: Option<String>,
    /// What IPVS must hold now.
    pub targets: Vec<Target>,
    /// What IPVS holds (of ours), when known without a dump.
    known: Option<Vec<Table>>,
    /// The services this daemon programmed.
    owned: HashSet<ServiceKey>,
    /// The last operation that failed.
    pub last_error: Option<String>,
    settings: Settings,
}

impl State {
    /// Connects and applies the start-up settings. No IPVS is logged once,
    /// as an error naming the missing module.
    pub fn start(settings: Settings) -> State {
        let mut state = State {
            client: None,
            unavailable: None,
            targets: Vec::new(),
            known: None,
            owned: HashSet::new(),
            last_error: None,
            settings,
        };
        let mut client = match IpvsClient::connect() {
            Ok(client) => client,
            Err(e) => {
                error!("{e}; VRRP, health checks and the XDP fast path go on");
                state.unavailable = Some(match e {
                    IpvsError::Unavailable(why) => why,
                    other => other.to_string(),
                });
                return state;
            }
        };
        if state.settings.flush_at_start {
            info!("IPVS: removing every service at start (lvs_flush)");
            note(&mut state.last_error, client.flush());
        } else if let Some(path) = &state.settings.record {
            match record::read(path) {
                Ok(owned) => state.owned = owned,
                Err(e) => warn!("IPVS: {e}; services from an earlier run are not cleaned"),
            }
        }
        if let Some(timeouts) = state.settings.timeouts {
            note(&mut state.last_error, client.set_timeouts(timeouts));
        }
        state.client = Some(client);
        state
    }

    /// Makes IPVS hold `targets`; true when every operation succeeded.
    pub fn pass(&mut self, targets: Vec<Target>) -> bool {
        self.targets = targets;
        let desired: Vec<Table> = self.targets.iter().map(|t| t.table.clone()).collect();
        let Some(client) = self.client.as_mut() else {
            return true;
        };
        let programmed = match self.known.take() {
            Some(known) => known,
            None => match dump(client, &desired, &self.owned) {
                Ok(tables) => tables,
                Err(e) => return note(&mut self.last_error, Err(e)),
            },
        };
        let ops = diff(&desired, &programmed, &self.owned);
        let mut now = programmed;
        let mut ok = true;
        for op in &ops {
            debug!("IPVS: {}", explain(op));
            let result = execute(client, op);
            if result.is_ok() {
                apply(&mut now, op);
            }
            ok &= note(&mut self.last_error, result);
        }
        if !ops.is_empty() {
            info!(
                "IPVS: {} change(s) applied, {} service(s) programmed",
                ops.len(),
                desired.len()
            );
        }
        let owned: HashSet<ServiceKey> = now.iter().map(|t| t.service.key).collect();
        self.known = ok.then_some(now);
        self.remember(owned);
        ok
    }

    fn remember(&mut self, owned: HashSet<ServiceKey>) {
        if owned == self.owned {
            return;
        }
        self.owned = owned;
        if let Some(path) = &self.settings.record {
            if let Err(e) = record::write(path, &self.owned) {
                warn!("IPVS: {e}");
            }
        }
    }

    /// Applies the stop setting.
    pub fn stop(&mut self) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let done = match self.settings.on_stop {
            OnStop::Keep => return,
            OnStop::FlushAll => {
                info!("IPVS: removing every service at stop (lvs_flush_onstop)");
                let result = client.flush();
                note(&mut self.last_error, result)
            }
            OnStop::RemoveOwn => {
                let mut keys: Vec<ServiceKey> = self.owned.iter().copied().collect();
                keys.sort_by_key(ToString::to_string);
                let results: Vec<_> = keys.iter().map(|key| client.del_service(key)).collect();
                let gone = |r: &Result<(), IpvsError>| {
                    r.as_ref().err().and_then(IpvsError::errno) == Some(ESRCH)
                };
                // Every removal is tried (and logged), whatever the others did.
                let outcomes: Vec<bool> = results
                    .into_iter()
                    .map(|r| gone(&r) || note(&mut self.last_error, r))
                    .collect();
                outcomes.into_iter().all(|ok| ok)
            }
        };
        if done {
            self.remember(HashSet::new());
        }
    }
}

/// Logs a failed operation and remembers it in `last`; true when it succeeded.
fn note(last: &mut Option<String>, result: Result<(), IpvsError>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            warn!("{e}");
            *last = Some(e.to_string());
            false
        }
    }
}

/// `ESRCH`: the kernel has no such service.
const ESRCH: i32 = 3;

/// What IPVS holds of the services that are desired or ours.
pub fn dump(
    client: &mut IpvsClient,
    desired: &[Table],
    owned: &HashSet<ServiceKey>,
) -> Result<Vec<Table>, IpvsError> {
    let mut tables = Vec::new();
    for dumped in client.services()? {
        let key = dumped.service.key;
        if owned.contains(&key) || desired.iter().any(|t| t.service.key == key) {
            let dests = client.destinations(&key)?;
            tables.push(Table {
                service: dumped.service,
                dests: dests.into_iter().map(|d| d.dest).collect(),
            });
        }
    }
    Ok(tables)
}

fn execute(client: &mut IpvsClient, op: &Op) -> Result<(), IpvsError> {
    match op {
        Op::AddService(service) => client.new_service(service),
        Op::EditService(service) => client.set_service(service),
        Op::DelService(key) => client.del_service(key),
        Op::AddDest(key, dest) => client.new_dest(key, dest),
        Op::EditDest(key, dest) => client.set_dest(key, dest),
        Op::DelDest(key, addr, port) => client.del_dest(key, *addr, *port),
    }
}

/// One line for the debug log.
fn explain(op: &Op) -> String {
    match op {
        Op::AddService(s) => format!("add service {} {}", s.key, s.scheduler),
        Op::EditService(s) => format!("change service {} {}", s.key, s.scheduler),
        Op::DelService(key) => format!("remove service {}", key),
        Op::AddDest(key, d) => format!(
            "add {} weight {} to {}",
            endpoint(d.addr, d.port),
            d.weight,
            key
        ),
        Op::EditDest(key, d) => format!(
            "change {} to weight {} in {}",
            endpoint(d.addr, d.port),
            d.weight,
            key
        ),
        Op::DelDest(key, addr, port) => {
            format!("remove {} from {}", endpoint(*addr, *port), key)
        }
    }
}
