//! The LVS lines of keepalived's notify FIFOs (`check/ipwrapper.c`:
//! `notify_fifo_vs`, `notify_fifo_rs`; `check/check_data.c`: `format_vs`,
//! `format_rs`; `lib/utils.c`: `inet_sockaddrtotrio`):
//!
//! * `VS [192.0.2.1]:tcp:80 UP` (quorum gained or lost); a group's virtual
//!   server is `VS [GROUP]:PORT ...`, a fwmark one `VS FWM 7 ...`;
//! * `RS [198.51.100.7]:tcp:80 [192.0.2.1]:tcp:80 DOWN` (a real server
//!   changed state), the protocol being the virtual server's (`none` for a
//!   fwmark virtual server without `protocol`).
use std::net::IpAddr;

use crate::config::{Config, Protocol, VirtualServer};

use super::model::Event;

/// The FIFO line of `event` (newline included).
pub fn fifo_line(config: &Config, event: &Event) -> Option<String> {
    let (vs, rs, up) = match *event {
        Event::RealServerUp(id) => (id.vs, Some(id.rs), true),
        Event::RealServerDown(id) => (id.vs, Some(id.rs), false),
        Event::QuorumUp(vs) => (vs, None, true),
        Event::QuorumDown(vs) => (vs, None, false),
    };
    let server = config.virtual_server.get(vs)?;
    let state = if up { "UP" } else { "DOWN" };
    let service = format_vs(server);
    Some(match rs {
        None => format!("VS {service} {state}\n"),
        Some(rs) => {
            let real = server.real_server.get(rs)?;
            let port = real.port.or(server.port).unwrap_or(0);
            let real = trio(real.address, protocol(server), port);
            format!("RS {real} {service} {state}\n")
        }
    })
}

/// keepalived's `format_vs`.
fn format_vs(server: &VirtualServer) -> String {
    let port = server.port.unwrap_or(0);
    match (&server.group, server.fwmark, server.address) {
        (Some(group), ..) => format!("[{group}]:{port}"),
        (None, Some(mark), _) => format!("FWM {mark}"),
        (None, None, Some(address)) => trio(address, protocol(server), port),
        (None, None, None) => format!("[?]:{port}"),
    }
}

/// The protocol word of `server`'s services: what lb-daemon programs (TCP
/// unless `protocol` says otherwise), `none` for a fwmark without one.
fn protocol(server: &VirtualServer) -> &'static str {
    match (server.protocol, server.fwmark) {
        (None, Some(_)) => "none",
        (Some(Protocol::Udp), _) => "udp",
        (Some(Protocol::Sctp), _) => "sctp",
        (Some(Protocol::Tcp) | None, _) => "tcp",
    }
}

/// `inet_sockaddrtotrio`: `[ADDRESS]:PROTOCOL:PORT`.
fn trio(address: IpAddr, protocol: &str, port: u16) -> String {
    format!("[{address}]:{protocol}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::RealServerId;
    use crate::config::RealServer;

    fn config(server: VirtualServer) -> Config {
        Config {
            virtual_server: vec![server],
            ..Default::default()
        }
    }

    fn server() -> VirtualServer {
        VirtualServer {
            address: Some("192.0.2.1".parse().unwrap()),
            port: Some(80),
            real_server: vec![RealServer::new("198.51.100.7".parse().unwrap(), None)],
            ..Default::default()
        }
    }

    const RS: RealServerId = RealServerId { vs: 0, rs: 0 };

    #[test]
    fn lines_follow_keepalived() {
        let cfg = config(server());
        let line = |e| fifo_line(&cfg, &e).unwrap();
        assert_eq!(line(Event::QuorumUp(0)), "VS [192.0.2.1]:tcp:80 UP\n");
        assert_eq!(
            line(Event::RealServerDown(RS)),
            "RS [198.51.100.7]:tcp:80 [192.0.2.1]:tcp:80 DOWN\n"
        );
        let mut v6 = server();
        v6.address = Some("2001:db8::1".parse().unwrap());
        v6.protocol = Some(Protocol::Udp);
        v6.real_server = vec![RealServer::new("2001:db8::7".parse().unwrap(), Some(53))];
        let cfg = config(v6);
        assert_eq!(
            fifo_line(&cfg, &Event::RealServerUp(RS)).unwrap(),
            "RS [2001:db8::7]:udp:53 [2001:db8::1]:udp:80 UP\n"
        );
    }

    #[test]
    fn fwmark_and_group_virtual_servers() {
        let mut mark = server();
        (mark.address, mark.fwmark, mark.port) = (None, Some(7), None);
        mark.real_server[0].port = Some(443);
        let cfg = config(mark);
        assert_eq!(
            fifo_line(&cfg, &Event::QuorumDown(0)).unwrap(),
            "VS FWM 7 DOWN\n"
        );
        assert_eq!(
            fifo_line(&cfg, &Event::RealServerUp(RS)).unwrap(),
            "RS [198.51.100.7]:none:443 FWM 7 UP\n"
        );
        let mut group = server();
        (group.address, group.group) = (None, Some("WEB".into()));
        assert_eq!(
            fifo_line(&config(group), &Event::QuorumUp(0)).unwrap(),
            "VS [WEB]:80 UP\n"
        );
        assert_eq!(fifo_line(&config(server()), &Event::QuorumUp(3)), None);
    }
}
