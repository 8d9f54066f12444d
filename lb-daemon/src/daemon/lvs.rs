//! The LVS half of the running daemon: the health-checker engine feeding the
//! desired-state model, and the IPVS reconciler programming it.
use std::{
    collections::BTreeSet, future::Future, net::SocketAddr, path::PathBuf, sync::Arc,
    time::Duration,
};

use serde_json::{json, Value};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    check::engine::CheckerEngine,
    config::{Config, LvsFlushOnStop},
    dataplane::ipvs::{self, OnStop, Reconciler},
    notify::fifo::Fifos,
    script::ScriptEnv,
    state::{
        desired::{self, DesiredPublisher, Drained, ServiceRef},
        ownership::Ownership,
    },
};

/// How long stopping waits for the `omega` commands of the desired state.
const OMEGA_GRACE: Duration = Duration::from_secs(10);

/// The runtime health checks run on (threads named `lb-checks`), one per
/// CPU: at 10,000 real servers checked every second the checks alone keep
/// a core busy, which on the daemon's own thread would delay VRRP adverts.
/// `None` (the checks then share the daemon's thread) if it cannot start.
fn checks_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("lb-checks")
                .enable_all()
                .build()
                .map_err(|e| tracing::error!("health checks share the daemon's thread: {e}"))
                .ok()
        })
        .as_ref()
}

/// Checkers and the desired state of one configuration, and the IPVS
/// reconciler, which outlives reloads.
pub struct Lvs {
    checks: CheckerEngine,
    desired: DesiredPublisher,
    task: JoinHandle<()>,
    /// Follows VIP ownership to pause `ha_suspend` services' checks.
    suspend: JoinHandle<()>,
    ipvs: Reconciler,
}

/// What the reconciler needs from outside the configuration.
pub struct IpvsOptions {
    /// `--dont-release-ipvs`.
    pub dont_release: bool,
    /// Where to record the services it programmed.
    pub record: PathBuf,
}

impl Lvs {
    /// Starts checking every real server of `config` (inside a tokio
    /// runtime) and programming IPVS; `ownership` tells which VIPs this
    /// node holds.
    pub fn start(
        config: &Config,
        ownership: watch::Receiver<Ownership>,
        options: IpvsOptions,
        fifos: &Fifos,
    ) -> Lvs {
        let (checks, desired, task, suspend) =
            Lvs::checked(config, ownership, &desired::Carried::default(), fifos);
        let on_stop = match (options.dont_release, config.global_defs.lvs_flush_onstop) {
            (true, _) => OnStop::Keep,
            (false, Some(LvsFlushOnStop::Full)) => OnStop::FlushAll,
            (false, Some(LvsFlushOnStop::Vs) | None) => OnStop::RemoveOwn,
        };
        let settings = ipvs::Settings {
            flush_at_start: config.global_defs.lvs_flush,
            on_stop,
            timeouts: config
                .global_defs
                .lvs_timeouts
                .as_ref()
                .map(|t| ipvs::Timeouts {
                    tcp: t.tcp.unwrap_or(0),
                    tcp_fin: t.tcpfin.unwrap_or(0),
                    udp: t.udp.unwrap_or(0),
                }),
            record: Some(options.record),
        };
        let ipvs = Reconciler::start(config, desired.subscribe(), settings);
        Lvs {
            checks,
            desired,
            task,
            suspend,
            ipvs,
        }
    }

    /// The checkers, the desired-state model and its task, and the
    /// `ha_suspend` follower of `config`, starting from `carried` verdicts;
    /// state changes are written to `fifos`.
    fn checked(
        config: &Config,
        mut ownership: watch::Receiver<Ownership>,
        carried: &desired::Carried,
        fifos: &Fifos,
    ) -> (
        CheckerEngine,
        DesiredPublisher,
        JoinHandle<()>,
        JoinHandle<()>,
    ) {
        let env = ScriptEnv::new(&config.global_defs);
        let shared = Arc::new(config.clone());
        let suspended_now = |o: &Ownership| desired::suspended(&shared, o);
        let (suspended_tx, suspended) =
            watch::channel(suspended_now(&ownership.borrow_and_update()));
        let follow = Arc::clone(&shared);
        let suspend = tokio::spawn(async move {
            while ownership.changed().await.is_ok() {
                let now: BTreeSet<usize> =
                    desired::suspended(&follow, &ownership.borrow_and_update());
                suspended_tx.send_if_modified(|s| std::mem::replace(s, now.clone()) != now);
            }
        });
        // The checks run on a runtime of their own: thousands of them must
        // never delay the VRRP engine's adverts on the daemon's thread.
        let (checks, verdicts) = {
            let _checks_runtime = checks_runtime().map(tokio::runtime::Runtime::enter);
            CheckerEngine::start_carrying(config, env.clone(), suspended, carried)
        };
        let (desired, _) = desired::channel_carrying(config, carried);
        let task = desired.spawn_notifying(verdicts, env, fifos.clone());
        (checks, desired, task, suspend)
    }

    /// The desired state this configuration's checkers drive.
    pub fn desired(&self) -> watch::Receiver<desired::DesiredState> {
        self.desired.subscribe()
    }

    /// Virtual servers with their real servers' verdicts and weights, and
    /// every checker's state. Only copying the state happens on the
    /// caller's thread; the document (tens of milliseconds at thousands of
    /// real servers) is built on a blocking-pool thread, so a status request
    /// or a scrape never holds up the daemon's loop.
    pub fn status(&self) -> impl Future<Output = Value> + Send + 'static {
        let model = self.desired.snapshot();
        let checkers = self.checks.snapshot();
        async move {
            let build = move || {
                json!({
                    "virtual_servers": model.status()["virtual_servers"],
                    "checkers": checkers.to_json(),
                })
            };
            tokio::task::spawn_blocking(build)
                .await
                .unwrap_or_else(|e| json!({ "error": format!("status not built: {e}") }))
        }
    }

    /// What a metrics scrape renders of the LVS part: snapshots of the
    /// model and checkers (taken on the caller's thread, a copy each) and
    /// IPVS's counters (dumped on a blocking-pool thread).
    pub fn metrics(&self) -> impl Future<Output = crate::metrics::Lvs> + Send + 'static {
        let model = self.desired.snapshot();
        let checkers = self.checks.snapshot();
        let ipvs = self.ipvs.traffic();
        async move {
            crate::metrics::Lvs {
                model,
                checkers,
                ipvs: ipvs.await,
            }
        }
    }

    /// Virtual servers whose checkers have not all made a first attempt.
    pub fn unchecked(&self) -> watch::Receiver<BTreeSet<usize>> {
        self.checks.unchecked()
    }

    /// Virtual and real servers and the alive ones, for one-line summaries.
    pub fn counts(&self) -> desired::Counts {
        self.desired.counts()
    }

    /// Drains or undrains a real server (see [`DesiredPublisher::set_drained`]);
    /// both data planes follow the published result.
    pub fn drain(
        &self,
        service: ServiceRef,
        server: SocketAddr,
        drained: bool,
    ) -> Result<Drained, String> {
        self.desired.set_drained(service, server, drained)
    }

    /// What IPVS holds next to what is desired (see [`Reconciler::status`]).
    pub fn ipvs_status(&self) -> impl Future<Output = Value> + Send + 'static {
        self.ipvs.status()
    }

    /// Resolves once IPVS had its first pass (see [`Reconciler::programmed`]).
    pub fn programmed(&self) -> impl Future<Output = ()> + Send + 'static {
        self.ipvs.programmed()
    }

    /// Replaces the checkers and model with those of a new configuration;
    /// real servers still configured keep their verdicts, and the
    /// reconciler follows the new model, changing only what differs.
    /// Commands meant for a real stop (`omega`) do not run on a reload.
    pub async fn reload(
        self,
        config: &Config,
        ownership: watch::Receiver<Ownership>,
        fifos: &Fifos,
    ) -> Lvs {
        self.task.abort();
        self.suspend.abort();
        self.checks.shutdown().await;
        let carried = self.desired.carried();
        let (checks, desired, task, suspend) = Lvs::checked(config, ownership, &carried, fifos);
        self.ipvs.follow(config, desired.subscribe());
        Lvs {
            checks,
            desired,
            task,
            suspend,
            ipvs: self.ipvs,
        }
    }

    /// Stops the checkers, lets the model run its `omega` commands, then
    /// releases IPVS as configured.
    pub async fn shutdown(self) {
        self.suspend.abort();
        self.checks.shutdown().await;
        let _ = tokio::time::timeout(OMEGA_GRACE, self.task).await;
        self.ipvs.stop().await;
    }
}
