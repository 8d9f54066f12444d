//! Running in the foreground: the runtime directory, the control socket,
//! signals (SIGTERM/SIGINT stop, SIGHUP re-reads the configuration, SIGUSR1,
//! SIGUSR2 and the JSON signal write keepalived's dumps; see
//! [`crate::signals`]), and the parts that run the configuration.
mod dump;
mod fast_path;
mod lvs;
pub mod runtime_dir;
mod secrets;
mod status;

use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};

use anyhow::{Context, Result};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::{
    cli::RunArgs,
    config,
    control::{
        server::{Policy, Query, Server},
        Request as ControlRequest,
    },
    dataplane::xdp::Reconciler,
    netlink::Netlink,
    notify::{
        fifo::{Fifos, CLOSE_GRACE},
        Notifier,
    },
    script::ScriptEnv,
    signals::{Request, Signals},
    state::ownership::Publisher,
    track::Tracking,
    vrrp::engine::Engine,
};
use runtime_dir::{Access, RuntimeDir};

/// How long a stopping daemon waits for notify scripts and mail in flight.
const NOTIFY_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The configuration in force and where it came from.
struct Running {
    path: PathBuf,
    config: config::Config,
    /// 1 for the configuration read at start, +1 for every successful reload.
    generation: u64,
    loaded_at: SystemTime,
    /// The last SIGHUP reload, if any.
    last_reload: Option<status::Reload>,
    /// The VRRP instances.
    vrrp: Engine,
    /// The trackers (vrrp_script, track_interface, track_file).
    tracking: Tracking,
    netlink: Netlink,
    /// Notify scripts and mail of the configuration in force.
    notifier: Notifier,
    /// The notify FIFOs (kept open across reloads that keep them).
    fifos: Fifos,
    /// Health checkers and the desired state (taken out during a reload).
    lvs: Option<lvs::Lvs>,
    /// VIP ownership, which `ha_suspend` and the fast path follow.
    ownership: Publisher,
    /// The XDP fast path, once a configuration asked for it.
    fast_path: Option<Reconciler>,
    /// Where the maps are pinned (from the runtime directory).
    runtime_dir: PathBuf,
}

impl Running {
    /// SIGHUP: applies the file's new content, or keeps the running
    /// configuration and says why when the new one is invalid.
    async fn reload(&mut self) {
        info!("Reloading configuration from {}", self.path.display());
        match load_logged(&self.path) {
            Ok(config) => {
                self.config = config;
                self.generation += 1;
                self.loaded_at = SystemTime::now();
                self.last_reload = Some(status::Reload {
                    at: self.loaded_at,
                    error: None,
                });
                let env = ScriptEnv::new(&self.config.global_defs);
                let tracking = Tracking::start(&self.config, self.netlink.clone(), env);
                std::mem::replace(&mut self.tracking, tracking)
                    .shutdown()
                    .await;
                if !self.fifos.configured_by(&self.config.global_defs) {
                    self.fifos.close(CLOSE_GRACE).await;
                    self.fifos = Fifos::open(&self.config.global_defs);
                }
                self.notifier = Notifier::with_fifos(&self.config, self.fifos.clone());
                self.vrrp
                    .reload(&self.config, &self.tracking, self.notifier.clone())
                    .await;
                if let Some(old) = self.lvs.take() {
                    let lvs = old
                        .reload(&self.config, self.ownership.subscribe(), &self.fifos)
                        .await;
                    self.follow_fast_path(&lvs);
                    self.lvs = Some(lvs);
                }
                info!("Configuration reloaded (generation {})", self.generation);
            }
            Err(e) => {
                error!(
                    "Reload failed, keeping the running configuration (generation {}):\n{e:#}",
                    self.generation
                );
                self.last_reload = Some(status::Reload {
                    at: SystemTime::now(),
                    error: Some(format!("{e:#}")),
                });
            }
        }
    }
}

impl Running {
    /// Answers a control socket request; the status document is completed
    /// (IPVS read) off this loop.
    fn answer(&self, query: Query) {
        match query.request {
            ControlRequest::Status => {
                let status = self.status_document();
                tokio::spawn(async move { query.reply.send(status.await) });
            }
            ControlRequest::Drain {
                service,
                server,
                drained,
            } => {
                let _ = query.reply.send(self.drain(service, server, drained));
            }
        }
    }

    /// Writes the dump a signal asked for into the runtime directory, off
    /// this thread (a slow or full disk must not hold the VRRP engine up).
    fn dump(&self, request: Request) {
        let (name, render): (_, fn(&Value) -> String) = match request {
            Request::Data => (dump::DATA, dump::data),
            Request::Json => (dump::JSON, dump::json),
            Request::Stats => (dump::STATS, dump::stats),
            Request::StatsClear => {
                info!("STATS_CLEAR: writing the stats; lb-daemon's counters are cumulative and are not reset");
                (dump::STATS, dump::stats)
            }
            Request::Stop(_) | Request::Reload => return,
        };
        let (status, dir) = (self.status_document(), self.runtime_dir.clone());
        tokio::spawn(async move {
            let content = render(&status.await);
            let written =
                tokio::task::spawn_blocking(move || dump::write(&dir, name, &content)).await;
            match written {
                Ok(Ok(path)) => info!("Wrote {request:?} dump to {}", path.display()),
                Ok(Err(e)) => error!("{request:?} dump: {e:#}"),
                Err(e) => error!("{request:?} dump: {e}"),
            }
        });
    }

    /// Points the fast path at `lvs`'s desired state, starting it if this
    /// is the first configuration asking for it.
    fn follow_fast_path(&mut self, lvs: &lvs::Lvs) {
        match &self.fast_path {
            Some(fast_path) => fast_path.follow(lvs.desired()),
            None => {
                self.fast_path = fast_path::start(
                    lvs.desired(),
                    &self.ownership,
                    self.netlink.clone(),
                    &self.runtime_dir,
                )
            }
        }
    }
}

/// Loads `path`, logging its warnings; the error lists every problem found.
pub fn load_logged(path: &Path) -> Result<config::Config> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                warn!("{w}");
            }
            Ok(loaded.config)
        }
        Err(diags) => Err(anyhow::Error::new(diags))
            .with_context(|| format!("configuration {} is invalid", path.display())),
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: &RunArgs) -> Result<()> {
    crate::signals::unblock_handled()?;
    let config = load_logged(&args.config)?;
    let runtime = RuntimeDir::acquire(&args.runtime_dir)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve(runtime, config, args))
}

async fn serve(runtime: RuntimeDir, config: config::Config, args: &RunArgs) -> Result<()> {
    let path = args.config.clone();
    let policy = Policy {
        allowed_uids: args.control_allow_uid.clone(),
    };
    let access = match policy.allowed_uids.is_empty() {
        true => Access::Private,
        false => Access::Shared,
    };
    let socket = runtime.socket_path();
    let (control, mut queries) = Server::start(runtime.bind_socket(access)?, policy)?;
    let mut signals = Signals::install()?;
    info!(
        "Starting lb-daemon {} (pid {}), configuration {}, control socket {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        path.display(),
        socket.display()
    );
    let (ownership, _) = Publisher::new();
    let ipvs = lvs::IpvsOptions {
        dont_release: args.dont_release_ipvs,
        record: runtime.file(crate::dataplane::ipvs::record::FILE),
    };
    let fifos = Fifos::open(&config.global_defs);
    let lvs = lvs::Lvs::start(&config, ownership.subscribe(), ipvs, &fifos);
    let netlink = Netlink::connect()?;
    let tracking = Tracking::start(
        &config,
        netlink.clone(),
        ScriptEnv::new(&config.global_defs),
    );
    let notifier = Notifier::with_fifos(&config, fifos.clone());
    let vrrp = Engine::start(
        &config,
        netlink.clone(),
        ownership.clone(),
        &tracking,
        notifier.clone(),
    );
    let fast_path = fast_path::start(lvs.desired(), &ownership, netlink.clone(), runtime.path());
    let mut running = Running {
        path,
        config,
        generation: 1,
        loaded_at: SystemTime::now(),
        last_reload: None,
        vrrp,
        tracking,
        netlink,
        notifier,
        fifos,
        lvs: Some(lvs),
        ownership,
        fast_path,
        runtime_dir: runtime.path().to_owned(),
    };
    loop {
        tokio::select! {
            request = signals.next() => match request {
                Request::Stop(name) => { info!("Received {name}, stopping"); break; }
                Request::Reload => running.reload().await,
                dump => running.dump(dump),
            },
            Some(query) = queries.recv() => running.answer(query),
        }
    }
    control.stop();
    if let Some(lvs) = running.lvs.take() {
        lvs.shutdown().await;
    }
    running.vrrp.shutdown().await;
    if let Some(fast_path) = running.fast_path.take() {
        fast_path.shutdown().await;
    }
    running.tracking.shutdown().await;
    running.notifier.drain(NOTIFY_DRAIN).await;
    running.fifos.close(CLOSE_GRACE).await;
    drop(runtime);
    info!("Stopped");
    Ok(())
}
