//! The configuration front ends: keepalived.conf (alone and with
//! `include`d files), TOML, and the round trip keepalived.conf -> model ->
//! TOML -> model.
use std::fs;
use std::path::Path;
use std::sync::Once;

use crate::config::{
    load, parse_keepalived_str, parse_toml_str, set_read_options, to_toml, Bounds, Loaded,
    ReadOptions,
};

/// Separates the files of a [`keepalived_includes`] input.
pub const FILE_SEPARATOR: u8 = 0;

/// The files a [`keepalived_includes`] input fills, in order: the main
/// file, then files its `include`s can name directly or by pattern.
pub const INCLUDE_FILES: [&str; 4] = ["keepalived.conf", "a.conf", "b.inc", "sub/c.conf"];

/// The templating bounds of the keepalived.conf targets: the daemon's
/// ([`Bounds::DAEMON`]) scaled down 1,024 times, to 195 generated lines and
/// 8 KiB of text: still more than twice the longest input libFuzzer makes
/// here (about 3.3 KB), so only replication and definitions run into them.
/// The same code stops at them, but such an input takes about a millisecond
/// instead of seconds, and libFuzzer mutates it as often as any other (at
/// the daemon's bounds a few of them brought the rate from 2,000 to 170
/// executions a second; at 1/128 of them it ran at about 1,500).
pub const FUZZ_BOUNDS: Bounds = Bounds {
    generated_lines: Bounds::DAEMON.generated_lines / 1024,
    generated_chars: Bounds::DAEMON.generated_chars / 1024,
    text_chars: Bounds::DAEMON.text_chars / 1024,
    replacement_chars: Bounds::DAEMON.replacement_chars / 1024,
};

/// From the first call on, this process reads configurations with
/// [`FUZZ_BOUNDS`] and includes only files under `dir`: an input's
/// `include /*/*` must not read the host's files (it reached /proc/kmsg
/// and blocked; `include /**` read the root's files for 30 s).
fn fuzz_options(dir: &Path) {
    static SET: Once = Once::new();
    SET.call_once(|| {
        set_read_options(ReadOptions {
            bounds: FUZZ_BOUNDS,
            include_root: Some(dir.to_path_buf()),
            ..ReadOptions::new(None, false)
        })
    });
}

/// keepalived.conf text: lexer, parser, binder and validation, as the
/// file `fuzz.conf` in `dir` (the fuzzer's own empty scratch directory,
/// where includes are confined).
pub fn keepalived_conf(dir: &Path, data: &[u8]) {
    fuzz_options(dir);
    let origin = dir.join("fuzz.conf");
    let _ = parse_keepalived_str(&String::from_utf8_lossy(data), &origin);
}

/// The differential target: whatever loads from keepalived.conf text (read
/// as in [`keepalived_conf`]) must survive the trip through TOML
/// ([`round_trip`]).
pub fn conf_round_trip(dir: &Path, data: &[u8]) {
    fuzz_options(dir);
    let text = String::from_utf8_lossy(data);
    if let Ok(loaded) = parse_keepalived_str(&text, &dir.join("fuzz.conf")) {
        round_trip(&loaded, &text);
    }
}

/// keepalived.conf with `include`s: the input is up to four files separated
/// by [`FILE_SEPARATOR`], written into `dir` as [`INCLUDE_FILES`] (a file
/// the input leaves out is removed), then the first is loaded. `dir` is the
/// fuzzer's own scratch directory, where includes are confined.
pub fn keepalived_includes(dir: &Path, data: &[u8]) {
    fuzz_options(dir);
    let mut parts = data.split(|&b| b == FILE_SEPARATOR);
    for name in INCLUDE_FILES {
        let path = dir.join(name);
        let written = match parts.next() {
            Some(part) => fs::create_dir_all(path.parent().unwrap_or(dir))
                .and_then(|()| fs::write(&path, part)),
            None => fs::remove_file(&path).or(Ok(())),
        };
        written.unwrap_or_else(|e| panic!("preparing {}: {e}", path.display()));
    }
    let _ = load(&dir.join(INCLUDE_FILES[0]));
}

/// TOML text: parse and validate; whatever loads is written back and must
/// load again to the same model.
pub fn toml_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(loaded) = parse_toml_str(&text, Path::new("fuzz.toml")) {
        round_trip(&loaded, &text);
    }
}

/// The differential property: `loaded`'s model, written as TOML
/// (`lb-daemon convert`), loads again to the same model. `source` is shown
/// when it does not.
pub fn round_trip(loaded: &Loaded, source: &str) {
    let toml = to_toml(&loaded.config);
    match parse_toml_str(&toml, Path::new("round-trip.toml")) {
        Ok(back) => assert!(
            back.config == loaded.config,
            "the model changed through TOML\nsource:\n{source}\nTOML:\n{toml}\n\
             before: {:?}\nafter: {:?}",
            loaded.config,
            back.config
        ),
        Err(e) => panic!("the TOML form does not load: {e}\nsource:\n{source}\nTOML:\n{toml}"),
    }
}
