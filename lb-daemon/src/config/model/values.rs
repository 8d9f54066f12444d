//! Small value types shared by several blocks, and the enum-valued settings,
//! each spelled in TOML exactly as keepalived.conf spells it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `state` of a VRRP instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Start as master.
    Master,
    /// Start as backup.
    Backup,
}

/// `auth_type` of VRRPv2 authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    /// Clear-text password.
    Pass,
    /// IPsec authentication header.
    Ah,
}

/// `lb_algo`: the IPVS scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum LbAlgo {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
}

impl LbAlgo {
    /// The kernel scheduler's name (`ip_vs_wlc` is `wlc`), as spelled here.
    pub fn name(self) -> &'static str {
        match self {
            LbAlgo::Rr => "rr",
            LbAlgo::Wrr => "wrr",
            LbAlgo::Lc => "lc",
            LbAlgo::Wlc => "wlc",
            LbAlgo::Lblc => "lblc",
            LbAlgo::Lblcr => "lblcr",
            LbAlgo::Dh => "dh",
            LbAlgo::Sh => "sh",
            LbAlgo::Sed => "sed",
            LbAlgo::Nq => "nq",
            LbAlgo::Fo => "fo",
            LbAlgo::Ovf => "ovf",
            LbAlgo::Mh => "mh",
        }
    }
}

/// `lb_kind` / `lvs_method`: how IPVS forwards to real servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LbKind {
    /// Masquerading.
    Nat,
    /// Direct routing.
    Dr,
    /// IP-in-IP tunnelling.
    Tun,
}

/// `protocol` of a virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// `fast_path` (our extension): which data path serves a virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FastPath {
    /// Forward in XDP before the kernel stack.
    Xdp,
    /// Leave forwarding to IPVS alone.
    None,
}

/// `http_protocol` of an HTTP_GET / SSL_GET checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum HttpProtocol {
    #[serde(rename = "1.0")]
    Http10,
    #[serde(rename = "1.1")]
    Http11,
    /// HTTP/1.0 with `Connection: close`.
    #[serde(rename = "1.0C")]
    Http10Close,
    /// HTTP/1.0 with `Connection: keep-alive`.
    #[serde(rename = "1.0K")]
    Http10KeepAlive,
}

/// A user to run a script as, with an optional group; written
/// `user [group]` in both front ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunAs {
    /// User name.
    pub user: String,
    /// Group name; the user's primary group when absent.
    pub group: Option<String>,
}

impl TryFrom<String> for RunAs {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let mut words = text.split_whitespace().map(str::to_string);
        let user = words.next().ok_or("a user name is required")?;
        let group = words.next();
        match words.next() {
            Some(extra) => Err(format!("unexpected `{extra}` after user and group")),
            None => Ok(RunAs { user, group }),
        }
    }
}

impl From<RunAs> for String {
    fn from(run_as: RunAs) -> String {
        match run_as.group {
            Some(group) => format!("{} {group}", run_as.user),
            None => run_as.user,
        }
    }
}

/// A script to run (`notify_*`, `notify_up`, …): the command line, optionally
/// followed by the user and group to run it as. In TOML either a bare string
/// or a table `{ script, user, group }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CommandRepr", into = "CommandRepr")]
pub struct Command {
    /// Command line (may contain arguments).
    pub script: String,
    /// User to run as.
    pub user: Option<String>,
    /// Group to run as.
    pub group: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum CommandRepr {
    Script(String),
    Full {
        script: String,
        user: Option<String>,
        group: Option<String>,
    },
}

impl From<CommandRepr> for Command {
    fn from(repr: CommandRepr) -> Self {
        let (script, user, group) = match repr {
            CommandRepr::Script(script) => (script, None, None),
            CommandRepr::Full {
                script,
                user,
                group,
            } => (script, user, group),
        };
        Command {
            script,
            user,
            group,
        }
    }
}

impl From<Command> for CommandRepr {
    fn from(command: Command) -> Self {
        match (command.user, command.group) {
            (None, None) => CommandRepr::Script(command.script),
            (user, group) => CommandRepr::Full {
                script: command.script,
                user,
                group,
            },
        }
    }
}

/// `notify_fifo PATH [USER [GROUP]]` (and the `vrrp_`/`lvs_` forms): the
/// FIFO's path and the owner to give it when the daemon creates it. In TOML
/// either a bare path or a table `{ path, user, group }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CommandRepr", into = "CommandRepr")]
pub struct NotifyFifo {
    /// Path of the FIFO.
    pub path: String,
    /// Owner of a created FIFO (the default script user when absent).
    pub user: Option<String>,
    /// Group of a created FIFO.
    pub group: Option<String>,
}

impl From<CommandRepr> for NotifyFifo {
    fn from(repr: CommandRepr) -> Self {
        let Command {
            script,
            user,
            group,
        } = repr.into();
        NotifyFifo {
            path: script,
            user,
            group,
        }
    }
}

impl From<NotifyFifo> for CommandRepr {
    fn from(fifo: NotifyFifo) -> Self {
        Command {
            script: fifo.path,
            user: fifo.user,
            group: fifo.group,
        }
        .into()
    }
}

/// A reference to a tracked object (`track_script`, `track_interface`,
/// `track_file` entries): `NAME [weight N [reverse]]`. In TOML either the
/// bare name or a table `{ name, weight, reverse }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "TrackRefRepr", into = "TrackRefRepr")]
pub struct TrackRef {
    /// Name of the script, interface or file.
    pub name: String,
    /// Overrides the tracked object's own weight.
    pub weight: Option<i32>,
    /// Apply the weight in reverse.
    pub reverse: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum TrackRefRepr {
    Name(String),
    Full {
        name: String,
        weight: Option<i32>,
        #[serde(default)]
        reverse: bool,
    },
}

impl From<TrackRefRepr> for TrackRef {
    fn from(repr: TrackRefRepr) -> Self {
        let (name, weight, reverse) = match repr {
            TrackRefRepr::Name(name) => (name, None, false),
            TrackRefRepr::Full {
                name,
                weight,
                reverse,
            } => (name, weight, reverse),
        };
        TrackRef {
            name,
            weight,
            reverse,
        }
    }
}

impl From<TrackRef> for TrackRefRepr {
    fn from(track: TrackRef) -> Self {
        if track.weight.is_none() && !track.reverse {
            return TrackRefRepr::Name(track.name);
        }
        TrackRefRepr::Full {
            name: track.name,
            weight: track.weight,
            reverse: track.reverse,
        }
    }
}

/// An address and port (`sorry_server`, `smtp_server` …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// IP address.
    pub address: IpAddr,
    /// TCP/UDP port.
    pub port: u16,
}

/// One `virtual_ipaddress` entry: `ADDR[/PREFIX] [brd X] [dev IF] [scope S]
/// [label L] [peer X] [no_track]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualIp {
    /// Address with prefix; a bare address means a host prefix.
    #[serde(with = "prefixed")]
    pub address: IpNet,
    /// Broadcast address.
    pub brd: Option<IpAddr>,
    /// Interface to add the address to (the instance's by default).
    pub dev: Option<String>,
    /// Address scope (`global`, `host`, `link`, `site` or a number).
    pub scope: Option<String>,
    /// Interface label such as `eth0:1`.
    pub label: Option<String>,
    /// Peer address of a point-to-point link.
    pub peer: Option<IpAddr>,
    /// Do not move to FAULT when the interface goes down.
    #[serde(default)]
    pub no_track: bool,
}

/// Parses `ADDR` or `ADDR/PREFIX`; a bare address gets a host prefix.
pub fn parse_prefixed(text: &str) -> Result<IpNet, String> {
    if text.contains('/') {
        return IpNet::from_str(text).map_err(|_| format!("`{text}` is not an address/prefix"));
    }
    IpAddr::from_str(text)
        .map(IpNet::from)
        .map_err(|_| format!("`{text}` is not an IP address"))
}

/// Serde helpers for `IpNet` fields that also accept a bare address.
pub mod prefixed {
    use super::*;
    use serde::{Deserializer, Serializer};

    /// Writes `ADDR/PREFIX`.
    pub fn serialize<S: Serializer>(net: &IpNet, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(net)
    }

    /// Reads `ADDR` or `ADDR/PREFIX`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<IpNet, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_prefixed(&text).map_err(serde::de::Error::custom)
    }
}

/// An HTTP status code or an inclusive range of them (`200`, `200-299`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StatusRepr", into = "StatusRepr")]
pub struct StatusRange {
    /// First accepted code.
    pub from: u16,
    /// Last accepted code (equal to `from` for a single code).
    pub to: u16,
}

impl FromStr for StatusRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a status code or range like 200-299");
        let (from, to) = text.split_once('-').unwrap_or((text, text));
        let from = from.parse().map_err(|_| bad())?;
        let to = to.parse().map_err(|_| bad())?;
        Ok(StatusRange { from, to })
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.from == self.to {
            true => write!(f, "{}", self.from),
            false => write!(f, "{}-{}", self.from, self.to),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StatusRepr {
    Code(u16),
    Text(String),
}

impl TryFrom<StatusRepr> for StatusRange {
    type Error = String;

    fn try_from(repr: StatusRepr) -> Result<Self, String> {
        match repr {
            StatusRepr::Code(code) => Ok(StatusRange {
                from: code,
                to: code,
            }),
            StatusRepr::Text(text) => text.parse(),
        }
    }
}

impl From<StatusRange> for StatusRepr {
    fn from(range: StatusRange) -> Self {
        match range.from == range.to {
            true => StatusRepr::Code(range.from),
            false => StatusRepr::Text(range.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_default_to_host_routes() {
        assert_eq!(
            parse_prefixed("192.0.2.1").unwrap().to_string(),
            "192.0.2.1/32"
        );
        assert_eq!(parse_prefixed("2001:db8::1").unwrap().prefix_len(), 128);
        assert_eq!(parse_prefixed("192.0.2.1/24").unwrap().prefix_len(), 24);
        assert!(parse_prefixed("192.0.2.300").is_err());
        assert!(parse_prefixed("192.0.2.1/40").is_err());
    }

    #[test]
    fn status_ranges() {
        let range: StatusRange = "200-299".parse().unwrap();
        assert_eq!((range.from, range.to), (200, 299));
        assert_eq!(range.to_string(), "200-299");
        assert_eq!("204".parse::<StatusRange>().unwrap().to_string(), "204");
        assert!("2x".parse::<StatusRange>().is_err());
    }

    #[test]
    fn run_as_words() {
        let run_as = RunAs::try_from("root wheel".to_string()).unwrap();
        assert_eq!(run_as.group.as_deref(), Some("wheel"));
        assert_eq!(String::from(run_as), "root wheel");
        assert!(RunAs::try_from(" ".to_string()).is_err());
        assert!(RunAs::try_from("a b c".to_string()).is_err());
    }
}
