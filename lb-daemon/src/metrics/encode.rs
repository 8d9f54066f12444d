//! Writing a scrape: prometheus-client defines the exposition, and this
//! module writes the bulk of it faster with the same bytes.
//!
//! prometheus-client encodes each sample through its label and value
//! encoders (about 300 ns a sample: 60 ms for the 200,000 samples of 1,000
//! services x 16 real servers). Here it still writes every family's header
//! (`# HELP`, `# TYPE`, the sample name with its suffix, in the format
//! asked for) and every value it formats specially (non-finite floats);
//! the samples are then the family's sample name, the label set rendered
//! once per object ([`Labels`]) and the value as prometheus-client formats
//! it (itoa, dtoa). The tests compare the result with prometheus-client's
//! own encoding of the same families, byte for byte.
//!
//! A [`Writer`] takes whole [`Family`] values (the small families) and
//! families written sample by sample straight into the text (the families
//! of every real server and checker, which need no list in between).
//! Writers forked from one can be written on other threads and appended
//! back: the scrape is then the parts in order ([`Exposition`]), never
//! copied into one buffer.
use prometheus_client::{
    collector::Collector,
    encoding::{prometheus_text, text, DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet},
    metrics::MetricType,
    registry::Registry,
};

use super::family::{Family, Kind, Labels, Number};

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

/// Encodes `families` in `format`; families without samples are left out.
#[cfg(test)]
pub fn encode(families: &[Family], format: Format) -> String {
    let mut writer = Writer::new(format, 0);
    for family in families {
        writer.family(family);
    }
    writer.finish().to_string()
}

/// A written scrape: its text in parts, in order.
#[derive(Debug, Default)]
pub struct Exposition {
    parts: Vec<String>,
}

impl Exposition {
    /// The parts, in order: the scrape is their concatenation.
    pub fn into_parts(self) -> Vec<String> {
        self.parts
    }

    /// The length of the text, in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(String::len).sum()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parts.iter().try_for_each(|p| f.write_str(p))
    }
}

/// A scrape being written.
#[derive(Debug)]
pub struct Writer {
    /// Parts written before `out`, by forked writers appended.
    parts: Vec<String>,
    out: String,
    format: Format,
}

impl Writer {
    /// A scrape in `format`, with room for about `samples` samples.
    pub fn new(format: Format, samples: usize) -> Writer {
        Writer {
            parts: Vec::new(),
            // About 100 bytes a sample: growing the buffer instead would
            // copy it over and over.
            out: String::with_capacity(samples * 100 + 4096),
            format,
        }
    }

    /// A writer of a later part of this scrape (same format), with room for
    /// about `samples` samples; [`Writer::append`] puts it back in place.
    pub fn fork(&self, samples: usize) -> Writer {
        Writer::new(self.format, samples)
    }

    /// Appends what `part`, forked from this writer, wrote.
    pub fn append(&mut self, part: Writer) {
        let written = std::mem::take(&mut self.out);
        self.parts.extend(
            std::iter::once(written)
                .chain(part.parts)
                .chain(std::iter::once(part.out))
                .filter(|p| !p.is_empty()),
        );
    }

    /// Writes `family`, unless it has no samples.
    pub fn family(&mut self, family: &Family) {
        let mut samples = self.samples(family.name, family.help, family.kind);
        for (labels, value) in family.samples() {
            samples.push(labels, *value);
        }
    }

    /// Starts a family whose samples are written as they are pushed; its
    /// header comes with the first one.
    pub fn samples(&mut self, name: &'static str, help: &'static str, kind: Kind) -> Samples<'_> {
        Samples {
            writer: self,
            family: One {
                name,
                help,
                kind,
                value: Number::Int(0),
            },
            sample_name: None,
        }
    }

    /// The scrape's text.
    pub fn finish(mut self) -> Exposition {
        if self.format == Format::OpenMetrics {
            // Writing to a String cannot fail.
            let _ = text::encode_eof(&mut self.out);
        }
        let mut parts = self.parts;
        if !self.out.is_empty() {
            parts.push(self.out);
        }
        Exposition { parts }
    }
}

/// The samples of one family, written into the scrape as they come.
#[derive(Debug)]
pub struct Samples<'w> {
    writer: &'w mut Writer,
    family: One,
    /// The sample name (with its suffix), once the header is written.
    sample_name: Option<String>,
}

impl Samples<'_> {
    /// Writes a sample.
    pub fn push(&mut self, labels: &Labels, value: impl Into<Number>) {
        let value = value.into();
        let format = self.writer.format;
        let out = &mut self.writer.out;
        let name = self.sample_name.get_or_insert_with(|| {
            // The reference is the header, then "NAME 0\n".
            let unlabelled = reference(&[One { ..self.family }], format);
            let (header, sample) = unlabelled
                .trim_end_matches('\n')
                .rsplit_once('\n')
                .unwrap_or_default();
            out.push_str(header);
            out.push('\n');
            sample.strip_suffix(" 0").unwrap_or(sample).to_owned()
        });
        out.push_str(name);
        out.push_str(labels.as_str());
        out.push(' ');
        match value {
            Number::Int(v) => out.push_str(itoa::Buffer::new().format(v)),
            Number::Float(v) if v.is_finite() => out.push_str(dtoa::Buffer::new().format_finite(v)),
            special => {
                let one = One {
                    value: special,
                    ..self.family
                };
                let line = reference(&[one], format);
                let written = line.trim_end_matches('\n').rsplit(' ').next();
                out.push_str(written.unwrap_or_default());
            }
        }
        out.push('\n');
    }
}

/// One unlabelled sample of a family, as the reference encodes it.
#[derive(Debug, Clone, Copy)]
struct One {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    value: Number,
}

/// prometheus-client's encoding of `samples`, each a family of its own,
/// without the OpenMetrics end marker.
fn reference(samples: &[One], format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(References(
        samples
            .iter()
            .map(|s| (s.name, s.help, s.kind, s.value))
            .collect(),
    )));
    let mut out = String::new();
    // Writing to a String cannot fail; names are ours.
    let _ = match format {
        Format::OpenMetrics => text::encode_registry(&mut out, &registry),
        Format::Text => prometheus_text::encode(&mut out, &registry),
    };
    out
}

/// Families of one unlabelled sample each, as a prometheus-client collector.
#[derive(Debug)]
struct References(Vec<(&'static str, &'static str, Kind, Number)>);

impl Collector for References {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for &(name, help, kind, value) in &self.0 {
            let metric = encoder.encode_descriptor(name, help, None, metric_type(kind))?;
            Sample { kind, value }.encode(metric)?;
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests;
