//! The numeric and tunnel columns of any ipvsadm listing, and the
//! `--timeout` line.
use std::{collections::BTreeMap, net::SocketAddr};

use anyhow::{bail, Context, Result};

use super::{Line, Listing, ServiceKey};

/// A row of a listing: a service, or one of its destinations.
pub type Row = (ServiceKey, Option<SocketAddr>);

/// The numeric columns of a listing, per service and destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    rows: BTreeMap<Row, BTreeMap<String, u64>>,
}

impl Counters {
    /// Column `column` (`ActiveConn`, `Conns`, `InPkts`...) of the service
    /// `service`, or of its destination `dest`.
    pub fn get(&self, service: &ServiceKey, dest: Option<SocketAddr>, column: &str) -> Option<u64> {
        self.rows
            .get(&(service.clone(), dest))?
            .get(column)
            .copied()
    }

    /// Every row with its columns.
    pub fn rows(&self) -> &BTreeMap<Row, BTreeMap<String, u64>> {
        &self.rows
    }
}

/// Columns that hold words, not numbers.
const TEXT_COLUMNS: &[&str] = &["Forward", "TunnelInfo"];

/// Parses the numeric columns of a listing (`-Ln`, `--stats --exact`,
/// `--rate --exact`, `--persistent-conn`, `--thresholds`). Service lines
/// that carry a scheduler instead of numbers have no row. Without `--exact`,
/// large numbers get a K/M suffix, which is an error here.
pub fn parse_counters(text: &str) -> Result<Counters> {
    let listing = Listing::parse(text)?;
    let mut counters = Counters::default();
    let mut current = None;
    for (n, line) in listing.lines {
        let (row, columns, values) = match line {
            Line::Service(key, values) => {
                current = Some(key.clone());
                // A scheduler name never starts with a digit.
                if !values
                    .first()
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                {
                    continue;
                }
                ((key, None), &listing.service_columns, values)
            }
            Line::Destination(addr, values) => {
                let key = current
                    .clone()
                    .with_context(|| format!("ipvsadm line {n}: destination before any service"))?;
                ((key, Some(addr)), &listing.destination_columns, values)
            }
        };
        if values.len() != columns.len() {
            bail!(
                "ipvsadm line {n}: {} values for columns {columns:?}",
                values.len()
            );
        }
        let mut numbers = BTreeMap::new();
        for (column, value) in columns.iter().zip(values) {
            if TEXT_COLUMNS.contains(column) {
                continue;
            }
            let number = value.parse().with_context(|| {
                format!("ipvsadm line {n}: {column} {value:?} is not a number (use --exact)")
            })?;
            numbers.insert(column.to_string(), number);
        }
        counters.rows.insert(row, numbers);
    }
    Ok(counters)
}

/// The `TunnelInfo` column of `ipvsadm -Ln --tun-info` (`gue:6080:-c`,
/// `ipip`...; `n/a` for destinations that are not tunnelled), per
/// destination.
pub fn parse_tunnels(text: &str) -> Result<BTreeMap<Row, String>> {
    let listing = Listing::parse(text)?;
    let column = listing
        .destination_columns
        .iter()
        .position(|c| *c == "TunnelInfo")
        .context("no TunnelInfo column: not an `ipvsadm -Ln --tun-info` listing")?;
    let mut tunnels = BTreeMap::new();
    let mut current = None;
    for (n, line) in listing.lines {
        match line {
            Line::Service(key, _) => current = Some(key),
            Line::Destination(addr, values) => {
                let key = current
                    .clone()
                    .with_context(|| format!("ipvsadm line {n}: destination before any service"))?;
                let info = values
                    .get(column)
                    .with_context(|| format!("ipvsadm line {n}: no TunnelInfo"))?;
                tunnels.insert((key, Some(addr)), info.to_string());
            }
        }
    }
    Ok(tunnels)
}

/// IPVS connection timeouts (`ipvsadm -Ln --timeout`), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Established TCP connections.
    pub tcp: u32,
    /// TCP connections after a FIN.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

/// Parses `Timeout (tcp tcpfin udp): 900 120 300`.
pub fn parse_timeouts(text: &str) -> Result<Timeouts> {
    let values = text
        .trim()
        .strip_prefix("Timeout (tcp tcpfin udp):")
        .with_context(|| format!("not an `ipvsadm -Ln --timeout` output: {text:?}"))?;
    let numbers: Vec<u32> = values
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad timeouts {values:?}"))?;
    match numbers.as_slice() {
        &[tcp, tcp_fin, udp] => Ok(Timeouts { tcp, tcp_fin, udp }),
        _ => bail!("expected three timeouts in {values:?}"),
    }
}
