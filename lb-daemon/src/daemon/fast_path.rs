//! The XDP fast path in the running daemon: started when the configuration
//! has `fast_path xdp` services, kept across reloads (it follows the new
//! desired state, so flows and attachments survive), stopped after VRRP so
//! it detaches only once the VIPs are gone.
use std::path::{Path, PathBuf};

use lb_common::DEFAULT_FLOWS;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::{
    dataplane::xdp::{adopt, unpin, Reconciler, Settings, BPFFS_ROOT},
    netlink::Netlink,
    state::{desired::DesiredState, ownership::Publisher},
};

/// The pin directory of the daemon whose runtime directory is `runtime_dir`:
/// one instance per runtime directory (which its lock makes unique), named
/// after the directory's path (`/run/lb-daemon` -> `run_lb-daemon`).
pub fn pin_dir(runtime_dir: &Path) -> PathBuf {
    let instance: String = runtime_dir
        .to_string_lossy()
        .trim_matches('/')
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    Path::new(BPFFS_ROOT).join(instance)
}

/// Starts the fast path if `desired` has services asking for it, with a
/// connection table of `flows` entries (`fast_path_flows`; the default
/// when `None`).
pub fn start(
    desired: watch::Receiver<DesiredState>,
    ownership: &Publisher,
    netlink: Netlink,
    runtime_dir: &Path,
    flows: Option<u32>,
) -> Option<Reconciler> {
    if !desired.borrow().services.iter().any(|s| s.fast_path) {
        // A killed predecessor's attachments would go on forwarding with
        // its last maps: without a fast path, nothing takes them over.
        let dir = pin_dir(runtime_dir);
        if dir.exists() {
            match unpin(&dir) {
                Ok(()) => info!("XDP fast path: removed the pins a stopped daemon left"),
                Err(e) => warn!("XDP fast path: {e:#}"),
            }
        }
        return None;
    }
    let settings = Settings {
        flows: flows.unwrap_or(DEFAULT_FLOWS),
        pin_dir: Some(pin_dir(runtime_dir)),
        real_ids: Some(runtime_dir.join(adopt::FILE)),
    };
    Some(Reconciler::start(
        settings,
        desired,
        ownership.subscribe(),
        ownership.gate("the XDP fast path"),
        netlink,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_dirs_follow_runtime_dirs() {
        assert_eq!(
            pin_dir(Path::new("/run/lb-daemon")),
            Path::new("/sys/fs/bpf/lb-daemon/run_lb-daemon")
        );
        assert_eq!(
            pin_dir(Path::new("/tmp/lab/dir1/")),
            Path::new("/sys/fs/bpf/lb-daemon/tmp_lab_dir1")
        );
    }
}
