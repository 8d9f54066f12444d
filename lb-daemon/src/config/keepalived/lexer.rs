//! Splits keepalived.conf text into words, braces and line ends.
//!
//! `!` and `#` start a comment where a word could start (line start or after
//! white space or a brace), never inside a word or a quoted string. Double
//! quotes keep white space; `{` and `}` are tokens even when glued to a word.

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

/// Splits `text` into tokens; errors (an unterminated quote) are collected
/// and lexing goes on with the next line.
pub fn lex(text: &str) -> (Vec<Token>, Vec<LexError>) {
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        lex_line(index + 1, line, &mut tokens, &mut errors);
        tokens.push(Token {
            kind: TokenKind::Newline,
            line: index + 1,
            column: line.chars().count() + 1,
        });
    }
    (tokens, errors)
}

fn lex_line(line: usize, text: &str, tokens: &mut Vec<Token>, errors: &mut Vec<LexError>) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let token = |kind| Token {
            kind,
            line,
            column: start + 1,
        };
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '!' | '#' => return,
            '{' | '}' => {
                tokens.push(token(match chars[i] {
                    '{' => TokenKind::Open,
                    _ => TokenKind::Close,
                }));
                i += 1;
            }
            '"' => {
                let Some(len) = chars[i + 1..].iter().position(|&c| c == '"') else {
                    errors.push((line, start + 1, "unterminated quoted string".to_string()));
                    return;
                };
                let word = chars[i + 1..i + 1 + len].iter().collect();
                tokens.push(token(TokenKind::Word(word)));
                i += len + 2;
            }
            _ => {
                let len = chars[i..]
                    .iter()
                    .position(|&c| c.is_whitespace() || c == '{' || c == '}')
                    .unwrap_or(chars.len() - i);
                let word = chars[i..i + len].iter().collect();
                tokens.push(token(TokenKind::Word(word)));
                i += len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        lex(text)
            .0
            .into_iter()
            .map(|t| match t.kind {
                TokenKind::Word(w) => w,
                TokenKind::Open => "{".into(),
                TokenKind::Close => "}".into(),
                TokenKind::Newline => "\\n".into(),
            })
            .collect()
    }

    #[test]
    fn comments_start_only_at_word_boundaries() {
        assert_eq!(
            words("priority 100   # comment"),
            ["priority", "100", "\\n"]
        );
        assert_eq!(words("! whole line"), ["\\n"]);
        assert_eq!(words("auth_pass a#b!c"), ["auth_pass", "a#b!c", "\\n"]);
        assert_eq!(words("x {# c"), ["x", "{", "\\n"]);
    }

    #[test]
    fn quotes_keep_spaces_and_comment_characters() {
        assert_eq!(
            words(r#"script "killall -0 nginx # !""#),
            ["script", "killall -0 nginx # !", "\\n"]
        );
    }

    #[test]
    fn braces_split_glued_words() {
        assert_eq!(words("url{ a}"), ["url", "{", "a", "}", "\\n"]);
    }

    #[test]
    fn columns_count_characters() {
        let (tokens, _) = lex("é  x");
        assert_eq!((tokens[1].line, tokens[1].column), (1, 4));
    }

    #[test]
    fn unterminated_quotes_are_reported() {
        let (tokens, errors) = lex("a \"b\nc");
        assert_eq!(errors, [(1, 3, "unterminated quoted string".to_string())]);
        assert_eq!(tokens.len(), 4);
    }
}
