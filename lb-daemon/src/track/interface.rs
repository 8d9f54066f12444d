//! `track_interface` (and each instance's own interface): an interface is up
//! while it is administratively up and has carrier (keepalived's
//! `IF_ISUP`); a missing interface is down.
//!
//! Changes arrive as RTNLGRP_LINK multicast notifications on a dedicated
//! rtnetlink socket; each notification re-reads the tracked interfaces
//! through [`Netlink::interface`]. A slow poll backs this up (lost
//! notifications on socket overrun), and becomes the only source, at a
//! shorter interval, if the subscription cannot be opened. VRRP instances
//! follow their own interfaces with the same [`Notifications`].

use std::time::Duration;

use futures::{stream::BoxStream, FutureExt, StreamExt};
use rtnetlink::MulticastGroup;
use tokio::time::Interval;

use crate::netlink::Netlink;

use super::plan::{Key, Kind};
use super::priority::State;
use super::registry::Registry;

/// Re-read interval while notifications work.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// Re-read interval without notifications.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Wake-ups for whoever follows interfaces: an rtnetlink notification of
/// one of the subscribed groups, or a poll tick (a slow safety poll while
/// notifications work, a fast one when they cannot be had). The first call
/// of [`Notifications::next`] returns at once.
pub(crate) struct Notifications {
    events: Option<BoxStream<'static, ()>>,
    ticks: Interval,
}

impl Notifications {
    /// Subscribes to `groups` in the caller's network namespace (the socket
    /// is opened now, on the calling thread).
    pub(crate) fn subscribe(groups: &[MulticastGroup]) -> Notifications {
        let events = match rtnetlink::new_multicast_connection(groups) {
            Ok((connection, _handle, messages)) => {
                tokio::spawn(connection);
                Some(messages.map(|_| ()).boxed())
            }
            Err(e) => {
                tracing::warn!("cannot subscribe to link notifications ({e}); polling interfaces");
                None
            }
        };
        let period = if events.is_some() {
            SAFETY_POLL
        } else {
            FALLBACK_POLL
        };
        Notifications {
            events,
            ticks: tokio::time::interval(period),
        }
    }

    /// Waits for the next notification or poll tick.
    pub(crate) async fn next(&mut self) {
        match self.events.as_mut() {
            Some(stream) => tokio::select! {
                event = stream.next() => match event {
                    // A burst (e.g. many addresses added) wakes once.
                    Some(()) => while let Some(Some(())) = stream.next().now_or_never() {},
                    None => {
                        self.events = None;
                        self.ticks = tokio::time::interval(FALLBACK_POLL);
                    }
                },
                _ = self.ticks.tick() => {}
            },
            None => {
                self.ticks.tick().await;
            }
        }
    }
}

/// Keeps the state of `names` current in `registry`.
pub(crate) async fn run(
    names: Vec<String>,
    netlink: Netlink,
    mut events: Notifications,
    registry: Registry,
) {
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
        events.next().await;
    }
}
