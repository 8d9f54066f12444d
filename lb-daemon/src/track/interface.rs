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
use netlink_packet_core::NetlinkMessage;
use rtnetlink::{packet_route::RouteNetlinkMessage, MulticastGroup};
use tokio::time::{Instant, Interval};

use crate::{
    netlink::{Changes, Netlink},
    timers::sleep_until_some,
};

use super::plan::{Key, Kind};
use super::priority::State;
use super::registry::Registry;

/// Re-read interval while notifications work.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// Re-read interval without notifications.
const FALLBACK_POLL: Duration = Duration::from_millis(250);
/// While notifications work, one safety poll in this long says that
/// anything may have changed (what is costly to read, a whole routing
/// table, is read then); the others only wake the follower.
const SWEEP: Duration = Duration::from_secs(30);
/// After a link went down or an address was deleted, which the kernel may
/// follow with route deletions it does not announce, a second look at
/// everything this much later.
const SETTLE: Duration = Duration::from_secs(1);

/// Wake-ups for whoever follows interfaces: a burst of rtnetlink
/// notifications of the subscribed groups, a poll tick (a slow safety poll
/// while notifications work, a fast one when they cannot be had), or the
/// second look a moment after a link went down or an address was deleted
/// ([`SETTLE`]), each with what it may have deleted ([`Changes`]). The
/// first call of [`Notifications::next`] returns at once and says anything
/// may have.
pub(crate) struct Notifications {
    events: Option<BoxStream<'static, NetlinkMessage<RouteNetlinkMessage>>>,
    ticks: Interval,
    /// When a poll last said that anything may have changed.
    swept: Option<Instant>,
    /// When the second look after a possible flush is due.
    settle: Option<Instant>,
}

impl Notifications {
    /// Subscribes to `groups` in the caller's network namespace (the socket
    /// is opened now, on the calling thread).
    pub(crate) fn subscribe(groups: &[MulticastGroup]) -> Notifications {
        let events = match rtnetlink::new_multicast_connection(groups) {
            Ok((connection, _handle, messages)) => {
                tokio::spawn(connection);
                Some(messages.map(|(message, _)| message).boxed())
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
            swept: None,
            settle: None,
        }
    }

    /// Waits for the next burst of notifications or poll tick; what it may
    /// have deleted. Without notifications every tick may have deleted
    /// anything.
    pub(crate) async fn next(&mut self) -> Changes {
        let Some(stream) = self.events.as_mut() else {
            self.ticks.tick().await;
            return Changes::everything();
        };
        let settle = self.settle;
        tokio::select! {
            // The tick first: the first call is the "anything" of the
            // interval's first, immediate tick.
            biased;
            _ = self.ticks.tick() => self.poll(),
            () = sleep_until_some(settle) => {
                self.settle = None;
                Changes::everything()
            }
            event = stream.next() => match event {
                Some(first) => {
                    // A burst (e.g. many addresses added) wakes once.
                    let mut changes = Changes::default();
                    let mut flush = Changes::may_flush(&first);
                    changes.add(&first);
                    while let Some(Some(more)) = stream.next().now_or_never() {
                        flush |= Changes::may_flush(&more);
                        changes.add(&more);
                    }
                    if flush {
                        self.settle = Some(Instant::now() + SETTLE);
                    }
                    changes
                }
                None => {
                    self.events = None;
                    self.ticks = tokio::time::interval(FALLBACK_POLL);
                    Changes::everything()
                }
            },
        }
    }

    /// A safety poll's changes: anything, once per [`SWEEP`].
    fn poll(&mut self) -> Changes {
        let now = Instant::now();
        match self.swept {
            Some(at) if now.duration_since(at) < SWEEP => Changes::default(),
            _ => {
                self.swept = Some(now);
                Changes::everything()
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
