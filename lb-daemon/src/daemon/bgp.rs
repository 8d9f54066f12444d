//! The BGP announcer in the running daemon: started when the configuration
//! has a `bgp_speaker` (and the checkers run), following reloads, stopped
//! before the fast path so that routes are withdrawn and drained first.
use std::{collections::BTreeSet, path::Path, sync::Arc};

use futures::future::select_all;
use tokio::sync::watch;
use tracing::{error, info};

use super::lvs::Lvs;
use crate::{
    bgp::{Announcer, Follow},
    config::Config,
    netlink::Netlink,
    state::ownership::Publisher,
    track::{plan::announce_name, Tracking, Verdict},
};

/// What the announcer follows for `config`, run by `lvs` and tracked by
/// `tracking`.
fn follow(config: &Arc<Config>, lvs: &Lvs, tracking: &Tracking) -> Follow {
    Follow {
        config: Arc::clone(config),
        desired: lvs.desired(),
        unchecked: lvs.unchecked(),
        failing: failing(config, tracking),
    }
}

/// The virtual servers whose `bgp_announce` tracking is in FAULT, kept up
/// to date by a task that ends with the trackers (on a reload).
fn failing(config: &Config, tracking: &Tracking) -> watch::Receiver<BTreeSet<usize>> {
    let mut verdicts: Vec<(usize, watch::Receiver<Verdict>)> = (0..config.virtual_server.len())
        .filter_map(|vs| Some((vs, tracking.subscribe(&announce_name(vs))?)))
        .collect();
    let now = |verdicts: &[(usize, watch::Receiver<Verdict>)]| -> BTreeSet<usize> {
        verdicts
            .iter()
            .filter(|(_, v)| v.borrow().fault)
            .map(|(vs, _)| *vs)
            .collect()
    };
    let (tx, rx) = watch::channel(now(&verdicts));
    if !verdicts.is_empty() {
        tokio::spawn(async move {
            loop {
                let changes = verdicts.iter_mut().map(|(_, v)| Box::pin(v.changed()));
                if select_all(changes).await.0.is_err() {
                    return;
                }
                let set = now(&verdicts);
                tx.send_if_modified(|old| std::mem::replace(old, set.clone()) != set);
            }
        });
    }
    rx
}

/// What the announcer is started from or follows: the configuration in
/// force and the running parts it depends on.
pub(super) struct Parts<'a> {
    pub config: &'a Arc<Config>,
    pub lvs: Option<&'a Lvs>,
    pub tracking: &'a Tracking,
    pub ownership: &'a Publisher,
    pub netlink: &'a Netlink,
    pub runtime_dir: &'a Path,
}

/// Starts the announcer when the configuration asks for one; an announcer
/// that cannot start (no BIRD) is an error logged, not announced.
pub(super) async fn start(parts: &Parts<'_>) -> Option<Announcer> {
    let lvs = parts.lvs?;
    parts.config.bgp_speaker.as_ref()?;
    match Announcer::start(
        follow(parts.config, lvs, parts.tracking),
        parts.ownership.clone(),
        parts.netlink.clone(),
        parts.runtime_dir,
    )
    .await
    {
        Ok(announcer) => {
            info!("BGP: BIRD started; announcing once services are ready");
            Some(announcer)
        }
        Err(e) => {
            error!("BGP: not announcing anything: {e:#}");
            None
        }
    }
}

/// Follows a reloaded `config`: the running announcer follows it, or stops
/// when the `bgp_speaker` block went, or starts when it came.
pub(super) async fn reload(slot: &mut Option<Announcer>, parts: &Parts<'_>) {
    match (slot.as_ref(), parts.lvs) {
        (Some(announcer), Some(lvs)) if parts.config.bgp_speaker.is_some() => {
            announcer
                .follow(follow(parts.config, lvs, parts.tracking))
                .await;
        }
        (Some(_), _) => {
            if let Some(announcer) = slot.take() {
                announcer.shutdown().await;
            }
        }
        (None, _) => *slot = start(parts).await,
    }
}
