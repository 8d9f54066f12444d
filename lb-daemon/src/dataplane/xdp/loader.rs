//! Loading the embedded XDP program, attaching it to interfaces, pinning its
//! maps, and typed access to them ([`Maps`]).
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, Context, Result};
use aya::{
    programs::{xdp::XdpLinkId, Xdp, XdpMode},
    Ebpf, EbpfLoader,
};
use lb_common::{
    flow_sets, FLOWS_MAP, FLOW_MASK_GLOBAL, FLOW_WAYS, MAPS, PASS_PROGRAM, XDP_PROGRAM,
};

use super::{embedded_object, maps::Maps};

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

/// The loaded fast-path program and its maps. Dropping it detaches the
/// program from every interface it is attached to (the attachments are BPF
/// links owned by this process, so a killed daemon leaves none behind) and
/// frees the maps unless they are pinned.
pub struct FastPath {
    ebpf: Ebpf,
    links: BTreeMap<u32, (XdpLinkId, XdpAttachMode)>,
    flow_sets: u32,
}

impl FastPath {
    /// Loads the embedded object with a connection table of at least
    /// `flows` entries (see [`lb_common::flow_sets`]), and the XDP program
    /// (the verifier runs here), without attaching it anywhere.
    pub fn load(flows: u32) -> Result<Self> {
        let flow_sets = flow_sets(flows);
        let mut ebpf = load_object(flow_sets)?;
        program(&mut ebpf, XDP_PROGRAM)?
            .load()
            .context("verifying the XDP program")?;
        Ok(FastPath {
            ebpf,
            links: BTreeMap::new(),
            flow_sets,
        })
    }

    /// Entries the connection table holds.
    pub fn flow_capacity(&self) -> u32 {
        self.flow_sets.saturating_mul(FLOW_WAYS as u32)
    }

    /// Attaches the program to the interface with index `ifindex` of the
    /// calling thread's network namespace (once; again is a no-op).
    pub fn attach(&mut self, ifindex: u32, mode: XdpAttachMode) -> Result<()> {
        if self.links.contains_key(&ifindex) {
            return Ok(());
        }
        let link = program(&mut self.ebpf, XDP_PROGRAM)?
            .attach_to_if_index(ifindex, mode.into())
            .with_context(|| format!("attaching XDP ({mode:?}) to interface index {ifindex}"))?;
        self.links.insert(ifindex, (link, mode));
        Ok(())
    }

    /// Detaches the program from interface `ifindex` (no-op if it is not
    /// attached there).
    pub fn detach(&mut self, ifindex: u32) -> Result<()> {
        let Some((link, _)) = self.links.remove(&ifindex) else {
            return Ok(());
        };
        program(&mut self.ebpf, XDP_PROGRAM)?
            .detach(link)
            .with_context(|| format!("detaching XDP from interface index {ifindex}"))
    }

    /// The interfaces the program is attached to, with the mode.
    pub fn attached(&self) -> impl Iterator<Item = (u32, XdpAttachMode)> + '_ {
        self.links.iter().map(|(i, (_, mode))| (*i, *mode))
    }

    /// Pins every map under `dir` (created if needed), so `bpftool` and
    /// operators find them. A pin left there by a previous run is replaced
    /// in one rename: whenever the process dies, each map is pinned, the
    /// old one or the new one.
    pub fn pin(&mut self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
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
}

/// A reference program of the object, loaded on its own (for benchmarks:
/// `lb_pass` is the cost of running any XDP program at all).
pub struct PassProgram(Ebpf, &'static str);

impl PassProgram {
    /// Loads the embedded object's pass-everything program.
    pub fn load() -> Result<Self> {
        Self::load_named(PASS_PROGRAM)
    }

    /// Loads the embedded object's program `name` (`lb_pass`, `lb_tx`,
    /// `lb_drop`).
    pub fn load_named(name: &'static str) -> Result<Self> {
        let mut ebpf = load_object(1)?;
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

/// The embedded object with a connection table of `flow_sets` sets.
fn load_object(flow_sets: u32) -> Result<Ebpf> {
    let mask = flow_sets - 1;
    EbpfLoader::new()
        .map_max_entries(FLOWS_MAP, flow_sets)
        .override_global(FLOW_MASK_GLOBAL, &mask, true)
        .load(embedded_object()?)
        .context("loading the eBPF object")
}

/// Where a map is pinned before its pin is renamed into place (bpffs
/// refuses names with a dot).
fn partial_pin(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}_new"))
}

/// Removes the pins under `dir` and the directory itself.
pub fn unpin(dir: &Path) -> Result<()> {
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

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp> {
    let prog = ebpf
        .program_mut(name)
        .ok_or_else(|| anyhow!("the eBPF object has no program {name}"))?;
    Ok(prog.try_into()?)
}

/// The error for a map the object lacks.
pub(super) fn missing_map(name: &str) -> anyhow::Error {
    anyhow!("the eBPF object has no map {name}")
}
