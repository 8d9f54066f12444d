//! What servers and the kernel send back: each function plays the other
//! end with the fuzzer's bytes and runs the daemon's own reading of them.
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use md5::{Digest, Md5};
use netlink_packet_core::{NetlinkDeserializable, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use rtnetlink::packet_route::RouteNetlinkMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use crate::check::http::fetch::{head_over, Get, Wanted, MAX_BODY};
use crate::check::{dns, smtp, Outcome, Reason, Target};
use crate::config::{Checker, HttpProtocol};
use crate::control::{read_reply, server::read_request, Request, MAX_REQUEST};
use crate::dataplane::ipvs::client::{daemons_of, destinations_of, read_datagram, services_of};
use crate::dataplane::ipvs::wire::{FamilyQuery, IpvsMessage};
use crate::dataplane::ipvs::{Info, IpvsError, Timeouts};
use crate::netlink::neighbours::{neighbour_mac, route_of};
use crate::netlink::{address_of, interface_of};
use crate::state::desired::Family;

/// How long one exchange may take: the peer has sent everything and
/// closed, so only a decoder that hangs reaches it.
const BOUND: Duration = Duration::from_secs(5);

fn target() -> Target {
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 80);
    Target::new(addr, BOUND)
}

/// Runs `client` against a peer that sends `reply`, closes its side and
/// discards whatever the client sends; `client` must finish within [`BOUND`].
fn against<T>(reply: &[u8], client: impl AsyncFnOnce(DuplexStream) -> T) -> T {
    let reply = reply.to_vec();
    run(async move {
        let (near, mut far) = tokio::io::duplex(64 * 1024);
        let peer = tokio::spawn(async move {
            far.write_all(&reply).await?;
            far.shutdown().await?;
            far.read_to_end(&mut Vec::new()).await
        });
        let outcome = client(near).await;
        peer.abort();
        outcome
    })
}

/// Runs `work` on this thread's runtime; it must finish within [`BOUND`].
fn run<T>(work: impl Future<Output = T>) -> T {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
    }
    let bounded = async { tokio::time::timeout(BOUND, work).await };
    RUNTIME.with(|runtime| match runtime.block_on(bounded) {
        Ok(outcome) => outcome,
        Err(_) => panic!("no verdict within {BOUND:?} although the peer has closed"),
    })
}

/// A reply to HTTP_GET/SSL_GET (status line, headers, body of any framing:
/// length, chunked, to the end): read as a checker reads it, with the body
/// digested and kept. The first byte chooses the request's protocol.
pub fn http_reply(data: &[u8]) {
    let Some((&choice, reply)) = data.split_first() else {
        return;
    };
    let protocol = [
        HttpProtocol::Http10,
        HttpProtocol::Http10Close,
        HttpProtocol::Http10KeepAlive,
        HttpProtocol::Http11,
    ][usize::from(choice % 4)];
    let get = Get {
        path: "/health".into(),
        host: "www.example.org".into(),
        protocol,
        tls: None,
        tls_client: None,
    };
    let target = target();
    let result = against(reply, async |stream| {
        let head = head_over(stream, &target, &get, Instant::now() + BOUND).await?;
        let status = head.status;
        let wanted = Wanted {
            digest: true,
            text: true,
        };
        head.read_body(wanted).await.map(|body| (status, body))
    });
    match result {
        Ok((status, body)) => {
            assert!((100..1000).contains(&status), "status {status}");
            let text = body.text.expect("the body was kept");
            assert_eq!(text.len(), body.len);
            assert!(body.len <= MAX_BODY.min(reply.len()), "{} bytes", body.len);
            let digest: String = Md5::digest(&text)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(body.digest, Some(digest));
        }
        Err(failure) => assert!(failure.reason != Reason::Timeout, "{failure}"),
    }
}

/// A datagram answering DNS_CHECK's query. The first byte says whether the
/// query's id is the datagram's own (as a real answer's) or another.
pub fn dns_reply(data: &[u8]) {
    let Some((&choice, datagram)) = data.split_first() else {
        return;
    };
    let own = match datagram {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let id = match choice & 1 {
        0 => own,
        _ => own.wrapping_add(u16::from(choice)),
    };
    let verdict = dns::verdict(datagram, id, &target());
    // keepalived's reading of the 12-byte header: id, QR bit, rcode.
    let answers = datagram.len() >= 12 && own == id && datagram[2] & 0x80 != 0;
    match (answers, verdict) {
        (false, None) => {}
        (true, Some(Outcome::Up)) if datagram[3] & 0x0f == 0 => {}
        (true, Some(Outcome::Down(_))) if datagram[3] & 0x0f != 0 => {}
        (_, verdict) => panic!(
            "answer {answers}, rcode {}: {verdict:?}",
            datagram[3] & 0x0f
        ),
    }
}

/// An SMTP server's lines to SMTP_CHECK (banner, HELO reply, QUIT reply).
pub fn smtp_reply(data: &[u8]) {
    let check = smtp::SmtpCheck::new(&Checker::default()).expect("the default SMTP_CHECK");
    let result = against(data, async |stream| check.talk(stream).await);
    if result.is_ok() {
        let banner = data.split(|&b| b == b'\n').next().unwrap_or_default();
        let status = smtp::status(String::from_utf8_lossy(banner).trim_end_matches('\r'));
        assert_eq!(status, Some(220), "accepted banner {banner:?}");
    }
}

/// A control-socket client's request (the daemon's side) and the daemon's
/// reply (the `lb-daemon status` side).
pub fn control_socket(data: &[u8]) {
    let request = run(read_request(data));
    let line = match data.iter().position(|&b| b == b'\n') {
        Some(end) => &data[..=end],
        None => data,
    };
    let status =
        line.len() <= MAX_REQUEST && std::str::from_utf8(line).map(str::trim) == Ok("status");
    assert_eq!(
        request == Ok(Request::Status),
        status,
        "{request:?} for {line:?}"
    );
    if let Ok(value) = read_reply(data) {
        assert!(value.get("error").is_none(), "a refusal taken for a status");
    }
}

/// Datagrams of generic netlink replies, decoded as the IPVS client decodes
/// them: the first byte chooses the request they answer.
pub fn ipvs_reply(data: &[u8]) {
    let Some((&choice, datagram)) = data.split_first() else {
        return;
    };
    if choice % 2 == 1 {
        let _ = replies::<GenlMessage<FamilyQuery>>(datagram);
        return;
    }
    let Ok(replies) = replies::<GenlMessage<IpvsMessage>>(datagram) else {
        return;
    };
    let replies: Vec<IpvsMessage> = replies.into_iter().map(|r| r.payload).collect();
    for reply in &replies {
        let _ = Info::from_nlas(&reply.nlas);
        let _ = Timeouts::from_nlas(&reply.nlas);
    }
    let _ = services_of(replies.clone());
    let _ = daemons_of(replies.clone());
    let _ = destinations_of(replies.clone(), Family::V4, "GET_DEST");
    let _ = destinations_of(replies, Family::V6, "GET_DEST");
}

/// The replies to request 1 in `datagram`.
fn replies<T>(datagram: &[u8]) -> Result<Vec<T>, IpvsError>
where
    T: NetlinkDeserializable + std::fmt::Debug,
{
    let mut replies = Vec::new();
    let mut each = |reply| {
        replies.push(reply);
        Ok(())
    };
    read_datagram(datagram, 1, "fuzz", &mut each).unwrap_or(Ok(()))?;
    Ok(replies)
}

/// An rtnetlink message (link, address, route or neighbour), decoded by
/// netlink-packet-route and read as the daemon reads each kind.
pub fn rtnetlink_reply(data: &[u8]) {
    let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(data) else {
        return;
    };
    let NetlinkPayload::InnerMessage(message) = message.payload else {
        return;
    };
    match message {
        RouteNetlinkMessage::NewLink(link) => {
            assert_eq!(interface_of(&link).index, link.header.index);
        }
        RouteNetlinkMessage::NewAddress(address) => {
            if let Some(net) = address_of(&address) {
                assert_eq!(net.prefix_len(), address.header.prefix_len);
            }
        }
        RouteNetlinkMessage::NewRoute(route) => {
            if let Some(found) = route_of(&route) {
                assert_ne!(found.ifindex, 0);
            }
        }
        RouteNetlinkMessage::NewNeighbour(entry) => {
            for addr in [
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ] {
                let _ = neighbour_mac(&entry, entry.header.ifindex, addr);
            }
        }
        _ => {}
    }
}
