//! Configuration model and its two front ends (keepalived.conf and TOML).
//!
//! Both front ends produce the same [`Config`] and run the same validation;
//! every problem is reported with the file, line and column it comes from.

mod diag;
mod keepalived;
mod model;
pub mod source;
mod toml;
mod validate;

use std::path::Path;

pub use diag::{Diagnostic, Diagnostics, Location, Severity};
pub use keepalived::{read_options, script_words, set_read_options, Bounds, ReadOptions};
pub use model::*;

/// A configuration that loaded, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated model.
    pub config: Config,
    /// Things that were ignored or look wrong but do not stop the load.
    pub warnings: Vec<Diagnostic>,
}

/// Loads the configuration at `path`: TOML when its extension is `.toml`,
/// keepalived.conf syntax otherwise.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let text = source::read(path)
        .map_err(|message| Diagnostics(vec![Diagnostic::error(None, message)]))?;
    match path.extension().is_some_and(|ext| ext == "toml") {
        true => parse_toml_str(&text, path),
        false => parse_keepalived_str(&text, path),
    }
}

/// Parses keepalived.conf `text` with this process's [`read_options`];
/// `origin` names it in messages and is the base for relative `include`s.
pub fn parse_keepalived_str(text: &str, origin: &Path) -> Result<Loaded, Diagnostics> {
    let (config, locations, diagnostics) = keepalived::read(text, origin, read_options());
    finish(config, &locations, diagnostics)
}

/// Parses the TOML form of the model; `origin` names it in messages.
pub fn parse_toml_str(text: &str, origin: &Path) -> Result<Loaded, Diagnostics> {
    let (config, locations) = toml::read(text, origin)?;
    finish(config, &locations, Vec::new())
}

/// The TOML form of `config` (what `lb-daemon convert` prints).
pub fn to_toml(config: &Config) -> String {
    toml::write(config)
}

/// Validates `config`, adding located findings to `diagnostics`.
fn finish(
    config: Config,
    locations: &diag::FieldLocations,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Loaded, Diagnostics> {
    diagnostics.extend(locations.locate(validate::validate(&config)));
    diagnostics.sort_by_key(|d| {
        let location = d.location.as_ref();
        location.map(|l| (l.file.clone(), l.line, l.column))
    });
    match diagnostics.iter().any(Diagnostic::is_error) {
        true => Err(Diagnostics(diagnostics)),
        false => Ok(Loaded {
            config,
            warnings: diagnostics,
        }),
    }
}
