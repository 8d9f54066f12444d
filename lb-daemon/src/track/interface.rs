//! `track_interface` (and each instance's own interface): an interface is up
//! while it is administratively up and has carrier (keepalived's
//! `IF_ISUP`); a missing interface is down.
//!
//! Changes arrive as RTNLGRP_LINK multicast notifications on a dedicated
//! rtnetlink socket; each notification re-reads the tracked interfaces
//! through [`Netlink::interface`]. A slow poll backs this up (lost
//! notifications on socket overrun), and becomes the only source, at a
//! shorter interval, if the subscription cannot be opened.

use std::time::Duration;

use futures::StreamExt;
use rtnetlink::MulticastGroup;

use crate::netlink::Netlink;

use super::plan::{Key, Kind};
use super::priority::State;
use super::registry::Registry;

/// Re-read interval while notifications work.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// Re-read interval without notifications.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Subscribes to link notifications in the caller's network namespace (the
/// socket is opened now, on the calling thread).
pub(crate) fn subscribe() -> Option<impl futures::Stream<Item = ()> + Send + Unpin> {
    match rtnetlink::new_multicast_connection(&[MulticastGroup::Link]) {
        Ok((connection, _handle, messages)) => {
            tokio::spawn(connection);
            Some(messages.map(|_| ()))
        }
        Err(e) => {
            tracing::warn!("cannot subscribe to link notifications ({e}); polling interfaces");
            None
        }
    }
}

/// Keeps the state of `names` current in `registry`.
pub(crate) async fn run(
    names: Vec<String>,
    netlink: Netlink,
    events: Option<impl futures::Stream<Item = ()> + Send + Unpin>,
    registry: Registry,
) {
    let period = if events.is_some() {
        SAFETY_POLL
    } else {
        FALLBACK_POLL
    };
    let mut events = events;
    let mut ticks = tokio::time::interval(period);
    let mut known: Vec<Option<bool>> = vec![None; names.len()];
    loop {
        for (name, last) in names.iter().zip(known.iter_mut()) {
            let up = netlink.interface(name).await.is_ok_and(|i| i.running);
            if *last != Some(up) {
                if last.is_some() {
                    let word = if up { "up" } else { "down" };
                    tracing::info!("Netlink reports {name} {word}");
                }
                *last = Some(up);
                let key = Key {
                    kind: Kind::Interface,
                    name: name.clone(),
                };
                registry.set(&key, if up { State::Up } else { State::Down });
            }
        }
        match events.as_mut() {
            Some(stream) => tokio::select! {
                event = stream.next() => if event.is_none() {
                    events = None;
                    ticks = tokio::time::interval(FALLBACK_POLL);
                },
                _ = ticks.tick() => {}
            },
            None => {
                ticks.tick().await;
            }
        }
    }
}
