//! What the kernel holds of the fast path, as `bpftool` sees it: the maps
//! pinned in a daemon's pin directory, the programs using them, and the XDP
//! programs attached in a namespace. BPF objects are not per namespace, so
//! tests find their own daemon's by its pins, never by name alone.
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{netns::run_cmd, Netns};

fn bpftool_json<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Value> {
    let mut all: Vec<&std::ffi::OsStr> = vec!["-j".as_ref()];
    all.extend(args.iter().map(AsRef::as_ref));
    let out = run_cmd("bpftool", &all)?;
    serde_json::from_str(&out).with_context(|| format!("bpftool output: {out}"))
}

/// `bpftool map dump` of the map pinned as `map` in the pin directory
/// `dir`, once every map of the fast path ([`lb_common::MAPS`]) is seen
/// pinned there.
pub fn dump_pinned(dir: &Path, map: &str) -> Result<Value> {
    for name in lb_common::MAPS {
        let path = dir.join(name);
        if !path.exists() {
            bail!("{} not pinned", path.display());
        }
    }
    let path = dir.join(map);
    bpftool_json(&[
        "map".as_ref(),
        "dump".as_ref(),
        "pinned".as_ref(),
        path.as_os_str(),
    ])
}

/// The maps pinned in `dir`, by file name, with their ids (an empty map
/// when the directory does not exist).
pub fn pinned_maps(dir: &Path) -> Result<BTreeMap<String, u32>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(BTreeMap::new());
    };
    let mut maps = BTreeMap::new();
    for entry in entries {
        let path = entry?.path();
        // The pinned links live in a directory of their own.
        if path.is_dir() {
            continue;
        }
        let info = bpftool_json(&[
            "map".as_ref(),
            "show".as_ref(),
            "pinned".as_ref(),
            path.as_os_str(),
        ])?;
        let id = info["id"]
            .as_u64()
            .with_context(|| format!("{}: no map id in {info}", path.display()))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        maps.insert(name.into_owned(), id as u32);
    }
    Ok(maps)
}

/// A loaded BPF program: its id, name and the maps it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prog {
    /// Program id.
    pub id: u32,
    /// Program name.
    pub name: String,
    /// Ids of the maps it uses.
    pub map_ids: BTreeSet<u32>,
}

/// Every program loaded in the kernel.
pub fn programs() -> Result<Vec<Prog>> {
    let all = bpftool_json(&["prog", "show"])?;
    let Some(all) = all.as_array() else {
        bail!("bpftool prog show: not a list: {all}");
    };
    Ok(all
        .iter()
        .filter_map(|p| {
            Some(Prog {
                id: p["id"].as_u64()? as u32,
                name: p["name"].as_str().unwrap_or_default().to_owned(),
                map_ids: p["map_ids"]
                    .as_array()
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|i| Some(i.as_u64()? as u32))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect())
}

/// The programs using any of `maps`.
pub fn programs_using(maps: &BTreeSet<u32>) -> Result<Vec<Prog>> {
    Ok(programs()?
        .into_iter()
        .filter(|p| !p.map_ids.is_disjoint(maps))
        .collect())
}

/// Whether map `id` still exists.
pub fn map_exists(id: u32) -> bool {
    run_cmd("bpftool", &["map", "show", "id", &id.to_string()]).is_ok()
}

/// Whether program `id` still exists.
pub fn prog_exists(id: u32) -> bool {
    run_cmd("bpftool", &["prog", "show", "id", &id.to_string()]).is_ok()
}

/// Ids of the XDP programs attached to `dev` in `ns` (`bpftool net`).
pub fn xdp_attached(ns: &Netns, dev: &str) -> Result<Vec<u32>> {
    let out = ns.run(&["bpftool", "-j", "net", "show", "dev", dev])?;
    let net: Value = serde_json::from_str(&out).with_context(|| format!("bpftool net: {out}"))?;
    let sections = net.as_array().cloned().unwrap_or_else(|| vec![net.clone()]);
    Ok(sections
        .iter()
        .filter_map(|s| s["xdp"].as_array())
        .flatten()
        .filter_map(|x| Some(x["id"].as_u64()? as u32))
        .collect())
}
