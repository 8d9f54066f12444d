//! What an instance follows while it runs: its interface (FAULT while it is
//! gone, sockets reopened on its new index when it is back), the interfaces
//! VIPs name with `dev`, and, as keepalived does, a MASTER's addresses,
//! routes and rules deleted by someone else.
use tracing::warn;

use super::Instance;
use crate::vrrp::fsm::{Event, State};

impl Instance {
    /// After a link or address notification: follows the instance's
    /// interface (FAULT while it is gone, sockets reopened on its new index
    /// when it is back) and the interfaces VIPs name with `dev`.
    pub(super) async fn follow_links(&mut self) {
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
            self.check_deleted().await;
        }
    }

    /// keepalived: a MASTER whose tracked address, route or rule was
    /// deleted by someone else leaves MASTER, to take over again and add it
    /// back (`no_track` ones are left as they are).
    async fn check_deleted(&mut self) {
        let deleted = match self.vips.deleted(self.own_index()).await {
            Some(vip) => Some(vip),
            None => self.routes.deleted(&self.shared.netlink).await,
        };
        if let Some(what) = deleted {
            warn!("({}) {what} was deleted", self.spec.name);
            let actions = self.fsm.handle(self.now(), Event::Deleted);
            self.apply(actions).await;
        }
    }
}
