//! Diagnostics: where something is in a configuration file and what is wrong
//! with it, plus the table that maps model field paths back to locations.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a configuration file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file the position is in.
    pub file: PathBuf,
    /// Line, counted from 1.
    pub line: usize,
    /// Column in characters, counted from 1.
    pub column: usize,
}

/// Turns byte offsets of one text into [`Location`]s in O(log lines) each
/// (a front end records a location for every key, so a linear scan per
/// offset would make loading quadratic in the file size).
pub struct LineIndex<'a> {
    file: &'a Path,
    text: &'a str,
    /// Byte offset at which each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`, which was read from `file`.
    pub fn new(file: &'a Path, text: &'a str) -> LineIndex<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { file, text, starts }
    }

    /// The position of byte `offset` (clamped to the text).
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line - 1];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count());
        Location {
            file: self.file.to_path_buf(),
            line,
            column: column + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The configuration cannot be used.
    Error,
    /// The configuration is used, but something in it is ignored or dubious.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One message about a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is, when it can be pinned to a place.
    pub location: Option<Location>,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: Option<Location>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            location,
            message: message.into(),
        }
    }

    /// A warning at `location`.
    pub fn warning(location: Option<Location>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            location,
            message: message.into(),
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}: {}", self.severity, self.message)
    }
}

/// Every error found in a configuration, together with its warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Whether any of the diagnostics is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A problem found in the model, pinned to a field path such as
/// `vrrp_instance.0.priority`; each front end turns the path into a location.
#[derive(Debug, Clone, PartialEq)]
pub struct PathIssue {
    /// Error or warning.
    pub severity: Severity,
    /// Dotted path of the field, with list indexes as numbers.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

/// Where each field path of the model was written, as recorded by a front end.
#[derive(Debug, Default, Clone)]
pub struct FieldLocations(HashMap<String, Location>);

impl FieldLocations {
    /// Records that the field at `path` was written at `location` (the first
    /// record wins, so a block's own line is kept over its contents).
    pub fn insert(&mut self, path: String, location: Location) {
        self.0.entry(path).or_insert(location);
    }

    /// The location of `path`, or of its closest recorded parent.
    pub fn resolve(&self, path: &str) -> Option<Location> {
        let mut path = path;
        loop {
            if let Some(location) = self.0.get(path) {
                return Some(location.clone());
            }
            path = &path[..path.rfind('.')?];
        }
    }

    /// Turns issues found by validation into located diagnostics.
    pub fn locate(&self, issues: Vec<PathIssue>) -> Vec<Diagnostic> {
        issues
            .into_iter()
            .map(|issue| Diagnostic {
                severity: issue.severity,
                location: self.resolve(&issue.path),
                message: issue.message,
            })
            .collect()
    }
}

/// Least similarity ([`similarity`]) of a suggestion.
const SIMILAR: f64 = 0.6;

/// How similar two strings `distance` edits apart are, the longer being
/// `longest` characters: 1 minus the distance over that length.
fn similarity(distance: usize, longest: usize) -> f64 {
    1.0 - distance as f64 / longest.max(1) as f64
}

/// How many times each character occurs: ASCII by code, anything else
/// counted together (which can only make [`distance_floor`] smaller).
fn histogram(s: &str) -> [u32; 128] {
    let mut counts = [0u32; 128];
    for c in s.chars() {
        counts[bucket(c)] += 1;
    }
    counts
}

fn bucket(c: char) -> usize {
    if c.is_ascii() {
        c as usize
    } else {
        127
    }
}

/// A floor of the edit distance between a word of `length` characters
/// whose [`histogram`] is `counts` and `name`: each edit adds at most one
/// character and removes at most one, so it is at least the larger of the
/// word's characters the name lacks and the name's the word lacks. Walks
/// the name only (a keyword is short; a word can be long).
fn distance_floor(counts: &[u32; 128], length: usize, name: &str) -> usize {
    let mut left = *counts;
    let (mut lacking, mut matched) = (0, 0);
    for c in name.chars() {
        match &mut left[bucket(c)] {
            0 => lacking += 1,
            n => {
                *n -= 1;
                matched += 1;
            }
        }
    }
    lacking.max(length - matched)
}

/// The name in `names` closest to the unknown `word`, if one is close
/// enough to suggest. Closeness is strsim's optimal string alignment
/// distance (insertions, deletions, substitutions and transpositions of
/// neighbours, as typos are; no per-call hash map as its unrestricted
/// Damerau-Levenshtein needs). Two floors of that distance, the difference
/// of the lengths and of the character counts, rule most names out before
/// it is computed: a long word (a pasted blob) costs nothing instead of a
/// quadratic comparison with every name, and an unknown word is not
/// compared in full with hundreds of unrelated keywords (a fuzzed config
/// is mostly unknown words: that was a third of its time).
pub fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = word.chars().count();
    let counts = histogram(word);
    names
        .into_iter()
        .filter_map(|name| {
            let longest = length.max(name.chars().count());
            let close = |distance| similarity(distance, longest) >= SIMILAR;
            let length_floor = length.abs_diff(name.chars().count());
            if !close(length_floor) || !close(distance_floor(&counts, length, name)) {
                return None;
            }
            let score = similarity(strsim::osa_distance(name, word), longest);
            (score >= SIMILAR).then_some((score, name))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The floors only skip work: the suggestion is the one comparing
        /// every name in full would give, and no floor exceeds the distance.
        #[test]
        fn floors_never_change_the_suggestion(
            word in "[a-eé_]{0,10}",
            names in proptest::collection::vec("[a-eé_]{1,10}", 1..12),
        ) {
            let full = names
                .iter()
                .map(|n| {
                    let longest = n.chars().count().max(word.chars().count());
                    (similarity(strsim::osa_distance(n, &word), longest), n.as_str())
                })
                .filter(|(score, _)| *score >= SIMILAR)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n);
            proptest::prop_assert_eq!(closest(&word, names.iter().map(String::as_str)), full);
            for n in &names {
                let floor = distance_floor(&histogram(&word), word.chars().count(), n);
                proptest::prop_assert!(floor <= strsim::osa_distance(n, &word));
            }
        }
    }

    #[test]
    fn suggestions_skip_names_of_impossible_length() {
        let names = ["router_id", "priority", "vrrp_instance"];
        assert_eq!(closest("priorty", names), Some("priority"));
        assert_eq!(closest("router_idd", names), Some("router_id"));
        assert_eq!(closest("zz", names), None);
        // Found by the keepalived_conf fuzz target: every unknown word was
        // compared with every keyword, quadratically in its length, so a
        // long one took minutes; its length alone rules every name out.
        let started = std::time::Instant::now();
        let blob = "x".repeat(200_000);
        assert_eq!(
            closest(&blob, names.iter().copied().cycle().take(300)),
            None
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a\nbé c\n";
        let index = LineIndex::new(Path::new("f"), text);
        let at = |offset| index.location(offset);
        assert_eq!((at(0).line, at(0).column), (1, 1));
        assert_eq!((at(2).line, at(2).column), (2, 1));
        assert_eq!((at(6).line, at(6).column), (2, 4));
        assert_eq!(at(99).line, 3);
    }

    #[test]
    fn display_forms() {
        let location = Location {
            file: "k.conf".into(),
            line: 3,
            column: 5,
        };
        let error = Diagnostic::error(Some(location), "bad");
        let warning = Diagnostic::warning(None, "odd");
        assert_eq!(error.to_string(), "k.conf:3:5: error: bad");
        let all = Diagnostics(vec![error, warning]);
        assert_eq!(all.to_string(), "k.conf:3:5: error: bad\nwarning: odd");
        assert!(all.has_errors());
    }

    #[test]
    fn paths_fall_back_to_parents() {
        let mut locations = FieldLocations::default();
        let here = Location {
            file: "k".into(),
            line: 7,
            column: 1,
        };
        locations.insert("vrrp_instance.0".into(), here.clone());
        assert_eq!(locations.resolve("vrrp_instance.0.priority"), Some(here));
        assert_eq!(locations.resolve("virtual_server.0"), None);
    }
}
