//! keepalived's notify FIFOs (`global_defs`: `notify_fifo`,
//! `vrrp_notify_fifo`, `lvs_notify_fifo`, each with a `_script` form), after
//! keepalived's `core/notify.c` (`fifo_open`, `fifo_close`),
//! `vrrp/vrrp_notify.c` (`notify_fifo`) and `check/ipwrapper.c`
//! (`notify_fifo_vs`, `notify_fifo_rs`):
//!
//! * lines: `INSTANCE "VI_1" MASTER 100` / `GROUP "G1" BACKUP 0` (state
//!   MASTER, BACKUP, FAULT or STOP, then the effective priority; 0 for
//!   groups), `VS [192.0.2.1]:tcp:80 UP`, `RS [198.51.100.7]:tcp:80
//!   [192.0.2.1]:tcp:80 DOWN` (see `state::desired` for the LVS lines).
//!   keepalived also writes the C string's terminating NUL after `VS`/`RS`
//!   lines (a bug in `notify_fifo_vs`/`_rs`); lb-daemon writes the line only;
//! * `notify_fifo` gets every line, `vrrp_notify_fifo` the VRRP lines,
//!   `lvs_notify_fifo` the LVS lines; a `vrrp_`/`lvs_` FIFO with the same
//!   path as `notify_fifo` is ignored, as keepalived does;
//! * a missing FIFO is created mode 0644 and given to `USER [GROUP]` of the
//!   keyword, else to the default script user; it is then opened read-write
//!   and non-blocking (so no reader is needed and the daemon never waits on
//!   one) and refused unless it is a FIFO owned by the daemon or that user;
//!   a FIFO the daemon created is removed when it is closed;
//! * the `_script` is run through [`crate::script::run`] (its security rules
//!   and user) with the FIFO's path as its last argument, without time
//!   limit; closing the FIFO gives it end-of-file, and it is killed if it
//!   has not exited [`CLOSE_GRACE`] later;
//! * lines are written whole (shorter than `PIPE_BUF`, so atomic) and in
//!   the order the events happen, one lock serialising every writer; a line
//!   that finds the FIFO full is dropped (keepalived: `EAGAIN` ignored) and
//!   said once in the log until a line gets through again.
use std::{
    fs::{File, OpenOptions},
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use nix::{errno::Errno, sys::stat::Mode, unistd};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{Command, GlobalDefs, NotifyFifo, RunAs};
use crate::script::{self, ScriptEnv};

/// How long a `_script` has, after its FIFO is closed, to exit by itself.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Which lines a FIFO gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    /// `notify_fifo`: VRRP and LVS.
    All,
    /// `vrrp_notify_fifo`.
    Vrrp,
    /// `lvs_notify_fifo`.
    Lvs,
}

/// What configures the FIFOs, to tell whether a reload changes them.
#[derive(Debug, Clone, PartialEq, Default)]
struct Settings {
    fifos: Vec<(Lines, NotifyFifo, Option<Command>)>,
    env: ScriptEnv,
}

impl Settings {
    fn of(globals: &GlobalDefs) -> Settings {
        let mut fifos = Vec::new();
        let mut add = |lines, fifo: &Option<NotifyFifo>, script: &Option<Command>| {
            let Some(fifo) = fifo else { return };
            let global = globals.notify_fifo.as_ref().map(|g| &g.path);
            if lines != Lines::All && global == Some(&fifo.path) {
                info!(
                    "notify FIFO {} has been specified for global and {lines:?} FIFO - ignoring {lines:?} FIFO",
                    fifo.path
                );
                return;
            }
            fifos.push((lines, fifo.clone(), script.clone()));
        };
        add(
            Lines::All,
            &globals.notify_fifo,
            &globals.notify_fifo_script,
        );
        add(
            Lines::Vrrp,
            &globals.vrrp_notify_fifo,
            &globals.vrrp_notify_fifo_script,
        );
        add(
            Lines::Lvs,
            &globals.lvs_notify_fifo,
            &globals.lvs_notify_fifo_script,
        );
        let env = match fifos.is_empty() {
            true => ScriptEnv::default(),
            false => ScriptEnv::new(globals),
        };
        Settings { fifos, env }
    }
}

/// The notify FIFOs of a configuration. Cheap to clone; clones share the
/// open FIFOs, which close with [`Fifos::close`] or the last clone.
#[derive(Debug, Clone, Default)]
pub struct Fifos {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    settings: Settings,
    /// The open FIFOs; the lock orders the lines.
    open: Mutex<Vec<Fifo>>,
}

/// One open FIFO.
#[derive(Debug)]
struct Fifo {
    lines: Lines,
    path: PathBuf,
    file: File,
    created: bool,
    script: Option<JoinHandle<()>>,
    /// The last line found it full (said once until one gets through).
    full: bool,
}

impl Fifos {
    /// Opens (creating them if missing) the FIFOs `globals` configures and
    /// starts their scripts (which needs a tokio runtime). A FIFO that
    /// cannot be used is logged and left out, as keepalived does.
    pub fn open(globals: &GlobalDefs) -> Fifos {
        let settings = Settings::of(globals);
        let open = settings
            .fifos
            .iter()
            .filter_map(|(lines, fifo, script)| {
                match Fifo::open(*lines, fifo, script.as_ref(), &settings.env) {
                    Ok(open) => Some(open),
                    Err(e) => {
                        warn!("notify FIFO {}: {e:#} - not using it", fifo.path);
                        None
                    }
                }
            })
            .collect();
        Fifos {
            inner: Arc::new(Inner {
                settings,
                open: Mutex::new(open),
            }),
        }
    }

    /// Whether `globals` configures these very FIFOs (a reload then keeps
    /// them open, and their scripts running).
    pub fn configured_by(&self, globals: &GlobalDefs) -> bool {
        self.inner.settings == Settings::of(globals)
    }

    /// Writes a VRRP line: `INSTANCE "NAME" STATE PRIORITY`.
    pub fn vrrp(&self, kind: &str, name: &str, state: &str, priority: u8) {
        let line = format!("{kind} \"{name}\" {state} {priority}\n");
        self.write(Lines::Vrrp, &line);
    }

    /// Writes LVS lines (`VS ...`, `RS ...`), in order.
    pub fn lvs(&self, lines: &[String]) {
        for line in lines {
            self.write(Lines::Lvs, line);
        }
    }

    fn write(&self, kind: Lines, line: &str) {
        let mut open = self
            .inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for fifo in open
            .iter_mut()
            .filter(|f| f.lines == kind || f.lines == Lines::All)
        {
            fifo.write(line);
        }
    }

    /// Closes the FIFOs (removing those the daemon created) and waits up to
    /// `grace` for their scripts to exit, killing those that do not.
    pub async fn close(&self, grace: Duration) {
        let open = std::mem::take(
            &mut *self
                .inner
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut scripts = Vec::new();
        for mut fifo in open {
            scripts.extend(fifo.script.take());
        }
        for mut script in scripts {
            if tokio::time::timeout(grace, &mut script).await.is_err() {
                script.abort();
            }
        }
    }
}

impl Fifo {
    fn open(
        lines: Lines,
        config: &NotifyFifo,
        script: Option<&Command>,
        env: &ScriptEnv,
    ) -> Result<Fifo> {
        let path = Path::new("/").join(&config.path);
        let owner = match (&config.user, &env.default_user) {
            (Some(user), _) => Some(RunAs {
                user: user.clone(),
                group: config.group.clone(),
            }),
            (None, default) => default.clone(),
        };
        let (uid, gid) = script::resolve_user(owner.as_ref())?;
        let mode = Mode::S_IRUSR | Mode::S_IWUSR | Mode::S_IRGRP | Mode::S_IROTH;
        let created = match unistd::mkfifo(&path, mode) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(e).context("cannot create it"),
        };
        let opened = open_owned(&path, uid.as_raw());
        if created {
            match &opened {
                Ok(_) => {
                    if let Err(e) = unistd::chown(&path, Some(uid), Some(gid)) {
                        warn!(
                            "notify FIFO {}: cannot give it to {uid}:{gid}: {e}",
                            path.display()
                        );
                    }
                }
                Err(_) => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let mut fifo = Fifo {
            lines,
            file: opened?,
            path,
            created,
            script: None,
            full: false,
        };
        fifo.script = script.map(|command| fifo.start(command, env));
        Ok(fifo)
    }

    /// Runs `command` with the FIFO's path as its last argument.
    fn start(&self, command: &Command, env: &ScriptEnv) -> JoinHandle<()> {
        let user = command.user.clone().map(|user| RunAs {
            user,
            group: command.group.clone(),
        });
        let (script, env) = (command.script.clone(), env.clone());
        let args = [self.path.to_string_lossy().into_owned()];
        tokio::spawn(async move {
            match script::run(&script, &args, user.as_ref(), &env, Duration::MAX).await {
                Ok(outcome) => info!(
                    "notify FIFO script {script} exited (status {:?})",
                    outcome.code
                ),
                Err(e) => warn!("notify FIFO script {script}: {e:#}"),
            }
        })
    }

    fn write(&mut self, line: &str) {
        match unistd::write(&self.file, line.as_bytes()) {
            Ok(_) if self.full => {
                self.full = false;
                info!("notify FIFO {} is read again", self.path.display());
            }
            Ok(_) => {}
            Err(Errno::EAGAIN) if !self.full => {
                self.full = true;
                warn!(
                    "notify FIFO {} is full (its reader is not keeping up): lines are dropped",
                    self.path.display()
                );
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => warn!("notify FIFO {} write error: {e}", self.path.display()),
        }
    }
}

/// Opens `path` read-write, non-blocking, not following a symlink, and
/// checks that it is a FIFO owned by the daemon or by `owner`.
fn open_owned(path: &Path, owner: u32) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .context("cannot open it")?;
    let meta = file.metadata().context("cannot stat it")?;
    let ours = meta.uid() == unistd::geteuid().as_raw() || meta.uid() == owner;
    if !meta.file_type().is_fifo() || !ours {
        bail!("not a FIFO owned by the daemon or its user");
    }
    Ok(file)
}

impl Drop for Fifo {
    /// Removes a FIFO the daemon created first, so that a script reopening
    /// it in a loop cannot find it again (keepalived's order); the
    /// descriptor closes after.
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Some(script) = self.script.take() {
            script.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    fn globals(dir: &Path) -> GlobalDefs {
        let fifo = |name: &str| NotifyFifo {
            path: dir.join(name).to_string_lossy().into_owned(),
            user: None,
            group: None,
        };
        GlobalDefs {
            notify_fifo: Some(fifo("all")),
            vrrp_notify_fifo: Some(fifo("vrrp")),
            lvs_notify_fifo: Some(fifo("lvs")),
            ..Default::default()
        }
    }

    fn reader(path: &Path) -> BufReader<File> {
        BufReader::new(File::open(path).unwrap())
    }

    fn line(reader: &mut BufReader<File>) -> String {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    }

    #[test]
    fn each_fifo_gets_its_lines_in_order_and_created_ones_go_at_close() {
        let dir = tempfile::tempdir().unwrap();
        let fifos = Fifos::open(&globals(dir.path()));
        let (mut all, mut vrrp, mut lvs) = (
            reader(&dir.path().join("all")),
            reader(&dir.path().join("vrrp")),
            reader(&dir.path().join("lvs")),
        );
        fifos.vrrp("INSTANCE", "VI_1", "MASTER", 100);
        fifos.lvs(&["VS [192.0.2.1]:tcp:80 UP\n".into()]);
        fifos.vrrp("GROUP", "G1", "BACKUP", 0);
        assert_eq!(line(&mut all), "INSTANCE \"VI_1\" MASTER 100\n");
        assert_eq!(line(&mut all), "VS [192.0.2.1]:tcp:80 UP\n");
        assert_eq!(line(&mut all), "GROUP \"G1\" BACKUP 0\n");
        assert_eq!(line(&mut vrrp), "INSTANCE \"VI_1\" MASTER 100\n");
        assert_eq!(line(&mut vrrp), "GROUP \"G1\" BACKUP 0\n");
        assert_eq!(line(&mut lvs), "VS [192.0.2.1]:tcp:80 UP\n");
        assert!(fifos.configured_by(&globals(dir.path())));
        let mode = std::fs::metadata(dir.path().join("all")).unwrap().mode();
        assert_eq!(mode & 0o133, 0, "at most rw-r--r--: {mode:o}");
        drop(fifos);
        assert!(!dir.path().join("all").exists(), "created, so removed");
        assert_eq!(line(&mut all), "", "end of file once closed");
    }

    #[test]
    fn a_regular_file_is_refused_and_a_duplicate_path_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut defs = globals(dir.path());
        std::fs::write(dir.path().join("lvs"), "").unwrap();
        defs.vrrp_notify_fifo = defs.notify_fifo.clone();
        let fifos = Fifos::open(&defs);
        assert_eq!(
            fifos.inner.open.lock().unwrap().len(),
            1,
            "only notify_fifo"
        );
        drop(fifos);
        assert!(dir.path().join("lvs").exists(), "not ours to remove");
    }
}
