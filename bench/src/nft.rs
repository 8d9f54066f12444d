//! nftables in a lab namespace: loading a ruleset and reading a counter.
use std::io::Write;

use anyhow::{Context, Result};
use lb_tests::Netns;

/// Loads `ruleset` (nft syntax) into `ns`.
pub fn load(ns: &Netns, ruleset: &str) -> Result<()> {
    let mut file = tempfile::NamedTempFile::new()?;
    file.write_all(ruleset.as_bytes())?;
    let path = file.path().to_string_lossy().into_owned();
    ns.run(&["nft", "-f", &path])
        .with_context(|| format!("loading into {}:\n{ruleset}", ns.name()))?;
    Ok(())
}

/// Deletes table `table` of `family` from `ns`.
pub fn delete_table(ns: &Netns, family: &str, table: &str) -> Result<()> {
    ns.run(&["nft", "delete", "table", family, table]).map(drop)
}

/// The packets counted by the first `counter` of chain `chain` in table
/// `table` of `family` in `ns`.
pub fn counted_packets(ns: &Netns, family: &str, table: &str, chain: &str) -> Result<u64> {
    let listing = ns.run(&["nft", "list", "chain", family, table, chain])?;
    packets_in(&listing).with_context(|| {
        format!(
            "no counter in chain {family} {table} {chain} of {}:\n{listing}",
            ns.name()
        )
    })
}

/// The number after the first `counter packets` in an `nft list` output.
fn packets_in(listing: &str) -> Option<u64> {
    let (_, rest) = listing.split_once("counter packets ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::packets_in;

    #[test]
    fn reads_the_counter_of_an_nft_listing() {
        let listing = "table netdev bench {\n\tchain sink {\n\t\ttype filter hook ingress \
                       device \"eth0\" priority filter; policy accept;\n\t\tudp dport 9 \
                       counter packets 1234 bytes 74040 drop\n\t}\n}\n";
        assert_eq!(packets_in(listing), Some(1234));
        assert_eq!(packets_in("table netdev bench {}"), None);
    }
}
