//! Binds the statement tree into the model, driven by the keyword tables,
//! recording where each field path was written.

use std::collections::{HashMap, HashSet};

use super::args::FromArgs;
use super::keywords::{self, Found};
use super::parser::Stmt;
use crate::config::diag::{Diagnostic, FieldLocations, Location};

/// A keyword of a block, applied by a [`Binder`].
pub type Keyword<T> = keywords::Keyword<T, Binder>;

/// The keyword table of a block walked by a [`Binder`].
pub type Block<T> = keywords::Block<T, Binder>;

/// `Keyword` setting the `Option` field of the same name from the words
/// (also accepted under the aliases that follow).
macro_rules! set {
    ($field:ident $(, $alias:literal)*) => {
        Keyword::aliased(stringify!($field), &[$($alias),*], |t, s, b| {
            t.$field = b.value(s)
        })
    };
}

/// `Keyword` for a flag field of the same name (or of keyword `$name`).
macro_rules! flag {
    ($field:ident) => {
        flag!($field, stringify!($field))
    };
    ($field:ident, $name:expr) => {
        Keyword::new($name, |t, s, b| t.$field = b.value(s).unwrap_or(t.$field))
    };
}

/// `Keyword` for a block whose lines are items of the list field of the same name.
macro_rules! list {
    ($field:ident) => {
        Keyword::new(stringify!($field), |t, s, b| {
            let mut items = b.items(s, stringify!($field), t.$field.len());
            t.$field.append(&mut items)
        })
    };
}

pub(super) use {flag, list, set};

/// Most distinct unknown words a configuration gets a "did you mean" for:
/// past a few dozen the file is not a keepalived.conf with typos, and
/// comparing every word of it with every keyword is what made reading a
/// mangled file slow.
const MAX_SUGGESTED: usize = 32;

/// State while binding: the field path of the block being bound and the
/// keyword being applied.
pub struct Binder {
    prefix: String,
    current: &'static str,
    locations: FieldLocations,
    diagnostics: Vec<Diagnostic>,
    /// Ignored keywords already warned about (one warning each).
    warned: HashSet<&'static str>,
    /// The suggestion already found for an unknown word in a block (keyed
    /// by the block's address): replicated or repeated lines repeat their
    /// unknown words, and comparing each with every keyword again made a
    /// `~SEQ` of 200,000 bad lines take seconds.
    suggestions: HashMap<(usize, String), Option<&'static str>>,
}

impl Binder {
    /// A binder at the top level, with nothing recorded yet.
    pub fn new() -> Binder {
        Binder {
            prefix: String::new(),
            current: "",
            locations: FieldLocations::default(),
            diagnostics: Vec::new(),
            warned: HashSet::new(),
            suggestions: HashMap::new(),
        }
    }

    /// Where each field path was written, and what went wrong.
    pub fn finish(self) -> (FieldLocations, Vec<Diagnostic>) {
        (self.locations, self.diagnostics)
    }

    fn path(&self, field: &str) -> String {
        match self.prefix.is_empty() {
            true => field.to_string(),
            false => format!("{}.{field}", self.prefix),
        }
    }

    /// Records an error at `location`.
    pub fn error(&mut self, location: &Location, message: impl Into<String>) {
        let diagnostic = Diagnostic::error(Some(location.clone()), message);
        self.diagnostics.push(diagnostic);
    }

    fn warning(&mut self, location: &Location, message: impl Into<String>) {
        let diagnostic = Diagnostic::warning(Some(location.clone()), message);
        self.diagnostics.push(diagnostic);
    }

    /// The known keyword of `block` closest to the unknown `word`, found
    /// once per block and word, for the first [`MAX_SUGGESTED`] of them.
    fn suggest<T>(&mut self, block: &Block<T>, word: &str) -> Option<&'static str> {
        let key = (std::ptr::from_ref(block).addr(), word.to_owned());
        if let Some(known) = self.suggestions.get(&key) {
            return *known;
        }
        if self.suggestions.len() >= MAX_SUGGESTED {
            return None;
        }
        let found = block.suggest(word);
        self.suggestions.insert(key, found);
        found
    }

    /// Binds `statements` into `target` with the keywords of `block`.
    pub fn bind_all<T>(&mut self, block: &Block<T>, target: &mut T, statements: &[Stmt]) {
        for statement in statements {
            self.bind_one(block, target, statement);
        }
    }

    fn bind_one<T>(&mut self, block: &Block<T>, target: &mut T, statement: &Stmt) {
        let word = statement.keyword.text.as_str();
        let location = &statement.keyword.location;
        let found = match block.find(word) {
            Some(found) => found,
            None => match block.find_miscased(word) {
                Some((found, spelling)) => {
                    let message = format!(
                        "keyword `{word}` should be written `{spelling}`; \
                         keepalived itself rejects this spelling"
                    );
                    self.warning(location, message);
                    found
                }
                None => {
                    let mut message = format!("unknown keyword `{word}` in {}", block.name);
                    if let Some(suggestion) = self.suggest(block, word) {
                        message.push_str(&format!("; did you mean `{suggestion}`?"));
                    }
                    return self.error(location, message);
                }
            },
        };
        let keyword = match found {
            Found::Supported(keyword) => keyword,
            Found::Refused((name, does)) => {
                let message = format!("unsupported: {name} ({does}) is not implemented");
                return self.error(location, message);
            }
            Found::Ignored((name, does)) => {
                if self.warned.insert(name) {
                    let message = format!("`{name}` ({does}) is not implemented; ignored");
                    self.warning(location, message);
                }
                return;
            }
        };
        self.apply(keyword, target, statement);
    }

    fn apply<T>(&mut self, keyword: &Keyword<T>, target: &mut T, statement: &Stmt) {
        let at = statement.args.first().unwrap_or(&statement.keyword);
        self.locations
            .insert(self.path(keyword.name), at.location.clone());
        let outer = std::mem::replace(&mut self.current, keyword.name);
        (keyword.apply)(target, statement, self);
        self.current = outer;
    }

    fn refuse_body(&mut self, statement: &Stmt) {
        if statement.body.is_some() {
            let message = format!("`{}` does not take a `{{ … }}` block", self.current);
            self.error(&statement.keyword.location, message);
        }
    }

    /// Reads the statement's words as a `T`, reporting what is wrong.
    pub fn value<T: FromArgs>(&mut self, statement: &Stmt) -> Option<T> {
        self.refuse_body(statement);
        self.header(statement)
    }

    /// The keyword being applied, as its table spells it.
    pub fn keyword(&self) -> &'static str {
        self.current
    }

    /// Records that the field `segment` below the current block was written
    /// at `location`.
    pub fn record(&mut self, segment: &str, location: &Location) {
        self.locations.insert(self.path(segment), location.clone());
    }

    /// Reads the words after a block keyword (its name or address) as a `T`.
    pub fn header<T: FromArgs>(&mut self, statement: &Stmt) -> Option<T> {
        let args = &statement.args;
        match T::from_args(args) {
            Ok(value) => Some(value),
            Err(err) => {
                let at = args.get(err.index).unwrap_or(&statement.keyword);
                let message = format!("`{}`: {}", self.current, err.message);
                self.error(&at.location.clone(), message);
                None
            }
        }
    }

    /// The single name after a block keyword (empty when it is missing).
    pub fn name(&mut self, statement: &Stmt) -> String {
        self.header(statement).unwrap_or_default()
    }

    fn block_of<'s>(&mut self, statement: &'s Stmt) -> Option<&'s [Stmt]> {
        if statement.body.is_none() {
            let message = format!("`{}` needs a `{{ … }}` block", self.current);
            self.error(&statement.keyword.location, message);
        }
        statement.body.as_deref()
    }

    /// Binds the block of `statement` into `target`, at field path `segment`
    /// below the current block.
    pub fn body<T>(&mut self, statement: &Stmt, segment: &str, block: &Block<T>, target: &mut T) {
        self.record(segment, &statement.keyword.location);
        let Some(body) = self.block_of(statement) else {
            return;
        };
        let inner = self.path(segment);
        let outer = std::mem::replace(&mut self.prefix, inner);
        self.bind_all(block, target, body);
        self.prefix = outer;
    }

    /// Binds the block of `statement` into `item` and appends it to `list`,
    /// the list field named `field` of the current block.
    pub fn push_item<T>(
        &mut self,
        statement: &Stmt,
        field: &str,
        list: &mut Vec<T>,
        block: &Block<T>,
        mut item: T,
    ) {
        self.body(
            statement,
            &format!("{field}.{}", list.len()),
            block,
            &mut item,
        );
        list.push(item);
    }

    /// Reads each line of the block of `statement` as one `T`: the items of
    /// the list field at path `field`, whose first new index is `start`.
    pub fn items<T: FromArgs>(&mut self, statement: &Stmt, field: &str, start: usize) -> Vec<T> {
        let Some(body) = self.block_of(statement) else {
            return Vec::new();
        };
        let mut items = Vec::new();
        for line in body {
            let mut words = vec![line.keyword.clone()];
            words.extend(line.args.iter().cloned());
            let line = Stmt {
                keyword: line.keyword.clone(),
                args: words,
                body: line.body.clone(),
            };
            if let Some(item) = self.value(&line) {
                let path = self.path(&format!("{field}.{}", start + items.len()));
                self.locations.insert(path, line.keyword.location.clone());
                items.push(item);
            }
        }
        items
    }
}
