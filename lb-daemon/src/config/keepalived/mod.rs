//! The keepalived.conf front end: lexer, parser (with `include`), keyword
//! tables and binder.

mod args;
mod bind;
mod keywords;
mod lexer;
mod lvs;
mod parser;
mod vrrp;

use std::path::Path;

use super::diag::{Diagnostic, FieldLocations};
use super::model::Config;

/// Reads keepalived.conf `text` (from `origin`) into a model, with where
/// each field was written and every problem found on the way.
pub fn read(text: &str, origin: &Path) -> (Config, FieldLocations, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let statements = parser::parse(text, origin, &mut diagnostics);
    let (config, locations, more) = bind::bind(&statements);
    diagnostics.extend(more);
    (config, locations, diagnostics)
}
