//! What an instance follows while it runs: its interface (FAULT while it is
//! gone, sockets reopened on its new index when it is back), the interfaces
//! VIPs name with `dev`, and, as keepalived does, a MASTER's addresses,
//! routes and rules deleted by someone else.
use tracing::warn;

use super::Instance;
use crate::{
    netlink::Changes,
    vrrp::fsm::{Event, State},
};

impl Instance {
    /// After notifications or a poll (`changes`: what they may have
    /// deleted): follows the instance's interface (FAULT while it is gone,
    /// sockets reopened on its new index when it is back) and the
    /// interfaces VIPs name with `dev`.
    pub(super) async fn follow_links(&mut self, changes: Changes) {
        while self.link.follow(&self.shared.netlink, &self.spec).await {
            if let Some(endpoint) = self.link.endpoint() {
                self.fsm.set_local_addr(endpoint.primary);
            }
            self.publish_fault();
            self.tell_fault().await;
        }
        let master = self.fsm.state() == State::Master;
        self.vips.follow_devs(master).await;
        if master {
            self.check_deleted(&changes).await;
        }
    }

    /// keepalived: a MASTER whose tracked address, route or rule was
    /// deleted by someone else leaves MASTER, to take over again and add it
    /// back (`no_track` ones are left as they are). Routes and rules are
    /// looked up only when `changes` may have deleted them.
    async fn check_deleted(&mut self, changes: &Changes) {
        let deleted = match self.vips.deleted(self.own_index()).await {
            Some(vip) => Some(vip),
            None => self.routes.deleted(&self.shared.netlink, changes).await,
        };
        if let Some(what) = deleted {
            warn!("({}) {what} was deleted", self.spec.name);
            let actions = self.fsm.handle(self.now(), Event::Deleted);
            self.apply(actions).await;
        }
    }
}
