//! keepalived's two ways of splitting a (decommented) line into words,
//! from `lib/parser.c`:
//!
//! * [`plain`] (`alloc_strvec_r`), what every keyword sees: words are
//!   separated by white space; a word that starts with `"` runs to the next
//!   `"` (quotes dropped, `""` is an empty word, no escapes); any other word
//!   ends at white space or at a `"` (`a"b c"d` is `a`, `b c`, `d`). `'` and
//!   `\` are ordinary characters.
//! * [`quoted`] (`alloc_strvec_quoted_escaped_common`), what script keywords
//!   and `regex` re-split their line with: `"…"` and `'…'` both quote and
//!   join the text around them into one word (`a"b c"d` is `ab cd`); `\`
//!   protects the next character. Without escape processing the pair is
//!   kept as written (`\"` stays `\"`); with it, `\a \b \E \f \n \r \t \v`,
//!   `\xHH`, `\cX` and `\ooo` are decoded and any other `\C` is `C`.
//!
//! [`script_words`] is the second stage keepalived applies to a script's
//! command line to get its argv.

/// A character of a configuration line and its 1-based column.
pub type Char = (char, usize);

/// A word and the column its first character came from.
pub type Placed = (String, usize);

/// keepalived's `WHITE_SPACE`.
fn blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Words of `text` as every keyword sees them (`alloc_strvec_r`). An
/// unclosed `"` ends the line: the words before it and the quote's column.
pub fn plain(text: &[Char]) -> (Vec<Placed>, Option<usize>) {
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < text.len() && blank(text[i].0) {
            i += 1;
        }
        let Some(&(first, column)) = text.get(i) else {
            return (words, None);
        };
        let (start, end, next) = match first {
            '"' => match text[i + 1..].iter().position(|&(c, _)| c == '"') {
                Some(len) => (i + 1, i + 1 + len, i + len + 2),
                None => return (words, Some(column)),
            },
            _ => {
                let len = text[i..]
                    .iter()
                    .position(|&(c, _)| blank(c) || c == '"')
                    .unwrap_or(text.len() - i);
                (i, i + len, i + len)
            }
        };
        words.push((text[start..end].iter().map(|&(c, _)| c).collect(), column));
        i = next;
    }
}

/// Words of `text` with both quotes and `\` (`alloc_strvec_quoted` or,
/// with `escapes`, `alloc_strvec_quoted_escaped`); the error is keepalived's.
pub fn quoted(text: &[Char], escapes: bool) -> Result<Vec<Placed>, String> {
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < text.len() && blank(text[i].0) {
            i += 1;
        }
        let Some(&(_, column)) = text.get(i) else {
            return Ok(words);
        };
        let mut word = String::new();
        let mut quote = None;
        while let Some(&(c, _)) = text.get(i) {
            i += 1;
            match (quote, c) {
                (_, '\\') => {
                    let Some(&(next, _)) = text.get(i) else {
                        return Err("missing escaped character at the end".into());
                    };
                    if escapes {
                        let (decoded, used) = escape(&text[i..]);
                        word.push(decoded);
                        i += used;
                    } else {
                        word.extend(['\\', next]);
                        i += 1;
                    }
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '"' | '\'') => quote = Some(c),
                (None, c) if blank(c) => break,
                (None, c) => word.push(c),
            }
        }
        if let Some(q) = quote {
            return Err(format!("missing terminating {q}"));
        }
        words.push((word, column));
    }
}

/// Decodes the escape whose text (after the `\`) starts `text`: the
/// character and how many characters of `text` it used. Bytes above 0x7f
/// (`\xff`, `\377`) become the character of that code point.
fn escape(text: &[Char]) -> (char, usize) {
    let digit = |i: usize, radix: u32| text.get(i).and_then(|&(c, _)| c.to_digit(radix));
    let number = |from: usize, max: usize, radix: u32| {
        let mut value = 0u8;
        let mut used = 0;
        while used < max {
            let Some(d) = digit(from + used, radix) else {
                break;
            };
            value = value.wrapping_mul(radix as u8).wrapping_add(d as u8);
            used += 1;
        }
        (char::from(value), from + used)
    };
    match text[0].0 {
        'x' if digit(1, 16).is_some() => number(1, 2, 16),
        'c' if text.len() > 1 => (char::from((text[1].0 as u32 & 0x1f) as u8), 2),
        '0'..='7' => number(0, 3, 8),
        'a' => ('\x07', 1),
        'b' => ('\x08', 1),
        'E' => ('\x1b', 1),
        'f' => ('\x0c', 1),
        'n' => ('\n', 1),
        'r' => ('\r', 1),
        't' => ('\t', 1),
        'v' => ('\x0b', 1),
        other => (other, 1),
    }
}

/// The argv keepalived runs for a script's command line (`notify_*`,
/// `script`, `misc_path`, …): [`quoted`] with escapes
/// (`set_script_params_array`).
pub fn script_words(line: &str) -> Result<Vec<String>, String> {
    let text: Vec<Char> = line.chars().map(|c| (c, 0)).collect();
    let words = quoted(&text, true)?;
    Ok(words.into_iter().map(|(word, _)| word).collect())
}
