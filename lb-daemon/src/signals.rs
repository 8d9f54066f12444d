//! The signals the daemon answers, as keepalived does (`keepalived --signum`
//! names): STOP (SIGTERM, and SIGINT), RELOAD (SIGHUP), DATA (SIGUSR1),
//! STATS (SIGUSR2), JSON (SIGRTMIN+2) and STATS_CLEAR (SIGRTMAX-1). Every
//! other signal whose default action would end the process is ignored, as
//! keepalived ignores them, so no routine `kill -X` can kill a MASTER and
//! leave its VIPs behind (split brain). SIGILL, SIGFPE, SIGSEGV and SIGBUS
//! keep their default (a core for a real crash; a restart removes the
//! leftover VIPs).
use anyhow::{Context, Result};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use tokio::signal::unix::{signal, Signal as Stream, SignalKind};

/// What a received signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SIGTERM or SIGINT: stop cleanly (VIPs removed); the signal's name.
    Stop(&'static str),
    /// SIGHUP: reload the configuration.
    Reload,
    /// SIGUSR1: write the data dump.
    Data,
    /// SIGUSR2: write the stats dump.
    Stats,
    /// keepalived's JSON signal (SIGRTMIN+2): write the JSON dump.
    Json,
    /// keepalived's STATS_CLEAR signal (SIGRTMAX-1): write the stats dump
    /// (counters are cumulative in lb-daemon and are not reset).
    StatsClear,
}

/// keepalived's JSON signal number (`SIGRTMIN+2`).
pub fn json_signal() -> i32 {
    libc::SIGRTMIN() + 2
}

/// keepalived's STATS_CLEAR signal number (`SIGRTMAX-1`).
pub fn stats_clear_signal() -> i32 {
    libc::SIGRTMAX() - 1
}

/// Standard signals whose default action ends (or stops: a stopped master
/// sends no adverts while it keeps its VIPs) the process, and that
/// keepalived ignores. A real `abort()` still ends the process.
const IGNORED: &[Signal] = &[
    Signal::SIGQUIT,
    Signal::SIGTRAP,
    Signal::SIGABRT,
    Signal::SIGSYS,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGALRM,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGIO,
    Signal::SIGPWR,
    Signal::SIGSTKFLT,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGPIPE,
];

/// The handled signals, as streams.
pub struct Signals {
    term: Stream,
    int: Stream,
    hup: Stream,
    usr1: Stream,
    usr2: Stream,
    json: Stream,
    stats_clear: Stream,
}

impl Signals {
    /// Ignores the signals keepalived ignores and catches the handled ones
    /// (needs a tokio runtime).
    pub fn install() -> Result<Signals> {
        ignore_the_rest()?;
        let stream = |kind: SignalKind| {
            signal(kind).with_context(|| format!("handling signal {}", kind.as_raw_value()))
        };
        Ok(Signals {
            term: stream(SignalKind::terminate())?,
            int: stream(SignalKind::interrupt())?,
            hup: stream(SignalKind::hangup())?,
            usr1: stream(SignalKind::user_defined1())?,
            usr2: stream(SignalKind::user_defined2())?,
            json: stream(SignalKind::from_raw(json_signal()))?,
            stats_clear: stream(SignalKind::from_raw(stats_clear_signal()))?,
        })
    }

    /// The next request.
    pub async fn next(&mut self) -> Request {
        tokio::select! {
            _ = self.term.recv() => Request::Stop("SIGTERM"),
            _ = self.int.recv() => Request::Stop("SIGINT"),
            _ = self.hup.recv() => Request::Reload,
            _ = self.usr1.recv() => Request::Data,
            _ = self.usr2.recv() => Request::Stats,
            _ = self.json.recv() => Request::Json,
            _ = self.stats_clear.recv() => Request::StatsClear,
        }
    }
}

/// Sets SIG_IGN for [`IGNORED`] and every real-time signal but the two
/// handled ones.
fn ignore_the_rest() -> Result<()> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for s in IGNORED {
        // SAFETY: installing SIG_IGN runs no code in signal context.
        unsafe { sigaction(*s, &ignore) }.with_context(|| format!("ignoring {s}"))?;
    }
    let handled = [json_signal(), stats_clear_signal()];
    for raw in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        if handled.contains(&raw) {
            continue;
        }
        // SAFETY: as above; nix's Signal has no real-time values, so libc.
        let old = unsafe { libc::signal(raw, libc::SIG_IGN) };
        if old == libc::SIG_ERR {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("ignoring real-time signal {raw}"));
        }
    }
    Ok(())
}

/// A parent may have left signals blocked (the mask is inherited across
/// exec); the daemon must see the ones it handles.
pub fn unblock_handled() -> Result<()> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    set.thread_unblock()
        .context("unblocking the handled signals")?;
    let mut raw = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set before sigaddset/pthread_sigmask use it.
    unsafe {
        libc::sigemptyset(raw.as_mut_ptr());
        libc::sigaddset(raw.as_mut_ptr(), json_signal());
        libc::sigaddset(raw.as_mut_ptr(), stats_clear_signal());
        let rc = libc::pthread_sigmask(libc::SIG_UNBLOCK, raw.as_ptr(), std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc))
                .context("unblocking the JSON and STATS_CLEAR signals");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_signal_numbers() {
        // glibc: SIGRTMIN 34, SIGRTMAX 64 (keepalived --signum=JSON: 36,
        // --signum=STATS_CLEAR: 63).
        assert_eq!(json_signal(), 36);
        assert_eq!(stats_clear_signal(), 63);
    }
}
