//! Tests against the bytes `ipvsadm` and Linux 6.1 exchanged (see the
//! fixture's header for how they were captured).
use std::net::IpAddr;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;

use super::*;
use crate::config::Protocol;
use crate::dataplane::ipvs::model::{
    flags, Destination, Forwarding, Info, Service, Timeouts, Tunnel, TunnelType, TUN_F_CSUM,
};
use crate::state::desired::{Family, ServiceKey};

const CAPTURE: &str = include_str!("fixtures/ipvsadm-linux-6.1.txt");

/// One captured message: the command that caused it, whether ipvsadm sent
/// it, and its bytes.
struct Captured {
    command: String,
    request: bool,
    bytes: Vec<u8>,
}

fn captured() -> Vec<Captured> {
    let mut command = String::new();
    let mut out = Vec::new();
    for line in CAPTURE.lines() {
        if let Some(c) = line.strip_prefix("CMD ") {
            command = c.to_owned();
        }
        let (request, hex) = match line.split_once(' ') {
            Some(("REQ", hex)) => (true, hex),
            Some(("RSP", hex)) => (false, hex),
            _ => continue,
        };
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        out.push(Captured {
            command: command.clone(),
            request,
            bytes,
        });
    }
    out
}

fn parse(bytes: &[u8]) -> IpvsMessage {
    let message = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(bytes).unwrap();
    match message.payload {
        NetlinkPayload::InnerMessage(genl) => genl.payload,
        other => panic!("not an IPVS message: {other:?}"),
    }
}

fn emit(message: &IpvsMessage) -> Vec<u8> {
    let mut bytes = vec![0; message.buffer_len()];
    message.emit(&mut bytes);
    bytes
}

/// The messages `command` caused, requests or replies.
fn of(command: &str, request: bool) -> Vec<IpvsMessage> {
    captured()
        .iter()
        .filter(|c| c.command == command && c.request == request)
        .map(|c| parse(&c.bytes))
        .collect()
}

/// The one request of `command` with `cmd`.
fn request(command: &str, cmd: IpvsCmd) -> IpvsMessage {
    of(command, true)
        .into_iter()
        .find(|m| m.cmd == cmd)
        .unwrap_or_else(|| panic!("no {cmd:?} request for {command}"))
}

#[test]
fn the_capture_holds_every_command_kind() {
    let all = captured();
    assert!(all.len() > 60, "{} messages", all.len());
    let cmds: Vec<IpvsCmd> = all.iter().map(|c| parse(&c.bytes).cmd).collect();
    // Everything but ZERO, which lb-daemon does not use, and the sync
    // daemon commands, which the capture predates (see `daemon.rs`).
    let used = COMMANDS.iter().filter(|c| {
        !matches!(
            c,
            IpvsCmd::NewDaemon | IpvsCmd::DelDaemon | IpvsCmd::GetDaemon | IpvsCmd::Zero
        )
    });
    for cmd in used {
        assert!(cmds.contains(cmd), "{cmd:?} missing");
    }
}

#[test]
fn requests_reemit_byte_for_byte_and_replies_reparse_equal() {
    for c in captured() {
        let message = parse(&c.bytes);
        let again = emit(&message);
        if c.request {
            assert_eq!(again, c.bytes[20..], "{}: {message:?}", c.command);
        } else {
            // The kernel nests without NLA_F_NESTED; we send it set.
            let reparsed = IpvsMessage::parse_with_param(
                &again,
                GenlHeader {
                    cmd: message.cmd.into(),
                    version: FAMILY_VERSION,
                },
            )
            .unwrap();
            assert_eq!(reparsed, message, "{}", c.command);
        }
    }
}

fn v4(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn addr_key(ip: &str, port: u16, protocol: Protocol) -> ServiceKey {
    ServiceKey::Addr {
        ip: v4(ip),
        port,
        protocol,
    }
}

fn service(key: ServiceKey, scheduler: &str, flags: u32, timeout: u32, netmask: u8) -> Service {
    Service {
        key,
        scheduler: scheduler.to_owned(),
        flags,
        timeout,
        netmask,
        pe_name: None,
    }
}

fn expected_services() -> Vec<(&'static str, Service)> {
    let sh = flags::PERSISTENT | flags::SCHED1 | flags::SCHED2;
    vec![
        (
            "ipvsadm -A -t 192.0.2.1:80 -s wrr",
            service(addr_key("192.0.2.1", 80, Protocol::Tcp), "wrr", 0, 0, 32),
        ),
        (
            "ipvsadm -A -u 192.0.2.1:53 -s sh -b sh-port,sh-fallback -p 300 -M 255.255.255.0",
            service(addr_key("192.0.2.1", 53, Protocol::Udp), "sh", sh, 300, 24),
        ),
        (
            "ipvsadm -A -f 7 -s rr",
            service(
                ServiceKey::Fwmark {
                    mark: 7,
                    family: Family::V4,
                },
                "rr",
                0,
                0,
                32,
            ),
        ),
        (
            "ipvsadm -A -t [2001:db8::1]:443 -s mh -b mh-port -p 60",
            service(
                addr_key("2001:db8::1", 443, Protocol::Tcp),
                "mh",
                flags::PERSISTENT | flags::SCHED2,
                60,
                128,
            ),
        ),
    ]
}

#[test]
fn new_service_requests_equal_ipvsadm_s() {
    for (command, service) in expected_services() {
        let sent = request(command, IpvsCmd::NewService);
        let ours = IpvsMessage {
            cmd: IpvsCmd::NewService,
            nlas: vec![CmdNla::Service(service.to_nlas())],
        };
        assert_eq!(emit(&ours), emit(&sent), "{command}");
    }
}

fn dest(addr: &str, port: u16, forwarding: Forwarding, weight: u32) -> Destination {
    Destination {
        addr: v4(addr),
        port,
        forwarding,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tunnel: Tunnel::default(),
    }
}

fn sent_dest(command: &str) -> Vec<DestNla> {
    request(command, IpvsCmd::NewDest)
        .nlas
        .into_iter()
        .find_map(|n| match n {
            CmdNla::Dest(d) => Some(d),
            _ => None,
        })
        .unwrap()
}

#[test]
fn new_dest_attributes_equal_ipvsadm_s() {
    let gue = Destination {
        tunnel: Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            flags: TUN_F_CSUM,
        },
        ..dest("198.51.100.4", 80, Forwarding::Tunnel, 1)
    };
    let command = "ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.4:80 -i --tun-type gue --tun-port 6080 --tun-csum";
    assert_eq!(gue.to_nlas(), sent_dest(command));
    // ipvsadm also sends zero tunnel attributes for other methods; we leave
    // them out so that kernels before 5.2 accept the request.
    let masq = Destination {
        u_threshold: 100,
        l_threshold: 10,
        ..dest("198.51.100.2", 8080, Forwarding::Masq, 3)
    };
    let command = "ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.2:8080 -m -w 3 -x 100 -y 10";
    let sent: Vec<DestNla> = sent_dest(command)
        .into_iter()
        .filter(|n| {
            !matches!(
                n,
                DestNla::TunType(_) | DestNla::TunPort(_) | DestNla::TunFlags(_)
            )
        })
        .collect();
    assert_eq!(masq.to_nlas(), sent);
}

#[test]
fn set_config_request_equals_ipvsadm_s() {
    let timeouts = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    let sent = request("ipvsadm --set 900 120 300", IpvsCmd::SetConfig);
    assert_eq!(timeouts.to_nlas(), sent.nlas);
}

/// The replies to `command`'s requests, grouped per request.
fn replies_per_request(command: &str) -> Vec<(IpvsMessage, Vec<IpvsMessage>)> {
    let mut groups: Vec<(IpvsMessage, Vec<IpvsMessage>)> = Vec::new();
    for c in captured().iter().filter(|c| c.command == command) {
        let message = parse(&c.bytes);
        match (c.request, groups.last_mut()) {
            (true, _) => groups.push((message, Vec::new())),
            (false, Some((_, replies))) => replies.push(message),
            (false, None) => panic!("reply before request"),
        }
    }
    groups
}

#[test]
fn dumps_decode_to_what_ipvsadm_printed() {
    let groups = replies_per_request("ipvsadm -Ln");
    let (_, info) = groups
        .iter()
        .find(|(r, _)| r.cmd == IpvsCmd::GetInfo)
        .unwrap();
    let info = Info::from_nlas(&info[0].nlas).unwrap();
    assert_eq!(
        (info.version_string().as_str(), info.conn_tab_size),
        ("1.2.1", 4096)
    );

    let (_, services) = groups
        .iter()
        .find(|(r, _)| r.cmd == IpvsCmd::GetService)
        .unwrap();
    let dumped: Vec<Service> = services
        .iter()
        .flat_map(|m| &m.nlas)
        .map(|n| match n {
            CmdNla::Service(s) => Service::from_nlas(s).unwrap().unwrap().0,
            other => panic!("{other:?}"),
        })
        .collect();
    let services: Vec<Service> = expected_services().into_iter().map(|(_, s)| s).collect();
    // The kernel lists address services in hash table order, then fwmarks.
    let expected: Vec<Service> = [0, 3, 1, 2].map(|i| services[i].clone()).into();
    assert_eq!(dumped, expected);

    let (_, dests) = groups
        .iter()
        .find(|(r, _)| r.cmd == IpvsCmd::GetDest)
        .unwrap();
    let dumped: Vec<Destination> = dests
        .iter()
        .flat_map(|m| &m.nlas)
        .map(|n| match n {
            CmdNla::Dest(d) => Destination::from_nlas(d, Family::V4).unwrap().0,
            other => panic!("{other:?}"),
        })
        .collect();
    let tunnel = Tunnel {
        kind: TunnelType::Gue,
        port: 6080,
        flags: TUN_F_CSUM,
    };
    // The kernel lists destinations newest first.
    assert_eq!(
        dumped,
        vec![
            Destination {
                tunnel,
                ..dest("198.51.100.4", 80, Forwarding::Tunnel, 1)
            },
            dest("198.51.100.3", 80, Forwarding::Route, 1),
            Destination {
                u_threshold: 100,
                l_threshold: 10,
                ..dest("198.51.100.2", 8080, Forwarding::Masq, 3)
            },
        ]
    );
}

#[test]
fn get_config_reply_decodes() {
    let groups = replies_per_request("ipvsadm -L --timeout");
    let (_, replies) = groups
        .iter()
        .find(|(r, _)| r.cmd == IpvsCmd::GetConfig)
        .unwrap();
    let timeouts = Timeouts::from_nlas(&replies[0].nlas);
    assert_eq!(
        timeouts,
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
}

#[test]
fn malformed_attributes_are_named() {
    // A service nest whose PORT is 3 bytes long.
    let nest = [
        6u8, 0, 1, 0, 2, 0, 0, 0, // AF_INET
        7, 0, 4, 0, 0, 80, 0, 0, // PORT, one byte too many
    ];
    let mut message = vec![0u8; 4];
    message[0] = (4 + nest.len()) as u8;
    message[2] = 1; // IPVS_CMD_ATTR_SERVICE
    message.extend(nest);
    let header = GenlHeader {
        cmd: IpvsCmd::NewService.into(),
        version: 1,
    };
    let err = IpvsMessage::parse_with_param(&message[..], header).unwrap_err();
    assert!(err.to_string().contains("IPVS_SVC_ATTR_PORT"), "{err}");

    let err = Service::from_nlas(&[SvcNla::Port(80)]).unwrap_err();
    assert!(err.to_string().contains("IPVS_SVC_ATTR_AF"), "{err}");
    let err = Destination::from_nlas(&[DestNla::Port(80)], Family::V4).unwrap_err();
    assert!(err.to_string().contains("IPVS_DEST_ATTR_ADDR"), "{err}");
    let unknown = IpvsCmd::try_from(99).unwrap_err();
    assert!(unknown.to_string().contains("99"), "{unknown}");
}

#[test]
fn commands_number_as_in_ip_vs_h() {
    assert_eq!(u8::from(IpvsCmd::NewService), 1);
    assert_eq!(u8::from(IpvsCmd::GetDest), 8);
    assert_eq!(u8::from(IpvsCmd::Flush), 17);
    for n in 1..=17u8 {
        assert_eq!(u8::from(IpvsCmd::try_from(n).unwrap()), n);
    }
}
