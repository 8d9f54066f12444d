//! `track_file`: a file holding an integer, read like keepalived's
//! `process_track_file` (`strtol(buf, NULL, 0)`: decimal, `0x` hex or
//! leading-`0` octal; anything unreadable, and a missing file, is 0; the
//! value is clamped to -254..=254). `init_file` creates the file (or
//! overwrites it with `overwrite`) at start-up.
//!
//! keepalived watches with inotify; lb-daemon polls every
//! [`POLL_INTERVAL`], which sees the same values a fraction of a second later.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::TrackFile;

use super::plan::{Key, Kind};
use super::priority::State;
use super::registry::Registry;

/// How often tracked files are re-read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Parses file contents like `strtol(text, NULL, 0)`, clamped to
/// -254..=254; 0 when there is no number.
pub fn parse_value(text: &str) -> i64 {
    let text = text.trim_start();
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (16, hex)
    } else if rest.starts_with('0') {
        (8, rest)
    } else {
        (10, rest)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let magnitude =
        i64::from_str_radix(&digits[..end], radix).unwrap_or(if end > 0 { i64::MAX } else { 0 });
    let value = if negative { -magnitude } else { magnitude };
    value.clamp(-254, 254)
}

/// The current value of the file at `path`.
pub async fn read_value(path: &Path) -> i64 {
    match tokio::fs::read(path).await {
        Ok(bytes) => {
            let head = &bytes[..bytes.len().min(127)];
            parse_value(&String::from_utf8_lossy(head))
        }
        Err(_) => 0,
    }
}

/// Applies `init_file`.
fn init_file(def: &TrackFile, path: &Path) {
    let Some(init) = &def.init_file else { return };
    if path.exists() && !init.overwrite {
        return;
    }
    let value = init.value.unwrap_or(0);
    if let Err(e) = std::fs::write(path, format!("{value}\n")) {
        tracing::warn!(
            "track file {}: cannot initialise {}: {e}",
            def.name,
            path.display()
        );
    }
}

/// Keeps the value of `def` current in `registry`.
pub(crate) async fn run(def: TrackFile, registry: Registry) {
    let Some(path) = def.file.as_ref().map(PathBuf::from) else {
        tracing::warn!("track file {} has no file, ignoring", def.name);
        return;
    };
    init_file(&def, &path);
    let key = Key {
        kind: Kind::File,
        name: def.name.clone(),
    };
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    let mut last = None;
    loop {
        ticks.tick().await;
        let value = read_value(&path).await;
        if last != Some(value) {
            tracing::info!("Track file {} ({}) now {value}", def.name, path.display());
            last = Some(value);
            registry.set(&key, State::Value(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_value;

    #[test]
    fn parses_like_strtol() {
        let cases = [
            ("5\n", 5),
            ("  -7 apples", -7),
            ("0x10", 16),
            ("010", 8),
            ("09", 0),
            ("", 0),
            ("abc", 0),
            ("1000", 254),
            ("-99999999999999999999", -254),
            ("+3", 3),
        ];
        for (text, want) in cases {
            assert_eq!(parse_value(text), want, "{text:?}");
        }
    }
}
