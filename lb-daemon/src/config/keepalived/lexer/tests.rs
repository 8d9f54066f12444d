//! keepalived's tokenizer, case by case. Expected values are what
//! keepalived's own `decomment`, brace split, `alloc_strvec_r` and
//! `alloc_strvec_quoted[_escaped]` produce (run through a harness of
//! keepalived's code, and live against keepalived 2.2.7 for `\#`).

use super::super::{template, words::script_words};
use super::*;

/// The tokens of `text` as a file's content, and the errors as (line,
/// column, message).
fn lex(text: &str) -> (Vec<Token>, Vec<(usize, usize, String)>) {
    let mut diagnostics = Vec::new();
    let pieces = template::read(
        text,
        Path::new("t.conf"),
        &template::ReadOptions::id("node"),
        &mut diagnostics,
    );
    let tokens = super::lex(pieces, &mut diagnostics);
    let errors = diagnostics
        .into_iter()
        .map(|d| {
            let at = d.location.expect("located");
            (at.line, at.column, d.message)
        })
        .collect();
    (tokens, errors)
}

/// The tokens of `text` (`{`, `}` and words; line ends left out) and
/// whether it had an error.
fn tokens(text: &str) -> (Vec<String>, bool) {
    let (tokens, errors) = lex(text);
    let words = tokens
        .into_iter()
        .filter_map(|t| match t.kind {
            TokenKind::Word(w) => Some(w),
            TokenKind::Open => Some("{".into()),
            TokenKind::Close => Some("}".into()),
            TokenKind::Newline => None,
        })
        .collect();
    (words, !errors.is_empty())
}

/// (input line, tokens, error?)
const LINES: &[(&str, &[&str], bool)] = &[
    // Comments: `#` and `!` end the line anywhere outside "…".
    ("# a comment", &[], false),
    ("! a comment", &[], false),
    ("    auth_pass abc#123", &["auth_pass", "abc"], false),
    ("auth_pass abc!def", &["auth_pass", "abc"], false),
    ("auth_pass abc #123", &["auth_pass", "abc"], false),
    ("priority 100 ! comment", &["priority", "100"], false),
    // `\#` survives one decomment; keepalived's VRRP and checker processes
    // decomment the parent's copy again.
    (r"auth_pass abc\#123", &["auth_pass", "abc"], false),
    (r"auth_pass abc\!def", &["auth_pass", "abc"], false),
    (r#"auth_pass "abc#123""#, &["auth_pass", "abc#123"], false),
    (
        r#"auth_pass "abc\#123""#,
        &["auth_pass", r"abc\#123"],
        false,
    ),
    // Single quotes protect nothing and stay in plain words.
    ("auth_pass 'abc#123'", &["auth_pass", "'abc"], false),
    // `\\` is a pair kept as written, so the `#` after it is a comment.
    (r"auth_pass abc\\#123", &["auth_pass", r"abc\\"], false),
    (r"auth_pass a\\b", &["auth_pass", r"a\\b"], false),
    // Plain words: `"` quotes (no escapes) and also ends a word.
    (r#"auth_pass "a b""#, &["auth_pass", "a b"], false),
    (
        r#"auth_pass a"b c"d"#,
        &["auth_pass", "a", "b c", "d"],
        false,
    ),
    (r#"auth_pass "a"b"#, &["auth_pass", "a", "b"], false),
    (r#"auth_pass """#, &["auth_pass", ""], false),
    (
        r##"auth_pass abc"#"123"##,
        &["auth_pass", "abc", "#", "123"],
        false,
    ),
    (r#"auth_pass "abc"#, &["auth_pass"], true),
    (r#"auth_pass "abc" # c "d"#, &["auth_pass", "abc"], false),
    (r#"auth_pass a \"b"#, &["auth_pass", "a", "\\"], true),
    ("\t priority\t100  \t", &["priority", "100"], false),
    // No line continuation: the `\` stays.
    (
        r"virtual_router_id 51 \",
        &["virtual_router_id", r"51\"],
        false,
    ),
    (
        r"virtual_router_id 51 # comment \",
        &["virtual_router_id", "51"],
        false,
    ),
    // Braces are tokens of their own, except inside "…".
    (
        "vrrp_instance VI_1{",
        &["vrrp_instance", "VI_1", "{"],
        false,
    ),
    ("}}", &["}", "}"], false),
    ("{ priority 100 }", &["{", "priority", "100", "}"], false),
    ("foo}bar", &["foo", "}", "bar"], false),
    ("x {# c", &["x", "{"], false),
    // Script keywords re-split their line: '…' quotes too, `\` is kept.
    (r#"script "/bin/x {a}""#, &["script", "/bin/x {a}"], false),
    ("script '/bin/x {a}'", &["{", "a", "}", "'"], true),
    (
        "script /bin/check arg1 arg2",
        &["script", "/bin/check", "arg1", "arg2"],
        false,
    ),
    (
        r#"script "/bin/check arg1 arg2""#,
        &["script", "/bin/check arg1 arg2"],
        false,
    ),
    (
        "script '/bin/check arg1 arg2'",
        &["script", "/bin/check arg1 arg2"],
        false,
    ),
    (
        r#"script "/bin/check 'arg 1' arg2""#,
        &["script", "/bin/check 'arg 1' arg2"],
        false,
    ),
    (
        r#"script "/bin/check \"arg 1\" arg2""#,
        &["script", r#"/bin/check \"arg 1\" arg2"#],
        false,
    ),
    (
        r"script /bin/check\ arg1",
        &["script", r"/bin/check\ arg1"],
        false,
    ),
    (
        r#"notify_master "/path/x.sh arg" nobody nogroup"#,
        &["notify_master", "/path/x.sh arg", "nobody", "nogroup"],
        false,
    ),
    (
        r#"notify_master "/x.sh 'a#b'""#,
        &["notify_master", "/x.sh 'a#b'"],
        false,
    ),
    ("notify_master '/x.sh a#b'", &[], true),
    (r#"misc_path a"b c"d"#, &["misc_path", "ab cd"], false),
    // `regex` decodes escapes.
    (r#"regex "foo\.bar""#, &["regex", "foo.bar"], false),
    (r#"regex "foo\\.bar""#, &["regex", r"foo\.bar"], false),
    ("regex '^ok$'", &["regex", "^ok$"], false),
];

#[test]
fn lines_split_as_keepalived_splits_them() {
    for &(line, expected, error) in LINES {
        assert_eq!(
            tokens(line),
            (
                expected.to_vec().iter().map(|s| s.to_string()).collect(),
                error
            ),
            "{line}"
        );
    }
}

/// (script command line, argv)
const SCRIPTS: &[(&str, &[&str])] = &[
    ("/bin/check arg1 arg2", &["/bin/check", "arg1", "arg2"]),
    ("/bin/check 'arg 1' arg2", &["/bin/check", "arg 1", "arg2"]),
    (
        r#"/bin/check \"arg 1\" arg2"#,
        &["/bin/check", "\"arg", "1\"", "arg2"],
    ),
    (r"/bin/check arg\ 1", &["/bin/check", "arg 1"]),
    (r"/bin/check\ arg1", &["/bin/check arg1"]),
    ("/bin/sh -c 'exit 1'", &["/bin/sh", "-c", "exit 1"]),
    (r"/bin/x \x41\102", &["/bin/x", "AB"]),
    (r"/bin/x\ta", &["/bin/x\ta"]),
    (r"/x.sh a\tb\x41\101\\n", &["/x.sh", "a\tbAA\\n"]),
    (r"/x \cA\E\7", &["/x", "\x01\x1b\x07"]),
    (
        r#"/etc/k/n.sh ' sp\\x20f\x69le ' '\"s p\"' SG1.low master"#,
        &[
            "/etc/k/n.sh",
            r" sp\x20file ",
            "\"s p\"",
            "SG1.low",
            "master",
        ],
    ),
];

#[test]
fn script_command_lines_become_keepalived_argv() {
    for &(line, argv) in SCRIPTS {
        assert_eq!(
            script_words(line).as_deref(),
            Ok(argv
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .as_slice()),
            "{line}"
        );
    }
    assert!(script_words("/x 'open").is_err());
    assert!(script_words(r"/x trailing\").is_err());
}

#[test]
fn columns_count_characters() {
    let (tokens, _) = lex("é  x");
    assert_eq!((tokens[1].line, tokens[1].column), (1, 4));
    // Through a removed `\` and into a re-split script line.
    let (tokens, _) = lex(r#"notify_up   "/x a" root"#);
    let columns: Vec<usize> = tokens.iter().map(|t| t.column).collect();
    assert_eq!(columns, [1, 13, 20, 24]);
}

#[test]
fn unterminated_quotes_are_reported_once() {
    let (tokens, errors) = lex("a \"b\nc");
    assert_eq!(errors, [(1, 3, "unterminated quoted string".to_string())]);
    assert_eq!(tokens.len(), 4);
    let (_, errors) = lex("notify_master '/x.sh");
    assert_eq!(
        errors,
        [(1, 1, "notify_master: missing terminating '".to_string())]
    );
}
