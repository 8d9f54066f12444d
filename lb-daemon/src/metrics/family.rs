//! Metric families as one scrape serves them, and their encoding with
//! prometheus-client in either exposition format.
use std::sync::Arc;

use prometheus_client::{
    collector::Collector,
    encoding::{prometheus_text, text, DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet},
    metrics::MetricType,
    registry::Registry,
};

/// Label pairs of a sample, shared by the samples of one object (a real
/// server's labels serve all its families).
pub type Labels = Arc<[(&'static str, String)]>;

/// How a family is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A counter: its samples get the `_total` suffix.
    Counter,
    /// A gauge.
    Gauge,
    /// Untyped (OpenMetrics `unknown`): a counter kept under a name without
    /// `_total`, as the exporter whose name it keeps serves it.
    Untyped,
}

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A whole number.
    Int(u64),
    /// Anything else (durations, timestamps).
    Float(f64),
}

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        Number::Int(v)
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Number {
        Number::Float(v)
    }
}

impl From<bool> for Number {
    fn from(v: bool) -> Number {
        Number::Int(u64::from(v))
    }
}

/// One metric family: its name (counters without `_total`), help, type and
/// samples.
#[derive(Debug)]
pub struct Family {
    /// Name; the encoder adds `_total` to counters.
    pub name: &'static str,
    help: &'static str,
    kind: Kind,
    samples: Vec<(Labels, Number)>,
}

impl Family {
    /// An empty family.
    pub fn new(name: &'static str, help: &'static str, kind: Kind) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    /// Adds a sample.
    pub fn push(&mut self, labels: &Labels, value: impl Into<Number>) {
        self.samples.push((Arc::clone(labels), value.into()));
    }

    /// The samples, in the order pushed.
    #[cfg(test)]
    pub fn samples(&self) -> &[(Labels, Number)] {
        &self.samples
    }
}

/// Builds labels from pairs.
pub fn labels<const N: usize>(pairs: [(&'static str, String); N]) -> Labels {
    Arc::new(pairs)
}

/// One sample as prometheus-client encodes it.
struct Sample {
    kind: Kind,
    value: Number,
}

impl EncodeMetric for Sample {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        match (self.kind, self.value) {
            (Kind::Counter, Number::Int(v)) => {
                encoder.encode_counter::<NoLabelSet, _, u64>(&v, None)
            }
            (Kind::Counter, Number::Float(v)) => {
                encoder.encode_counter::<NoLabelSet, _, f64>(&v, None)
            }
            (_, Number::Int(v)) => encoder.encode_gauge(&v),
            (_, Number::Float(v)) => encoder.encode_gauge(&v),
        }
    }

    fn metric_type(&self) -> MetricType {
        metric_type(self.kind)
    }
}

fn metric_type(kind: Kind) -> MetricType {
    match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
        Kind::Untyped => MetricType::Unknown,
    }
}

/// The families of one scrape, as a collector.
#[derive(Debug)]
struct Scrape(Vec<Family>);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in self.0.iter().filter(|f| !f.samples.is_empty()) {
            let mut metric = encoder.encode_descriptor(
                family.name,
                family.help,
                None,
                metric_type(family.kind),
            )?;
            for (labels, value) in &family.samples {
                let set: &[(&'static str, String)] = labels;
                let sample = Sample {
                    kind: family.kind,
                    value: *value,
                };
                sample.encode(metric.encode_family(&set)?)?;
            }
        }
        Ok(())
    }
}

/// The exposition format a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics text 1.0 (what Prometheus asks for).
    OpenMetrics,
    /// Prometheus text 0.0.4 (curl, promtool, older scrapers).
    Text,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names it.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => prometheus_text::CONTENT_TYPE,
        }
    }
}

/// Encodes `families` in `format`.
pub fn encode(families: Vec<Family>, format: Format) -> String {
    // About 100 bytes a sample: growing the buffer instead would copy it
    // over and over.
    let samples: usize = families.iter().map(|f| f.samples.len()).sum();
    let mut out = String::with_capacity(samples * 100 + 4096);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(families)));
    let written = match format {
        Format::OpenMetrics => text::encode(&mut out, &registry),
        Format::Text => prometheus_text::encode(&mut out, &registry),
    };
    // Writing to a String cannot fail; names and labels are ours.
    debug_assert!(written.is_ok());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Family> {
        let mut counter = Family::new("lb_demo", "A demo counter.", Kind::Counter);
        counter.push(&labels([("vip", "192.0.2.1:80".into())]), 3u64);
        let mut untyped = Family::new("keepalived_demo_rcvd", "Kept name.", Kind::Untyped);
        untyped.push(&labels([("name", "VI_1".into())]), 2u64);
        let mut gauge = Family::new("lb_demo_seconds", "A demo gauge.", Kind::Gauge);
        gauge.push(&labels([]), 0.25);
        let empty = Family::new("lb_empty", "Never served.", Kind::Gauge);
        vec![counter, untyped, gauge, empty]
    }

    #[test]
    fn openmetrics_keeps_untyped_names_and_suffixes_counters() {
        let out = encode(sample(), Format::OpenMetrics);
        assert!(
            out.contains("# TYPE lb_demo counter\nlb_demo_total{vip=\"192.0.2.1:80\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "# TYPE keepalived_demo_rcvd unknown\nkeepalived_demo_rcvd{name=\"VI_1\"} 2\n"
            ),
            "{out}"
        );
        assert!(out.contains("lb_demo_seconds 0.25\n"), "{out}");
        assert!(!out.contains("lb_empty"), "{out}");
        assert!(out.ends_with("# EOF\n"), "{out}");
    }

    #[test]
    fn text_format_names_counter_families_with_total() {
        let out = encode(sample(), Format::Text);
        assert!(
            out.contains("# TYPE lb_demo_total counter\nlb_demo_total{vip=\"192.0.2.1:80\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("# TYPE keepalived_demo_rcvd untyped\n"),
            "{out}"
        );
        assert!(!out.contains("# EOF"), "{out}");
    }

    #[test]
    fn negotiation_follows_accept() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
    }
}
