//! A blocking generic netlink client for IPVS, one request at a time.
//!
//! Blocking on purpose: callers run it on a thread of their own (the
//! reconciler uses `spawn_blocking`), and each request is a send and the
//! reading of its replies up to the ACK or `NLMSG_DONE`, so a reply that
//! does not decode is an error naming the attribute, never a dropped message.
use std::{net::IpAddr, process::Command, time::Duration};

use netlink_packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use super::error::IpvsError;
use super::model::{
    key_family, DestCounters, Destination, Info, Service, ServiceStats, SyncDaemon, SyncRole,
    Timeouts,
};
use super::wire::{CmdNla, FamilyQuery, IpvsCmd, IpvsMessage, FAMILY_NAME};
use crate::state::desired::{Family, ServiceKey};

/// How long a reply may take before the request fails.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Receive buffer: a dump datagram is at most 32 KiB.
const RECV_BUFFER: usize = 64 * 1024;
/// `ENOENT`: the controller does not know the family.
const ENOENT: i32 = 2;

/// A dumped service with its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedService {
    /// The service.
    pub service: Service,
    /// Its traffic counters.
    pub stats: ServiceStats,
}

/// A dumped destination with its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedDest {
    /// The destination.
    pub dest: Destination,
    /// Its connection and traffic counters.
    pub counters: DestCounters,
}

/// Services as dumped, each with its destinations.
pub type Dumped = Vec<(DumpedService, Vec<DumpedDest>)>;

/// A connection to the kernel's IPVS family in the caller's network namespace.
pub struct IpvsClient {
    socket: Socket,
    family: u16,
    sequence: u32,
    buffer: Vec<u8>,
}

impl IpvsClient {
    /// Connects, resolving the family. When the kernel does not know it,
    /// runs `modprobe ip_vs` once (as keepalived does) and asks again; still
    /// unknown is [`IpvsError::Unavailable`] naming the module.
    pub fn connect() -> Result<IpvsClient, IpvsError> {
        let mut client = IpvsClient::open()?;
        match client.resolve() {
            Err(IpvsError::Kernel { errno: ENOENT, .. }) => {
                let modprobe = modprobe("ip_vs");
                match client.resolve() {
                    Err(IpvsError::Kernel { errno: ENOENT, .. }) => {
                        Err(IpvsError::Unavailable(format!(
                            "this kernel has no IPVS, so IPVS classic mode is off (generic \
                             netlink family \"{FAMILY_NAME}\" not found; modprobe ip_vs: \
                             {modprobe}); it needs the kernel module ip_vs (CONFIG_IP_VS, \
                             built as a module in Debian's kernel package linux-image-amd64)"
                        )))
                    }
                    other => other.map(|family| client.with_family(family)),
                }
            }
            other => other.map(|family| client.with_family(family)),
        }
    }

    fn open() -> Result<IpvsClient, IpvsError> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Errors quote only the request's header, not the whole request.
        socket.set_cap_ack(true)?;
        let timeout = nix::sys::time::TimeVal::new(REPLY_TIMEOUT.as_secs() as i64, 0);
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::ReceiveTimeout, &timeout)
            .map_err(std::io::Error::from)?;
        Ok(IpvsClient {
            socket,
            family: 0,
            sequence: 0,
            buffer: vec![0; RECV_BUFFER],
        })
    }

    fn with_family(mut self, family: u16) -> IpvsClient {
        self.family = family;
        self
    }

    /// The family id the controller assigned to "IPVS".
    fn resolve(&mut self) -> Result<u16, IpvsError> {
        let request = GenlMessage::from_payload(FamilyQuery::request(FAMILY_NAME));
        let mut id = None;
        self.exchange(
            request,
            NLM_F_REQUEST | NLM_F_ACK,
            "resolve family",
            |reply: GenlMessage<FamilyQuery>| {
                id = id.or(reply.payload.id);
                Ok(())
            },
        )?;
        id.ok_or_else(|| IpvsError::Decode("CTRL_CMD_GETFAMILY reply without a family id".into()))
    }

    /// Sends `payload` and hands each reply to `each` until the ACK (or
    /// `NLMSG_DONE` for dumps).
    fn exchange<T>(
        &mut self,
        payload: T,
        flags: u16,
        what: &str,
        mut each: impl FnMut(T) -> Result<(), IpvsError>,
    ) -> Result<(), IpvsError>
    where
        T: NetlinkSerializable + NetlinkDeserializable + std::fmt::Debug,
    {
        self.sequence = self.sequence.wrapping_add(1);
        let sequence = self.sequence;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = sequence;
        let mut message = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;
        loop {
            let len = self.socket.recv(&mut &mut self.buffer[..], 0)?;
            if let Some(end) = read_datagram(&self.buffer[..len], sequence, what, &mut each) {
                return end;
            }
        }
    }

    /// Sends an IPVS command; `dump` asks for every object.
    fn ipvs(
        &mut self,
        cmd: IpvsCmd,
        nlas: Vec<CmdNla>,
        dump: bool,
        what: &str,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        let mut message = GenlMessage::from_payload(IpvsMessage { cmd, nlas });
        message.set_resolved_family_id(self.family);
        let flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
        let mut replies = Vec::new();
        self.exchange(message, flags, what, |reply: GenlMessage<IpvsMessage>| {
            replies.push(reply.payload);
            Ok(())
        })?;
        Ok(replies)
    }

    /// The kernel's IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let replies = self.ipvs(IpvsCmd::GetInfo, vec![], false, "GET_INFO")?;
        let reply = replies
            .first()
            .ok_or_else(|| IpvsError::Decode("GET_INFO: no reply".into()))?;
        Info::from_nlas(&reply.nlas).map_err(|e| IpvsError::Decode(e.to_string()))
    }

    /// Every service (of the protocols lb-daemon manages), with counters.
    pub fn services(&mut self) -> Result<Vec<DumpedService>, IpvsError> {
        let replies = self.ipvs(IpvsCmd::GetService, vec![], true, "GET_SERVICE dump")?;
        services_of(replies)
    }

    /// The destinations of service `key`, with counters.
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DumpedDest>, IpvsError> {
        let what = format!("GET_DEST dump of {}", key);
        let nlas = vec![CmdNla::Service(Service::key_nlas(key))];
        let replies = self.ipvs(IpvsCmd::GetDest, nlas, true, &what)?;
        destinations_of(replies, key_family(key), &what)
    }

    /// Adds a service.
    pub fn new_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        self.service_cmd(IpvsCmd::NewService, service, "NEW_SERVICE")
    }

    /// Changes a service's scheduler, flags or persistence.
    pub fn set_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        self.service_cmd(IpvsCmd::SetService, service, "SET_SERVICE")
    }

    fn service_cmd(
        &mut self,
        cmd: IpvsCmd,
        service: &Service,
        name: &str,
    ) -> Result<(), IpvsError> {
        let what = format!("{name} {}", service.key);
        self.ipvs(cmd, vec![CmdNla::Service(service.to_nlas())], false, &what)
            .map(drop)
    }

    /// Removes a service and its destinations.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        let what = format!("DEL_SERVICE {}", key);
        let nlas = vec![CmdNla::Service(Service::key_nlas(key))];
        self.ipvs(IpvsCmd::DelService, nlas, false, &what).map(drop)
    }

    /// Adds a destination to service `key`.
    pub fn new_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        self.dest_cmd(IpvsCmd::NewDest, key, dest, "NEW_DEST")
    }

    /// Changes a destination of service `key`.
    pub fn set_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        self.dest_cmd(IpvsCmd::SetDest, key, dest, "SET_DEST")
    }

    fn dest_cmd(
        &mut self,
        cmd: IpvsCmd,
        key: &ServiceKey,
        dest: &Destination,
        name: &str,
    ) -> Result<(), IpvsError> {
        let what = format!("{name} {} to {}", endpoint(dest.addr, dest.port), key);
        let nlas = vec![
            CmdNla::Service(Service::key_nlas(key)),
            CmdNla::Dest(dest.to_nlas()),
        ];
        self.ipvs(cmd, nlas, false, &what).map(drop)
    }

    /// Removes destination `addr`:`port` from service `key`.
    pub fn del_dest(&mut self, key: &ServiceKey, addr: IpAddr, port: u16) -> Result<(), IpvsError> {
        let what = format!("DEL_DEST {} from {}", endpoint(addr, port), key);
        let nlas = vec![
            CmdNla::Service(Service::key_nlas(key)),
            CmdNla::Dest(Destination::key_nlas(addr, port)),
        ];
        self.ipvs(IpvsCmd::DelDest, nlas, false, &what).map(drop)
    }

    /// The connection timeouts.
    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let replies = self.ipvs(IpvsCmd::GetConfig, vec![], false, "GET_CONFIG")?;
        Ok(replies
            .first()
            .map(|r| Timeouts::from_nlas(&r.nlas))
            .unwrap_or_default())
    }

    /// Sets the non-zero connection timeouts.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<(), IpvsError> {
        self.ipvs(IpvsCmd::SetConfig, timeouts.to_nlas(), false, "SET_CONFIG")
            .map(drop)
    }

    /// Removes every service (`ipvsadm -C`).
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.ipvs(IpvsCmd::Flush, vec![], false, "FLUSH").map(drop)
    }

    /// The running connection sync daemons (`ipvsadm -L --daemon`).
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        daemons_of(self.ipvs(IpvsCmd::GetDaemon, vec![], true, "GET_DAEMON dump")?)
    }

    /// Starts `daemon` (`EEXIST` when one of its role runs already).
    pub fn new_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), IpvsError> {
        let what = format!("NEW_DAEMON {daemon}");
        let nlas = vec![CmdNla::Daemon(daemon.to_nlas())];
        self.ipvs(IpvsCmd::NewDaemon, nlas, false, &what).map(drop)
    }

    /// Stops the daemon of `role` (`ESRCH` when none runs).
    pub fn del_daemon(&mut self, role: SyncRole) -> Result<(), IpvsError> {
        let what = format!("DEL_DAEMON {role}");
        let nlas = vec![CmdNla::Daemon(SyncDaemon::stop_nlas(role))];
        self.ipvs(IpvsCmd::DelDaemon, nlas, false, &what).map(drop)
    }
}

/// The sync daemons in the replies to a `GET_DAEMON` dump.
pub(crate) fn daemons_of(replies: Vec<IpvsMessage>) -> Result<Vec<SyncDaemon>, IpvsError> {
    let nests = replies.into_iter().flat_map(|reply| reply.nlas);
    nests
        .filter_map(|nla| match nla {
            CmdNla::Daemon(nlas) => Some(SyncDaemon::from_nlas(&nlas)),
            _ => None,
        })
        .collect::<Result<_, _>>()
        .map_err(|e| IpvsError::Decode(format!("GET_DAEMON dump: {e}")))
}

/// The services (of the protocols lb-daemon manages) in the replies to a
/// `GET_SERVICE` dump.
pub(crate) fn services_of(replies: Vec<IpvsMessage>) -> Result<Vec<DumpedService>, IpvsError> {
    let mut services = Vec::new();
    for nla in replies.into_iter().flat_map(|reply| reply.nlas) {
        if let CmdNla::Service(nlas) = nla {
            let parsed = Service::from_nlas(&nlas)
                .map_err(|e| IpvsError::Decode(format!("GET_SERVICE dump: {e}")))?;
            services.extend(parsed.map(|(service, stats)| DumpedService { service, stats }));
        }
    }
    Ok(services)
}

/// The destinations in the replies to the `GET_DEST` dump `what` of a
/// service of `family`.
pub(crate) fn destinations_of(
    replies: Vec<IpvsMessage>,
    family: Family,
    what: &str,
) -> Result<Vec<DumpedDest>, IpvsError> {
    let mut dests = Vec::new();
    for nla in replies.into_iter().flat_map(|reply| reply.nlas) {
        if let CmdNla::Dest(nlas) = nla {
            let (dest, counters) = Destination::from_nlas(&nlas, family)
                .map_err(|e| IpvsError::Decode(format!("{what}: {e}")))?;
            dests.push(DumpedDest { dest, counters });
        }
    }
    Ok(dests)
}

/// Hands each reply to request `sequence` in `datagram` to `each`; the
/// request's end (ACK, error or `NLMSG_DONE`), or `None` when more
/// datagrams are to come. Messages of other sequence numbers (the rest of
/// an abandoned earlier request) are skipped. An error code is read as
/// `-errno`; `i32::MIN`, which has no positive counterpart, is `i32::MAX`.
pub(crate) fn read_datagram<T>(
    datagram: &[u8],
    sequence: u32,
    what: &str,
    each: &mut impl FnMut(T) -> Result<(), IpvsError>,
) -> Option<Result<(), IpvsError>>
where
    T: NetlinkDeserializable + std::fmt::Debug,
{
    let mut offset = 0;
    while offset < datagram.len() {
        let message = match NetlinkMessage::<T>::deserialize(&datagram[offset..]) {
            Ok(message) => message,
            Err(e) => return Some(Err(IpvsError::Decode(format!("{what}: {e}")))),
        };
        let length = message.header.length as usize;
        if length == 0 {
            let message = format!("{what}: zero-length message");
            return Some(Err(IpvsError::Decode(message)));
        }
        offset += (length + 3) & !3;
        if message.header.sequence_number != sequence {
            continue;
        }
        let end = match message.payload {
            NetlinkPayload::InnerMessage(reply) => match each(reply) {
                Ok(()) => continue,
                Err(e) => Err(e),
            },
            NetlinkPayload::Error(e) => match e.code {
                None => Ok(()),
                Some(code) => Err(IpvsError::Kernel {
                    request: what.to_owned(),
                    errno: code.get().saturating_abs(),
                }),
            },
            NetlinkPayload::Done(done) if done.code != 0 => Err(IpvsError::Kernel {
                request: what.to_owned(),
                errno: done.code.saturating_abs(),
            }),
            NetlinkPayload::Done(_) => Ok(()),
            _ => continue,
        };
        return Some(end);
    }
    None
}

/// `192.0.2.1:80`, `[2001:db8::1]:80`.
pub fn endpoint(addr: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(addr, port).to_string()
}

/// Runs `modprobe MODULE` and says how it went.
fn modprobe(module: &str) -> String {
    let mut cmd = Command::new("modprobe");
    // The service manager's socket is the daemon's alone.
    cmd.arg(module)
        .env_remove(crate::daemon::systemd::NOTIFY_SOCKET);
    match cmd.output() {
        Ok(out) if out.status.success() => "loaded, yet the family is still missing".to_owned(),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let text = stderr.trim();
            if text.is_empty() {
                out.status.to_string()
            } else {
                text.lines().collect::<Vec<_>>().join("; ")
            }
        }
        Err(e) => format!("cannot run modprobe: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `NLMSG_ERROR` (request 1) carrying `code`.
    fn error(code: i32) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(36u32.to_ne_bytes());
        bytes.extend(2u16.to_ne_bytes()); // NLMSG_ERROR
        bytes.extend([0; 2]);
        bytes.extend(1u32.to_ne_bytes());
        bytes.extend([0; 4]);
        bytes.extend(code.to_ne_bytes());
        bytes.extend([0; 16]); // the request's header
        bytes
    }

    fn end(datagram: &[u8]) -> Option<Result<(), IpvsError>> {
        read_datagram(datagram, 1, "test", &mut |_: GenlMessage<IpvsMessage>| {
            Ok(())
        })
    }

    #[test]
    fn error_codes_become_errnos_even_the_most_negative() {
        let errno = |code| match end(&error(code)) {
            Some(Err(IpvsError::Kernel { errno, .. })) => errno,
            other => panic!("{other:?}"),
        };
        assert_eq!(errno(-2), 2);
        // Found by the ipvs_reply fuzz target: `abs` overflowed here.
        assert_eq!(errno(i32::MIN), i32::MAX);
        assert!(matches!(end(&error(0)), Some(Ok(()))));
    }
}
