//! A digest of a service's scheduling table as it sends flows: which real
//! server (address and port) each slot names, in slot order. Two directors
//! whose digests agree send every flow of that service to the same real
//! server, whatever ids their maps gave the servers: what active-active
//! directors (BGP, ECMP) rely on, shown in `status` so operators can see it.
use md5::{Digest, Md5};

use super::tables::{build, Member, Scheduler};

/// The first 16 hex digits of the MD5 of the table `sched` builds over
/// `members`; `None` when no table can be built (too many servers).
pub fn table_digest(sched: Scheduler, members: &[Member]) -> Option<String> {
    let table = build(sched, members).ok()?;
    let mut md5 = Md5::new();
    md5.update(format!("{sched:?};").as_bytes());
    for &position in &table.ring[..table.len as usize] {
        let real = table.reals[usize::from(position)];
        let Some(m) = members.iter().find(|m| m.real == real) else {
            continue;
        };
        md5.update(format!("{}:{};", m.addr, m.port).as_bytes());
    }
    let hex: String = md5.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(real: u32, last: u8, weight: u32) -> Member {
        Member {
            real,
            weight,
            addr: format!("192.0.2.{last}").parse().unwrap(),
            port: 80,
        }
    }

    #[test]
    fn digests_ignore_ids_and_order_but_not_membership_or_weight() {
        let a = [member(0, 11, 1), member(1, 12, 1), member(2, 13, 1)];
        let b = [member(7, 13, 1), member(5, 11, 1), member(9, 12, 1)];
        let mh = |m: &[Member]| table_digest(Scheduler::Mh, m).unwrap();
        assert_eq!(mh(&a), mh(&b));
        assert_ne!(mh(&a), mh(&a[..2]));
        assert_ne!(
            mh(&a),
            mh(&[member(0, 11, 2), member(1, 12, 1), member(2, 13, 1)])
        );
        assert_ne!(mh(&a), table_digest(Scheduler::Sh, &a).unwrap());
        assert_eq!(mh(&a).len(), 16);
    }
}
