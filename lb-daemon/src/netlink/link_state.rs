//! Interface state changes: bringing an interface the daemon created up.
use anyhow::{anyhow, Context, Result};
use rtnetlink::LinkUnspec;

use super::Netlink;

impl Netlink {
    /// Sets interface `index` administratively up.
    pub async fn set_up(&self, index: u32) -> Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| anyhow!(e))
            .with_context(|| format!("setting interface {index} up"))
    }
}
