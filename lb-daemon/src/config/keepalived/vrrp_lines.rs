//! The argument shapes of VRRP lines that are more than one value:
//! `nftables [TABLE]`, `param_match`, `unicast_peer`, `use_vmac` and
//! `garp_extra_if`.

use super::args::{self, ArgError, FromArgs};
use super::parser::Word;
use crate::config::model::{GarpExtraIf, ParamMatch, UnicastPeer, DEFAULT_NFTABLES_TABLE};

/// `param_match [initial|partial]`: bare, the parameters match exactly.
pub(super) struct ParamMatchLine(pub ParamMatch);

impl FromArgs for ParamMatchLine {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        match args {
            [] => Ok(ParamMatchLine(ParamMatch::Exact)),
            [word] => match word.text.as_str() {
                "initial" => Ok(ParamMatchLine(ParamMatch::Initial)),
                "partial" => Ok(ParamMatchLine(ParamMatch::Partial)),
                other => Err(ArgError::at(
                    0,
                    format!("`{other}` is not `initial` or `partial`"),
                )),
            },
            [_, extra, ..] => Err(ArgError::at(1, format!("unexpected `{}`", extra.text))),
        }
    }
}

/// An `nftables [TABLE]` line: the table, keepalived's
/// [`DEFAULT_NFTABLES_TABLE`] when bare.
pub(super) struct NftTable(pub String);

impl FromArgs for NftTable {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        match args {
            [] => Ok(NftTable(DEFAULT_NFTABLES_TABLE.to_owned())),
            _ => String::from_args(args).map(NftTable),
        }
    }
}

/// A `unicast_peer` line: `ADDRESS [min_ttl N] [max_ttl N]`.
pub(super) struct PeerLine(pub UnicastPeer);

impl FromArgs for PeerLine {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let mut peer = UnicastPeer::new(args::word(args, 0, "the peer's address")?);
        let mut index = 1;
        while let Some(option) = args.get(index) {
            let ttl = match option.text.as_str() {
                "min_ttl" => &mut peer.min_ttl,
                "max_ttl" => &mut peer.max_ttl,
                other => {
                    let message = format!("unexpected `{other}`: expected min_ttl or max_ttl");
                    return Err(ArgError::at(index, message));
                }
            };
            *ttl = args::word(args, index + 1, "the TTL")?;
            index += 2;
        }
        Ok(PeerLine(peer))
    }
}

/// A `use_vmac [[name] NAME]` line: the name, if any. keepalived's other
/// options (a MAC address, `netlink_notify_msg`, `group`) are refused by
/// name.
pub(super) struct UseVmac(pub Option<String>);

impl FromArgs for UseVmac {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let unsupported = |index: usize, what: &str| {
            let message = format!("unsupported: use_vmac {what} is not implemented");
            Err(ArgError::at(index, message))
        };
        let mut name = None;
        let mut index = 0;
        while let Some(word) = args.get(index) {
            let text = word.text.as_str();
            match text {
                "netlink_notify_msg" => return unsupported(index, "netlink_notify_msg"),
                "group" => return unsupported(index, "group (the macvlan's link group)"),
                // keepalived reads a word with a colon as the MAC address.
                _ if text.contains(':') => {
                    return unsupported(index, "with a MAC address of its own")
                }
                "name" if index + 1 < args.len() => index += 1,
                _ => {}
            }
            if name.is_some() {
                let message = format!("unexpected `{}`", args[index].text);
                return Err(ArgError::at(index, message));
            }
            name = Some(args[index].text.clone());
            index += 1;
        }
        Ok(UseVmac(name))
    }
}

/// A `garp_extra_if [all] SECONDS` line (words in any order). keepalived
/// ignores a line without the time with an error; here it is an error.
/// The validator bounds the seconds.
pub(super) struct GarpExtraIfLine(pub GarpExtraIf);

impl FromArgs for GarpExtraIfLine {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let mut interval = None;
        let mut all = false;
        for (index, word) in args.iter().enumerate() {
            match word.text.as_str() {
                "all" => all = true,
                _ if interval.is_some() => {
                    return Err(ArgError::at(index, format!("unexpected `{}`", word.text)));
                }
                _ => interval = Some(args::word(args, index, "the interval")?),
            }
        }
        let interval =
            interval.ok_or_else(|| ArgError::at(args.len(), "the interval is missing"))?;
        Ok(GarpExtraIfLine(GarpExtraIf { interval, all }))
    }
}
