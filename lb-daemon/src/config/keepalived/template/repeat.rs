//! keepalived's replicated lines (`lib/parser.c` `add_seq`, `add_lst`):
//!
//! * `~SEQ(VAR, START, STEP, END) TEXT` reads TEXT once for each value of
//!   VAR from START by STEP up to END (`~SEQ(VAR, START, END)`: step 1 or
//!   -1; `~SEQ(VAR, END)`: from 1, or -1 when END is negative). Numbers are
//!   C's (`0x10`, `010`) and may be definitions. `~SEQx` writes VAR in
//!   hexadecimal.
//! * `~LST(VAR, V1, V2, …) TEXT` reads TEXT with VAR set to each value in
//!   turn; `~LST({A, B}, {1, 2}, {3, 4}) TEXT` sets several at once (values
//!   left out are empty).
//!
//! TEXT may itself start with `~SEQ`/`~LST`: the inner one runs to its end
//! for each value of the outer one. The variables stay defined afterwards.

use super::super::words::Char;
use super::blank;

/// The (name, value) definitions for one copy of a replicated line.
pub type Assignments = Vec<(String, String)>;

/// A `~SEQ` or `~LST` line being replicated.
pub struct Repeat {
    values: Values,
    /// The text after the closing `)`, read once per value.
    text: Vec<Char>,
}

enum Values {
    Seq {
        var: String,
        next: Option<i64>,
        step: i64,
        last: i64,
        hex: bool,
    },
    List {
        vars: Vec<String>,
        sets: std::vec::IntoIter<Vec<String>>,
    },
}

/// What kind of replication a line starts, if any.
pub fn kind(line: &[Char]) -> Option<&'static str> {
    let start = line.iter().take(4).map(|c| c.0);
    ["~SEQ", "~LST"]
        .into_iter()
        .find(|k| start.clone().eq(k.chars()))
}

impl Repeat {
    /// The replication `line` (starting `~SEQ` or `~LST`) asks for;
    /// `replace` applies the definitions to `~SEQ`'s numbers. The error
    /// says what is wrong.
    pub fn parse(
        line: &[Char],
        replace: impl FnOnce(&[Char]) -> Result<Vec<Char>, String>,
    ) -> Result<Repeat, String> {
        let text: String = line.iter().map(|c| c.0).collect();
        let (values, used) = match kind(line) {
            Some("~SEQ") => seq(&line[4..], replace)?,
            _ => list(&line[4..]).ok_or_else(|| format!("invalid ~LST specification '{text}'"))?,
        };
        let rest = &line[4 + used..];
        let blanks = rest.iter().take_while(|c| blank(c.0)).count();
        Ok(Repeat {
            values,
            text: rest[blanks..].to_vec(),
        })
    }

    /// The definitions for the next copy of the text and the text, or
    /// `None` when every value has been used.
    pub fn next(&mut self) -> Option<(Assignments, Vec<Char>)> {
        let set = match &mut self.values {
            Values::Seq {
                var,
                next,
                step,
                last,
                hex,
            } => {
                let value = (*next)?;
                let after = value.checked_add(*step);
                *next = after.filter(|n| if *step > 0 { n <= last } else { n >= last });
                let shown = match hex {
                    true => format!("{value:x}"),
                    false => value.to_string(),
                };
                vec![(var.clone(), shown)]
            }
            Values::List { vars, sets } => {
                let values = sets.next()?;
                vars.iter().cloned().zip(values).collect()
            }
        };
        Some((set, self.text.clone()))
    }
}

/// Index of the first non-blank at or after `at`.
fn skip_blanks(text: &[char], at: usize) -> usize {
    at + text[at.min(text.len())..]
        .iter()
        .take_while(|c| blank(**c))
        .count()
}

/// `~SEQ`'s arguments (`line` starts after `~SEQ`): the values and how
/// many characters of `line` they used, up to the `)`.
fn seq(
    line: &[Char],
    replace: impl FnOnce(&[Char]) -> Result<Vec<Char>, String>,
) -> Result<(Values, usize), String> {
    let chars: Vec<char> = line.iter().map(|c| c.0).collect();
    let whole: String = chars.iter().collect();
    let invalid = || format!("invalid ~SEQ definition '~SEQ{whole}'");
    let hex = chars.first() == Some(&'x');
    let mut at = skip_blanks(&chars, usize::from(hex));
    if chars.get(at) != Some(&'(') {
        return Err(invalid());
    }
    at = skip_blanks(&chars, at + 1);
    let var_start = at;
    at += chars[at..]
        .iter()
        .take_while(|c| !matches!(c, ' ' | '\t' | ',' | ')'))
        .count();
    let var: String = chars[var_start..at].iter().collect();
    at = skip_blanks(&chars, at);
    if var.is_empty() || var.starts_with('{') || matches!(chars.get(at), None | Some(')')) {
        return Err(invalid());
    }
    let numbers_start = skip_blanks(&chars, at + 1);
    let close = chars[numbers_start..]
        .iter()
        .position(|&c| c == ')')
        .ok_or_else(|| format!("~SEQ missing terminating ')' '~SEQ{whole}'"))?
        + numbers_start;
    let numbers = replace(&line[numbers_start..=close])?;
    let numbers: String = numbers.iter().map(|c| c.0).collect();
    let mut parts = numbers
        .trim_end()
        .strip_suffix(')')
        .unwrap_or("")
        .split(',');
    let mut values = Vec::new();
    for part in parts.by_ref().take(3) {
        let (value, rest) = strtol(part);
        if !rest.trim().is_empty() {
            return Err(invalid());
        }
        values.push(value);
    }
    if parts.next().is_some() {
        return Err(invalid());
    }
    let (start, step, last) = match values[..] {
        [end] => (
            if end < 0 { -1 } else { 1 },
            if end < 1 { -1 } else { 1 },
            end,
        ),
        [start, end] => (start, if start <= end { 1 } else { -1 }, end),
        [start, step, end] => {
            if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                return Err(format!("invalid ~SEQ values '~SEQ{whole}'"));
            }
            (start, step, end)
        }
        _ => return Err(invalid()),
    };
    if hex && (start < 0 || last < 0) {
        return Err(format!(
            "~SEQx is only valid for positive numbers '~SEQ{whole}'"
        ));
    }
    let values = Values::Seq {
        var,
        next: Some(start),
        step,
        last,
        hex,
    };
    Ok((values, close + 1))
}

/// C's `strtol(text, &end, 0)`: leading blanks, a sign, `0x` hexadecimal
/// or `0` octal; the value (saturated) and the text after the number (all
/// of `text` when there is no number).
fn strtol(text: &str) -> (i64, &str) {
    let trimmed = text.trim_start();
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let hex = unsigned.strip_prefix("0x").or(unsigned.strip_prefix("0X"));
    let (radix, digits) = match hex {
        Some(h) if h.starts_with(|c: char| c.is_ascii_hexdigit()) => (16, h),
        _ if unsigned.starts_with('0') => (8, unsigned),
        _ => (10, unsigned),
    };
    let len = digits.chars().take_while(|c| c.is_digit(radix)).count();
    if len == 0 {
        return (0, text);
    }
    let magnitude = i128::from_str_radix(&digits[..len], radix).unwrap_or(i128::MAX);
    let value = if negative { -magnitude } else { magnitude };
    let value = value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    (value, &digits[len..])
}

/// `~LST`'s arguments (`line` starts after `~LST`): the values and how
/// many characters of `line` they used, up to the `)`.
fn list(line: &[Char]) -> Option<(Values, usize)> {
    let chars: Vec<char> = line.iter().map(|c| c.0).collect();
    let mut at = skip_blanks(&chars, 0);
    if chars.get(at) != Some(&'(') {
        return None;
    }
    at = skip_blanks(&chars, at + 1);
    let (vars, after) = group(&chars, at, false)?;
    at = after;
    if chars.get(at) != Some(&',') {
        return None;
    }
    at = skip_blanks(&chars, at + 1);
    let mut sets = Vec::new();
    loop {
        let (mut values, after) = group(&chars, at, true)?;
        if values.len() > vars.len() {
            return None;
        }
        values.resize(vars.len(), String::new());
        sets.push(values);
        at = after;
        match chars.get(at) {
            Some(')') => break,
            Some(',') => at = skip_blanks(&chars, at + 1),
            _ => return None,
        }
    }
    let values = Values::List {
        vars,
        sets: sets.into_iter(),
    };
    Some((values, at + 1))
}

/// One name or value, or `{a, b, …}` of them, starting at `at`: the words
/// and the index of the first non-blank after them. Values also end at `)`.
fn group(chars: &[char], mut at: usize, values: bool) -> Option<(Vec<String>, usize)> {
    let braced = chars.get(at) == Some(&'{');
    if braced {
        at = skip_blanks(chars, at + 1);
    }
    let mut words = Vec::new();
    loop {
        let len = chars[at..]
            .iter()
            .take_while(|c| !matches!(c, ' ' | '\t' | ',' | '}') && (!values || **c != ')'))
            .count();
        words.push(chars[at..at + len].iter().collect());
        at = skip_blanks(chars, at + len);
        match chars.get(at) {
            Some('}') if braced => return Some((words, skip_blanks(chars, at + 1))),
            Some(',' | ')') if !braced => return Some((words, at)),
            Some(',') => at = skip_blanks(chars, at + 1),
            _ => return None,
        }
    }
}
