//! keepalived's parameter definitions (`lib/parser.c` `check_definition`,
//! `find_definition`, `replace_param`, `set_std_definitions`):
//!
//! * `$NAME=VALUE` at the start of a line defines `NAME` (letters, digits
//!   and `_`, not starting with a digit; nothing between the name and `=`).
//!   A value ending in `\` goes on over the following lines, up to one that
//!   does not end in `\` or an empty line: a multi-line definition, which
//!   is only replaced where its reference ends the line.
//! * `$NAME` followed by a blank, `,`, `)` or the end of the line, and
//!   `${NAME}` anywhere, are replaced by the value, again and again at the
//!   same place (a value may refer to other definitions); an undefined name
//!   is left as written. A value starting with `~` stops the replacing on
//!   that line.
//! * Predefined: `${_PWD}` (the current file's directory), `${_INSTANCE}`
//!   (the config-id), `${_RANDOM [MIN [MAX]]}`, `${_ENV NAME}`, `${_HASH}`
//!   (`#`) and `${_BANG}` (`!`); a definition of the same name replaces one.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::PathBuf;

use rand::Rng;

use super::super::words::Char;

/// Longest line substitution may produce (keepalived's line buffer is far
/// smaller); a definition that refers to itself grows into this bound.
const MAX_LINE: usize = 64 * 1024;

/// Most replacements on one line (`$A=${A}` would go on for ever).
const MAX_REPLACEMENTS: usize = 10_000;

/// The value of a definition.
#[derive(Debug, Clone)]
enum Value {
    /// Text; the lines of a multi-line definition are separated by `\n`.
    Text { text: String, multiline: bool },
    /// `${_PWD}`
    Pwd,
    /// `${_INSTANCE}`
    Instance,
    /// `${_RANDOM [MIN [MAX]]}`
    Random,
    /// `${_ENV NAME}`
    Env,
}

impl Value {
    /// How many parameters it takes (at least, at most) and whether they
    /// must be numbers.
    fn params(&self) -> (usize, usize, bool) {
        match self {
            Value::Random => (0, 2, true),
            Value::Env => (1, 1, false),
            _ => (0, 0, false),
        }
    }

    fn multiline(&self) -> bool {
        matches!(
            self,
            Value::Text {
                multiline: true,
                ..
            }
        )
    }
}

/// A `$NAME` or `${NAME params}` reference found in a line.
struct Reference {
    name: String,
    params: Vec<String>,
    /// Index just after the reference.
    end: usize,
}

/// What replacing the definitions of a line did.
pub struct Replaced {
    /// The line with the references replaced.
    pub text: Vec<Char>,
    /// The further lines of multi-line definitions with the column of
    /// their reference, the one to read first last.
    pub continuations: Vec<(usize, Vec<String>)>,
}

/// The definitions in force while reading a configuration.
pub struct Definitions {
    values: HashMap<String, Value>,
    config_id: String,
    /// Characters replacing may still move or insert in this configuration
    /// ([`Bounds::replacement_chars`](super::Bounds)): each replacement
    /// moves the rest of its line, so a definition that refers to itself
    /// on a long line, replicated by `~SEQ`, would otherwise take minutes.
    budget: Cell<usize>,
}

impl Definitions {
    /// keepalived's predefined definitions, `${_INSTANCE}` being
    /// `config_id`; replacing may move or insert `budget` characters in all.
    pub fn new(config_id: &str, budget: usize) -> Definitions {
        let text = |text: &str| Value::Text {
            text: text.into(),
            multiline: false,
        };
        let values = [
            ("_PWD", Value::Pwd),
            ("_INSTANCE", Value::Instance),
            ("_RANDOM", Value::Random),
            ("_ENV", Value::Env),
            ("_HASH", text("#")),
            ("_BANG", text("!")),
        ];
        Definitions {
            values: values
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            config_id: config_id.to_string(),
            budget: Cell::new(budget),
        }
    }

    /// Takes `chars` from the budget; false (and nothing left) when it
    /// does not hold them.
    fn spend(&self, chars: usize) -> bool {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(chars));
        chars <= left
    }

    /// Sets `name` to `value` (a one-line definition).
    pub fn set(&mut self, name: &str, value: &str) {
        let value = Value::Text {
            text: value.into(),
            multiline: false,
        };
        self.values.insert(name.to_string(), value);
    }

    /// When `line` is a definition (`$NAME=VALUE`), records it and returns
    /// its name and whether further lines continue it.
    pub fn define(&mut self, line: &[Char]) -> Option<(String, bool)> {
        if !is_definition(line) {
            return None;
        }
        let line: String = line.iter().map(|c| c.0).collect();
        let (name, value) = line[1..].split_once('=')?;
        let value = value.trim_start_matches([' ', '\t']);
        let (text, multiline) = match value.strip_suffix('\\') {
            Some(first) => {
                let first = first.trim_end_matches([' ', '\t']);
                let text = match first.is_empty() {
                    true => String::new(),
                    false => format!("{first}\n"),
                };
                (text, true)
            }
            None => (value.to_string(), false),
        };
        self.values
            .insert(name.to_string(), Value::Text { text, multiline });
        Some((name.to_string(), multiline))
    }

    /// Adds a line to the multi-line definition `name`; `last` when the
    /// definition ends with it (its line did not end in `\`).
    pub fn extend(&mut self, name: &str, line: &str, last: bool) {
        if let Some(Value::Text { text, .. }) = self.values.get_mut(name) {
            match last {
                true => text.push_str(line),
                false if !line.is_empty() => {
                    text.push_str(line);
                    text.push('\n');
                }
                false => {}
            }
        }
    }

    /// Ends the multi-line definition `name`: one left empty is an
    /// ordinary empty definition.
    pub fn finish(&mut self, name: &str) {
        if let Some(Value::Text { text, multiline }) = self.values.get_mut(name) {
            if text.is_empty() {
                *multiline = false;
            }
        }
    }

    /// Replaces the references in `line` (read in directory `dir()`, asked
    /// only for `${_PWD}`: it may read the working directory), or
    /// `Ok(None)` when it has none that is defined. Errors are keepalived's
    /// complaints about parameters and runaway replacement; once the budget
    /// is spent (said once), nothing more is replaced.
    pub fn replace(
        &self,
        line: &[Char],
        dir: impl Fn() -> PathBuf,
    ) -> Result<Option<Replaced>, String> {
        if self.budget.get() == 0 {
            return Ok(None);
        }
        let mut text = line.to_vec();
        let mut continuations = Vec::new();
        let mut replaced = 0;
        let mut at = 0;
        while at < text.len() {
            if text[at].0 != '$' {
                at += 1;
                continue;
            }
            let Some((reference, value)) = self.find(&text, at)? else {
                at += 1;
                continue;
            };
            replaced += 1;
            if replaced > MAX_REPLACEMENTS {
                return Err(
                    "too many replacements on one line (does a definition refer to \
                            itself?)"
                        .into(),
                );
            }
            let column = text[at].1;
            let mut value = self.value(&reference, value, &dir)?;
            if let Some(newline) = value.find('\n') {
                let rest = value[newline + 1..].split('\n').map(String::from);
                continuations.push((column, rest.collect()));
                value.truncate(newline);
            }
            let with: Vec<Char> = value.chars().map(|c| (c, column)).collect();
            if text.len() - (reference.end - at) + with.len() > MAX_LINE {
                return Err(format!(
                    "replacing the definitions makes the line longer than {MAX_LINE} characters"
                ));
            }
            if !self.spend(text.len() - at + with.len()) {
                return Err(
                    "replacing the definitions takes too much work in this configuration (do \
                     definitions refer to each other?); nothing more is replaced"
                        .into(),
                );
            }
            text.splice(at..reference.end, with);
            if value.trim_start_matches([' ', '\t']).starts_with('~') {
                break;
            }
        }
        Ok((replaced > 0).then_some(Replaced {
            text,
            continuations,
        }))
    }

    /// The definition referred to at `text[at]` (a `$`), if there is one
    /// that applies there.
    fn find(&self, text: &[Char], at: usize) -> Result<Option<(Reference, &Value)>, String> {
        let Some(reference) = reference(text, at) else {
            return Ok(None);
        };
        let Some(value) = self.values.get(&reference.name) else {
            return Ok(None);
        };
        if value.multiline() && reference.end != text.len() {
            return Ok(None);
        }
        let (min, max, numbers) = value.params();
        if reference.params.is_empty() && min == 0 {
            return Ok(Some((reference, value)));
        }
        if max == 0 {
            return Ok(None);
        }
        let name = &reference.name;
        if numbers
            && !reference
                .params
                .iter()
                .flat_map(|p| p.chars())
                .all(|c| c.is_ascii_digit())
        {
            return Err(format!(
                "definition {name} requires numeric parameters only"
            ));
        }
        let given = reference.params.len();
        if given < min || given > max {
            return Err(format!(
                "definition {name} requires between {min} and {max} parameters, {given} given"
            ));
        }
        Ok(Some((reference, value)))
    }

    fn value(
        &self,
        reference: &Reference,
        value: &Value,
        dir: &impl Fn() -> PathBuf,
    ) -> Result<String, String> {
        let params = &reference.params;
        Ok(match value {
            Value::Text { text, .. } => text.clone(),
            Value::Pwd => dir().display().to_string(),
            Value::Instance => self.config_id.clone(),
            Value::Env => std::env::var_os(&params[0])
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Value::Random => {
                let number = |i: usize, default| {
                    params
                        .get(i)
                        .map_or(default, |p: &String| p.parse().unwrap_or(u64::MAX))
                };
                let (min, max) = (number(0, 0), number(1, 32767));
                if min > max {
                    return Err(format!("${{_RANDOM}}: min {min} exceeds max {max}"));
                }
                rand::rng().random_range(min..=max).to_string()
            }
        })
    }
}

/// Whether `line` starts a definition (`$NAME=`).
pub fn is_definition(line: &[Char]) -> bool {
    let name: String = line
        .iter()
        .skip(1)
        .take_while(|c| name_char(c.0))
        .map(|c| c.0)
        .collect();
    let after = line.get(1 + name.chars().count()).map(|c| c.0);
    line.first().is_some_and(|c| c.0 == '$') && after == Some('=') && is_name(&name)
}

/// Whether `name` is a definition's name.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The reference starting at `text[at]` (a `$`): `$NAME` ended by a blank,
/// `,`, `)` or the end of the line, or `${NAME params}`.
fn reference(text: &[Char], at: usize) -> Option<Reference> {
    let braces = text.get(at + 1)?.0 == '{';
    let start = at + 1 + usize::from(braces);
    let first = text.get(start)?.0;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let mut end = start + text[start..].iter().take_while(|c| name_char(c.0)).count();
    let name: String = text[start..end].iter().map(|c| c.0).collect();
    if !braces {
        let next = text.get(end).map(|c| c.0);
        return matches!(next, None | Some(' ' | '\t' | ',' | ')')).then_some(Reference {
            name,
            params: Vec::new(),
            end,
        });
    }
    let inside = text[end..]
        .iter()
        .take_while(|c| name_char(c.0) || c.0 == ' ' || c.0 == '\t')
        .count();
    let params: String = text[end..end + inside].iter().map(|c| c.0).collect();
    end += inside;
    if text.get(end)?.0 != '}' || (params.trim().len() != params.trim_start().len()) {
        return None;
    }
    let params = params.split_whitespace().map(String::from).collect();
    Some(Reference {
        name,
        params,
        end: end + 1,
    })
}
