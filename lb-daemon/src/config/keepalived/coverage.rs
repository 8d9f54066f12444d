//! Every keyword keepalived accepts (`keepalived-keywords.txt`, regenerated
//! by `cargo xtask keepalived-import`) is implemented, refused by name or
//! ignored with a warning, never unknown. Each keyword is written in its
//! block and read through the real front end; the class it gets is compared
//! with `keyword-classes.txt` (rewrite it with `LB_BLESS=1` after a
//! deliberate change) and the totals with [`COUNTS`], so a keyword cannot
//! change class unnoticed.

use std::path::Path;

use super::{read, ReadOptions};

const KEYWORDS: &str = include_str!("keepalived-keywords.txt");
const CLASSES: &str = include_str!("keyword-classes.txt");

/// How many of keepalived's keyword paths are in each class (a keyword
/// inside a refused or ignored block counts with its block).
const COUNTS: [(&str, usize); 3] = [("implemented", 338), ("refused", 99), ("ignored", 101)];

/// The words after a block keyword that make its header valid.
fn header(keyword: &str) -> &'static str {
    match keyword {
        "virtual_server" => " 192.0.2.1 80",
        "real_server" => " 192.0.2.2 80",
        "global_defs" | "authentication" | "url" | "SSL" => "",
        _ if keyword.ends_with("_CHECK") || keyword.ends_with("_GET") => "",
        _ => " x",
    }
}

/// The class of the keyword at `path` (`section/…/keyword`), read the way
/// a configuration would write it: `implemented`, `refused`, `ignored`,
/// `refused in BLOCK` / `ignored in BLOCK` for keywords of a block that is
/// itself refused or ignored, or `UNKNOWN`.
fn class(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let (leaf, blocks) = parts.split_last().expect("paths are not empty");
    let mut text = String::new();
    for (depth, block) in blocks.iter().enumerate() {
        let indent = " ".repeat(depth);
        text.push_str(&format!("{indent}{block}{} {{\n", header(block)));
    }
    text.push_str(&format!("{}{leaf}\n", " ".repeat(blocks.len())));
    for depth in (0..blocks.len()).rev() {
        text.push_str(&format!("{}}}\n", " ".repeat(depth)));
    }
    let (_, _, diagnostics) = read(&text, Path::new("k.conf"), &ReadOptions::id("node"));
    for (index, part) in parts.iter().enumerate() {
        let on_line = diagnostics
            .iter()
            .filter(|d| d.location.as_ref().is_some_and(|l| l.line == index + 1));
        for diagnostic in on_line {
            let message = &diagnostic.message;
            let class = if message.starts_with("unknown keyword") {
                return "UNKNOWN".into();
            } else if message.starts_with("unsupported: ") {
                "refused"
            } else if message.ends_with("is not implemented; ignored") {
                "ignored"
            } else {
                continue;
            };
            return match index + 1 == parts.len() {
                true => class.into(),
                false => format!("{class} in {part}"),
            };
        }
    }
    "implemented".into()
}

#[test]
fn every_keepalived_keyword_has_a_class() {
    let paths: Vec<&str> = KEYWORDS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let classified: Vec<(&str, String)> = paths.iter().map(|p| (*p, class(p))).collect();
    let unknown: Vec<&str> = classified
        .iter()
        .filter(|(_, c)| c == "UNKNOWN")
        .map(|(p, _)| *p)
        .collect();
    let table: String = classified
        .iter()
        .map(|(path, class)| format!("{path} {class}\n"))
        .collect();
    if std::env::var_os("LB_BLESS").is_some() {
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/keepalived/keyword-classes.txt");
        std::fs::write(file, &table).expect("writing keyword-classes.txt");
    }
    assert!(
        unknown.is_empty(),
        "keepalived keywords read as unknown: {unknown:?}"
    );
    let changed: Vec<String> = table
        .lines()
        .zip(CLASSES.lines())
        .filter(|(now, then)| now != then)
        .map(|(now, then)| format!("{then} -> {now}"))
        .collect();
    assert!(
        changed.is_empty() && table.lines().count() == CLASSES.lines().count(),
        "keyword classes changed (LB_BLESS=1 rewrites keyword-classes.txt): {changed:#?}"
    );
    let counts = COUNTS.map(|(class, _)| {
        let n = classified
            .iter()
            .filter(|(_, c)| c.split(' ').next() == Some(class));
        (class, n.count())
    });
    assert_eq!(counts, COUNTS, "{} keyword paths", paths.len());
}

#[test]
fn refused_keywords_are_errors_naming_what_they_do() {
    let text = "vrrp_instance V {\n track_bfd {\n  p\n }\n}\n";
    let (_, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
    let messages: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        ["k.conf:2:2: error: unsupported: track_bfd (failover on BFD state) is not implemented"]
    );
}

#[test]
fn ignored_keywords_warn_once() {
    let text = "global_defs {\n enable_snmp_vrrp\n enable_snmp_vrrp\n vrrp_no_swap\n}\n";
    let (_, _, diagnostics) = read(text, Path::new("k.conf"), &ReadOptions::id("node"));
    let messages: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "k.conf:2:2: warning: `enable_snmp_vrrp` (SNMP) is not implemented; ignored",
            "k.conf:4:2: warning: `vrrp_no_swap` (VRRP process tuning) is not implemented; ignored",
        ]
    );
}
