//! The BGP announcer in the running daemon: started when the configuration
//! has a `bgp_speaker` (and the checkers run), following reloads, stopped
//! before the fast path so that routes are withdrawn and drained first.
use std::{path::Path, sync::Arc};

use tracing::{error, info};

use super::lvs::Lvs;
use crate::{
    bgp::{Announcer, Follow},
    config::Config,
    netlink::Netlink,
    state::ownership::Publisher,
};

/// What the announcer follows for `config`, run by `lvs`.
fn follow(config: &Arc<Config>, lvs: &Lvs) -> Follow {
    Follow {
        config: Arc::clone(config),
        desired: lvs.desired(),
        unchecked: lvs.unchecked(),
    }
}

/// Starts the announcer when `config` asks for one; an announcer that
/// cannot start (no BIRD) is an error logged, not announced.
pub(super) async fn start(
    config: &Arc<Config>,
    lvs: Option<&Lvs>,
    ownership: &Publisher,
    netlink: &Netlink,
    runtime_dir: &Path,
) -> Option<Announcer> {
    let lvs = lvs?;
    config.bgp_speaker.as_ref()?;
    match Announcer::start(
        follow(config, lvs),
        ownership.clone(),
        netlink.clone(),
        runtime_dir,
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
pub(super) async fn reload(
    slot: &mut Option<Announcer>,
    config: &Arc<Config>,
    lvs: Option<&Lvs>,
    ownership: &Publisher,
    netlink: &Netlink,
    runtime_dir: &Path,
) {
    match (slot.as_ref(), lvs) {
        (Some(announcer), Some(lvs)) if config.bgp_speaker.is_some() => {
            announcer.follow(follow(config, lvs)).await;
        }
        (Some(_), _) => {
            if let Some(announcer) = slot.take() {
                announcer.shutdown().await;
            }
        }
        (None, _) => *slot = start(config, lvs, ownership, netlink, runtime_dir).await,
    }
}
