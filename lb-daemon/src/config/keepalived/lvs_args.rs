//! The arguments of LVS statements: `lb_kind` with its tunnel options,
//! `lvs_flush_onstop`, `lvs_timeouts`, init files, virtual server group
//! members and the heads of `virtual_server` and `real_server` blocks.
use std::net::IpAddr;

use super::args::{no_more, optional, options, put, word, ArgError, FromArgs, FromWord};
use super::parser::Word;
use crate::config::model::{
    GroupMember, InitFile, LbKind, LvsFlushOnStop, LvsTimeouts, RealServer, TunnelChecksum,
    TunnelKind, TunnelOptions, VirtualServer,
};

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
mod tests {
    use super::super::args::tests::read;
    use super::*;
    use crate::config::model::StatusRange;

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
