//! Why a check attempt failed: the reason class counted per checker
//! (`failures_by_reason` in the status document, the metric
//! `lb_check_failures_by_reason_total`) and the message logged in
//! keepalived's words.
use std::{fmt, io};

use serde::Serialize;

/// The class of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No answer in time: connecting, reading, or the whole attempt.
    Timeout,
    /// The connection was refused (a reset, or ICMP port unreachable).
    Refused,
    /// Any other network or TLS error (unreachable, reset while reading,
    /// handshake failure).
    Network,
    /// The server answered, but not as required: HTTP status, SMTP or DNS
    /// reply code, a short or malformed reply.
    Response,
    /// The content did not match: MD5 digest, regex, a tracked file's value.
    Content,
    /// A MISC_CHECK script failed: a non-zero exit or killed by a signal.
    Script,
    /// The attempt could not be made: a request that cannot be built, a
    /// script that cannot be started, a socket that cannot be opened.
    Setup,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 7] = [
        Reason::Timeout,
        Reason::Refused,
        Reason::Network,
        Reason::Response,
        Reason::Content,
        Reason::Script,
        Reason::Setup,
    ];

    /// The class of an I/O error met while talking to the server.
    pub fn of_io(err: &io::Error) -> Reason {
        match err.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Reason::Timeout,
            io::ErrorKind::ConnectionRefused => Reason::Refused,
            _ => Reason::Network,
        }
    }

    /// The class of an error from a conversation with the server: an I/O
    /// error anywhere in its chain classes it as [`Reason::of_io`] does,
    /// anything else is a reply that was not as required.
    pub fn of_error(err: &anyhow::Error) -> Reason {
        err.chain()
            .find_map(|cause| cause.downcast_ref::<io::Error>())
            .map_or(Reason::Response, Reason::of_io)
    }

    /// The label value (`timeout`, `refused`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Refused => "refused",
            Reason::Network => "network",
            Reason::Response => "response",
            Reason::Content => "content",
            Reason::Script => "script",
            Reason::Setup => "setup",
        }
    }
}

/// A failed attempt: its class and what is logged about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class counted.
    pub reason: Reason,
    /// The log line, in keepalived's words where it has one.
    pub message: String,
}

impl Failure {
    /// A failure of class `reason` logged as `message`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classed_by_kind() {
        let of = |kind| Reason::of_io(&io::Error::from(kind));
        assert_eq!(of(io::ErrorKind::TimedOut), Reason::Timeout);
        assert_eq!(of(io::ErrorKind::ConnectionRefused), Reason::Refused);
        assert_eq!(of(io::ErrorKind::ConnectionReset), Reason::Network);
        assert_eq!(of(io::ErrorKind::HostUnreachable), Reason::Network);
    }

    #[test]
    fn labels_are_the_serialized_names() {
        for reason in [Reason::Timeout, Reason::Script, Reason::Setup] {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json, reason.as_str());
        }
    }
}
