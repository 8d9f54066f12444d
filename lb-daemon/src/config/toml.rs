//! The TOML front end (same model, same field names) and the TOML writer.

use std::ops::Range;
use std::path::Path;

use toml_edit::{Item, Value};

use super::diag::{closest, Diagnostic, Diagnostics, FieldLocations, LineIndex};
use super::model::Config;

/// Reads TOML `text` (from `origin`) into a model, with where each field
/// path was written.
pub fn read(text: &str, origin: &Path) -> Result<(Config, FieldLocations), Diagnostics> {
    let index = LineIndex::new(origin, text);
    let at = |span: Option<Range<usize>>| span.map(|span| index.location(span.start));
    let document = toml_edit::Document::parse(text).map_err(|err| {
        let message = err.message().trim_end().to_string();
        Diagnostics(vec![Diagnostic::error(at(err.span()), message)])
    })?;
    let config = toml::from_str(text).map_err(|err: toml::de::Error| {
        let message = explain(err.message().trim_end());
        Diagnostics(vec![Diagnostic::error(at(err.span()), message)])
    })?;
    let mut locations = FieldLocations::default();
    let mut walk = Walk {
        index: &index,
        locations: &mut locations,
    };
    walk.item(document.as_item(), "");
    Ok((config, locations))
}

/// Rewrites serde's "unknown field" message into one with a suggestion.
fn explain(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field ") else {
        return message.to_string();
    };
    let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let Some((unknown, expected)) = names.split_first() else {
        return message.to_string();
    };
    match closest(unknown, expected.iter().copied()) {
        Some(name) => format!("unknown key `{unknown}`; did you mean `{name}`?"),
        None => format!(
            "unknown key `{unknown}`; expected one of: {}",
            expected.join(", ")
        ),
    }
}

/// Records the location of every key path of a document.
struct Walk<'a> {
    index: &'a LineIndex<'a>,
    locations: &'a mut FieldLocations,
}

impl Walk<'_> {
    fn record(&mut self, path: &str, span: Option<Range<usize>>) {
        if let Some(span) = span {
            self.locations
                .insert(path.to_string(), self.index.location(span.start));
        }
    }

    fn item(&mut self, item: &Item, path: &str) {
        self.record(path, item.span());
        match item {
            Item::Table(table) => {
                for (key, item) in table.iter() {
                    self.item(item, &join(path, key));
                }
            }
            Item::ArrayOfTables(tables) => {
                for (i, table) in tables.iter().enumerate() {
                    let path = join(path, &i.to_string());
                    self.record(&path, table.span());
                    for (key, item) in table.iter() {
                        self.item(item, &join(&path, key));
                    }
                }
            }
            Item::Value(value) => self.value(value, path),
            Item::None => {}
        }
    }

    fn value(&mut self, value: &Value, path: &str) {
        self.record(path, value.span());
        match value {
            Value::Array(array) => {
                for (i, value) in array.iter().enumerate() {
                    self.value(value, &join(path, &i.to_string()));
                }
            }
            Value::InlineTable(table) => {
                for (key, value) in table.iter() {
                    self.value(value, &join(path, key));
                }
            }
            _ => {}
        }
    }
}

fn join(path: &str, segment: &str) -> String {
    match path.is_empty() {
        true => segment.to_string(),
        false => format!("{path}.{segment}"),
    }
}

/// The TOML form of `config`, leaving out empty lists, empty tables and
/// flags that are off.
pub fn write(config: &Config) -> String {
    let written = toml::Table::try_from(config).and_then(|mut table| {
        prune(&mut table);
        toml::to_string(&table)
    });
    written.unwrap_or_else(|err| format!("# cannot write this configuration as TOML: {err}\n"))
}

/// The names of the fields of `value` that the TOML form writes (those not
/// left at their empty default), in declaration order.
pub fn set_fields<T: serde::Serialize>(value: &T) -> Vec<String> {
    let mut table = toml::Table::try_from(value).unwrap_or_default();
    prune(&mut table);
    table.keys().cloned().collect()
}

/// Largest float that converts to an integer exactly.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Fields of type `Option<bool>`, where `false` is a choice (`no_accept`,
/// `strict_mode off`, `alpha off`) rather than the default, so it is kept.
const CHOSEN_FALSE: &[&str] = &["accept", "alpha", "strict_mode"];

fn prune(table: &mut toml::Table) {
    table.retain(|key, value| {
        match value {
            toml::Value::Float(f) if f.fract() == 0.0 && f.abs() <= EXACT => {
                *value = toml::Value::Integer(*f as i64)
            }
            toml::Value::Table(inner) => prune(inner),
            toml::Value::Array(items) => items.iter_mut().for_each(|item| {
                if let toml::Value::Table(inner) = item {
                    prune(inner)
                }
            }),
            _ => {}
        }
        (!matches!(value, toml::Value::Boolean(false)) || CHOSEN_FALSE.contains(&key))
            && !matches!(value, toml::Value::Array(items) if items.is_empty())
            && !matches!(value, toml::Value::Table(inner) if inner.is_empty())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_get_suggestions() {
        let err = explain("unknown field `prioriy`, expected one of `name`, `priority`");
        assert_eq!(err, "unknown key `prioriy`; did you mean `priority`?");
        let err = explain("unknown field `zzz`, expected `name` or `state`");
        assert_eq!(err, "unknown key `zzz`; expected one of: name, state");
        assert_eq!(explain("invalid type"), "invalid type");
    }

    #[test]
    fn every_key_path_gets_a_location() {
        let text = "[[vrrp_instance]]\nname = \"a\"\npriority = 300\n\
                    virtual_ipaddress = [{ address = \"192.0.2.1\" }]\n";
        let (config, locations) = read(text, Path::new("c.toml")).unwrap();
        assert_eq!(config.vrrp_instance[0].priority, Some(300));
        let at = |path| locations.resolve(path).map(|l| (l.line, l.column));
        assert_eq!(at("vrrp_instance.0.priority"), Some((3, 12)));
        assert_eq!(
            at("vrrp_instance.0.virtual_ipaddress.0.address"),
            Some((4, 34))
        );
        assert_eq!(at("vrrp_instance.0"), Some((1, 1)));
    }

    #[test]
    fn syntax_and_type_errors_are_located() {
        let err = read("a = \n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().starts_with("c.toml:1:"), "{err}");
        let err = read("[global_defs]\nrouter_idd = 1\n", Path::new("c.toml")).unwrap_err();
        let expected = "c.toml:2:1: error: unknown key `router_idd`; did you mean `router_id`?";
        assert_eq!(err.to_string(), expected);
    }
}
