//! `--signum=SIGFUNC`: the signal number for one of keepalived's signal
//! names, printed as `keepalived --signum` prints it (so scripts written
//! as `kill -$(keepalived --signum=RELOAD) PID` work with lb-daemon).
use std::process::ExitCode;

use crate::signals::{json_signal, stats_clear_signal};

/// The signal lb-daemon answers for keepalived's name `sigfunc` (see
/// [`crate::signals`]); `None` for a name keepalived does not know, or whose
/// signal (TDUMP, debug builds only) lb-daemon does not handle.
pub fn signal_number(sigfunc: &str) -> Option<i32> {
    match sigfunc {
        "STOP" => Some(libc::SIGTERM),
        "RELOAD" => Some(libc::SIGHUP),
        "DATA" => Some(libc::SIGUSR1),
        "STATS" => Some(libc::SIGUSR2),
        "STATS_CLEAR" => Some(stats_clear_signal()),
        "JSON" => Some(json_signal()),
        _ => None,
    }
}

/// Prints the number on stdout and exits 0, or keepalived's message on
/// stderr and exits 1.
pub fn print(sigfunc: &str) -> ExitCode {
    match signal_number(sigfunc) {
        Some(number) => {
            println!("{number}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("Unknown sigfunc {sigfunc}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_numbers() {
        // `keepalived --signum=NAME` on glibc/x86-64 (keepalived 2.2.7).
        let expected = [
            ("STOP", 15),
            ("RELOAD", 1),
            ("DATA", 10),
            ("STATS", 12),
            ("STATS_CLEAR", 63),
            ("JSON", 36),
        ];
        for (name, number) in expected {
            assert_eq!(signal_number(name), Some(number), "{name}");
        }
        for unknown in ["TDUMP", "stop", "SIGTERM", ""] {
            assert_eq!(signal_number(unknown), None, "{unknown}");
        }
    }
}
