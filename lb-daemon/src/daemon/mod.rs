//! Running in the foreground: the runtime directory, the control socket,
//! signals (SIGTERM/SIGINT stop, SIGHUP re-reads the configuration, SIGUSR1,
//! SIGUSR2 and the JSON signal write keepalived's dumps; see
//! [`crate::signals`]), and the parts that run the configuration.
mod bgp;
mod dump;
mod fast_path;
mod lvs;
mod pid_files;
pub mod runtime_dir;
mod secrets;
mod statics;
mod status;
pub mod systemd;

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use anyhow::{Context, Result};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::{
    cli::{RunArgs, Subsystems},
    config,
    control::{
        server::{Policy, Query, Server},
        Request as ControlRequest,
    },
    dataplane::{ipvs::SyncReconciler, xdp::Reconciler},
    firewall::{self, Firewall},
    metrics,
    netlink::Netlink,
    notify::{
        fifo::{Fifos, CLOSE_GRACE},
        Notifier,
    },
    script::ScriptEnv,
    signals::{Request, Signals},
    state::ownership::Publisher,
    track::Tracking,
    vrrp::{engine::Engine, vip_record, vip_record::VipRecord},
};
use pid_files::PidFiles;
use runtime_dir::{Access, RuntimeDir};
use statics::Statics;
use systemd::Systemd;

/// How long a stopping daemon waits for notify scripts and mail in flight.
const NOTIFY_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The configuration in force and where it came from.
struct Running {
    path: PathBuf,
    /// Shared with status requests, which render it on another thread.
    config: Arc<config::Config>,
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
    /// `static_ipaddress`, `static_routes` and `static_rules`.
    statics: Statics,
    /// The XDP fast path, once a configuration asked for it.
    fast_path: Option<Reconciler>,
    /// The nftables rules of instances not in accept mode.
    firewall: Firewall,
    /// The IPVS connection sync daemons (`lvs_sync_daemon`).
    sync: SyncReconciler,
    /// The BGP announcer, while a configuration has a `bgp_speaker`.
    bgp: Option<crate::bgp::Announcer>,
    /// Where the maps are pinned (from the runtime directory).
    runtime_dir: PathBuf,
    /// What runs (-P, -C): each loaded configuration is cut to it.
    subsystems: Subsystems,
}

impl Running {
    /// The service manager's one-line `STATUS=` (see [`systemd::summary`]).
    fn summary(&self) -> String {
        let states: Vec<_> = self.vrrp.status().iter().map(|i| i.state).collect();
        let lvs = self.lvs.as_ref().map(lvs::Lvs::counts).unwrap_or_default();
        let failed = self.last_reload.as_ref().is_some_and(|r| r.error.is_some());
        systemd::summary(&states, lvs, self.generation, failed)
    }

    /// Resolves once the state of the running configuration is programmed:
    /// every VRRP instance started, IPVS and the fast path had their first
    /// pass.
    fn programmed(&self) -> impl Future<Output = ()> + Send + 'static {
        let vrrp = self.vrrp.started();
        let ipvs = self.lvs.as_ref().map(lvs::Lvs::programmed);
        let xdp = self.fast_path.as_ref().map(Reconciler::programmed);
        async move {
            vrrp.await;
            if let Some(ipvs) = ipvs {
                ipvs.await;
            }
            if let Some(xdp) = xdp {
                xdp.await;
            }
        }
    }

    /// SIGHUP: applies the file's new content, or keeps the running
    /// configuration and says why when the new one is invalid.
    async fn reload(&mut self) {
        info!("Reloading configuration from {}", self.path.display());
        match load_logged(&self.path, self.subsystems) {
            Ok(config) => {
                if config.global_defs.metrics_listen != self.config.global_defs.metrics_listen {
                    warn!("metrics_listen changed: it takes effect when lb-daemon restarts");
                }
                if config.global_defs.fast_path_flows != self.config.global_defs.fast_path_flows
                    && self.fast_path.is_some()
                {
                    warn!("fast_path_flows changed: it takes effect when lb-daemon restarts");
                }
                self.statics
                    .follow(&self.config, &config, &self.netlink)
                    .await;
                self.config = Arc::new(config);
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
                self.firewall.follow(firewall::settings(&self.config));
                self.vrrp
                    .reload(&self.config, &self.tracking, self.notifier.clone())
                    .await;
                self.sync.follow(&self.config);
                if let Some(old) = self.lvs.take() {
                    let lvs = old
                        .reload(&self.config, self.ownership.subscribe(), &self.fifos)
                        .await;
                    crate::bgp::standby(&self.config, &self.ownership);
                    self.follow_fast_path(&lvs);
                    self.lvs = Some(lvs);
                }
                let parts = bgp::Parts {
                    config: &self.config,
                    lvs: self.lvs.as_ref(),
                    tracking: &self.tracking,
                    ownership: &self.ownership,
                    netlink: &self.netlink,
                    runtime_dir: &self.runtime_dir,
                };
                bgp::reload(&mut self.bgp, &parts).await;
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

    /// Answers a control socket request; the status document is completed
    /// (IPVS read) off this loop.
    fn answer(&self, query: Query) {
        match query.request {
            ControlRequest::Status => answer(query.reply, self.status_document()),
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
                    self.config.global_defs.fast_path_flows,
                )
            }
        }
    }
}

/// Sends `document` to `reply` once it is complete (control socket queries
/// and metrics scrapes), without holding the main loop.
fn answer<T: Send + 'static>(
    reply: tokio::sync::oneshot::Sender<T>,
    document: impl Future<Output = T> + Send + 'static,
) {
    tokio::spawn(async move { reply.send(document.await) });
}

/// Loads `path`, logging its warnings, and keeps what `subsystems` run;
/// the error lists every problem found.
pub fn load_logged(path: &Path, subsystems: Subsystems) -> Result<config::Config> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                warn!("{w}");
            }
            Ok(subsystems.select(loaded.config))
        }
        Err(diags) => Err(anyhow::Error::new(diags))
            .with_context(|| format!("configuration {} is invalid", path.display())),
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: &RunArgs) -> Result<()> {
    // SAFETY: no thread has started yet (the runtime is built below).
    let systemd = unsafe { Systemd::from_env() };
    crate::signals::unblock_handled()?;
    let config = load_logged(&args.config, args.subsystems)?;
    let runtime = RuntimeDir::acquire(&args.runtime_dir)?;
    let _pid_files = PidFiles::write(args.pid_files())?;
    crate::limits::raise_nofile();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve(runtime, config, args, systemd))
}

async fn serve(
    runtime: RuntimeDir,
    config: config::Config,
    args: &RunArgs,
    mut systemd: Systemd,
) -> Result<()> {
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
    let listen = metrics::listen_address(args.metrics_listen, &config);
    let (metrics, mut scrapes) = metrics::Server::start(listen)?;
    let mut signals = Signals::install()?;
    info!(
        "Starting lb-daemon {} (pid {}), configuration {}, control socket {}, running {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        path.display(),
        socket.display(),
        args.subsystems.describe()
    );
    let (ownership, _) = Publisher::new();
    // Before the instances start: a named instance's backup daemon runs
    // from the start, as keepalived's does.
    let sync = SyncReconciler::start(&config, ownership.subscribe());
    let ipvs = lvs::IpvsOptions {
        dont_release: args.dont_release_ipvs,
        record: runtime.file(crate::dataplane::ipvs::record::FILE),
    };
    // Without the checkers (-P), IPVS and the fast path are not touched.
    let fifos = Fifos::open(&config.global_defs);
    let lvs = args
        .subsystems
        .checkers
        .then(|| lvs::Lvs::start(&config, ownership.subscribe(), ipvs, &fifos));
    let netlink = Netlink::connect()?;
    let tracking = Tracking::start(
        &config,
        netlink.clone(),
        ScriptEnv::new(&config.global_defs),
    );
    let notifier = Notifier::with_fifos(&config, fifos.clone());
    // Before any instance runs: what a killed run left is nobody's now.
    let vip_record = VipRecord::at(runtime.file(vip_record::FILE));
    vip_record.remove_leftovers(&netlink).await;
    let statics = Statics::install(&config, &netlink).await;
    // Its gate must be registered before an instance can become MASTER.
    let firewall = Firewall::start(firewall::settings(&config), &ownership);
    let vrrp = Engine::start(
        &config,
        netlink.clone(),
        vip_record,
        ownership.clone(),
        &tracking,
        notifier.clone(),
    );
    crate::bgp::standby(&config, &ownership);
    let fast_path = lvs.as_ref().and_then(|lvs| {
        fast_path::start(
            lvs.desired(),
            &ownership,
            netlink.clone(),
            runtime.path(),
            config.global_defs.fast_path_flows,
        )
    });
    let config = Arc::new(config);
    let bgp = bgp::start(&bgp::Parts {
        config: &config,
        lvs: lvs.as_ref(),
        tracking: &tracking,
        ownership: &ownership,
        netlink: &netlink,
        runtime_dir: runtime.path(),
    })
    .await;
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
        lvs,
        ownership,
        statics,
        fast_path,
        firewall,
        sync,
        bgp,
        runtime_dir: runtime.path().to_owned(),
        subsystems: args.subsystems,
    };
    if args.dump_conf {
        running.dump(Request::Data);
    }
    let startup = running.programmed();
    tokio::pin!(startup);
    let mut started = false;
    let mut ticker = systemd.ticker();
    loop {
        tokio::select! {
            () = &mut startup, if !started => {
                started = true;
                info!("Configuration programmed, ready");
                systemd.ready(running.summary());
            }
            // From this loop, so that a wedged loop stops the watchdog pings.
            () = systemd::next_tick(&mut ticker) => systemd.tick(running.summary()),
            request = signals.next() => match request {
                Request::Stop(name) => {
                    info!("Received {name}, stopping");
                    systemd.stopping();
                    break;
                }
                Request::Reload => {
                    systemd.reloading();
                    running.reload().await;
                    systemd.reloaded(running.summary());
                }
                dump => running.dump(dump),
            },
            Some(query) = queries.recv() => running.answer(query),
            Some(scrape) = scrapes.recv() => answer(scrape.reply, running.metrics_sources()),
            changes = running.statics.changed() => {
                running.statics.reinstate(&running.netlink, &changes).await
            }
        }
    }
    control.stop();
    if let Some(metrics) = metrics {
        metrics.stop();
    }
    if let Some(bgp) = running.bgp.take() {
        bgp.shutdown().await;
    }
    if let Some(lvs) = running.lvs.take() {
        lvs.shutdown().await;
    }
    // Before the instances leave MASTER: their stop must not start a
    // backup daemon on the way out (keepalived stops its daemon first too).
    running.sync.stop().await;
    running.vrrp.shutdown().await;
    running.firewall.shutdown().await;
    running.statics.remove(&running.netlink).await;
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
