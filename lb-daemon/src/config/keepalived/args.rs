//! Reading typed values from the words of a statement.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::Deserialize;

use super::parser::Word;
use crate::config::model::{
    AuthType, CheckerKind, Command, Endpoint, FastPath, GroupMember, HttpProtocol, InitFile,
    LbAlgo, LbKind, LvsFlushOnStop, LvsTimeouts, NotifyFifo, Protocol, RealServer, RunAs,
    SmtpServer, State, StatusRange, TrackRef, TunnelChecksum, TunnelKind, TunnelOptions,
    VirtualServer,
};

/// Why words could not be read: the index of the offending word (the number
/// of words when one is missing) and a message.
#[derive(Debug, PartialEq)]
pub struct ArgError {
    /// Index of the word at fault.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

impl ArgError {
    /// The error `message` about word `index`.
    pub(super) fn at(index: usize, message: impl Into<String>) -> ArgError {
        ArgError {
            index,
            message: message.into(),
        }
    }
}

/// A value read from all the words after a keyword.
pub trait FromArgs: Sized {
    /// Reads the value from `args`.
    fn from_args(args: &[Word]) -> Result<Self, ArgError>;
}

/// A value read from exactly one word.
pub trait FromWord: Sized {
    /// Reads the value from `word`.
    fn from_word(word: &str) -> Result<Self, String>;
}

impl<T: FromWord> FromArgs for T {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let first = args
            .first()
            .ok_or_else(|| ArgError::at(0, "a value is missing"))?;
        no_more(args, 1)?;
        T::from_word(&first.text).map_err(|message| ArgError::at(0, message))
    }
}

/// Fails on the first word at or after `index`.
fn no_more(args: &[Word], index: usize) -> Result<(), ArgError> {
    match args.get(index) {
        Some(extra) => Err(ArgError::at(index, format!("unexpected `{}`", extra.text))),
        None => Ok(()),
    }
}

/// Reads word `index`, which must be present.
pub(super) fn word<T: FromWord>(args: &[Word], index: usize, what: &str) -> Result<T, ArgError> {
    let word = args
        .get(index)
        .ok_or_else(|| ArgError::at(index, format!("{what} is missing")))?;
    T::from_word(&word.text).map_err(|message| ArgError::at(index, message))
}

/// Reads word `index` when present.
fn optional<T: FromWord>(args: &[Word], index: usize) -> Result<Option<T>, ArgError> {
    match args.get(index) {
        Some(_) => word(args, index, "").map(Some),
        None => Ok(None),
    }
}

macro_rules! from_str_words {
    ($($ty:ty => $what:literal),* $(,)?) => {$(
        impl FromWord for $ty {
            fn from_word(word: &str) -> Result<Self, String> {
                <$ty>::from_str(word).map_err(|_| format!("`{word}` is not {}", $what))
            }
        }
    )*};
}

from_str_words! {
    u8 => "a whole number from 0 to 255",
    u16 => "a whole number from 0 to 65535",
    u32 => "a whole number",
    i32 => "a whole number",
    i64 => "a whole number",
    f64 => "a number",
    IpAddr => "an IP address",
    Ipv4Addr => "an IPv4 address",
    Ipv6Addr => "an IPv6 address",
    SocketAddr => "an ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)",
}

macro_rules! serde_words {
    ($($ty:ty),* $(,)?) => {$(
        impl FromWord for $ty {
            fn from_word(word: &str) -> Result<Self, String> {
                <$ty>::deserialize(StrDeserializer::<ValueError>::new(word))
                    .map_err(|err| err.to_string().replace("variant", "value"))
            }
        }
    )*};
}

serde_words!(
    State,
    AuthType,
    LbAlgo,
    LbKind,
    Protocol,
    FastPath,
    TunnelKind,
    TunnelChecksum,
    HttpProtocol,
    CheckerKind
);

impl FromWord for String {
    fn from_word(word: &str) -> Result<Self, String> {
        Ok(word.to_string())
    }
}

impl FromWord for StatusRange {
    fn from_word(word: &str) -> Result<Self, String> {
        word.parse()
    }
}

/// A flag: present means on; `on`/`off` (or true/false, yes/no) may follow.
impl FromArgs for bool {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let Some(first) = args.first() else {
            return Ok(true);
        };
        no_more(args, 1)?;
        match first.text.as_str() {
            "on" | "true" | "yes" => Ok(true),
            "off" | "false" | "no" => Ok(false),
            other => Err(ArgError::at(0, format!("`{other}` is not on or off"))),
        }
    }
}

/// `HEX` or nothing (UDP_CHECK `require_reply`).
impl FromArgs for Option<String> {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        no_more(args, 1)?;
        Ok(Some(
            args.first().map_or_else(String::new, |w| w.text.clone()),
        ))
    }
}

/// `WEIGHT [reverse]` of `vrrp_script` and `track_file`.
#[derive(Debug, PartialEq)]
pub struct Weight {
    /// The number.
    pub value: i32,
    /// Whether `reverse` followed.
    pub reverse: bool,
}

impl FromArgs for Weight {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let value = word(args, 0, "the weight")?;
        let reverse = reverse_flag(args, 1)?;
        Ok(Weight { value, reverse })
    }
}

fn reverse_flag(args: &[Word], index: usize) -> Result<bool, ArgError> {
    let reverse = args.get(index).is_some_and(|w| w.text == "reverse");
    no_more(args, index + usize::from(reverse))?;
    Ok(reverse)
}

impl FromArgs for TrackRef {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let name = word(args, 0, "the name")?;
        if args.get(1).is_none_or(|w| w.text != "weight") {
            no_more(args, 1)?;
            return Ok(TrackRef {
                name,
                weight: None,
                reverse: false,
            });
        }
        let weight = word(args, 2, "the weight")?;
        let reverse = reverse_flag(args, 3)?;
        Ok(TrackRef {
            name,
            weight: Some(weight),
            reverse,
        })
    }
}

impl FromArgs for Command {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let script = word(args, 0, "the script")?;
        no_more(args, 3)?;
        Ok(Command {
            script,
            user: optional(args, 1)?,
            group: optional(args, 2)?,
        })
    }
}

impl FromArgs for NotifyFifo {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let Command {
            script,
            user,
            group,
        } = Command::from_args(args)?;
        Ok(NotifyFifo {
            path: script,
            user,
            group,
        })
    }
}

impl FromArgs for RunAs {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let user = word(args, 0, "the user")?;
        no_more(args, 2)?;
        Ok(RunAs {
            user,
            group: optional(args, 1)?,
        })
    }
}

impl FromArgs for Endpoint {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let address = word(args, 0, "the address")?;
        let port = word(args, 1, "the port")?;
        no_more(args, 2)?;
        Ok(Endpoint { address, port })
    }
}

impl FromArgs for SmtpServer {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let host = word(args, 0, "the server")?;
        no_more(args, 2)?;
        Ok(SmtpServer {
            host,
            port: optional(args, 1)?,
        })
    }
}

/// Calls `set` for each `NAME VALUE` pair after index `start`.
pub(super) fn options(
    args: &[Word],
    start: usize,
    mut set: impl FnMut(&str, &Word) -> Result<bool, String>,
) -> Result<(), ArgError> {
    let mut i = start;
    while let Some(name) = args.get(i) {
        let value = args
            .get(i + 1)
            .ok_or_else(|| ArgError::at(i + 1, format!("`{}` needs a value", name.text)))?;
        match set(&name.text, value) {
            Ok(true) => i += 2,
            Ok(false) => return Err(ArgError::at(i, format!("unknown option `{}`", name.text))),
            Err(message) => return Err(ArgError::at(i + 1, message)),
        }
    }
    Ok(())
}

/// Stores `value` parsed into `slot`, for [`options`].
pub(super) fn put<T: FromWord>(slot: &mut Option<T>, value: &Word) -> Result<bool, String> {
    *slot = Some(T::from_word(&value.text)?);
    Ok(true)
}

/// `lb_kind` / `lvs_method`: the method, then for `TUN` the tunnel options
/// (`type ipip|gue|gre`, `port N`, `nocsum|csum|remcsum`), checked as
/// keepalived checks them.
#[derive(Debug, PartialEq)]
pub struct Forwarding(pub LbKind, pub Option<TunnelOptions>);

impl FromArgs for Forwarding {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let kind: LbKind = word(args, 0, "a forwarding method")?;
        if args.len() == 1 {
            return Ok(Forwarding(kind, None));
        }
        if kind != LbKind::Tun {
            return Err(ArgError::at(1, "tunnel options need TUN"));
        }
        let mut tunnel = TunnelOptions {
            kind: TunnelKind::Ipip,
            port: None,
            checksum: None,
        };
        let mut i = 1;
        while i < args.len() {
            match args[i].text.as_str() {
                "type" => tunnel.kind = word(args, i + 1, "a tunnel type")?,
                "port" => tunnel.port = Some(word(args, i + 1, "a port")?),
                _ => {
                    tunnel.checksum = Some(word(args, i, "")?);
                    i -= 1;
                }
            }
            i += 2;
        }
        let last = args.len() - 1;
        if (tunnel.kind == TunnelKind::Gue) != tunnel.port.is_some_and(|p| p > 0) {
            return Err(ArgError::at(
                last,
                "gue tunnels need a port, other types cannot have one",
            ));
        }
        match (tunnel.kind, tunnel.checksum) {
            (TunnelKind::Ipip, Some(c)) if c != TunnelChecksum::Nocsum => {
                Err(ArgError::at(last, "ipip tunnels have no checksum option"))
            }
            (TunnelKind::Gre, Some(TunnelChecksum::Remcsum)) => {
                Err(ArgError::at(last, "gre tunnels have no remote checksum"))
            }
            _ => Ok(Forwarding(kind, Some(tunnel))),
        }
    }
}

/// `lvs_flush_onstop` alone flushes everything; `lvs_flush_onstop VS` only
/// the virtual servers.
impl FromArgs for LvsFlushOnStop {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        no_more(args, 1)?;
        match args.first().map(|w| w.text.as_str()) {
            None => Ok(LvsFlushOnStop::Full),
            Some("VS") => Ok(LvsFlushOnStop::Vs),
            Some(other) => Err(ArgError::at(0, format!("`{other}` is not VS"))),
        }
    }
}

impl FromArgs for LvsTimeouts {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let mut timeouts = LvsTimeouts::default();
        options(args, 0, |name, value| match name {
            "tcp" => put(&mut timeouts.tcp, value),
            "tcpfin" => put(&mut timeouts.tcpfin, value),
            "udp" => put(&mut timeouts.udp, value),
            _ => Ok(false),
        })?;
        Ok(timeouts)
    }
}

impl FromArgs for InitFile {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let overwrite = args.last().is_some_and(|w| w.text == "overwrite");
        let values = &args[..args.len() - usize::from(overwrite)];
        no_more(values, 1)?;
        let value = optional(values, 0)?;
        Ok(InitFile { value, overwrite })
    }
}

impl FromArgs for GroupMember {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        no_more(args, 2)?;
        if args.first().is_some_and(|w| w.text == "fwmark") {
            let fwmark = word(args, 1, "the mark")?;
            return Ok(GroupMember {
                fwmark: Some(fwmark),
                ..GroupMember::default()
            });
        }
        let first: String = word(args, 0, "the address")?;
        let (start, end) = match first.rsplit_once('-') {
            Some((start, end)) => (start, Some(end)),
            None => (first.as_str(), None),
        };
        let address = IpAddr::from_word(start).map_err(|m| ArgError::at(0, m))?;
        let range_end = match end {
            Some(end) => Some(u16::from_word(end).map_err(|m| ArgError::at(0, m))?),
            None => None,
        };
        Ok(GroupMember {
            address: Some(address),
            range_end,
            port: Some(word(args, 1, "the port")?),
            fwmark: None,
        })
    }
}

/// Every word (`status_code 200 300-399`).
impl<T: FromWord> FromArgs for Vec<T> {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let values = (0..args.len().max(1)).map(|i| word(args, i, "a value"));
        values.collect()
    }
}

/// `ADDR [PORT]` after `real_server`.
impl FromArgs for RealServer {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let address = word(args, 0, "the address")?;
        no_more(args, 2)?;
        Ok(RealServer::new(address, optional(args, 1)?))
    }
}

/// `ADDR PORT`, `fwmark N` or `group NAME` after `virtual_server`.
impl FromArgs for VirtualServer {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        no_more(args, 2)?;
        let mut server = VirtualServer::default();
        match args.first().map(|w| w.text.as_str()) {
            Some("fwmark") => server.fwmark = Some(word(args, 1, "the mark")?),
            Some("group") => server.group = Some(word(args, 1, "the group name")?),
            _ => {
                server.address = Some(word(args, 0, "the address")?);
                server.port = Some(word(args, 1, "the port")?);
            }
        }
        Ok(server)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::diag::Location;

    fn words(text: &str) -> Vec<Word> {
        let location = Location {
            file: "t".into(),
            line: 1,
            column: 1,
        };
        text.split_whitespace()
            .map(|text| Word {
                text: text.into(),
                location: location.clone(),
            })
            .collect()
    }

    /// Reads `text`, split at white space, as a `T`.
    pub(in crate::config::keepalived) fn read<T: FromArgs>(text: &str) -> Result<T, ArgError> {
        T::from_args(&words(text))
    }

    #[test]
    fn single_words() {
        assert_eq!(read::<u32>("7"), Ok(7));
        assert_eq!(read::<u32>("").unwrap_err().index, 0);
        assert_eq!(read::<u32>("7 8").unwrap_err().index, 1);
        assert!(read::<u8>("300").unwrap_err().message.contains("0 to 255"));
        let err = read::<LbAlgo>("rrr").unwrap_err().message;
        assert!(
            err.contains("unknown value `rrr`, expected one of `rr`"),
            "{err}"
        );
    }

    #[test]
    fn flags_and_weights() {
        assert_eq!(read::<bool>(""), Ok(true));
        assert_eq!(read::<bool>("off"), Ok(false));
        let weight: Weight = read("-20 reverse").unwrap();
        assert_eq!((weight.value, weight.reverse), (-20, true));
        assert_eq!(read::<Weight>("5 x").unwrap_err().index, 1);
    }

    #[test]
    fn tracked_names_and_commands() {
        let track: TrackRef = read("chk weight -10").unwrap();
        assert_eq!((track.weight, track.reverse), (Some(-10), false));
        assert_eq!(read::<TrackRef>("chk wait").unwrap_err().index, 1);
        let command: Command = read("/x.sh root root").unwrap();
        assert_eq!(command.group.as_deref(), Some("root"));
        assert_eq!(read::<Command>("a b c d").unwrap_err().index, 3);
    }

    #[test]
    fn group_members() {
        let range: GroupMember = read("192.0.2.1-10 80").unwrap();
        assert_eq!((range.range_end, range.port), (Some(10), Some(80)));
        let mark: GroupMember = read("fwmark 5").unwrap();
        assert_eq!(mark.fwmark, Some(5));
        assert_eq!(read::<GroupMember>("192.0.2.x 80").unwrap_err().index, 0);
    }

    #[test]
    fn service_heads() {
        let server: VirtualServer = read("fwmark 3").unwrap();
        assert_eq!(server.fwmark, Some(3));
        let server: VirtualServer = read("192.0.2.1 80").unwrap();
        assert_eq!(server.port, Some(80));
        assert_eq!(read::<VirtualServer>("192.0.2.1").unwrap_err().index, 1);
        assert_eq!(read::<RealServer>("192.0.2.1").unwrap().port, None);
        let codes: Vec<StatusRange> = read("200 300-399").unwrap();
        assert_eq!(codes.len(), 2);
        assert!(read::<Vec<StatusRange>>("").is_err());
    }

    #[test]
    fn init_file_and_timeouts() {
        let init: InitFile = read("5 overwrite").unwrap();
        assert_eq!((init.value, init.overwrite), (Some(5), true));
        let gue = read::<Forwarding>("TUN type gue port 6080 csum").unwrap();
        let options = TunnelOptions {
            kind: TunnelKind::Gue,
            port: Some(6080),
            checksum: Some(TunnelChecksum::Csum),
        };
        assert_eq!(gue, Forwarding(LbKind::Tun, Some(options)));
        assert_eq!(read::<Forwarding>("DR"), Ok(Forwarding(LbKind::Dr, None)));
        for bad in [
            "DR type ipip",
            "TUN type gue",
            "TUN type ipip csum",
            "TUN type gre remcsum",
            "TUN type vxlan",
        ] {
            assert!(read::<Forwarding>(bad).is_err(), "{bad}");
        }
        assert_eq!(read::<LvsFlushOnStop>(""), Ok(LvsFlushOnStop::Full));
        assert_eq!(read::<LvsFlushOnStop>("VS"), Ok(LvsFlushOnStop::Vs));
        assert!(read::<LvsFlushOnStop>("vs").is_err());
        let timeouts: LvsTimeouts = read("tcp 7200 udp 300").unwrap();
        assert_eq!((timeouts.tcp, timeouts.udp), (Some(7200), Some(300)));
        assert!(read::<LvsTimeouts>("tcp").is_err());
    }
}
