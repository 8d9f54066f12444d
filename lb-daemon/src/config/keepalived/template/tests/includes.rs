//! `include`: files read in place, their problems by variant, and
//! `include_check`.
use std::fs;

use super::*;

/// Writes `files` (name, text) into a scratch directory and reads the
/// first with config-id `main`.
fn with_files(files: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let main = dir.path().join(files[0].0);
    let (pieces, diagnostics) = read_file(&main, files[0].1, "main");
    let base = format!("{}/", dir.path().display());
    let diagnostics = diagnostics.iter().map(|d| d.replace(&base, "")).collect();
    (pieces, diagnostics)
}

#[test]
fn includes_read_files_in_place_relative_to_the_including_file() {
    let (pieces, diagnostics) = with_files(&[
        (
            "main.conf",
            "x {\ninclude sub/*.inc\n}\ninclude {c,a}.conf\n",
        ),
        ("sub/2.inc", "two\n"),
        ("sub/1.inc", "one\ninclude ../a.conf\n"),
        ("a.conf", "$V=from_a\n"),
        ("c.conf", "c $V\n"),
    ]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    // Brace alternatives in their order, each glob's matches sorted, and
    // definitions carry over from file to file.
    assert_eq!(pieces, ["x", "{", "one", "two", "}", "c from_a"]);
}

#[test]
fn include_problems_by_variant() {
    let files = |main: &str| {
        let dir_files = [
            ("main.conf", main),
            ("a.conf", "a\n"),
            ("d/x.conf", "in_dir\n"),
        ];
        with_files(&dir_files)
    };
    let cases: &[(&str, &[&str], &str)] = &[
        ("include none.conf", &[], "main.conf:1:9: warning: include: config files missing 'none.conf'; ignored"),
        ("includer none.conf", &[], "main.conf:1:10: warning: includer: config files missing 'none.conf'; ignored"),
        ("includem none.conf", &[], "main.conf:1:10: error: includem: config files missing 'none.conf'"),
        ("include *.none", &[], "main.conf:1:9: warning: include: no config files matched '*.none'; ignored"),
        ("includew *.none", &[], "main.conf:1:10: error: includew: no config files matched '*.none'"),
        ("includem *.none", &[], "main.conf:1:10: warning: includem: no config files matched '*.none'; ignored"),
        ("include nodir/*.conf", &[], "main.conf:1:9: warning: include: config files missing 'nodir/*.conf'; ignored"),
        ("include {a,none}.conf", &["a"], "main.conf:1:9: warning: include: some config files missing: '{a,none}.conf'; ignored"),
        ("includeb {a,none}.conf", &[], "main.conf:1:10: error: includeb: some config files missing: '{a,none}.conf'"),
        ("includem {none,nix}.conf", &[], "main.conf:1:10: warning: includem: config files missing '{none,nix}.conf'; ignored"),
        ("includea {none,nix}.conf", &[], "main.conf:1:10: error: includea: config files missing '{none,nix}.conf'"),
        ("include d", &[], "main.conf:1:9: warning: include: configuration file 'd' is a directory - skipping; ignored"),
        ("includer d", &[], "main.conf:1:10: error: includer: configuration file 'd' is a directory - skipping"),
        ("include d/*", &["in_dir"], ""),
        ("include", &[], "main.conf:1:1: error: `include` needs a file name or pattern"),
    ];
    for (line, pieces, message) in cases {
        let (got, diagnostics) = files(&format!("{line}\n"));
        assert_eq!(got, *pieces, "{line}");
        let expected: Vec<&str> = [*message].into_iter().filter(|m| !m.is_empty()).collect();
        assert_eq!(diagnostics, expected, "{line}");
    }
}

#[test]
fn include_check_makes_problems_errors_until_its_file_ends() {
    let (pieces, diagnostics) = with_files(&[
        (
            "main.conf",
            "include none1.conf\nglobal_defs {\n include_check match\n}\ninclude none2.conf\n\
             include sub.conf\ninclude none3.conf\nvrrp_instance V {\n include_check -match\n}\n\
             include none5.conf\n",
        ),
        (
            "sub.conf",
            "global_defs {\n include_check -match\n}\ninclude none4.conf\n",
        ),
    ]);
    assert_eq!(
        pieces
            .iter()
            .filter(|p| p.starts_with("include_check"))
            .count(),
        3
    );
    let expected = [
        "main.conf:1:9: warning: include: config files missing 'none1.conf'; ignored",
        "main.conf:5:9: error: include: config files missing 'none2.conf'",
        "sub.conf:4:9: warning: include: config files missing 'none4.conf'; ignored",
        "main.conf:7:9: error: include: config files missing 'none3.conf'",
        "main.conf:11:9: error: include: config files missing 'none5.conf'",
    ];
    assert_eq!(diagnostics, expected);
}

#[test]
fn include_check_options() {
    let all = include::include_check(0, &[]).0;
    let check = |from, options: &[&str]| {
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        include::include_check(from, &options)
    };
    let (readable, _) = check(all, &["read"]);
    let (matched, _) = check(0, &["match"]);
    assert_eq!(check(0, &["+match"]).0 | readable, matched);
    assert_eq!(check(matched, &["-match"]).0, readable);
    assert_eq!(check(all, &["-read", "+read"]).0, all);
    assert_eq!(
        check(0, &["read", "match", "+bogus"]).1,
        [
            "duplicate include_check `match`; ignored",
            "unknown include_check type `bogus`"
        ]
    );
    // Found by the keepalived_conf fuzz target: the sign was split off at
    // byte 1, inside a first character of more than one byte.
    assert_eq!(
        check(0, &["当x", "é"]).1,
        [
            "unknown include_check type `当x`",
            "duplicate include_check `é`; ignored"
        ]
    );
    let mut diagnostics = Vec::new();
    let options = ReadOptions::new(Some("x".into()), true);
    read(
        "include none.conf\n",
        Path::new("t.conf"),
        &options,
        &mut diagnostics,
    );
    let messages: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        ["t.conf:1:9: error: include: config files missing 'none.conf'"]
    );
}

#[test]
fn executable_files_and_cycles_are_not_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("x.conf");
    fs::write(&script, "secret\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let main = dir.path().join("main.conf");
    let text = "includer x.conf\ninclude main.conf\n";
    fs::write(&main, text).unwrap();
    let (pieces, diagnostics) = read_file(&main, text, "n");
    assert!(pieces.is_empty(), "{pieces:?}");
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    assert!(diagnostics[0].contains("main.conf:1:10: error: includer: configuration file"));
    assert!(diagnostics[0].ends_with("is not a regular non-executable file - skipping"));
    assert!(diagnostics[1].contains("main.conf:2:9: error: include cycle"));
}

#[test]
fn errors_in_included_files_name_them() {
    let (_, diagnostics) = with_files(&[
        ("main.conf", "\ninclude b.conf\n"),
        ("b.conf", "\n\n~SEQ x\n"),
    ]);
    assert_eq!(
        diagnostics,
        ["b.conf:3:1: error: invalid ~SEQ definition '~SEQ x'"]
    );
}

#[test]
fn an_include_root_keeps_includes_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::write(dir.path().join("outside.conf"), "outside\n").unwrap();
    fs::write(root.join("sub/in.conf"), "inside\n").unwrap();
    let options = ReadOptions {
        include_root: Some(root.clone()),
        ..ReadOptions::id("main")
    };
    let text = "include sub/../sub/in.conf\ninclude ../outside.conf\ninclude /*/*\n";
    let mut diagnostics = Vec::new();
    let pieces = read(text, &root.join("main.conf"), &options, &mut diagnostics);
    let pieces: Vec<String> = pieces.iter().map(Piece::string).collect();
    assert_eq!(pieces, ["inside"]);
    let base = format!("{}/", dir.path().display());
    let messages: Vec<String> = (diagnostics.iter())
        .map(|d| d.to_string().replace(&base, ""))
        .collect();
    let outside = |line, file: &str| {
        format!(
            "root/main.conf:{line}:9: warning: include: config file '{file}' is outside \
             {}root - skipping; ignored",
            base
        )
        .replace(&base, "")
    };
    assert_eq!(
        messages,
        [outside(2, "root/../outside.conf"), outside(3, "/*/*"),]
    );
}
