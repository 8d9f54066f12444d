//! Reading typed values from the words of a statement.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::Deserialize;

use super::parser::Word;
use crate::config::model::{
    AuthType, CheckerKind, Command, Endpoint, FastPath, HttpProtocol, LbAlgo, LbKind, NotifyFifo,
    Protocol, RunAs, SmtpServer, State, StatusRange, TrackRef, TunnelChecksum, TunnelKind,
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
pub(super) fn no_more(args: &[Word], index: usize) -> Result<(), ArgError> {
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
pub(super) fn optional<T: FromWord>(args: &[Word], index: usize) -> Result<Option<T>, ArgError> {
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

/// Every word (`status_code 200 300-399`).
impl<T: FromWord> FromArgs for Vec<T> {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let values = (0..args.len().max(1)).map(|i| word(args, i, "a value"));
        values.collect()
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
}
