//! keepalived's templating, construct by construct. Expected outputs are
//! keepalived.conf(5)'s examples and what keepalived 2.2.7 produced for the
//! same lines (`keepalived -t` on a file of unknown keywords names each
//! line it reads).

use proptest::prelude::*;

use super::*;

mod includes;

/// The pieces of `text` (a file `t.conf`) read with config-id `id`, and
/// the diagnostics as `file:line:column: severity: message`.
fn read_as(text: &str, id: &str) -> (Vec<String>, Vec<String>) {
    read_file(Path::new("t.conf"), text, id)
}

fn read_file(path: &Path, text: &str, id: &str) -> (Vec<String>, Vec<String>) {
    let mut diagnostics = Vec::new();
    let pieces = read(text, path, &ReadOptions::id(id), &mut diagnostics);
    let pieces = pieces.iter().map(Piece::string).collect();
    (
        pieces,
        diagnostics.iter().map(ToString::to_string).collect(),
    )
}

/// The pieces of `text` with config-id `main`; there must be no problem.
fn clean(text: &str) -> Vec<String> {
    let (pieces, diagnostics) = read_as(text, "main");
    assert!(diagnostics.is_empty(), "{text}: {diagnostics:?}");
    pieces
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let text = "@main router_id main_router\n@backup router_id backup_router\n\
                @^main peer 1.2.3.4\n@^backup peer 1.2.3.5\n@main\nplain\n";
    assert_eq!(
        read_as(text, "main").0,
        ["router_id main_router", "peer 1.2.3.5", "plain"]
    );
    assert_eq!(
        read_as(text, "backup").0,
        ["router_id backup_router", "peer 1.2.3.4", "plain"]
    );
    assert_eq!(
        read_as(text, "other").0,
        ["peer 1.2.3.4", "peer 1.2.3.5", "plain"]
    );
}

#[test]
fn definitions_are_replaced_when_used() {
    // keepalived.conf(5): replacement happens where the name is used.
    let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n\
                ${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n";
    assert_eq!(clean(text), ["10.2.0.100/32", "10.2.10.100/32"]);
    // `$NAME` needs a blank, `,`, `)` or the line end after it; undefined
    // names stay; `$A =` is no definition.
    let text = "$A=kw_a${B}\n$B=_b\n$A\n${A}x\n$A x\n$Ax $UNDEF ${UNDEF}\n$A =1\n";
    assert_eq!(
        clean(text),
        [
            "kw_a_b",
            "kw_a_bx",
            "kw_a_b x",
            "$Ax $UNDEF $",
            "{",
            "UNDEF",
            "}",
            "kw_a_b =1"
        ]
    );
}

#[test]
fn definitions_and_conditions_combine() {
    let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                $IF_MAIN=@main\n$IF_MAIN priority 240\n";
    assert_eq!(read_as(text, "main").0, ["priority 240", "priority 240"]);
    assert_eq!(read_as(text, "backup").0, ["priority 200"]);
}

#[test]
fn multi_line_definitions_expand_where_they_end_a_line() {
    let text = "$INSTANCE= \\\nvrrp_instance VI_${NUM} { \\\n  @high priority 130 \\\n  \
                @low priority 120 \\\n}\n\n$NUM=0\n$INSTANCE\n$NUM=1\n$INSTANCE\n\
                not at the end $INSTANCE x\n";
    assert_eq!(
        read_as(text, "high").0,
        [
            "vrrp_instance VI_0",
            "{",
            "priority 130",
            "}",
            "vrrp_instance VI_1",
            "{",
            "priority 130",
            "}",
            "not at the end $INSTANCE x"
        ]
    );
    // Nested, as keepalived.conf(5)'s virtual and real servers.
    let text = "$RS= \\\nreal_server ${RS_NUM} \\\n\n$VS= \\\nvirtual_server ${VS_NUM} { \\\n\
                $RS_NUM=1 \\\n$RS \\\n$RS_NUM=2 \\\n$RS \\\n}\n$VS_NUM=0\n$VS\n";
    assert_eq!(
        clean(text),
        [
            "virtual_server 0",
            "{",
            "real_server 1",
            "real_server 2",
            "}"
        ]
    );
    // An empty line ends a definition; a comment line does not.
    let text = "$M=\\\na \\\n# note\nb \\\n\nc\n$M\n";
    assert_eq!(clean(text), ["c", "a", "b"]);
}

#[test]
fn predefined_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.conf");
    std::env::set_var("LB_TEMPLATE_TEST", "from env");
    let text = "${_INSTANCE}\n\"a${_HASH}b${_BANG}\"\n${_ENV LB_TEMPLATE_TEST}\n\
                ${_RANDOM 5 5}x\n${_PWD}\n$_HASH=h\n${_HASH}\n";
    let (pieces, diagnostics) = read_file(&file, text, "node7");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let pwd = std::path::absolute(dir.path()).unwrap();
    let expected = [
        "node7",
        "\"a#b!\"",
        "from env",
        "5x",
        &pwd.display().to_string(),
        "h",
    ];
    assert_eq!(pieces, expected);
    // `#` that is not quoted starts a comment after replacement.
    assert_eq!(clean("a ${_HASH} b\n"), ["a"]);
    for _ in 0..50 {
        let n: u64 = clean("${_RANDOM 1 3}\n")[0].parse().unwrap();
        assert!((1..=3).contains(&n), "{n}");
    }
    // `${_ENV}` without its variable name was a panic the fuzzer found.
    let (pieces, diagnostics) = read_as("x ${_RANDOM a}\ny ${_RANDOM 1 2 3}\nz ${_ENV   }\n", "n");
    assert_eq!(
        diagnostics,
        [
            "t.conf:1:1: error: definition _RANDOM requires numeric parameters only",
            "t.conf:2:1: error: definition _RANDOM requires between 0 and 2 parameters, 3 given",
            "t.conf:3:1: error: definition _ENV requires between 1 and 1 parameters, 0 given",
        ]
    );
    assert_eq!(pieces[0], "x $");
}

#[test]
fn sequences() {
    let cases: &[(&str, &[&str])] = &[
        (
            "~SEQ(SUBNET, 0, 3) ip 10.0.${SUBNET}.1",
            &["ip 10.0.0.1", "ip 10.0.1.1", "ip 10.0.2.1", "ip 10.0.3.1"],
        ),
        ("~SEQ(N, 3) n$N", &["n1", "n2", "n3"]),
        ("~SEQ(N, -2) n$N", &["n-1", "n-2"]),
        ("~SEQ(N, 5, 3) n$N", &["n5", "n4", "n3"]),
        ("~SEQ(N, 10, -4, 1) n$N", &["n10", "n6", "n2"]),
        (
            "~SEQx(S, 0x90, 0x10, 0xc0) fe80::${S}:1",
            &["fe80::90:1", "fe80::a0:1", "fe80::b0:1", "fe80::c0:1"],
        ),
        ("~SEQ(N, 010, 0x2, 12) n$N", &["n8", "n10", "n12"]),
        (
            "~SEQ(A, 1, 2) ~SEQ(B, 1, 2) ${A}.${B}",
            &["1.1", "1.2", "2.1", "2.2"],
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(clean(&format!("{line}\n")), *expected, "{line}");
    }
    assert_eq!(clean("$TOP=2\n~SEQ(N, $TOP) n$N\n"), ["n1", "n2"]);
    // A multi-line definition replicated, with a sequence inside it.
    let text = "$M= \\\n  kw_m1_${N2} \\\n  kw_m2\n~SEQ(N2,1,2) $M\n";
    assert_eq!(clean(text), ["kw_m1_1", "kw_m2", "kw_m1_2", "kw_m2"]);
}

#[test]
fn lists() {
    let cases: &[(&str, &[&str])] = &[
        ("~LST(IP, 1, 2, 3) a.$IP", &["a.1", "a.2", "a.3"]),
        (
            "~LST({IP, IP1}, {10,1},{20,4}) 192.168.${IP}.${IP1}",
            &["192.168.10.1", "192.168.20.4"],
        ),
        ("~LST({P,Q},{1,2},{3}) kw_${P}_${Q}", &["kw_1_2", "kw_3_"]),
        (
            "~LST(IP, 1, 2) ~LST(IP1, 5,6) ${IP}.${IP1}",
            &["1.5", "1.6", "2.5", "2.6"],
        ),
        (
            "~LST({IP, IP1}, {10,1},{20,4}) ~SEQ(IP2,168,2,170) ${IP2}.${IP}.${IP1}",
            &["168.10.1", "170.10.1", "168.20.4", "170.20.4"],
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(clean(&format!("{line}\n")), *expected, "{line}");
    }
}

#[test]
fn bad_replication_is_an_error_naming_the_line() {
    let text = "ok\n~SEQ(N, 1, 0, 5) x\n~SEQ N x\n~SEQx(N, -1, 3) x\n~SEQ(N, 1, 2 x\n\
                ~LST({A}, {1, 2}) x\n~LST(A) x\n~SEQ(N, 1, 2, 3, 4) x\n";
    let (pieces, diagnostics) = read_as(text, "n");
    assert_eq!(pieces, ["ok"]);
    assert_eq!(
        diagnostics,
        [
            "t.conf:2:1: error: invalid ~SEQ values '~SEQ(N, 1, 0, 5) x'",
            "t.conf:3:1: error: invalid ~SEQ definition '~SEQ N x'",
            "t.conf:4:1: error: ~SEQx is only valid for positive numbers '~SEQx(N, -1, 3) x'",
            "t.conf:5:1: error: ~SEQ missing terminating ')' '~SEQ(N, 1, 2 x'",
            "t.conf:6:1: error: invalid ~LST specification '~LST({A}, {1, 2}) x'",
            "t.conf:7:1: error: invalid ~LST specification '~LST(A) x'",
            "t.conf:8:1: error: invalid ~SEQ definition '~SEQ(N, 1, 2, 3, 4) x'",
        ]
    );
}

#[test]
fn runaway_templates_are_errors_not_hangs() {
    let (_, diagnostics) = read_as("$A=${A}\nx $A\n", "n");
    assert!(diagnostics[0].contains("t.conf:2:1: error: too many replacements"));
    let (_, diagnostics) = read_as(
        "$A=$A 0123456789012345678901234567890123456789\nx $A\n",
        "n",
    );
    assert!(diagnostics[0].contains("longer than"), "{diagnostics:?}");
    let (pieces, diagnostics) = read_as("~SEQ(N, 0, 9223372036854775807) x\ny\n", "n");
    assert_eq!(
        diagnostics,
        [
            "t.conf:1:1: error: replication and definitions produce more than 200000 lines or \
          8388608 characters"
        ]
    );
    assert_eq!(pieces.last().map(String::as_str), Some("y"));
    // Lines of references, each under the line limit, that would make
    // 185 MB of text in all (the fuzzer found it took 14 s and 2 GB).
    let (pieces, diagnostics) = read_as(
        &format!(
            "$A={}\n$B=$A $A $A $A $A $A $A $A $A $A\n~SEQ(i,1,20000) $B $B $B $B $B $B $B $B\ny\n",
            "x ".repeat(58)
        ),
        "n",
    );
    assert_eq!(
        diagnostics,
        [
            "t.conf:3:1: error: the configuration is longer than 8388608 characters once \
          definitions are replaced; the rest is not read"
        ]
    );
    assert!(pieces.len() < 20_000 && pieces.last().is_some_and(|p| p != "y"));
}

/// Found by the keepalived_include fuzz target (a timeout): a definition
/// that refers to itself grows its line by a few characters per
/// replacement, and each replacement moved the rest of the line, 10,000
/// times per line and again on every replicated line: seconds per line.
/// The replacement budget stops it once for the whole configuration.
#[test]
fn self_referring_definitions_on_replicated_lines_stop_at_the_budget() {
    let started = std::time::Instant::now();
    let (pieces, diagnostics) = read_as("$X=s$X .*.co\n~SEQ(N,1,100) x $X y\nz\n", "n");
    assert_eq!(
        diagnostics,
        [
            "t.conf:2:15: error: replacing the definitions takes too much work in this \
          configuration (do definitions refer to each other?); nothing more is replaced"
        ]
    );
    assert_eq!(pieces.len(), 101);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A large replicated configuration spends a small part of the budget.
    let text = "$NET=192.0.2\n~SEQ(i,1,40000) real_server ${NET}.${i} 80\n";
    let (pieces, diagnostics) = read_as(text, "n");
    assert_eq!((pieces.len(), diagnostics), (40_000, vec![]));
    assert_eq!(pieces[39_999], "real_server 192.0.2.40000 80");
}

#[test]
fn the_bounds_are_the_options_bounds() {
    let options = ReadOptions {
        bounds: Bounds {
            generated_lines: 10,
            generated_chars: 1_000,
            text_chars: 60,
            replacement_chars: 1_000,
        },
        ..ReadOptions::id("n")
    };
    let messages = |text: &str| {
        let mut diagnostics = Vec::new();
        read(text, Path::new("t.conf"), &options, &mut diagnostics);
        diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(messages("~SEQ(N, 1, 10) x\n"), [""; 0]);
    assert_eq!(
        messages("~SEQ(N, 1, 11) x\n"),
        [
            "t.conf:1:1: error: replication and definitions produce more than 10 lines or 1000 \
          characters"
        ]
    );
    assert_eq!(messages(&format!("$A={}\nx $A\n", "y".repeat(58))), [""; 0]);
    assert_eq!(
        messages(&format!("$A={}\nx $A\n", "y".repeat(59))),
        [
            "t.conf:2:1: error: the configuration is longer than 60 characters once definitions \
          are replaced; the rest is not read"
        ]
    );
}

#[test]
fn text_after_a_brace_is_read_as_a_line() {
    let text = "a { @main b }\nc { @other d }\n$X=1\ne { f $X } g\n";
    assert_eq!(
        clean(text),
        ["a", "{", "b", "}", "c", "{", "e", "{", "f 1", "}", "g"]
    );
}

#[test]
fn text_after_a_brace_can_define_replicate_and_be_conditional() {
    let text = "a } $X=1\nb $X\nc { ~SEQ(N, 1, 2) d$N }\ne { @^main f } g\n";
    assert_eq!(
        clean(text),
        ["a", "}", "b 1", "c", "{", "d1", "}", "d2", "}", "e", "{"]
    );
    // Many braces on one line, each followed by a condition.
    let long = "{ @main x ".repeat(5000);
    assert_eq!(clean(&long).len(), 10_000);
}

#[test]
fn brace_patterns() {
    assert_eq!(
        include::braces("{foo/{,cat,dog},bar}"),
        ["foo/", "foo/cat", "foo/dog", "bar"]
    );
    assert_eq!(
        include::braces("a{b,c}d{e,f}"),
        ["abde", "abdf", "acde", "acdf"]
    );
    assert_eq!(include::braces("a{b,c"), ["a{b,c"]);
    assert_eq!(include::braces(r"a\{b,c}"), [r"a\{b,c}"]);
    assert_eq!(include::braces(&"{a,b}".repeat(40)).len(), 1024);
}

proptest! {
    /// Whatever the input, reading it ends and every piece is a lone brace
    /// or text with no brace outside quotes.
    #[test]
    fn any_text_is_read_into_pieces(text in "([@$~{}()\\\\,#\" a-cA-C0-9_=^]|SEQ|LST|x|\n){0,120}") {
        let mut diagnostics = Vec::new();
        for piece in read(&text, Path::new("t.conf"), &ReadOptions::id("a"), &mut diagnostics) {
            let braces = brace(&piece.text);
            prop_assert!(braces.is_none() || piece.text.len() == 1, "{:?}", piece.string());
            prop_assert!(!piece.text.is_empty());
        }
    }

    /// `~SEQ(N, start, step, end)` yields start, start + step, … up to end.
    #[test]
    fn sequences_count_like_a_loop(start in -50i64..50, step in 1i64..7, len in 0i64..30, down: bool) {
        let (step, end) = match down {
            false => (step, start + len),
            true => (-step, start - len),
        };
        let expected: Vec<String> = (0..)
            .map(|i| start + i * step)
            .take_while(|v| if down { *v >= end } else { *v <= end })
            .map(|v| format!("v{v}"))
            .collect();
        prop_assert_eq!(clean(&format!("~SEQ(N, {start}, {step}, {end}) v$N\n")), expected);
    }

    /// `~LST(V, …)` yields its values in order.
    #[test]
    fn lists_yield_their_values(values in prop::collection::vec("[a-z0-9.]{1,6}", 1..8)) {
        let line = format!("~LST(V, {}) <${{V}}>\n", values.join(", "));
        let expected: Vec<String> = values.iter().map(|v| format!("<{v}>")).collect();
        prop_assert_eq!(clean(&line), expected);
    }

    /// A conditional line is kept exactly when its id is (`@`) or is not
    /// (`@^`) the config-id.
    #[test]
    fn conditions_select_by_id(id in "[a-c]{1,2}", line_id in "[a-c]{1,2}", negated: bool) {
        let mark = if negated { "@^" } else { "@" };
        let (pieces, _) = read_as(&format!("{mark}{line_id} kept\n"), &id);
        prop_assert_eq!(pieces.len() == 1, (id == line_id) != negated);
    }
}
