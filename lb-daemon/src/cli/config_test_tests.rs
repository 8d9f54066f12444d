use super::*;

/// A VRRP instance on `lo` (present in every namespace) with a tracked
/// script; `global` goes into global_defs.
fn conf(global: &str, script: &str) -> String {
    format!(
        "global_defs {{\n{global}\n}}\nvrrp_script chk {{\n script \"{script}\"\n}}\n\
         vrrp_instance VI_1 {{\n interface lo\n virtual_router_id 51\n priority 100\n\
         virtual_ipaddress {{\n  192.0.2.10/32\n }}\n track_script {{\n  chk\n }}\n}}\n"
    )
}

const SECURE: &str = "enable_script_security\nscript_user root";

fn test_text(text: &str) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    test(&path)
}

#[test]
fn a_clean_configuration_is_valid() {
    let report = test_text(&conf(SECURE, "/bin/true"));
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    assert!(report.findings.is_empty());
}

#[test]
fn an_unreadable_file_cannot_run() {
    let directory = tempfile::tempdir().unwrap();
    assert_eq!(test(directory.path()).verdict, Verdict::CannotRun);
    let report = test(Path::new("/nonexistent/keepalived.conf"));
    assert_eq!(report.verdict, Verdict::CannotRun);
    assert!(
        report.findings[0].contains("/nonexistent/keepalived.conf"),
        "{report:#?}"
    );
}

#[test]
fn errors_and_warnings_are_problems() {
    let misspelt = conf(SECURE, "/bin/true").replace("priority 100", "priorty 100");
    assert_eq!(test_text(&misspelt).verdict, Verdict::Problems);
    let out_of_range = conf(SECURE, "/bin/true").replace("priority 100", "priority 300");
    assert_eq!(test_text(&out_of_range).verdict, Verdict::Problems);
    let missing = conf(SECURE, "/bin/true").replace("interface lo", "interface lbnosuch0");
    let report = test_text(&missing);
    assert_eq!(report.verdict, Verdict::Problems);
    assert_eq!(
        report.findings,
        ["interface lbnosuch0 for vrrp_instance VI_1 doesn't exist"]
    );
}

#[test]
fn scripts_without_script_security_are_a_security_violation() {
    let report = test_text(&conf("script_user root", "/bin/true"));
    assert_eq!(report.verdict, Verdict::Security, "{report:#?}");
    assert!(
        report.findings[0].contains("vrrp_script chk `/bin/true`"),
        "{report:#?}"
    );
    // It takes precedence over a warning.
    let both = conf("script_user root", "true").replace("interface lo", "interface lbnosuch0");
    assert_eq!(test_text(&both).verdict, Verdict::Security);
}

#[test]
fn only_scripts_that_would_execute_count() {
    for script in ["</dev/tcp/127.0.0.1/80", "< /dev/null"] {
        let report = test_text(&conf("script_user root", script));
        assert_eq!(report.verdict, Verdict::Valid, "{script}: {report:#?}");
    }
    assert_eq!(program_found("true"), Some(true));
    assert_eq!(program_found("/bin/sh -c 'exit 0'"), Some(true));
}

#[test]
fn track_scripts_keepalived_cannot_find_are_reported() {
    for script in [
        "/nonexistent/check.sh",
        "lb-no-such-program x",
        "if [ -f /x ]; then exit 0; fi",
    ] {
        let report = test_text(&conf("script_user root", script));
        assert_eq!(report.verdict, Verdict::Problems, "{script}: {report:#?}");
        assert_eq!(
            report.findings,
            [format!("vrrp_script chk: the program of `{script}` is not found; keepalived disables the script")]
        );
    }
}
