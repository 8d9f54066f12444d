//! Turns tokens into a tree of statements.
//!
//! A statement is a keyword with the words after it on its line and, when a
//! `{` follows (on the same or the next line), a body of statements up to
//! the matching `}`. `include`s have been read by [`template::read`].

use std::path::Path;

use super::lexer::{lex, Token, TokenKind};
use super::template::{self, ReadOptions};
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

/// Parses `text`, read from `origin` as `options` say, into statements;
/// includes are read relative to `origin`'s directory. Problems are
/// appended to `diagnostics`.
pub fn parse(
    text: &str,
    origin: &Path,
    options: &ReadOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Stmt> {
    let pieces = template::read(text, origin, options, diagnostics);
    let tokens = lex(pieces, diagnostics);
    let mut parser = Parser {
        tokens,
        pos: 0,
        diagnostics,
        aborted: false,
    };
    parser.block(0, None)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// Set when parsing gave up, so that open blocks are not reported again.
    aborted: bool,
}

impl Parser<'_> {
    fn location(&self, token: &Token) -> Location {
        Location {
            file: token.file.to_path_buf(),
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
                    statements.push(self.statement(Word { text, location }, depth));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Vec<Stmt>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let statements = parse(
            text,
            Path::new("t.conf"),
            &ReadOptions::id("node"),
            &mut diagnostics,
        );
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
}
