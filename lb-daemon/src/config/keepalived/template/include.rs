//! keepalived's `include` and its variants (`lib/parser.c` `check_include`,
//! `open_and_check_glob`, `check_glob_file`; keepalived.conf(5)).
//!
//! `include PATTERN` takes the rest of its line as one pattern, relative to
//! the directory of the file it is in: csh braces (`{a,b}`, nested, `\`
//! escapes) expand first, then each alternative is a glob, its matches in
//! order. What goes wrong is checked by kind, and each variant makes some
//! kinds errors (the plain `include` none: it only warns):
//!
//! | kind | what | error with |
//! |------|------|------------|
//! | readable | a match is a directory, executable, not a file or unreadable (skipped) | `includer` `includem` `includew` `includeb` `includea` |
//! | match | no file matches because files or directories are missing | `includem` `includew` `includea` |
//! | wildcard match | a wildcard matches nothing | `includew` `includea` |
//! | brace match | a brace alternative is missing (then nothing is included) | `includeb` `includea` |
//!
//! `include_check OPTIONS` in `global_defs` (and `-e`, as `include_check`
//! with no option) makes checks errors for every include after it, until
//! the file it is in ends; the options are `read`, `match`,
//! `wildcard_match` and `brace_match`, each alone to set it (with
//! `read`), `+` to add or `-` to take away, none for all.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::{blank, canonical, dir_of, Piece, Reader, Source};
use crate::config::diag::Diagnostic;

/// Most alternatives a brace pattern expands to (`{a,b}` repeated grows
/// exponentially).
const MAX_ALTERNATIVES: usize = 1024;

/// A check an include can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A match that cannot be read as a configuration file.
    Readable = 1,
    /// Nothing matches because files or directories are missing.
    Match = 2,
    /// A wildcard matches nothing.
    WildcardMatch = 4,
    /// A brace alternative is missing.
    BraceMatch = 8,
}

/// An `include` line: its keyword, the checks that are errors for it and
/// its pattern.
pub struct Include<'a> {
    /// `include`, `includer`, …
    pub keyword: &'a str,
    /// The [`Check`]s (as bits) whose failure is an error.
    errors: u8,
    /// The rest of the line.
    pub pattern: &'a str,
}

/// Every check.
const ALL: u8 = Check::Readable as u8
    | Check::Match as u8
    | Check::WildcardMatch as u8
    | Check::BraceMatch as u8;

/// The checks that are errors for every include from the start (`-e`).
pub fn checks(all_config: bool) -> u8 {
    match all_config {
        true => ALL,
        false => 0,
    }
}

/// keepalived's `include_check OPTIONS` on top of `checks`: the new
/// checks, and what is wrong with the options.
pub fn include_check(mut checks: u8, options: &[String]) -> (u8, Vec<String>) {
    let mut problems = Vec::new();
    if options.is_empty() {
        return (ALL, problems);
    }
    for (index, option) in options.iter().enumerate() {
        let signed = [('+', true), ('-', false)]
            .into_iter()
            .find_map(|(sign, on)| Some((Some(on), option.strip_prefix(sign)?)));
        let (change, name) = match signed {
            Some(signed) => signed,
            None if index == 0 => {
                checks = 0;
                (None, option.as_str())
            }
            None => {
                problems.push(format!("duplicate include_check `{option}`; ignored"));
                continue;
            }
        };
        let check = match name {
            "read" => Check::Readable,
            "match" => Check::Match,
            "wildcard_match" => Check::WildcardMatch,
            "brace_match" => Check::BraceMatch,
            _ => {
                problems.push(format!("unknown include_check type `{name}`"));
                continue;
            }
        } as u8;
        checks = match change {
            None => Check::Readable as u8 | check,
            Some(true) => checks | check,
            Some(false) => checks & !check,
        };
    }
    (checks, problems)
}

impl Reader<'_> {
    /// Follows where `piece` is; when it is `include_check` in
    /// `global_defs`, sets the checks for the includes after it.
    pub(super) fn include_check(&mut self, piece: &Piece) {
        if !self.blocks.include_check(piece) {
            return;
        }
        let text = piece.string();
        let options: Vec<String> = text.split_whitespace().skip(1).map(String::from).collect();
        let problems;
        (self.checks, problems) = include_check(self.checks, &options);
        for problem in problems {
            self.error(piece.location(piece.text[0].1), problem);
        }
    }

    /// Reads the files `include` names in its place.
    pub(super) fn include(&mut self, piece: &Piece, include: &Include) {
        let start = piece.text.len() - include.pattern.chars().count();
        let location = piece.location(piece.text[start].1);
        let report = |reader: &mut Self, check: Check, message: String| {
            let message = format!("{}: {message}", include.keyword);
            match include.is_error(check, reader.checks) {
                true => reader.error(location.clone(), message),
                false => reader.diagnostics.push(Diagnostic::warning(
                    Some(location.clone()),
                    format!("{message}; ignored"),
                )),
            }
        };
        let (files, problems) = resolve(
            &dir_of(&piece.file),
            include.pattern,
            self.options.include_root.as_deref(),
        );
        let skip_all = problems
            .iter()
            .any(|(check, _)| *check == Check::BraceMatch && include.is_error(*check, self.checks));
        for (check, message) in problems {
            report(self, check, message);
        }
        if skip_all {
            return;
        }
        // Innermost source first: push the last file first.
        for path in files.iter().rev() {
            let key = canonical(path);
            let open: Vec<&PathBuf> = self.sources.iter().filter_map(file_key).collect();
            if let Some(start) = open.iter().position(|k| **k == key) {
                let cycle: Vec<String> = open[start..]
                    .iter()
                    .map(|p| p.display().to_string())
                    .chain([key.display().to_string()])
                    .collect();
                self.error(
                    location.clone(),
                    format!("include cycle: {}", cycle.join(" -> ")),
                );
                continue;
            }
            if let Some(why) = unreadable(path) {
                report(self, Check::Readable, why);
                continue;
            }
            match crate::config::source::read(path) {
                Ok(text) => self.push_file(path, &text),
                Err(why) => report(self, Check::Readable, why),
            }
        }
    }
}

/// Which block the pieces read so far are in, as far as `include_check`
/// needs to know: the depth and the keyword that opened the top-level
/// block.
#[derive(Default)]
pub struct Blocks {
    depth: usize,
    /// The first word of the last top-level piece.
    top: Option<String>,
    /// The keyword of the open top-level block.
    open: Option<String>,
}

impl Blocks {
    /// Follows `piece`; whether it is `include_check` in `global_defs`.
    fn include_check(&mut self, piece: &Piece) -> bool {
        let first = || piece.text.iter().take_while(|c| !blank(c.0)).map(|c| c.0);
        match piece.text[..] {
            [('{', _)] => {
                if self.depth == 0 {
                    self.open = self.top.take();
                }
                self.depth += 1;
            }
            [('}', _)] => self.depth = self.depth.saturating_sub(1),
            _ if self.depth == 0 => self.top = Some(first().collect()),
            _ => {
                return self.depth == 1
                    && self.open.as_deref() == Some("global_defs")
                    && first().eq("include_check".chars())
            }
        }
        false
    }
}

fn file_key(source: &Source) -> Option<&PathBuf> {
    match source {
        Source::File { key, .. } => Some(key),
        _ => None,
    }
}

impl Include<'_> {
    /// Whether failing `check` is an error for this include when `checks`
    /// are in force (else a warning).
    fn is_error(&self, check: Check, checks: u8) -> bool {
        (self.errors | checks) & check as u8 != 0
    }
}

/// The include `line` is, if it is one: `include` or a variant, a blank
/// and at least one more character; `Err(keyword)` for a variant with no
/// pattern.
pub fn parse(line: &str) -> Option<Result<Include<'_>, &str>> {
    let word_len = line.find([' ', '\t']).unwrap_or(line.len());
    let keyword = &line[..word_len];
    let all = Check::Readable as u8 | Check::Match as u8;
    let errors = match keyword {
        "include" => 0,
        "includer" => Check::Readable as u8,
        "includem" => all,
        "includew" => all | Check::WildcardMatch as u8,
        "includeb" => Check::Readable as u8 | Check::BraceMatch as u8,
        "includea" => all | Check::WildcardMatch as u8 | Check::BraceMatch as u8,
        _ => return None,
    };
    let pattern = line[word_len..].trim_start_matches([' ', '\t']);
    Some(match pattern.is_empty() {
        true => Err(keyword),
        false => Ok(Include {
            keyword,
            errors,
            pattern,
        }),
    })
}

/// The files `pattern` names from directory `base` (only those under
/// `root`, when given), with the checks that failed and what to say about
/// each.
pub fn resolve(
    base: &Path,
    pattern: &str,
    root: Option<&Path>,
) -> (Vec<PathBuf>, Vec<(Check, String)>) {
    let alternatives = braces(pattern);
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let (mut missing, mut wildcards) = (false, false);
    for alternative in &alternatives {
        let full = base.join(alternative);
        if let Some(root) = root.filter(|root| !normal(&full).starts_with(root)) {
            let (shown, root) = (full.display(), root.display());
            let message = format!("config file '{shown}' is outside {root} - skipping");
            problems.push((Check::Readable, message));
            continue;
        }
        if !alternative.contains(['*', '?', '[']) {
            match full.symlink_metadata() {
                Ok(_) => files.push(full),
                Err(_) => missing = true,
            }
            continue;
        }
        wildcards = true;
        let escaped = glob::Pattern::escape(&base.to_string_lossy());
        let matches = glob::glob(&Path::new(&escaped).join(alternative).to_string_lossy());
        let mut matches: Vec<PathBuf> = matches.into_iter().flatten().flatten().collect();
        matches.sort();
        if matches.is_empty() && !literal_dir(&full).is_dir() {
            missing = true;
        }
        files.extend(matches);
    }
    let has_brace = alternatives.len() > 1 || alternatives[0] != pattern;
    let absent = match has_brace {
        true => Check::BraceMatch,
        false => Check::Match,
    };
    if files.is_empty() {
        if missing {
            problems.push((absent, format!("config files missing '{pattern}'")));
        } else if wildcards {
            problems.push((
                Check::WildcardMatch,
                format!("no config files matched '{pattern}'"),
            ));
        }
    } else if missing {
        problems.push((
            Check::BraceMatch,
            format!("some config files missing: '{pattern}'"),
        ));
    }
    (files, problems)
}

/// Why `path`, a match, is skipped, if it is (keepalived reads regular
/// files without execute permission only).
pub fn unreadable(path: &Path) -> Option<String> {
    let shown = path.display();
    match path.metadata() {
        Ok(m) if m.is_dir() => Some(format!(
            "configuration file '{shown}' is a directory - skipping"
        )),
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 == 0 => None,
        _ => Some(format!(
            "configuration file '{shown}' is not a regular non-executable file - skipping"
        )),
    }
}

/// `path` with `.` and `..` resolved without looking at the file system.
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The leading directories of `path` that have no wildcard.
fn literal_dir(path: &Path) -> PathBuf {
    let mut dir = PathBuf::new();
    for part in path.parent().into_iter().flat_map(Path::components) {
        if part.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        dir.push(part);
    }
    dir
}

/// csh brace expansion as glibc's `GLOB_BRACE` does it: the alternatives
/// of the first `{…}` (not escaped by `\`), each expanded again, in order;
/// a pattern whose braces do not balance is taken as written. At most
/// [`MAX_ALTERNATIVES`].
pub fn braces(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut at = 0;
    let open = loop {
        match chars.get(at) {
            None => return vec![pattern.to_string()],
            Some('\\') => at += 2,
            Some('{') => break at,
            Some(_) => at += 1,
        }
    };
    let mut depth = 0;
    let mut cuts = vec![open];
    let mut at = open + 1;
    let close = loop {
        match chars.get(at) {
            None => return vec![pattern.to_string()],
            Some('\\') => at += 1,
            Some('{') => depth += 1,
            Some('}') if depth == 0 => break at,
            Some('}') => depth -= 1,
            Some(',') if depth == 0 => cuts.push(at),
            Some(_) => {}
        }
        at += 1;
    };
    cuts.push(close);
    let prefix: String = chars[..open].iter().collect();
    let suffix: String = chars[close + 1..].iter().collect();
    cuts.windows(2)
        .flat_map(|cut| {
            let middle: String = chars[cut[0] + 1..cut[1]].iter().collect();
            braces(&format!("{prefix}{middle}{suffix}"))
        })
        .take(MAX_ALTERNATIVES)
        .collect()
}
