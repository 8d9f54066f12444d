//! Direct-routing labs for the fast-path tests: real servers that accept
//! the VIP on their loopback (clients use [`crate::KeptAlive`] and
//! [`crate::Continuous`]).
use anyhow::Result;

use crate::{Lab, LabSpec, VIP};

/// A lab with `directors` directors and three DR real servers (nginx
/// answering with their name, VIP on their loopback, ARP for it suppressed).
pub fn dr_lab(directors: usize) -> Result<Lab> {
    let lab = Lab::new(LabSpec {
        directors,
        real_servers: 3,
        web: true,
    })?;
    for rs in lab.real_servers() {
        rs.accept_vip_on_loopback(VIP)?;
    }
    Ok(lab)
}
