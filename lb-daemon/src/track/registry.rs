//! Shared state of all tracked objects and the verdict of every instance,
//! recomputed whenever an object changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::watch;

use super::plan::{InstancePlan, Key};
use super::priority::{verdict, State, Tracked, Verdict};

/// Tracked-object states and per-instance verdict channels.
#[derive(Clone)]
pub(crate) struct Registry(Arc<Mutex<Inner>>);

struct Inner {
    objects: BTreeMap<Key, State>,
    instances: Vec<(InstancePlan, watch::Sender<Verdict>)>,
}

impl Inner {
    fn verdict_of(&self, plan: &InstancePlan) -> Verdict {
        let tracked: Vec<Tracked> = plan
            .tracks
            .iter()
            .map(|track| Tracked {
                state: self
                    .objects
                    .get(&track.key)
                    .copied()
                    .unwrap_or(State::Unknown),
                weight: track.weight,
                reverse: track.reverse,
            })
            .collect();
        verdict(plan.base, &tracked)
    }
}

impl Registry {
    /// A registry for `plans`, every object starting in `initial(key)`.
    pub(crate) fn new(plans: Vec<InstancePlan>, initial: impl Fn(&Key) -> State) -> Registry {
        let objects = plans
            .iter()
            .flat_map(|plan| plan.tracks.iter().map(|track| track.key.clone()))
            .map(|key| {
                let state = initial(&key);
                (key, state)
            })
            .collect();
        let mut inner = Inner {
            objects,
            instances: Vec::new(),
        };
        for plan in plans {
            let (tx, _) = watch::channel(inner.verdict_of(&plan));
            inner.instances.push((plan, tx));
        }
        Registry(Arc::new(Mutex::new(inner)))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a new state for `key` and updates the verdicts that use it.
    pub(crate) fn set(&self, key: &Key, state: State) {
        let mut inner = self.lock();
        if inner.objects.insert(key.clone(), state) == Some(state) {
            return;
        }
        let inner = &*inner;
        for (plan, tx) in &inner.instances {
            if !plan.tracks.iter().any(|t| &t.key == key) {
                continue;
            }
            let new = inner.verdict_of(plan);
            tx.send_if_modified(|old| {
                if old.priority != new.priority {
                    tracing::info!(
                        "({}) Changing effective priority from {} to {}",
                        plan.name,
                        old.priority,
                        new.priority
                    );
                }
                let changed = *old != new;
                *old = new;
                changed
            });
        }
    }

    /// A receiver of instance `name`'s verdict.
    pub(crate) fn subscribe(&self, name: &str) -> Option<watch::Receiver<Verdict>> {
        let inner = self.lock();
        let (_, tx) = inner.instances.iter().find(|(plan, _)| plan.name == name)?;
        Some(tx.subscribe())
    }

    /// Objects and verdicts as JSON: `{"tracked": [OBJECT], "instances":
    /// {NAME: {"fault", "priority", "base_priority", "tracks": [{"kind",
    /// "name", "weight", "reverse", "state" | "value"}]}}}`, an OBJECT being
    /// `{"kind", "name", "state" | "value"}`.
    pub(crate) fn status(&self) -> Value {
        let inner = self.lock();
        let object = |key: &Key| {
            let mut entry = json!({ "name": key.name, "kind": key.kind });
            match inner.objects.get(key).copied().unwrap_or(State::Unknown) {
                State::Value(value) => entry["value"] = json!(value),
                other => entry["state"] = json!(other),
            }
            entry
        };
        let tracked: Vec<Value> = inner.objects.keys().map(object).collect();
        let instances: HashMap<&str, Value> = inner
            .instances
            .iter()
            .map(|(plan, tx)| {
                let verdict = *tx.borrow();
                let tracks: Vec<Value> = plan
                    .tracks
                    .iter()
                    .map(|track| {
                        let mut entry = object(&track.key);
                        entry["weight"] = json!(track.weight);
                        entry["reverse"] = json!(track.reverse);
                        entry
                    })
                    .collect();
                let status = json!({
                    "fault": verdict.fault,
                    "priority": verdict.priority,
                    "base_priority": plan.base,
                    "tracks": tracks,
                });
                (plan.name.as_str(), status)
            })
            .collect();
        json!({ "tracked": tracked, "instances": instances })
    }
}
