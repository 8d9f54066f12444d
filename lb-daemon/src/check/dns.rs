//! `DNS_CHECK`, as keepalived's `check_dns.c`: one UDP query (recursion
//! desired, class IN) for `name` (default `.`) of `type` (default SOA; A,
//! NS, CNAME, SOA, MX, TXT, AAAA), to the target. Datagrams that are too
//! short, carry another id or are not responses are ignored; the first
//! response with our id decides: rcode NOERROR is up (answers are not
//! required), any other rcode is down; no response within the timeout is
//! down. Messages are built and parsed with `hickory-proto`.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use hickory_proto::op::{Header, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::udp::connected_udp;
use super::{Attempt, Check, Outcome, Reason, Target};
use crate::config::Checker;

/// keepalived's `DNS_DEFAULT_NAME`.
pub const DEFAULT_NAME: &str = ".";

/// keepalived's `DNS_BUFFER_SIZE`: longer responses are truncated.
const BUFFER_SIZE: usize = 768;

/// Size of a DNS header: shorter datagrams are ignored.
const HEADER_SIZE: usize = 12;

/// The query types keepalived accepts (case-insensitive).
const TYPES: [RecordType; 7] = [
    RecordType::A,
    RecordType::NS,
    RecordType::CNAME,
    RecordType::SOA,
    RecordType::MX,
    RecordType::TXT,
    RecordType::AAAA,
];

/// `DNS_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    /// The queried name (fully qualified).
    name: Name,
    /// The queried type.
    record_type: RecordType,
}

impl DnsCheck {
    /// Builds the check from `name` and `dns_type`. keepalived logs and
    /// falls back to SOA on an unknown type; here it is an error (the
    /// configuration validator reports it first).
    pub fn new(checker: &Checker) -> Result<DnsCheck> {
        let text = checker.name.as_deref().unwrap_or(DEFAULT_NAME);
        let name = Name::from_str(text)
            .with_context(|| format!("DNS_CHECK name {text:?}"))?
            .append_domain(&Name::root())?;
        let record_type = match checker.dns_type.as_deref() {
            None => RecordType::SOA,
            Some(label) => match TYPES
                .into_iter()
                .find(|t| t.to_string().eq_ignore_ascii_case(label))
            {
                Some(t) => t,
                None => bail!("unknown DNS_CHECK type {label:?}"),
            },
        };
        Ok(DnsCheck { name, record_type })
    }

    /// The query with `id`, on the wire.
    fn query(&self, id: u16) -> Result<Vec<u8>> {
        let mut message = Message::new();
        message
            .set_id(id)
            .set_recursion_desired(true)
            .add_query(Query::query(self.name.clone(), self.record_type));
        Ok(message.to_vec()?)
    }

    /// One query and the wait for its response.
    async fn attempt(&self, target: &Target) -> Result<Outcome> {
        let id = RandomState::new().hash_one(std::time::Instant::now()) as u16;
        let socket = connected_udp(target).await?;
        socket.send(&self.query(id)?).await?;
        let mut buf = [0u8; BUFFER_SIZE];
        loop {
            let len = socket.recv(&mut buf).await?;
            if let Some(outcome) = verdict(&buf[..len], id, target) {
                return Ok(outcome);
            }
        }
    }
}

/// What the datagram `reply` to the query `id` to `target` says, or `None`
/// when it is to be ignored (too short, another id, not a response).
/// keepalived looks at the header only (the body may even be truncated by
/// its buffer).
pub(crate) fn verdict(reply: &[u8], id: u16, target: &Target) -> Option<Outcome> {
    if reply.len() < HEADER_SIZE {
        return None;
    }
    let response = Header::read(&mut BinDecoder::new(reply)).ok()?;
    if response.id() != id || response.message_type() != MessageType::Response {
        return None;
    }
    Some(match response.response_code() {
        ResponseCode::NoError => Outcome::Up,
        rcode => Outcome::down(
            Reason::Response,
            format!(
                "DNS_CHECK ({}) error occurred (rcode = {})",
                target.service(),
                u16::from(rcode)
            ),
        ),
    })
}

impl Check for DnsCheck {
    fn kind(&self) -> &'static str {
        "DNS_CHECK"
    }

    fn check<'a>(&'a self, target: &'a Target) -> Attempt<'a> {
        Box::pin(async move {
            match tokio::time::timeout(target.timeout, self.attempt(target)).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => Outcome::down(
                    Reason::of_error(&e),
                    format!("DNS_CHECK ({}) {e:#}", target.service()),
                ),
                Err(_) => Outcome::down(
                    Reason::Timeout,
                    format!("DNS_CHECK ({}) read timeout from socket", target.service()),
                ),
            }
        })
    }
}
