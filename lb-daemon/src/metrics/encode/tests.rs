use proptest::prelude::*;

use super::super::family::{labels, Labels};
use super::*;

type Pairs = Vec<(&'static str, String)>;

/// A family as the tests describe it: labels as pairs, so that
/// prometheus-client can encode it as the reference.
#[derive(Debug, Clone)]
struct Described {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    samples: Vec<(Pairs, Number)>,
}

impl Described {
    fn family(&self) -> Family {
        let mut family = Family::new(self.name, self.help, self.kind);
        for (pairs, value) in &self.samples {
            let l = Labels::new(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            family.push(&l, *value);
        }
        family
    }
}

/// prometheus-client's own encoding of `described`, sample by sample
/// through its label and value encoders.
fn prometheus_client(described: &[Described], format: Format) -> String {
    #[derive(Debug)]
    struct Collect(Vec<Described>);
    impl Collector for Collect {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            for d in self.0.iter().filter(|d| !d.samples.is_empty()) {
                let mut metric =
                    encoder.encode_descriptor(d.name, d.help, None, metric_type(d.kind))?;
                for (pairs, value) in &d.samples {
                    let set: &[(&'static str, String)] = pairs;
                    let sample = Sample {
                        kind: d.kind,
                        value: *value,
                    };
                    sample.encode(metric.encode_family(&set)?)?;
                }
            }
            Ok(())
        }
    }
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Collect(described.to_vec())));
    let mut out = String::new();
    match format {
        Format::OpenMetrics => text::encode(&mut out, &registry),
        Format::Text => prometheus_text::encode(&mut out, &registry),
    }
    .unwrap();
    out
}

fn both_ways(described: &[Described]) {
    let families: Vec<Family> = described.iter().map(Described::family).collect();
    for format in [Format::OpenMetrics, Format::Text] {
        let reference = prometheus_client(described, format);
        assert_eq!(encode(&families, format), reference, "{format:?}");
        // Written in two forked parts, split anywhere, appended back.
        for split in 0..=families.len() {
            let mut out = Writer::new(format, 0);
            let (mut first, mut second) = (out.fork(0), out.fork(0));
            families[..split].iter().for_each(|f| first.family(f));
            families[split..].iter().for_each(|f| second.family(f));
            out.append(first);
            out.append(second);
            let parts = out.finish();
            assert_eq!(parts.len(), reference.len());
            assert_eq!(parts.to_string(), reference, "{format:?} split at {split}");
        }
    }
}

const NAMES: [(&str, &str, Kind); 4] = [
    ("lb_demo", "A demo counter.", Kind::Counter),
    ("keepalived_demo_rcvd", "Kept name.", Kind::Untyped),
    ("lb_demo_seconds", "A demo gauge.", Kind::Gauge),
    ("lb_odd_help", "Help with \\ a backslash.", Kind::Gauge),
];

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<u64>().prop_map(Number::Int),
        any::<f64>().prop_map(Number::Float),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.25),
            Just(1e300),
            Just(-0.0)
        ]
        .prop_map(Number::Float),
    ]
}

fn pairs() -> impl Strategy<Value = Pairs> {
    let value = "(\\PC|[\"\\\\\n]){0,12}";
    proptest::collection::vec(
        (prop_oneof![Just("vip"), Just("addr"), Just("name")], value),
        0..4,
    )
}

proptest! {
    #[test]
    fn writes_what_prometheus_client_writes(
        samples in proptest::collection::vec(
            proptest::collection::vec((pairs(), number()), 0..4), 4..=4)
    ) {
        let described: Vec<Described> = NAMES
            .iter()
            .zip(samples)
            .map(|(&(name, help, kind), samples)| Described { name, help, kind, samples })
            .collect();
        both_ways(&described);
    }
}

#[test]
fn openmetrics_keeps_untyped_names_and_suffixes_counters() {
    let mut counter = Family::new("lb_demo", "A demo counter.", Kind::Counter);
    counter.push(&labels([("vip", "192.0.2.1:80".into())]), 3u64);
    let mut untyped = Family::new("keepalived_demo_rcvd", "Kept name.", Kind::Untyped);
    untyped.push(&labels([("name", "VI_1".into())]), 2u64);
    let mut gauge = Family::new("lb_demo_seconds", "A demo gauge.", Kind::Gauge);
    gauge.push(&labels([]), 0.25);
    let empty = Family::new("lb_empty", "Never served.", Kind::Gauge);
    let families = [counter, untyped, gauge, empty];
    let out = encode(&families, Format::OpenMetrics);
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
    let out = encode(&families, Format::Text);
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
    let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
    assert_eq!(Format::negotiate(None), Format::Text);
}
