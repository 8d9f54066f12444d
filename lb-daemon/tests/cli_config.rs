//! `lb-daemon check`, `-t` and `convert` through the real binary, on every
//! configuration the project ships: the tutorial seeds, the lab's directors
//! and the broken fixtures.
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

const BIN: &str = env!("CARGO_BIN_EXE_lb-daemon");

fn lb_daemon(args: &[&str], file: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("-f")
        .arg(file)
        .output()
        .expect("run lb-daemon")
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no .{ext} files in {}", dir.display());
    found
}

fn valid_configs() -> Vec<PathBuf> {
    let mut all = files("tests/fixtures/seeds", "conf");
    all.extend(files("../examples/lab", "conf"));
    all
}

/// Every shipped configuration loads. `check` and `-t` exit as keepalived
/// -t does: 0, or 5 for warnings and for the interfaces or track scripts
/// this machine does not have, 6 for scripts without
/// enable_script_security; never with an error.
#[test]
fn every_shipped_config_passes_check_and_dash_t() {
    for conf in valid_configs() {
        for args in [&["check"][..], &["-t"][..]] {
            let out = lb_daemon(args, &conf);
            assert!(
                matches!(out.status.code(), Some(0 | 5 | 6)),
                "{args:?} {}: {:?} {}",
                conf.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("error:"), "{}: {stderr}", conf.display());
        }
    }
}

#[test]
fn convert_then_check_gives_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    for conf in valid_configs() {
        let first = lb_daemon(&["convert"], &conf);
        assert!(first.status.success(), "convert {}", conf.display());
        let toml = tmp
            .path()
            .join(conf.file_stem().unwrap())
            .with_extension("toml");
        fs::write(&toml, &first.stdout).unwrap();
        let check = lb_daemon(&["check"], &toml);
        let original = lb_daemon(&["check"], &conf);
        assert_eq!(
            check.status.code(),
            original.status.code(),
            "check of converted {}: {}",
            conf.display(),
            String::from_utf8_lossy(&check.stderr)
        );
        let again = lb_daemon(&["convert"], &toml);
        assert_eq!(
            String::from_utf8_lossy(&again.stdout),
            String::from_utf8_lossy(&first.stdout),
            "model changed through TOML: {}",
            conf.display()
        );
    }
}

/// keepalived -t's 5 (KEEPALIVED_CHK_EXIT_CONFIG_TEST) for a configuration
/// with errors.
#[test]
fn broken_configs_exit_5_with_located_errors() {
    let mut broken = files("tests/fixtures/broken", "conf");
    broken.extend(files("tests/fixtures/broken", "toml"));
    for conf in broken {
        let out = lb_daemon(&["check"], &conf);
        assert_eq!(out.status.code(), Some(5), "{}", conf.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let located = stderr.lines().any(|l| {
            let mut parts = l.splitn(4, ':');
            let (file, line, col) = (parts.next(), parts.next(), parts.next());
            file.is_some_and(|f| {
                f.ends_with(".conf") || f.ends_with(".toml") || f.ends_with(".inc")
            }) && line.is_some_and(|n| n.parse::<usize>().is_ok())
                && col.is_some_and(|n| n.parse::<usize>().is_ok())
                && l.contains(": error: ")
        });
        assert!(
            located,
            "{}: no file:line:col: error: in\n{stderr}",
            conf.display()
        );
    }
}

/// keepalived -t's 4 (KEEPALIVED_CHK_EXIT_CONFIG): the file cannot be read.
#[test]
fn missing_file_is_a_clear_error() {
    let out = lb_daemon(&["check"], Path::new("/nonexistent/keepalived.conf"));
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/keepalived.conf"));
}
