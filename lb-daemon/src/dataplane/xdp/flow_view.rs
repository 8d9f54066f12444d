//! A read-only view of the connection table through `mmap` (the array is
//! created `BPF_F_MMAPABLE`): counting its flows reads memory instead of
//! making one system call per set, which matters for tables of millions of
//! entries.
use std::{
    io,
    os::fd::{AsFd, AsRawFd},
    ptr::{self, NonNull},
};

use anyhow::{bail, Context, Result};
use aya::maps::Map;
use lb_common::{FlowSet, FLOWS_MAP};

/// The table's sets, mapped read-only; unmapped on drop.
pub struct FlowView {
    sets: NonNull<FlowSet>,
    count: usize,
    len: usize,
}

impl FlowView {
    /// Maps the connection table `map`.
    pub fn of(map: &Map) -> Result<FlowView> {
        let Map::Array(data) = map else {
            bail!("{FLOWS_MAP} is not an array");
        };
        let count = data.info()?.max_entries() as usize;
        // SAFETY: plain libc call.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = (count * size_of::<FlowSet>()).next_multiple_of(page);
        // SAFETY: a fresh read-only shared mapping of the map's fd, the
        // length the kernel allows for an mmapable array of `count` values.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                data.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("mapping {FLOWS_MAP} ({len} bytes)"));
        }
        let sets = NonNull::new(base.cast()).context("mmap returned null")?;
        Ok(FlowView { sets, count, len })
    }

    /// Entries in use.
    pub fn flows(&self) -> usize {
        let mut flows = 0;
        for i in 0..self.count {
            // SAFETY: `i` is within the mapping; the program writes the
            // entries concurrently, so each hash is read as one volatile
            // 8-byte load (a torn set only miscounts).
            let set = unsafe { self.sets.as_ptr().add(i) };
            for way in 0..lb_common::FLOW_WAYS {
                let hash = unsafe { ptr::read_volatile(ptr::addr_of!((*set).ways[way].hash)) };
                flows += usize::from(hash != 0);
            }
        }
        flows
    }
}

impl Drop for FlowView {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `of`, unmapped once.
        unsafe { libc::munmap(self.sets.as_ptr().cast(), self.len) };
    }
}
