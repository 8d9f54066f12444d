//! Turns tokens into a tree of statements, expanding `include` on the way.
//!
//! A statement is a keyword with the words after it on its line and, when a
//! `{` follows (on the same or the next line), a body of statements up to
//! the matching `}`.

use std::path::{Path, PathBuf};

use super::lexer::{lex, Token, TokenKind};
use crate::config::diag::{Diagnostic, Location};

/// Deepest block nesting accepted (keeps recursion bounded on hostile input).
const MAX_DEPTH: usize = 64;

/// A word of the configuration and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// The word, without quotes.
    pub text: String,
    /// Where it starts.
    pub location: Location,
}

/// One statement: `keyword args… [{ body }]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// The first word.
    pub keyword: Word,
    /// The other words on the line.
    pub args: Vec<Word>,
    /// The statements between braces, when the statement opens a block.
    pub body: Option<Vec<Stmt>>,
}

/// Parses `text`, read from `origin`, into statements; includes are read
/// relative to `origin`'s directory. Problems are appended to `diagnostics`.
pub fn parse(text: &str, origin: &Path, diagnostics: &mut Vec<Diagnostic>) -> Vec<Stmt> {
    let mut includes = vec![canonical(origin)];
    parse_file(text, origin, &mut includes, diagnostics)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn parse_file(
    text: &str,
    file: &Path,
    includes: &mut Vec<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Stmt> {
    let (tokens, errors) = lex(text);
    let at = |line, column| Location {
        file: file.to_path_buf(),
        line,
        column,
    };
    for (line, column, message) in errors {
        diagnostics.push(Diagnostic::error(Some(at(line, column)), message));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        file,
        includes,
        diagnostics,
        aborted: false,
    };
    parser.block(0, None)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    file: &'a Path,
    includes: &'a mut Vec<PathBuf>,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// Set when parsing gave up, so that open blocks are not reported again.
    aborted: bool,
}

impl Parser<'_> {
    fn location(&self, token: &Token) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: token.line,
            column: token.column,
        }
    }

    fn error(&mut self, location: Location, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(Some(location), message));
    }

    /// Statements up to the `}` closing the block opened at `opener`, or to
    /// the end of the file at the top level.
    fn block(&mut self, depth: usize, opener: Option<&Location>) -> Vec<Stmt> {
        let mut statements = Vec::new();
        while let Some(token) = self.tokens.get(self.pos).cloned() {
            self.pos += 1;
            let location = self.location(&token);
            match token.kind {
                TokenKind::Newline => {}
                TokenKind::Close if opener.is_some() => return statements,
                TokenKind::Close => self.error(location, "unexpected `}` with no open block"),
                TokenKind::Open => {
                    self.error(location.clone(), "`{` without a keyword before it");
                    self.nested(depth, &location);
                }
                TokenKind::Word(text) => {
                    let statement = self.statement(Word { text, location }, depth);
                    match statement.keyword.text.as_str() {
                        "include" => statements.extend(self.include(&statement)),
                        _ => statements.push(statement),
                    }
                }
            }
        }
        if let Some(opener) = opener.filter(|_| !self.aborted) {
            self.error(opener.clone(), "`{` is never closed (unbalanced braces)");
        }
        statements
    }

    fn nested(&mut self, depth: usize, opener: &Location) -> Vec<Stmt> {
        if depth >= MAX_DEPTH {
            self.error(opener.clone(), "blocks are nested too deeply");
            self.pos = self.tokens.len();
            self.aborted = true;
            return Vec::new();
        }
        self.block(depth + 1, Some(opener))
    }

    fn statement(&mut self, keyword: Word, depth: usize) -> Stmt {
        let mut args = Vec::new();
        while let Some(token) = self.tokens.get(self.pos) {
            let TokenKind::Word(text) = &token.kind else {
                break;
            };
            let location = self.location(token);
            args.push(Word {
                text: text.clone(),
                location,
            });
            self.pos += 1;
        }
        let mut body = None;
        if let Some(open) = self.opening_brace() {
            body = Some(self.nested(depth, &open));
        }
        Stmt {
            keyword,
            args,
            body,
        }
    }

    /// Consumes the `{` that opens the current statement's block: right here
    /// or as the first token of a following line.
    fn opening_brace(&mut self) -> Option<Location> {
        let mut ahead = self.pos;
        while self.tokens.get(ahead)?.kind == TokenKind::Newline {
            ahead += 1;
        }
        let token = &self.tokens[ahead];
        if token.kind != TokenKind::Open {
            return None;
        }
        self.pos = ahead + 1;
        Some(self.location(token))
    }

    fn include(&mut self, statement: &Stmt) -> Vec<Stmt> {
        let location = statement.keyword.location.clone();
        if statement.body.is_some() || statement.args.is_empty() {
            self.error(
                location,
                "`include` takes a file name or pattern and no block",
            );
            return Vec::new();
        }
        let base = self.file.parent().unwrap_or(Path::new(""));
        let mut statements = Vec::new();
        for pattern in &statement.args {
            for path in self.expand(base, pattern) {
                statements.extend(self.include_file(&path, &pattern.location));
            }
        }
        statements
    }

    fn expand(&mut self, base: &Path, pattern: &Word) -> Vec<PathBuf> {
        let full = base.join(&pattern.text);
        let location = pattern.location.clone();
        if !pattern.text.contains(['*', '?', '[']) {
            return vec![full];
        }
        let Ok(paths) = glob::glob(&full.to_string_lossy()) else {
            self.error(location, format!("bad include pattern `{}`", pattern.text));
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        paths.sort();
        if paths.is_empty() {
            let message = format!("include pattern `{}` matches no file", pattern.text);
            self.diagnostics
                .push(Diagnostic::warning(Some(location), message));
        }
        paths
    }

    fn include_file(&mut self, path: &Path, location: &Location) -> Vec<Stmt> {
        let key = canonical(path);
        if let Some(start) = self.includes.iter().position(|p| *p == key) {
            let cycle: Vec<String> = self.includes[start..]
                .iter()
                .chain([&key])
                .map(|p| p.display().to_string())
                .collect();
            let message = format!("include cycle: {}", cycle.join(" -> "));
            self.error(location.clone(), message);
            return Vec::new();
        }
        let text = match crate::config::source::read(path) {
            Ok(text) => text,
            Err(why) => {
                self.error(location.clone(), format!("included file: {why}"));
                return Vec::new();
            }
        };
        self.includes.push(key);
        let statements = parse_file(&text, path, self.includes, self.diagnostics);
        self.includes.pop();
        statements
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Vec<Stmt>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let statements = parse(text, Path::new("t.conf"), &mut diagnostics);
        (statements, diagnostics)
    }

    fn shape(statements: &[Stmt]) -> String {
        let parts: Vec<String> = statements
            .iter()
            .map(|s| {
                let mut words = vec![s.keyword.text.clone()];
                words.extend(s.args.iter().map(|a| a.text.clone()));
                match &s.body {
                    Some(body) => format!("{}{{{}}}", words.join(" "), shape(body)),
                    None => words.join(" "),
                }
            })
            .collect();
        parts.join(";")
    }

    #[test]
    fn blocks_on_one_line_and_brace_on_next_line() {
        let (statements, diagnostics) = tree("a x {\n b 1\n}\nc\n{\nd { e }\n}\nf");
        assert!(diagnostics.is_empty());
        assert_eq!(shape(&statements), "a x{b 1};c{d{e}};f");
        assert_eq!(statements[1].keyword.location.line, 4);
    }

    #[test]
    fn unbalanced_braces_point_at_the_opener() {
        let (_, diagnostics) = tree("a {\n b {\n}\n");
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].location.as_ref().unwrap().line, 1);
        let (_, diagnostics) = tree("}\n");
        assert!(diagnostics[0].message.contains("unexpected `}`"));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let (_, diagnostics) = tree(&"a {".repeat(10_000));
        assert_eq!(diagnostics.len(), 1);
        assert!(diagnostics[0].message.contains("too deeply"));
    }

    #[test]
    fn includes_are_spliced_and_cycles_reported() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.conf");
        std::fs::write(dir.path().join("part1.inc"), "p1\ninclude main.conf\n").unwrap();
        std::fs::write(dir.path().join("part2.inc"), "p2 { q }\n").unwrap();
        std::fs::write(&main, "x {\n include part*.inc\n}\ninclude missing.conf\n").unwrap();
        let text = std::fs::read_to_string(&main).unwrap();
        let mut diagnostics = Vec::new();
        let statements = parse(&text, &main, &mut diagnostics);
        assert_eq!(shape(&statements), "x{p1;p2{q}}");
        let messages: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("part1.inc:2:9: error: include cycle"));
        assert!(messages[1].contains("main.conf:4:9: error: included file: cannot read"));
    }
}
