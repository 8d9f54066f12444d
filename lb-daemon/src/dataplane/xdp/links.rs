//! The program's attachments as BPF links pinned under `<pin dir>/links`
//! (one file per interface, `<ifindex>_<mode>`). A pinned link outlives a
//! killed daemon: the interfaces it served keep forwarding with the maps it
//! last programmed (VIPs a kill leaves behind would otherwise answer every
//! established connection with a reset) until a restart takes the link
//! over, replacing its program atomically once the new maps are
//! programmed, or lets it go. A clean stop unpins them: nothing stays.
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use aya::programs::{
    links::{FdLink, PinnedLink},
    xdp::{XdpLink, XdpLinkId},
    Xdp, XdpMode,
};
use tracing::{info, warn};

/// How the program is attached to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpAttachMode {
    /// In the driver (native XDP); fails where the driver lacks XDP support.
    Native,
    /// In the generic network stack path (works on every interface, slower).
    Generic,
}

impl From<XdpAttachMode> for XdpMode {
    fn from(mode: XdpAttachMode) -> Self {
        match mode {
            XdpAttachMode::Native => XdpMode::Driver,
            XdpAttachMode::Generic => XdpMode::Skb,
        }
    }
}

/// Where every daemon pins its maps and links:
/// `<this>/<runtime directory's name>/<map>` and `.../links/<link>`.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf/lb-daemon";

/// How this process holds an attachment.
pub(super) enum Held {
    /// A link pinned under the pin directory (it survives the process).
    Pinned(PinnedLink),
    /// A link owned by the program, released when the process ends (no
    /// pin directory, or pinning failed).
    Owned(XdpLinkId),
}

/// A killed predecessor's attachments, by interface index: still pinned,
/// still forwarding with its program.
pub(super) type Predecessors = BTreeMap<u32, (PinnedLink, XdpAttachMode)>;

/// Where the links of the daemon pinning its maps in `pin_dir` are pinned.
pub(super) fn dir(pin_dir: &Path) -> PathBuf {
    pin_dir.join("links")
}

fn mode_name(mode: XdpAttachMode) -> &'static str {
    match mode {
        XdpAttachMode::Native => "native",
        XdpAttachMode::Generic => "generic",
    }
}

/// The pin of the link attaching the program to `ifindex` in `mode`.
fn path(dir: &Path, ifindex: u32, mode: XdpAttachMode) -> PathBuf {
    dir.join(format!("{ifindex}_{}", mode_name(mode)))
}

/// The interface index and mode a pin's file name stands for.
fn parse_name(name: &str) -> Option<(u32, XdpAttachMode)> {
    let (ifindex, mode) = name.split_once('_')?;
    let mode = match mode {
        "native" => XdpAttachMode::Native,
        "generic" => XdpAttachMode::Generic,
        _ => return None,
    };
    Some((ifindex.parse().ok()?, mode))
}

/// The links a killed predecessor left pinned in `dir` (none when there is
/// no such directory). A pin that is not one of ours is removed.
pub(super) fn predecessors(dir: &Path) -> Predecessors {
    let mut found = Predecessors::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let pin = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let link = parse_name(&name).map(|key| (key, PinnedLink::from_pin(&pin)));
        match link {
            Some(((ifindex, mode), Ok(link))) => {
                info!("XDP fast path: taking over the link on interface index {ifindex}");
                found.insert(ifindex, (link, mode));
            }
            _ => {
                warn!("XDP fast path: removing unknown link pin {}", pin.display());
                let _ = fs::remove_file(&pin);
            }
        }
    }
    found
}

/// Puts `prog` on a predecessor's `link` in place of the program it runs
/// (one atomic replacement: no packet sees the interface without XDP).
pub(super) fn take_over(prog: &mut Xdp, link: PinnedLink) -> Result<XdpLinkId> {
    let fd = link.unpin().context("unpinning the predecessor's link")?;
    let link = XdpLink::try_from(fd).context("the pinned link is not an XDP link")?;
    prog.attach_to_link(link)
        .context("replacing the predecessor's program on its link")
}

/// Pins the attachment `id` of `prog` to `ifindex` in `mode` under `dir`.
/// When that fails the link is gone with the error: the caller attaches
/// again without a pin.
pub(super) fn pin(
    prog: &mut Xdp,
    id: XdpLinkId,
    dir: &Path,
    ifindex: u32,
    mode: XdpAttachMode,
) -> Result<PinnedLink> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = path(dir, ifindex, mode);
    if path.exists() {
        fs::remove_file(&path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let link = prog.take_link(id).context("taking the link")?;
    let fd = FdLink::try_from(link).context("the attachment is not a BPF link")?;
    fd.pin(&path)
        .with_context(|| format!("pinning the link at {}", path.display()))
}

/// Ends a pinned attachment: the pin goes, then the link with its last
/// descriptor.
pub(super) fn release(link: PinnedLink) -> Result<()> {
    let fd = link.unpin().context("unpinning a link")?;
    drop(fd);
    Ok(())
}

/// Removes every link pin under `dir`, and `dir`: links nobody holds end.
pub(super) fn remove_all(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    fs::remove_dir(dir).with_context(|| format!("removing {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names_carry_the_interface_and_the_mode() {
        let dir = Path::new("/sys/fs/bpf/lb-daemon/x/links");
        for (ifindex, mode) in [
            (7, XdpAttachMode::Native),
            (4_000_000, XdpAttachMode::Generic),
        ] {
            let pin = path(dir, ifindex, mode);
            let name = pin.file_name().unwrap().to_string_lossy();
            assert_eq!(parse_name(&name), Some((ifindex, mode)));
        }
        for bad in ["7", "7_", "_native", "x_native", "7_skb", "7_native_1"] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
