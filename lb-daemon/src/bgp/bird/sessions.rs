//! The BGP sessions BIRD runs and their BFD state, read over the control
//! socket: every BGP protocol `show protocols` lists (a child BIRD's or the
//! system BIRD's own), its neighbour and BGP state from `show protocols
//! all`, and the neighbour's line in `show bfd sessions`.
use serde_json::{json, Value};

use super::Bird;

/// Every BGP protocol's session, in BIRD's order.
pub(super) async fn read(bird: &Bird) -> Vec<Value> {
    let protocols = match bird.command("show protocols").await {
        Ok(reply) => bgp_protocols(&reply.lines),
        Err(_) => return Vec::new(),
    };
    let bfd = match bird.command("show bfd sessions").await {
        Ok(reply) => reply.lines,
        Err(_) => Vec::new(),
    };
    let mut sessions = Vec::new();
    for protocol in protocols {
        let (neighbor, bgp_state) = match bird
            .command(&format!("show protocols all {protocol}"))
            .await
        {
            Ok(reply) => (
                field(&reply.lines, "Neighbor address:"),
                field(&reply.lines, "BGP state:"),
            ),
            Err(e) => (None, Some(format!("unknown ({e:#})"))),
        };
        let bfd_state = neighbor
            .as_deref()
            .and_then(|address| bfd_state(&bfd, address));
        sessions.push(json!({
            "neighbor": neighbor,
            "protocol": protocol,
            "bgp_state": bgp_state,
            "bfd_state": bfd_state,
        }));
    }
    sessions
}

/// The names of the BGP protocols in a `show protocols` table.
fn bgp_protocols(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            (words.next() == Some("BGP")).then(|| name.to_owned())
        })
        .collect()
}

/// The value after `label` on the line that holds it (`BGP state:
/// Established` -> `Established`).
fn field(lines: &[String], label: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        let (_, rest) = l.split_once(label)?;
        Some(rest.trim().to_owned())
    })
}

/// The state column of `address`'s line in `show bfd sessions`.
fn bfd_state(lines: &[String], address: &str) -> Option<String> {
    lines
        .iter()
        .find(|l| l.split_whitespace().next() == Some(address))
        .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn bgp_protocols_are_picked_from_the_protocol_table() {
        let table = lines(
            "Name       Proto      Table      State  Since         Info\n\
             device1    Device     ---        up     08:45:03.988\n\
             upstream_0 BGP        ---        up     08:45:04.040  Established\n\
             lbvip_198_51_100_10_32 Static     master4    up     08:45:05.101\n\
             routers    BGP        ---        start  08:45:04.040  Active",
        );
        assert_eq!(bgp_protocols(&table), ["upstream_0", "routers"]);
    }

    #[test]
    fn fields_are_read_from_birds_protocol_details() {
        let details = lines(
            "upstream_0 BGP        ---        up     08:45:04.040  Established\n  \
             BGP state:          Established\n    Neighbor address: 198.51.100.1",
        );
        assert_eq!(
            field(&details, "BGP state:").as_deref(),
            Some("Established")
        );
        assert_eq!(
            field(&details, "Neighbor address:").as_deref(),
            Some("198.51.100.1")
        );
        assert_eq!(field(&details, "Hold timer:"), None);
        let bfd = lines(
            "bfd1:\nIP address                Interface  State      Since         Interval  Timeout\n\
             198.51.100.1              eth0       Up         08:45:05.000    0.100    0.300",
        );
        assert_eq!(bfd_state(&bfd, "198.51.100.1").as_deref(), Some("Up"));
        assert_eq!(bfd_state(&bfd, "198.51.100.2"), None);
    }
}
