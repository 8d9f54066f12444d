//! Programs the firewall tables: one task following the [`Settings`] (new
//! on reload) and VIP ownership, acting as an ownership gate so that a new
//! MASTER's addresses enter the drop sets before the addresses are added.
//!
//! Each pass computes the whole desired [`Ruleset`] and runs one `nft -f`
//! transaction: a full replacement (at start, which also removes what a
//! killed daemon left, after a layout change and after any failure), or a
//! refill of the sets when only addresses moved (rules and counters stay).
//! A failure is logged as an error and retried; it never holds VRRP back:
//! the gate is released either way, so a MASTER always gets its addresses.
use std::{process::Stdio, time::Duration};

use anyhow::{bail, Context, Result};
use tokio::{
    io::AsyncWriteExt,
    process::Command,
    sync::{oneshot, watch},
    task::JoinHandle,
};
use tracing::{error, info};

use super::{
    ruleset::{remove, Ruleset},
    Settings,
};
use crate::state::ownership::{Gate, Ownership, Publisher};

/// The `nft` program (Debian: package nftables).
const NFT: &str = "nft";
/// Longest wait for one `nft` run.
const NFT_TIMEOUT: Duration = Duration::from_secs(10);
/// Delay before a failed pass is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// The running firewall reconciler.
pub struct Firewall {
    settings: watch::Sender<Option<Settings>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Firewall {
    /// Starts following `settings` and `ownership` (and registers the
    /// gate, so start it before the VRRP instances).
    pub fn start(settings: Option<Settings>, ownership: &Publisher) -> Firewall {
        let (tx, rx) = watch::channel(settings);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(
            rx,
            ownership.subscribe(),
            ownership.gate("the nftables firewall"),
            stopped,
        ));
        Firewall {
            settings: tx,
            stop,
            task,
        }
    }

    /// Follows the settings of a reloaded configuration.
    pub fn follow(&self, settings: Option<Settings>) {
        self.settings.send_if_modified(|current| {
            let changed = *current != settings;
            *current = settings;
            changed
        });
    }

    /// Removes the tables and stops (after VRRP removed the addresses).
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The reconciler's loop.
async fn run(
    mut settings: watch::Receiver<Option<Settings>>,
    mut ownership: watch::Receiver<Ownership>,
    gate: Gate,
    mut stopped: oneshot::Receiver<()>,
) {
    // What the kernel holds, as far as this process knows (`None`: unknown
    // or nothing, so the next pass replaces the tables whole).
    let mut applied: Option<Ruleset> = None;
    let mut failing = false;
    loop {
        let owned = ownership.borrow_and_update().clone();
        let wanted = settings
            .borrow_and_update()
            .as_ref()
            .map(|s| Ruleset::new(s, &owned));
        match pass(&mut applied, wanted).await {
            Ok(()) if failing => {
                failing = false;
                info!("nftables firewall programmed again");
            }
            Ok(()) => {}
            Err(e) => {
                failing = true;
                error!(
                    "nftables firewall: {e:#}; the virtual addresses are held regardless, \
                     but traffic to them is not dropped until this succeeds (retrying in {RETRY:?})"
                );
            }
        }
        gate.acted_on(&owned);
        tokio::select! {
            changed = ownership.changed() => if changed.is_err() { break },
            changed = settings.changed() => if changed.is_err() { break },
            () = tokio::time::sleep(RETRY), if failing => {}
            _ = &mut stopped => break,
        }
    }
    if let Some(applied) = applied {
        match nft(&remove(&applied.table)).await {
            Ok(()) => info!("nftables firewall: removed table {}", applied.table),
            Err(e) => error!("nftables firewall: removing table {}: {e:#}", applied.table),
        }
    }
}

/// Brings the kernel from `applied` to `wanted` with one transaction.
async fn pass(applied: &mut Option<Ruleset>, wanted: Option<Ruleset>) -> Result<()> {
    let script = match (&*applied, &wanted) {
        (None, None) => None,
        (Some(old), None) => Some(remove(&old.table)),
        (Some(old), Some(new)) if old == new => None,
        (Some(old), Some(new)) if old.layout() == new.layout() => Some(new.refill()),
        (old, Some(new)) => Some(new.replace(old.as_ref().map(|o| o.table.as_str()))),
    };
    if let Some(script) = script {
        let result = nft(&script).await;
        if result.is_err() {
            // Unknown now: the next pass replaces the tables whole.
            *applied = None;
            return result;
        }
        if applied.is_none() {
            if let Some(new) = &wanted {
                info!("nftables firewall: table {} programmed", new.table);
            }
        }
    }
    *applied = wanted;
    Ok(())
}

/// Runs `script` with `nft -f -` (one atomic transaction).
async fn nft(script: &str) -> Result<()> {
    let mut child = Command::new(NFT)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {NFT} (is the nftables package installed?)"))?;
    let mut stdin = child.stdin.take().context("nft stdin")?;
    // nft's own words say more than a broken pipe when it exits early.
    let written = stdin.write_all(script.as_bytes()).await;
    drop(stdin);
    let output = tokio::time::timeout(NFT_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| format!("nft did not finish within {NFT_TIMEOUT:?}"))?
        .context("waiting for nft")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("nft failed ({}): {}", output.status, stderr.trim());
    }
    written.context("writing to nft")
}
