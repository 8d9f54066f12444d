//! keepalived's line reader (`lib/parser.c` `read_line`): everything that
//! happens to a line before its words are split.
//!
//! Each line of a file is decommented ([`decomment`], twice, as keepalived's
//! VRRP and checker processes read the parent's decommented copy), then,
//! over and over while the line still starts with `@` or holds a `$`:
//!
//! 1. `@ID rest` keeps `rest` only when ID is the config-id (`-i`, by
//!    default the host name up to its first `.`); `@^ID rest` only when it
//!    is not.
//! 2. `$NAME=VALUE` defines NAME ([`defs`]).
//! 3. `~SEQ(…)` / `~LST(…)` replicate the rest of the line ([`repeat`]).
//! 4. Definitions are replaced and the result decommented again.
//!
//! What remains is an `include` ([`include`]), whose files are read in its
//! place, or a line that is split at its first `{` or `}` outside `"…"`:
//! each brace is a piece of its own, and the text after it is read as the
//! next line (so `@`, `$` and `include` apply to it again). The pieces,
//! each with the file and line it came from, go to the lexer.

mod defs;
mod include;
mod options;
mod repeat;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::lexer::decomment;
use super::words::Char;
use crate::config::diag::{Diagnostic, Location};
use defs::Definitions;
use include::Blocks;
pub use options::{Bounds, ReadOptions};
use repeat::Repeat;

/// Most times one line goes round the `@` / `$` / `~` steps.
const MAX_PASSES: usize = 100;

/// One line as keepalived's keyword parser sees it: a `{`, a `}` or text
/// without braces outside quotes.
#[derive(Debug, Clone)]
pub struct Piece {
    /// The file it was read from.
    pub file: Rc<Path>,
    /// The line in that file (the `~SEQ` or reference line for generated
    /// text).
    pub line: usize,
    /// The characters and their columns (a replaced definition's text has
    /// the column of its `$`).
    pub text: Vec<Char>,
    /// An unterminated quote on this line was reported already.
    pub quote_reported: bool,
}

impl Piece {
    fn location(&self, column: usize) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: self.line,
            column,
        }
    }

    fn string(&self) -> String {
        self.text.iter().map(|c| c.0).collect()
    }

    /// The same place with other text.
    fn with_text(&self, text: Vec<Char>) -> Piece {
        Piece {
            file: self.file.clone(),
            line: self.line,
            text,
            quote_reported: self.quote_reported,
        }
    }
}

/// Where the next line comes from; the innermost source is read first.
enum Source {
    /// A file's lines.
    File {
        path: Rc<Path>,
        /// Its canonical path, to find include cycles.
        key: PathBuf,
        /// The include checks in force when it was opened, back in force
        /// when it ends (keepalived's `include_check` is per file).
        checks: u8,
        lines: std::vec::IntoIter<String>,
        number: usize,
    },
    /// A `~SEQ` / `~LST` line and the line it was on.
    Repeat(Repeat, Piece),
    /// The further lines of a multi-line definition, the line and column
    /// of its reference.
    Lines(std::vec::IntoIter<String>, Piece, usize),
}

/// Reads `text` (the file `origin`) as `options` say, and the files it
/// includes, into pieces; problems go to `diagnostics`.
pub fn read(
    text: &str,
    origin: &Path,
    options: &ReadOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Piece> {
    let mut reader = Reader {
        sources: Vec::new(),
        defining: None,
        defs: Definitions::new(&options.config_id, options.bounds.replacement_chars),
        options,
        checks: include::checks(options.all_config),
        blocks: Blocks::default(),
        generated: (0, 0),
        emitted: 0,
        diagnostics,
        pieces: Vec::new(),
    };
    reader.push_file(origin, text);
    while let Some(line) = reader.next_line() {
        reader.process(line);
    }
    reader.pieces
}

struct Reader<'a> {
    sources: Vec<Source>,
    /// The multi-line definition being read.
    defining: Option<String>,
    defs: Definitions,
    /// The config-id, bounds and include root in force.
    options: &'a ReadOptions,
    /// The include checks that are errors for every include.
    checks: u8,
    /// Where the pieces read so far are, for `include_check`.
    blocks: Blocks,
    /// Lines and characters produced by replication and multi-line
    /// definitions so far.
    generated: (usize, usize),
    /// Characters handed to the lexer so far.
    emitted: usize,
    diagnostics: &'a mut Vec<Diagnostic>,
    pieces: Vec<Piece>,
}

impl Reader<'_> {
    fn error(&mut self, location: Location, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(Some(location), message));
    }

    fn push_file(&mut self, path: &Path, text: &str) {
        self.sources.push(Source::File {
            path: path.into(),
            key: canonical(path),
            checks: self.checks,
            lines: text
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
                .into_iter(),
            number: 0,
        });
    }

    /// The next line to process, from the innermost source.
    fn next_line(&mut self) -> Option<Piece> {
        loop {
            let generated = match self.sources.last_mut()? {
                Source::File {
                    path,
                    lines,
                    number,
                    ..
                } => match lines.next() {
                    Some(raw) => {
                        *number += 1;
                        let (path, number) = (path.clone(), *number);
                        match self.file_line(path, number, &raw) {
                            Some(piece) => return Some(piece),
                            None => continue,
                        }
                    }
                    None => None,
                },
                Source::Repeat(repeat, at) => repeat.next().map(|(set, text)| {
                    for (name, value) in set {
                        self.defs.set(&name, &value);
                    }
                    at.with_text(text)
                }),
                Source::Lines(lines, at, column) => lines
                    .next()
                    .map(|line| at.with_text(line.chars().map(|c| (c, *column)).collect())),
            };
            let Some(piece) = generated else {
                if let Some(Source::File { checks, .. }) = self.sources.pop() {
                    self.checks = checks;
                }
                continue;
            };
            self.generated.0 += 1;
            self.generated.1 += piece.text.len();
            let Bounds {
                generated_lines: lines,
                generated_chars: chars,
                ..
            } = self.options.bounds;
            if self.generated.0 > lines || self.generated.1 > chars {
                self.error(
                    piece.location(1),
                    format!(
                        "replication and definitions produce more than {lines} lines or \
                         {chars} characters"
                    ),
                );
                self.sources.retain(|s| matches!(s, Source::File { .. }));
                continue;
            }
            return Some(piece);
        }
    }

    /// A line of a file, decommented, or `None` when nothing is left of it.
    fn file_line(&mut self, file: Rc<Path>, line: usize, raw: &str) -> Option<Piece> {
        let raw = raw.trim_end_matches('\r');
        if raw.is_empty() {
            if let Some(name) = self.defining.take() {
                self.defs.finish(&name);
            }
            return None;
        }
        let chars: Vec<Char> = raw.chars().zip(1..).collect();
        let (once, unterminated) = decomment(&chars);
        let piece = Piece {
            file,
            line,
            text: decomment(&once).0,
            quote_reported: unterminated.is_some(),
        };
        if let Some(column) = unterminated {
            self.error(piece.location(column), "unterminated quoted string");
        }
        (!piece.text.is_empty()).then_some(piece)
    }

    /// Applies templating to `piece`, then includes it or splits it at its
    /// first brace; the text after the brace is read next, in the same way.
    fn process(&mut self, piece: Piece) {
        if let Some(name) = self.defining.clone() {
            return self.continue_definition(&name, &piece);
        }
        let Some(piece) = self.template(piece) else {
            return;
        };
        // `piece.text[start..]` is the line (after braces split off).
        let mut start = 0;
        loop {
            if start > 0 {
                match self.residue(&piece, start) {
                    Some(after) => start = after,
                    None => return,
                }
            }
            let text = &piece.text[start..];
            if text.is_empty() {
                return;
            }
            if text.iter().take(7).map(|c| c.0).eq("include".chars()) {
                let line: String = text.iter().map(|c| c.0).collect();
                match include::parse(&line) {
                    Some(Ok(include)) => {
                        let at = piece.with_text(text.to_vec());
                        return self.include(&at, &include);
                    }
                    Some(Err(keyword)) => {
                        let message = format!("`{keyword}` needs a file name or pattern");
                        return self.error(piece.location(text[0].1), message);
                    }
                    None => {}
                }
            }
            let Some(at) = brace(text) else {
                return self.emit(piece.with_text(text.to_vec()));
            };
            let head = match at {
                0 => &text[..1],
                _ => &text[..at - text[..at].iter().rev().take_while(|c| blank(c.0)).count()],
            };
            self.emit(piece.with_text(head.to_vec()));
            start += at.max(1);
            start += piece.text[start..]
                .iter()
                .take_while(|c| blank(c.0))
                .count();
        }
    }

    /// The templating of the text after a brace (`piece.text[start..]`):
    /// where it goes on after its `@ID` conditions, or `None` when it is
    /// dropped or used up (a definition or replication). Its `$`
    /// references were replaced with the whole line, so nothing is copied
    /// unless it is used up: a line of many braces stays linear.
    fn residue(&mut self, piece: &Piece, mut start: usize) -> Option<usize> {
        loop {
            let text = &piece.text[start..];
            match text.first()?.0 {
                '@' => start += self.condition(text)?,
                '$' if defs::is_definition(text) => break,
                '~' if repeat::kind(text).is_some() => break,
                _ => return Some(start),
            }
        }
        let rest = piece.with_text(piece.text[start..].to_vec());
        let left = self.template(rest);
        debug_assert!(
            left.is_none(),
            "definitions and replications use their line up"
        );
        None
    }

    /// For a line starting `@ID` or `@^ID`: how many characters to drop
    /// (the condition and the blanks after it) when the line is kept,
    /// `None` when it is not.
    fn condition(&self, text: &[Char]) -> Option<usize> {
        let negated = text.get(1).is_some_and(|c| c.0 == '^');
        let id_start = 1 + usize::from(negated);
        let id_len = text[id_start..].iter().position(|c| blank(c.0))?;
        let id = text[id_start..id_start + id_len].iter().map(|c| c.0);
        if id.eq(self.options.config_id.chars()) == negated {
            return None;
        }
        let skip = id_start + id_len;
        Some(skip + text[skip..].iter().take_while(|c| blank(c.0)).count())
    }

    /// Hands `piece` to the lexer, after [`Reader::include_check`].
    /// Past [`Bounds::text_chars`], says so once and reads no further.
    fn emit(&mut self, piece: Piece) {
        let most = self.options.bounds.text_chars;
        if self.emitted > most {
            return;
        }
        self.emitted += piece.text.len();
        if self.emitted > most {
            let message = format!(
                "the configuration is longer than {most} characters once definitions are \
                 replaced; the rest is not read"
            );
            self.error(piece.location(1), message);
            self.sources.clear();
            return;
        }
        self.include_check(&piece);
        self.pieces.push(piece);
    }

    fn continue_definition(&mut self, name: &str, piece: &Piece) {
        let text = piece.string();
        match text.strip_suffix('\\') {
            Some(line) => self
                .defs
                .extend(name, line.trim_end_matches([' ', '\t']), false),
            None => {
                self.defining = None;
                self.defs.extend(name, &text, true);
                self.defs.finish(name);
            }
        }
    }

    /// The `@` / `$` / `~` steps, until the line is used up (`None`) or
    /// left as it is.
    fn template(&mut self, mut piece: Piece) -> Option<Piece> {
        for _ in 0..MAX_PASSES {
            if starts_with(&piece.text, '@') {
                let skip = self.condition(&piece.text)?;
                piece.text.drain(..skip);
            }
            if let Some((name, multiline)) = self.defs.define(&piece.text) {
                self.defining = multiline.then_some(name);
                return None;
            }
            if repeat::kind(&piece.text).is_some() {
                let defs = &self.defs;
                let dir = || dir_of(&piece.file);
                let replace = |t: &[Char]| match defs.replace(t, dir)? {
                    Some(r) if !r.continuations.is_empty() => Err(format!(
                        "~SEQ parameter is a multi-line definition '{}'",
                        piece.string()
                    )),
                    Some(r) => Ok(r.text),
                    None => Ok(t.to_vec()),
                };
                match Repeat::parse(&piece.text, replace) {
                    Ok(repeat) => self.sources.push(Source::Repeat(repeat, piece)),
                    Err(message) => self.error(piece.location(piece.text[0].1), message),
                }
                return None;
            }
            if starts_with(&piece.text, '~') || !holds(&piece.text, '$') {
                return Some(piece);
            }
            let replaced = match self.defs.replace(&piece.text, || dir_of(&piece.file)) {
                Ok(Some(replaced)) => replaced,
                Ok(None) => return Some(piece),
                Err(message) => {
                    self.error(piece.location(piece.text[0].1), message);
                    return Some(piece);
                }
            };
            for (column, lines) in replaced.continuations {
                let at = piece.with_text(Vec::new());
                self.sources
                    .push(Source::Lines(lines.into_iter(), at, column));
            }
            piece.text = decomment(&replaced.text).0;
            if !(starts_with(&piece.text, '@') || holds(&piece.text, '$')) {
                return Some(piece);
            }
        }
        self.error(
            piece.location(1),
            "definitions keep producing `@` or `$` lines (do they refer to each other?)",
        );
        None
    }
}

fn starts_with(text: &[Char], c: char) -> bool {
    text.first().is_some_and(|first| first.0 == c)
}

fn holds(text: &[Char], c: char) -> bool {
    text.iter().any(|each| each.0 == c)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The directory of `file`, absolute when it can be (`${_PWD}`, and where
/// its includes are looked for).
fn dir_of(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(""));
    match dir.as_os_str().is_empty() {
        true => std::env::current_dir().unwrap_or_default(),
        false => std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
    }
}

/// keepalived's blanks within a line.
fn blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Where the first `{` or `}` outside `"…"` is (none after an unclosed
/// `"`), as `read_line` looks for it.
fn brace(text: &[Char]) -> Option<usize> {
    let mut i = 0;
    while let Some(&(c, _)) = text.get(i) {
        match c {
            '{' | '}' => return Some(i),
            '"' => i += 2 + text[i + 1..].iter().position(|&(c, _)| c == '"')?,
            _ => i += 1,
        }
    }
    None
}
