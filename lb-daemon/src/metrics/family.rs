//! Metric families as one scrape serves them: a name, help, type and
//! samples whose label sets are rendered once per object and shared.
use std::sync::Arc;

/// The label pairs of a sample, rendered once as the exposition writes them
/// (`{key="value",...}`, values escaped; empty without pairs) and shared by
/// every sample of one object: a real server's labels serve all its
/// families, scrape after scrape when the caller keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels(Arc<str>);

impl Labels {
    /// The labels `pairs`, in order.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
        Labels::default().with(pairs)
    }

    /// These labels followed by `pairs`.
    pub fn with<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
        let mut text = String::with_capacity(self.0.len() + 48);
        text.push_str(self.0.strip_suffix('}').unwrap_or_default());
        for (key, value) in pairs {
            text.push(if text.is_empty() { '{' } else { ',' });
            text.push_str(key);
            text.push_str("=\"");
            escape_into(value, &mut text);
            text.push('"');
        }
        if !text.is_empty() {
            text.push('}');
        }
        Labels(text.into())
    }

    /// The rendered text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Appends `value` escaped as a label value (backslash, double quote and
/// newline, as both exposition formats and prometheus-client escape them).
fn escape_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Builds labels from pairs.
pub fn labels<const N: usize>(pairs: [(&'static str, String); N]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| (*k, v.as_str())))
}

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
    /// Help text.
    pub help: &'static str,
    /// Type.
    pub kind: Kind,
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
        self.samples.push((labels.clone(), value.into()));
    }

    /// The samples, in the order pushed.
    pub fn samples(&self) -> &[(Labels, Number)] {
        &self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_render_escaped_and_extend() {
        assert_eq!(Labels::new([]).as_str(), "");
        assert_eq!(Labels::new([]).with([]).as_str(), "");
        let base = Labels::new([("vip", "192.0.2.1:80"), ("name", "a\"b\\c\nd")]);
        assert_eq!(
            base.as_str(),
            "{vip=\"192.0.2.1:80\",name=\"a\\\"b\\\\c\\nd\"}"
        );
        assert_eq!(
            base.with([("kind", "TCP_CHECK")]).as_str(),
            "{vip=\"192.0.2.1:80\",name=\"a\\\"b\\\\c\\nd\",kind=\"TCP_CHECK\"}"
        );
        assert_eq!(base.with([]), base);
    }
}
