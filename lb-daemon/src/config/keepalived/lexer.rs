//! Splits keepalived.conf lines into words, braces and line ends exactly as
//! keepalived 2.x reads them (`lib/parser.c` `read_line`). [`super::template`]
//! reads the lines (comments, templating, `include`, the split at braces);
//! this module has the two steps of keepalived's that do not depend on
//! where a line came from:
//!
//! 1. Comments ([`decomment`]): leading blanks go; outside `"…"`, `#` or `!`
//!    ends the line wherever it is, even inside a word (`auth_pass abc#123`
//!    is `abc`); `\#` and `\!` stand for the characters themselves and any
//!    other `\X` pair is kept as written; `'` does not protect anything.
//!    keepalived's parent process writes each decommented line into a copy
//!    of the configuration that the VRRP and checker processes read and
//!    decomment again, so what they use has been decommented twice: an
//!    unquoted `abc\#123` is `abc` in the end. Only `"…"` keeps a `#` or `!`.
//! 2. Words ([`lex`]): a piece that is `{` or `}` is a brace token; the
//!    others are split by [`words::plain`] for every keyword, except that the
//!    script keywords ([`SCRIPT_KEYWORDS`]) re-split their line with quotes
//!    and `\` kept ([`words::quoted`]) and `regex` with escapes decoded, as
//!    their keepalived handlers do.
//!
//! There is no line continuation: a trailing `\` stays in the last word.

use std::path::Path;
use std::rc::Rc;

use super::template::Piece;
use super::words::{self, Char, Placed};
use crate::config::diag::{Diagnostic, Location};

/// Keywords whose keepalived handlers re-split their line with
/// `alloc_strvec_quoted` (`install_keyword_quoted`, `notify_script_init`,
/// `vrrp_vscript_script_handler`, `misc_path_handler`): `'…'` quotes too.
const SCRIPT_KEYWORDS: [&str; 18] = [
    "script",
    "misc_path",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_up",
    "notify_down",
    "quorum_up",
    "quorum_down",
    "startup_script",
    "shutdown_script",
    "notify_fifo_script",
    "vrrp_notify_fifo_script",
    "lvs_notify_fifo_script",
];

/// The keyword whose handler re-splits its line with escapes decoded
/// (`regex_handler`: `alloc_strvec_quoted_escaped`).
const ESCAPED_KEYWORD: &str = "regex";

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A word or a quoted string (without its quotes).
    Word(String),
    /// `{`
    Open,
    /// `}`
    Close,
    /// End of a line.
    Newline,
}

/// A token and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The file it is in.
    pub file: Rc<Path>,
    /// What the token is.
    pub kind: TokenKind,
    /// Line of the first character.
    pub line: usize,
    /// Column of the first character.
    pub column: usize,
}

/// Turns the pieces of [`super::template::read`] into tokens: each piece is a
/// brace or words, then a line end. Errors (unterminated quotes) go to
/// `diagnostics`.
pub fn lex(pieces: Vec<Piece>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut tokens = Vec::new();
    for piece in pieces {
        let mut lexer = LineLexer {
            file: &piece.file,
            line: piece.line,
            tokens: &mut tokens,
            diagnostics,
            quote_reported: piece.quote_reported,
        };
        match piece.text[..] {
            [('{', column)] => lexer.push(TokenKind::Open, column),
            [('}', column)] => lexer.push(TokenKind::Close, column),
            _ => lexer.words(&piece.text),
        }
        let end = piece.text.last().map_or(1, |c| c.1 + 1);
        lexer.push(TokenKind::Newline, end);
    }
    tokens
}

/// keepalived's `decomment`: the line without leading blanks, comment and
/// trailing blanks, `\#`/`\!` unescaped outside quotes; and the column of
/// an unterminated `"`, if any.
pub fn decomment(text: &[Char]) -> (Vec<Char>, Option<usize>) {
    let start = text
        .iter()
        .position(|&(c, _)| c != ' ' && c != '\t')
        .unwrap_or(text.len());
    let mut out = Vec::with_capacity(text.len());
    let mut open_quote = None;
    let mut continuation = None;
    let mut i = start;
    while let Some(&(c, column)) = text.get(i) {
        match c {
            '"' => {
                open_quote = match open_quote {
                    None => Some(column),
                    Some(_) => None,
                };
                out.push(text[i]);
            }
            '\\' => match text.get(i + 1) {
                Some(&next) if open_quote.is_none() && matches!(next.0, '#' | '!') => {
                    out.push(next);
                    i += 1;
                }
                Some(&next) => {
                    out.extend([text[i], next]);
                    i += 1;
                }
                None => {
                    continuation = Some(text[i]);
                    break;
                }
            },
            '#' | '!' if open_quote.is_none() => break,
            _ => out.push(text[i]),
        }
        i += 1;
    }
    while out.last().is_some_and(|&(c, _)| c == ' ' || c == '\t') {
        out.pop();
    }
    out.extend(continuation);
    (out, open_quote)
}

/// Turns one piece into tokens.
struct LineLexer<'a> {
    file: &'a Rc<Path>,
    line: usize,
    tokens: &'a mut Vec<Token>,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// An unterminated quote was reported for this line already.
    quote_reported: bool,
}

impl LineLexer<'_> {
    fn push(&mut self, kind: TokenKind, column: usize) {
        self.tokens.push(Token {
            file: self.file.clone(),
            kind,
            line: self.line,
            column,
        });
    }

    fn error(&mut self, column: usize, message: String) {
        if !self.quote_reported {
            let location = Location {
                file: self.file.to_path_buf(),
                line: self.line,
                column,
            };
            self.diagnostics
                .push(Diagnostic::error(Some(location), message));
            self.quote_reported = true;
        }
    }

    /// The words of a piece without braces, split as its keyword's handler
    /// splits them.
    fn words(&mut self, text: &[Char]) {
        let (plain, unmatched) = words::plain(text);
        let keyword = plain.first().map(|(word, _)| word.as_str());
        let words: Vec<Placed> = match keyword {
            Some(k) if SCRIPT_KEYWORDS.contains(&k) || k == ESCAPED_KEYWORD => {
                match words::quoted(text, k == ESCAPED_KEYWORD) {
                    Ok(words) => words,
                    Err(message) => {
                        // keepalived then leaves the script (regex) unset.
                        self.error(plain[0].1, format!("{k}: {message}"));
                        return;
                    }
                }
            }
            _ => {
                if let Some(column) = unmatched {
                    self.error(column, "unterminated quoted string".to_string());
                }
                plain
            }
        };
        for (word, column) in words {
            self.push(TokenKind::Word(word), column);
        }
    }
}

#[cfg(test)]
mod tests;
