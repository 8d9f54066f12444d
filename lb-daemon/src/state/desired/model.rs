//! The pure desired-state model: checker verdicts in, real server and quorum
//! states out, with the notify commands to run as side effects.
//!
//! keepalived semantics (`keepalived/check/ipwrapper.c`):
//! * a real server is alive while none of its checkers failed
//!   (`num_failed_checkers == 0`); one without checkers is always alive;
//! * a checker starts up, or down under `alpha` (`check_new_rs_state`); the
//!   checker engine then reports every change (reporting an unchanged
//!   verdict is harmless);
//! * a weight reported with a verdict (MISC_CHECK `misc_dynamic`) becomes the
//!   effective weight (`update_svr_wgt`) and stays until another one comes;
//! * the quorum (`update_quorum_state`) is the sum of the effective weights
//!   of alive real servers: it is gained at `quorum + hysteresis` and lost
//!   below `quorum - hysteresis` (or at 0), so it never flaps inside the
//!   band; the state starts down, so `quorum_up` runs at start-up when the
//!   quorum is met, and `quorum_down` when it is not and a sorry server is
//!   configured ("Starting with quorum down");
//! * `notify_up` / `notify_down` run when a real server changes state
//!   (`do_rs_notifies`), `quorum_up` / `quorum_down` when the quorum does
//!   (`do_vs_notifies`).
use std::{sync::Arc, time::SystemTime};

use crate::check::{RealServerId, VerdictChange};
use crate::config::{Checker, Command, Config, VirtualServer};

use super::backends::services;
use super::carry::Carried;
use super::server_state::{RealState, VirtualState};
use super::types::VirtualService;

/// Something that happened and the command configured for it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// What happened.
    pub event: Event,
    /// The command to run (`notify_up`, `notify_down`, `quorum_up`,
    /// `quorum_down`), without extra arguments as keepalived does.
    pub command: Option<Command>,
}

/// A state change of a real server or of a virtual server's quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The real server became alive.
    RealServerUp(RealServerId),
    /// The real server failed.
    RealServerDown(RealServerId),
    /// Virtual server `vs` gained its quorum (the sorry server leaves).
    QuorumUp(usize),
    /// Virtual server `vs` lost its quorum (the sorry server comes in).
    QuorumDown(usize),
}

/// What one verdict did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The virtual server whose services changed, if any.
    pub changed: Option<usize>,
    /// Commands to run, in order.
    pub effects: Vec<Effect>,
}

/// How many virtual and real servers the model holds, and how many of the
/// real servers are alive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Virtual servers configured.
    pub virtual_servers: usize,
    /// Real servers configured.
    pub real_servers: usize,
    /// Real servers alive.
    pub up: usize,
}

/// The whole model, built from a configuration.
#[derive(Debug, Clone)]
pub struct Model {
    /// Shared, so that a snapshot of the model (see
    /// [`super::DesiredPublisher::snapshot`]) is cheap.
    pub(super) config: Arc<Config>,
    pub(super) states: Vec<VirtualState>,
    built: Vec<Vec<VirtualService>>,
}

impl Model {
    /// The verdicts it holds now, to carry over a reload.
    pub fn carried(&self) -> Carried {
        Carried::from_states(&self.config.virtual_server, &self.states)
    }

    /// The model at start-up, and the quorum commands keepalived runs then.
    pub fn new(config: &Config) -> (Model, Vec<Effect>) {
        Model::carrying(config, &Carried::default())
    }

    /// The model of a reloaded configuration: real servers and virtual
    /// servers configured before keep their verdicts and quorum state
    /// (`carried`); the commands are those of what changed.
    pub fn carrying(config: &Config, carried: &Carried) -> (Model, Vec<Effect>) {
        let states = config
            .virtual_server
            .iter()
            .map(|vs| initial_state(vs, carried))
            .collect();
        let mut model = Model {
            config: Arc::new(config.clone()),
            states,
            built: Vec::new(),
        };
        let effects = (0..model.states.len())
            .filter_map(|vs| {
                let init = carried.quorum(&model.config.virtual_server[vs]).is_none();
                model.update_quorum(vs, init)
            })
            .collect();
        model.built = (0..model.states.len())
            .map(|vs| services(&model.config, vs, &model.states[vs]))
            .collect();
        (model, effects)
    }

    /// Applies one verdict at `now`. Verdicts for unknown real servers or
    /// checkers are ignored.
    pub fn apply(&mut self, change: &VerdictChange, now: SystemTime) -> Applied {
        let RealServerId { vs, rs } = change.id;
        let Some(config) = self.config.virtual_server.get(vs) else {
            return Applied::default();
        };
        let Some(real) = self.states[vs].reals.get_mut(rs) else {
            return Applied::default();
        };
        let Some(verdict) = real.checkers.get_mut(change.checker) else {
            return Applied::default();
        };
        *verdict = change.up;
        let weight_changed = change.weight.is_some_and(|w| w != real.weight);
        if let Some(weight) = change.weight {
            real.weight = weight;
        }
        let alive = real.checkers.iter().all(|up| *up);
        let mut effects = Vec::new();
        if alive != real.alive {
            real.alive = alive;
            real.last_change = Some(now);
            effects.push(real_effect(config, change.id, alive));
        }
        if effects.is_empty() && !weight_changed {
            return Applied::default();
        }
        effects.extend(self.update_quorum(vs, false));
        let changed = self.rebuild(vs).then_some(vs);
        Applied { changed, effects }
    }

    /// Rebuilds the services of virtual server `vs` from its state; true
    /// when they changed.
    pub(super) fn rebuild(&mut self, vs: usize) -> bool {
        let rebuilt = services(&self.config, vs, &self.states[vs]);
        let changed = rebuilt != self.built[vs];
        self.built[vs] = rebuilt;
        changed
    }

    /// keepalived's `update_quorum_state`: the quorum event, if the state
    /// changed (or, at `init`, when starting down with a sorry server).
    fn update_quorum(&mut self, vs: usize, init: bool) -> Option<Effect> {
        let config = &self.config.virtual_server[vs];
        let state = &mut self.states[vs];
        let sum: i64 = state
            .reals
            .iter()
            .filter(|r| r.alive)
            .map(|r| i64::from(r.weight))
            .sum();
        let quorum = i64::from(config.quorum.unwrap_or(1));
        let hysteresis = i64::from(config.hysteresis.unwrap_or(0));
        let up = if state.quorum_up {
            !(sum == 0 || sum < quorum - hysteresis)
        } else {
            sum >= quorum + hysteresis
        };
        let starting_down = init && !up && config.sorry_server.is_some();
        if up == state.quorum_up && !starting_down {
            return None;
        }
        state.quorum_up = up;
        Some(quorum_effect(config, vs, up))
    }

    /// What keepalived runs when it stops (`clear_services`): under
    /// `omega`, `notify_down` of every alive real server, then
    /// `quorum_down`; nothing for virtual servers without `omega`.
    pub fn stopping(&self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (vs, (config, state)) in self
            .config
            .virtual_server
            .iter()
            .zip(&self.states)
            .enumerate()
        {
            if !config.omega {
                continue;
            }
            let alive = state.reals.iter().enumerate().filter(|(_, r)| r.alive);
            effects
                .extend(alive.map(|(rs, _)| real_effect(config, RealServerId { vs, rs }, false)));
            effects.push(quorum_effect(config, vs, false));
        }
        effects
    }

    /// The services of virtual server `vs` as they must be programmed.
    pub fn services(&self, vs: usize) -> &[VirtualService] {
        self.built.get(vs).map_or(&[], Vec::as_slice)
    }

    /// The whole desired state.
    pub fn desired(&self) -> super::DesiredState {
        super::DesiredState {
            services: self.built.iter().flatten().cloned().collect(),
        }
    }

    /// Whether real server `id` is alive (`None` if it does not exist).
    pub fn is_up(&self, id: RealServerId) -> Option<bool> {
        let real = self.states.get(id.vs)?.reals.get(id.rs)?;
        Some(real.alive)
    }

    /// Virtual and real servers, and the alive ones (cheap: no document).
    pub fn counts(&self) -> Counts {
        let reals = self.states.iter().flat_map(|s| &s.reals);
        Counts {
            virtual_servers: self.states.len(),
            real_servers: reals.clone().count(),
            up: reals.filter(|r| r.alive).count(),
        }
    }

    /// Whether virtual server `vs` has its quorum.
    pub fn quorum_up(&self, vs: usize) -> bool {
        self.states.get(vs).is_some_and(|s| s.quorum_up)
    }
}

/// A virtual server before any verdict: checkers up, or down under `alpha`,
/// unless verdicts are carried over from before a reload.
fn initial_state(config: &VirtualServer, carried: &Carried) -> VirtualState {
    let reals = config
        .real_server
        .iter()
        .map(|real| {
            let checkers = carried.checkers(config, real).map_or_else(
                || {
                    let up = |c: &Checker| !c.starts_down(real, config);
                    real.checker.iter().map(up).collect()
                },
                <[bool]>::to_vec,
            );
            RealState {
                alive: checkers.iter().all(|up| *up),
                checkers,
                weight: real.effective_weight(config),
                last_change: None,
                drained: carried.drained(config, real),
            }
        })
        .collect();
    VirtualState {
        reals,
        quorum_up: carried.quorum(config).unwrap_or(false),
    }
}

/// The notify event of real server `id` going `alive`.
fn real_effect(config: &VirtualServer, id: RealServerId, alive: bool) -> Effect {
    let real = &config.real_server[id.rs];
    if alive {
        Effect {
            event: Event::RealServerUp(id),
            command: real.notify_up.clone(),
        }
    } else {
        Effect {
            event: Event::RealServerDown(id),
            command: real.notify_down.clone(),
        }
    }
}

/// The quorum event of virtual server `vs` going `up`.
fn quorum_effect(config: &VirtualServer, vs: usize, up: bool) -> Effect {
    if up {
        Effect {
            event: Event::QuorumUp(vs),
            command: config.quorum_up.clone(),
        }
    } else {
        Effect {
            event: Event::QuorumDown(vs),
            command: config.quorum_down.clone(),
        }
    }
}
