//! Loading the embedded XDP program, attaching it to interfaces, pinning its
//! maps, and typed access to them ([`Maps`]).
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, Context, Result};
use aya::{
    programs::{xdp::XdpLinkId, Xdp},
    Ebpf, EbpfLoader,
};
use lb_common::{
    flow_sets, FEED_FRAME_GLOBAL, FEED_FRAME_LEN, FLOWS_MAP, FLOW_MASK_GLOBAL, FLOW_WAYS, MAPS,
    PASS_PROGRAM, XDP_PROGRAM,
};
use tracing::{info, warn};

use super::{
    embedded_object,
    links::{self, Held, Predecessors, XdpAttachMode},
    maps::{missing_map, Maps},
};

/// The loaded fast-path program and its maps. Once [`FastPath::pin`]ned,
/// its attachments are pinned links (see [`links`]): they outlive a killed
/// process, and [`FastPath::detach`] (or a clean stop's [`unpin`]) ends
/// them. Unpinned ones end with the process. The maps are freed with it
/// unless pinned.
pub struct FastPath {
    ebpf: Ebpf,
    links: BTreeMap<u32, (Held, XdpAttachMode)>,
    /// A killed predecessor's attachments, until taken over or released.
    predecessors: Predecessors,
    /// Where attachments are pinned, once the maps are.
    link_dir: Option<PathBuf>,
    flow_sets: u32,
}

impl FastPath {
    /// Loads the embedded object with a connection table of at least
    /// `flows` entries (see [`lb_common::flow_sets`]), and the XDP program
    /// (the verifier runs here), without attaching it anywhere.
    pub fn load(flows: u32) -> Result<Self> {
        let flow_sets = flow_sets(flows);
        let mut ebpf = load_object(flow_sets, &[0; FEED_FRAME_LEN])?;
        program(&mut ebpf, XDP_PROGRAM)?
            .load()
            .context("verifying the XDP program")?;
        Ok(FastPath {
            ebpf,
            links: BTreeMap::new(),
            predecessors: Predecessors::new(),
            link_dir: None,
            flow_sets,
        })
    }

    /// Entries the connection table holds.
    pub fn flow_capacity(&self) -> u32 {
        self.flow_sets.saturating_mul(FLOW_WAYS as u32)
    }

    /// Attaches the program to the interface with index `ifindex` of the
    /// calling thread's network namespace (once; again is a no-op) and
    /// says in which mode it is attached: `mode`, unless a predecessor's
    /// link there is taken over in its own mode (its program is replaced in
    /// one step: no packet sees the interface without XDP).
    pub fn attach(&mut self, ifindex: u32, mode: XdpAttachMode) -> Result<XdpAttachMode> {
        if let Some((_, attached)) = self.links.get(&ifindex) {
            return Ok(*attached);
        }
        let prog = program(&mut self.ebpf, XDP_PROGRAM)?;
        let (id, mode) = match self.predecessors.remove(&ifindex) {
            Some((link, was)) => match links::take_over(prog, link) {
                Ok(id) => (id, was),
                Err(e) => {
                    warn!("XDP fast path: interface index {ifindex}: {e:#}");
                    (attach_to(prog, ifindex, mode)?, mode)
                }
            },
            None => (attach_to(prog, ifindex, mode)?, mode),
        };
        let held = match &self.link_dir {
            None => Held::Owned(id),
            Some(dir) => match links::pin(prog, id, dir, ifindex, mode) {
                Ok(pinned) => Held::Pinned(pinned),
                Err(e) => {
                    warn!("XDP fast path: interface index {ifindex}: {e:#}; attached unpinned");
                    Held::Owned(attach_to(prog, ifindex, mode)?)
                }
            },
        };
        self.links.insert(ifindex, (held, mode));
        Ok(mode)
    }

    /// Detaches the program from interface `ifindex` (no-op if it is not
    /// attached there).
    pub fn detach(&mut self, ifindex: u32) -> Result<()> {
        let Some((held, _)) = self.links.remove(&ifindex) else {
            return Ok(());
        };
        let detached = match held {
            Held::Pinned(link) => links::release(link),
            Held::Owned(id) => program(&mut self.ebpf, XDP_PROGRAM)?
                .detach(id)
                .map_err(Into::into),
        };
        detached.with_context(|| format!("detaching XDP from interface index {ifindex}"))
    }

    /// Ends the predecessor's attachments this process did not take over.
    pub fn release_predecessors(&mut self) {
        for (ifindex, (link, _)) in std::mem::take(&mut self.predecessors) {
            info!("XDP fast path: releasing the predecessor's link on interface index {ifindex}");
            if let Err(e) = links::release(link) {
                warn!("XDP fast path: interface index {ifindex}: {e:#}");
            }
        }
    }

    /// The interfaces the program is attached to, with the mode.
    pub fn attached(&self) -> impl Iterator<Item = (u32, XdpAttachMode)> + '_ {
        self.links.iter().map(|(i, (_, mode))| (*i, *mode))
    }

    /// Pins every map under `dir` (created if needed), so `bpftool` and
    /// operators find them. A pin left there by a previous run is replaced
    /// in one rename: whenever the process dies, each map is pinned, the
    /// old one or the new one. From now on attachments are pinned too, and
    /// a killed predecessor's pinned attachments are found, to be taken
    /// over by [`FastPath::attach`] or ended by
    /// [`FastPath::release_predecessors`].
    pub fn pin(&mut self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let link_dir = links::dir(dir);
        self.predecessors = links::predecessors(&link_dir);
        self.link_dir = Some(link_dir);
        for name in MAPS {
            let path = dir.join(name);
            let partial = partial_pin(dir, name);
            if partial.exists() {
                fs::remove_file(&partial)
                    .with_context(|| format!("removing stale pin {}", partial.display()))?;
            }
            self.ebpf
                .map(name)
                .ok_or_else(|| missing_map(name))?
                .pin(&partial)
                .with_context(|| format!("pinning {name} at {}", partial.display()))?;
            fs::rename(&partial, &path).with_context(|| {
                format!("moving pin {} to {}", partial.display(), path.display())
            })?;
        }
        Ok(())
    }

    /// Typed access to the maps.
    pub fn maps(&mut self) -> Maps<'_> {
        Maps::new(&mut self.ebpf)
    }

    /// The loaded load-balancing program (for `BPF_PROG_TEST_RUN`).
    pub fn program(&mut self) -> Result<&mut Xdp> {
        program(&mut self.ebpf, XDP_PROGRAM)
    }

    /// Another program of the object, sharing these maps, loaded the first
    /// time it is asked for (for benchmarks: `lb_fresh` feeds the load
    /// balancer new flows).
    pub fn companion(&mut self, name: &str) -> Result<&mut Xdp> {
        let prog = program(&mut self.ebpf, name)?;
        if prog.fd().is_err() {
            prog.load().with_context(|| format!("verifying {name}"))?;
        }
        Ok(prog)
    }
}

/// A reference program of the object, loaded on its own (for benchmarks:
/// `lb_pass` is the cost of running any XDP program at all).
pub struct PassProgram(Ebpf, &'static str);

impl PassProgram {
    /// Loads the embedded object's pass-everything program.
    pub fn load() -> Result<Self> {
        Self::load_named(PASS_PROGRAM)
    }

    /// Loads the embedded object's program `name` (`lb_pass`, `lb_tx`, `lb_swap`,
    /// `lb_drop`).
    pub fn load_named(name: &'static str) -> Result<Self> {
        Self::load_feeder(name, &[0; FEED_FRAME_LEN])
    }

    /// Loads the embedded object's feeder `name` (`lb_replay`,
    /// `lb_fresh_pass`), which restores each frame's first bytes to
    /// `frame`'s.
    pub fn load_feeder(name: &'static str, frame: &[u8; FEED_FRAME_LEN]) -> Result<Self> {
        let mut ebpf = load_object(1, frame)?;
        program(&mut ebpf, name)?
            .load()
            .with_context(|| format!("verifying {name}"))?;
        Ok(PassProgram(ebpf, name))
    }

    /// The loaded program (for `BPF_PROG_TEST_RUN`).
    pub fn program(&mut self) -> Result<&mut Xdp> {
        program(&mut self.0, self.1)
    }
}

/// The embedded object with a connection table of `flow_sets` sets,
/// and the benchmark feeders' frame `feed_frame`.
fn load_object(flow_sets: u32, feed_frame: &[u8; FEED_FRAME_LEN]) -> Result<Ebpf> {
    let mask = flow_sets - 1;
    EbpfLoader::new()
        .map_max_entries(FLOWS_MAP, flow_sets)
        .override_global(FLOW_MASK_GLOBAL, &mask, true)
        .override_global(FEED_FRAME_GLOBAL, feed_frame, true)
        .load(embedded_object()?)
        .context("loading the eBPF object")
}

/// Where a map is pinned before its pin is renamed into place (bpffs
/// refuses names with a dot).
fn partial_pin(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}_new"))
}

/// Removes the pins under `dir` (maps and links: attachments nobody holds
/// end) and the directory itself.
pub fn unpin(dir: &Path) -> Result<()> {
    links::remove_all(&links::dir(dir))?;
    for name in MAPS {
        for path in [dir.join(name), partial_pin(dir, name)] {
            if path.exists() {
                fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Attaches `prog` to interface `ifindex` in `mode`.
fn attach_to(prog: &mut Xdp, ifindex: u32, mode: XdpAttachMode) -> Result<XdpLinkId> {
    let attached = prog.attach_to_if_index(ifindex, mode.into());
    let taken = attached.as_ref().err().is_some_and(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        std::iter::from_fn(|| {
            let now = source?;
            source = now.source();
            Some(now)
        })
        .any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.raw_os_error() == Some(libc::EEXIST))
        })
    });
    let context = match taken {
        false => format!("attaching XDP ({mode:?}) to interface index {ifindex}"),
        true => format!(
            "attaching XDP ({mode:?}) to interface index {ifindex}: another XDP program holds it \
             (a killed lb-daemon that ran with another runtime directory leaves its link \
             pinned under {}/<its directory>/links; removing that pin frees the interface)",
            links::BPFFS_ROOT
        ),
    };
    attached.context(context)
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp> {
    let prog = ebpf
        .program_mut(name)
        .ok_or_else(|| anyhow!("the eBPF object has no program {name}"))?;
    Ok(prog.try_into()?)
}
