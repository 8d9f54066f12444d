//! Splits keepalived.conf text into words, braces and line ends exactly as
//! keepalived 2.x reads it (`lib/parser.c` `read_line`), line by line:
//!
//! 1. Comments (`decomment`): leading blanks go; outside `"…"`, `#` or `!`
//!    ends the line wherever it is, even inside a word (`auth_pass abc#123`
//!    is `abc`); `\#` and `\!` stand for the characters themselves and any
//!    other `\X` pair is kept as written; `'` does not protect anything.
//!    keepalived's parent process writes each decommented line into a copy
//!    of the configuration that the VRRP and checker processes read and
//!    decomment again, so what they use has been decommented twice: an
//!    unquoted `abc\#123` is `abc` in the end. Only `"…"` keeps a `#` or `!`.
//! 2. Braces: the first `{` or `}` outside `"…"` splits the line; each brace
//!    is a token of its own (`url{` is `url`, `{`).
//! 3. Words: [`words::plain`] for every keyword, except that the script
//!    keywords ([`SCRIPT_KEYWORDS`]) re-split their line with quotes and
//!    `\` kept ([`words::quoted`]) and `regex` with escapes decoded, as
//!    their keepalived handlers do.
//!
//! There is no line continuation: a trailing `\` stays in the last word.

use super::words::{self, Char, Placed};

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
    /// What the token is.
    pub kind: TokenKind,
    /// Line of the first character.
    pub line: usize,
    /// Column of the first character.
    pub column: usize,
}

/// A lexical error: its line, column and message.
pub type LexError = (usize, usize, String);

/// Splits `text` into tokens; errors (unterminated quotes) are collected
/// and lexing goes on with the next line.
pub fn lex(text: &str) -> (Vec<Token>, Vec<LexError>) {
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.trim_end_matches(['\r', '\n']);
        let chars: Vec<Char> = raw.chars().zip(1..).collect();
        let (once, unterminated) = decomment(&chars);
        if let Some(column) = unterminated {
            errors.push((line, column, "unterminated quoted string".to_string()));
        }
        let (twice, _) = decomment(&once);
        let mut lexer = LineLexer {
            line,
            tokens: &mut tokens,
            errors: &mut errors,
            quote_reported: unterminated.is_some(),
        };
        lexer.pieces(&twice);
        tokens.push(Token {
            kind: TokenKind::Newline,
            line,
            column: chars.len() + 1,
        });
    }
    (tokens, errors)
}

/// keepalived's `decomment`: the line without leading blanks, comment and
/// trailing blanks, `\#`/`\!` unescaped outside quotes; and the column of
/// an unterminated `"`, if any.
fn decomment(text: &[Char]) -> (Vec<Char>, Option<usize>) {
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

/// Turns the pieces of one decommented line into tokens.
struct LineLexer<'a> {
    line: usize,
    tokens: &'a mut Vec<Token>,
    errors: &'a mut Vec<LexError>,
    /// An unterminated quote was reported for this line already.
    quote_reported: bool,
}

impl LineLexer<'_> {
    fn push(&mut self, kind: TokenKind, column: usize) {
        self.tokens.push(Token {
            kind,
            line: self.line,
            column,
        });
    }

    fn error(&mut self, column: usize, message: String) {
        if !self.quote_reported {
            self.errors.push((self.line, column, message));
            self.quote_reported = true;
        }
    }

    /// Splits `text` at braces (`read_line`'s `line_residue`) and lexes
    /// each piece.
    fn pieces(&mut self, mut text: &[Char]) {
        while let Some(&(first, column)) = text.first() {
            match brace(text) {
                Some(0) => {
                    let kind = match first {
                        '{' => TokenKind::Open,
                        _ => TokenKind::Close,
                    };
                    self.push(kind, column);
                    let rest = &text[1..];
                    let skip = rest.iter().take_while(|&&(c, _)| c == ' ' || c == '\t');
                    text = &rest[skip.count()..];
                }
                Some(at) => {
                    self.words(&text[..at]);
                    text = &text[at..];
                }
                None => {
                    self.words(text);
                    text = &[];
                }
            }
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

#[cfg(test)]
mod tests;
