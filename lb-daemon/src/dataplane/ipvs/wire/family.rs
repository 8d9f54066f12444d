//! The generic netlink controller's `CTRL_CMD_GETFAMILY`, as the IPVS client
//! resolves the family id: the request names the family, and the reply is
//! read for `CTRL_ATTR_FAMILY_ID` only, every other attribute skipped
//! unparsed. netlink-packet-generic's own `GenlCtrl` parses every attribute
//! of the reply, and its 0.5 release panics on a malformed
//! `CTRL_ATTR_POLICY` or `CTRL_ATTR_OP_POLICY` (it slices them unchecked);
//! the `ipvs_reply` fuzz target found that.
use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, ErrorContext, NlaBuffer, NlasIterator, ParseableParametrized,
};
use netlink_packet_generic::{
    constants::{CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL},
    GenlFamily, GenlHeader,
};

use super::attr;

/// A `CTRL_CMD_GETFAMILY` request for `name`, or a reply carrying `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyQuery {
    /// The family asked for (requests).
    pub name: String,
    /// The id the controller assigned to it (replies).
    pub id: Option<u16>,
}

impl FamilyQuery {
    /// The request for family `name`.
    pub fn request(name: &str) -> FamilyQuery {
        FamilyQuery {
            name: name.to_owned(),
            id: None,
        }
    }

    fn name_nla(&self) -> DefaultNla {
        let mut value = self.name.as_bytes().to_vec();
        value.push(0);
        DefaultNla::new(CTRL_ATTR_FAMILY_NAME, value)
    }
}

impl GenlFamily for FamilyQuery {
    fn family_name() -> &'static str {
        "nlctrl"
    }

    fn family_id(&self) -> u16 {
        GENL_ID_CTRL
    }

    fn command(&self) -> u8 {
        CTRL_CMD_GETFAMILY
    }

    fn version(&self) -> u8 {
        // The controller's version, as netlink-packet-generic sends it.
        2
    }
}

impl Emitable for FamilyQuery {
    fn buffer_len(&self) -> usize {
        self.name_nla().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.name_nla().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for FamilyQuery {
    fn parse_with_param(buf: &[u8], _: GenlHeader) -> Result<FamilyQuery, DecodeError> {
        let mut reply = FamilyQuery {
            name: String::new(),
            id: None,
        };
        for nla in NlasIterator::new(buf) {
            let nla: NlaBuffer<&[u8]> = nla.context("in CTRL_CMD_GETFAMILY reply")?;
            match nla.kind() {
                CTRL_ATTR_FAMILY_ID => {
                    reply.id = Some(attr::u16(nla.value(), "CTRL_ATTR_FAMILY_ID")?)
                }
                CTRL_ATTR_FAMILY_NAME => {
                    reply.name = attr::string(nla.value(), "CTRL_ATTR_FAMILY_NAME")?
                }
                _ => {}
            }
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_generic::GenlMessage;

    use super::*;

    /// A controller reply: a family id, then a `CTRL_ATTR_OP_POLICY` whose
    /// nested attribute claims 65535 bytes in a 4-byte value.
    const MALFORMED_OP_POLICY: &[u8] =
        include_bytes!("../../../../fuzz/seeds/ipvs_reply/regression-ctrl-op-policy-overrun");

    fn reply(bytes: &[u8]) -> Result<FamilyQuery, DecodeError> {
        let message = NetlinkMessage::<GenlMessage<FamilyQuery>>::deserialize(bytes)?;
        match message.payload {
            NetlinkPayload::InnerMessage(reply) => Ok(reply.payload),
            other => panic!("not a family reply: {other:?}"),
        }
    }

    #[test]
    fn requests_name_the_family_as_the_controller_expects() {
        let mut message = GenlMessage::from_payload(FamilyQuery::request("IPVS"));
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.emit(&mut bytes);
        // genlmsghdr (cmd 3, version 2), then CTRL_ATTR_FAMILY_NAME "IPVS\0".
        assert_eq!(
            bytes,
            [3, 2, 0, 0, 9, 0, 2, 0, b'I', b'P', b'V', b'S', 0, 0, 0, 0]
        );
    }

    #[test]
    fn a_malformed_policy_attribute_is_skipped_not_a_panic() {
        // The first byte of the fuzz input chose the controller reply.
        let reply = reply(&MALFORMED_OP_POLICY[1..]).unwrap();
        assert_eq!(reply.id, Some(0x1000));
    }
}
