//! How a configured command line is started: split into words and
//! `execve`d, or handed to the shell (see the module doc of
//! [`crate::script`] for the rules), and which files that executes.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use nix::unistd::{Gid, Uid};

/// The `PATH` scripts get, and the one bare program names are looked up in:
/// systemd's default for services, which is what keepalived's scripts see
/// when keepalived runs under systemd. Fixed, so that nothing from the
/// daemon's own environment leaks into scripts.
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How many `#!` interpreters deep the kernel follows (`BINPRM_MAX_RECURSION`
/// in fs/exec.c) and so how deep [`interpreters`] looks.
const MAX_INTERPRETER_DEPTH: usize = 4;

/// How much of a file the kernel reads to find `#!` (`BINPRM_BUF_SIZE`).
const SHEBANG_LIMIT: u64 = 256;

/// How a command line is started.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Plan {
    /// `execve(program, args)`.
    Exec { program: PathBuf, args: Vec<String> },
    /// `shell -c line`; `script` is the file without `#!` the line runs (the
    /// shell interprets it), if the line is a script at all.
    Shell {
        line: String,
        script: Option<PathBuf>,
    },
}

impl Plan {
    /// The program to `execve` and its arguments.
    pub(super) fn argv(&self) -> (&Path, Vec<&str>) {
        match self {
            Plan::Exec { program, args } => (program, args.iter().map(String::as_str).collect()),
            Plan::Shell { line, .. } => (shell(), vec!["-c", line]),
        }
    }
}

/// Decides how to start `command` with `extra_args` appended, for a script
/// running as `uid`:`gid` (bare program names are looked up in
/// [`SCRIPT_PATH`] as that user, like keepalived's `find_path`).
pub(super) fn plan(command: &str, extra_args: &[String], uid: Uid, gid: Gid) -> Result<Plan> {
    let trimmed = command.trim_start();
    if trimmed.is_empty() {
        bail!("empty script");
    }
    let shell_line = |script: Option<PathBuf>| {
        let mut line = command.to_string();
        for arg in extra_args {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        Plan::Shell { line, script }
    };
    if let Some(rest) = trimmed.strip_prefix('<') {
        if rest.trim_start().starts_with('/') {
            return Ok(shell_line(None));
        }
    }
    let words = crate::config::script_words(command).ok();
    let first = words.as_ref().and_then(|w| w.first()).cloned();
    let program = match &first {
        Some(first) if first.contains('/') => Some(PathBuf::from(first)),
        Some(first) => search_path(first, uid, gid),
        None => None,
    };
    match (program, words) {
        (Some(program), Some(mut words)) => {
            if !program.exists() {
                bail!(
                    "Script {} cannot be accessed - not found",
                    program.display()
                );
            }
            if !is_binary_or_shebang(&program) {
                return Ok(shell_line(Some(program)));
            }
            words.remove(0);
            words.extend(extra_args.iter().cloned());
            Ok(Plan::Exec {
                program,
                args: words,
            })
        }
        _ if has_shell_syntax(command) => Ok(shell_line(None)),
        _ => bail!(
            "Cannot find script {} in path",
            first.as_deref().unwrap_or(command)
        ),
    }
}

/// Whether a line uses shell syntax a plain `execve` cannot honour.
fn has_shell_syntax(line: &str) -> bool {
    const KEYWORDS: [&str; 7] = ["if", "for", "while", "until", "case", "[", "!"];
    line.contains([';', '&', '|', '<', '>', '(', ')', '$', '`'])
        || line
            .split_whitespace()
            .next()
            .is_some_and(|w| KEYWORDS.contains(&w))
}

/// Quotes `arg` for the shell.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// The shell for command lines that need one: `/bin/bash` when present, else
/// `/bin/sh`.
pub(super) fn shell() -> &'static Path {
    let bash = Path::new("/bin/bash");
    if bash.exists() {
        bash
    } else {
        Path::new("/bin/sh")
    }
}

/// The first bytes of `path` (up to the kernel's `#!` buffer).
fn head(path: &Path) -> Vec<u8> {
    let mut head = Vec::new();
    if let Ok(file) = fs::File::open(path) {
        let _ = file.take(SHEBANG_LIMIT).read_to_end(&mut head);
    }
    head
}

/// An ELF binary or a `#!` script: `execve` runs it. Anything else fails
/// with ENOEXEC, so the shell has to interpret it.
fn is_binary_or_shebang(program: &Path) -> bool {
    let head = head(program);
    head.starts_with(b"#!") || head.starts_with(b"\x7fELF")
}

/// The interpreter `#!` names in `path` and its optional argument.
fn shebang(path: &Path) -> Option<(PathBuf, Option<String>)> {
    let head = head(path);
    let line = head.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    let (interpreter, arg) = match line.split_once([' ', '\t']) {
        Some((interpreter, arg)) => (interpreter, Some(arg.trim().to_string())),
        None => (line, None),
    };
    (!interpreter.is_empty()).then(|| (PathBuf::from(interpreter), arg))
}

/// Every interpreter the kernel runs for `program` (run as `uid`:`gid`): the
/// `#!` interpreter, its own `#!` interpreter and so on; for `#!/usr/bin/env
/// NAME`, also the program `env` finds for NAME in [`SCRIPT_PATH`].
pub(super) fn interpreters(program: &Path, uid: Uid, gid: Gid) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut current = program.to_path_buf();
    while found.len() < MAX_INTERPRETER_DEPTH {
        let Some((interpreter, arg)) = shebang(&current) else {
            break;
        };
        current = interpreter.clone();
        found.push(interpreter);
        if current.file_name().is_some_and(|n| n == "env") {
            let target = arg.as_deref().and_then(env_program);
            if let Some(program) = target.and_then(|name| search_path(name, uid, gid)) {
                found.push(program.clone());
                current = program;
            }
        }
    }
    found
}

/// The program `env ARG` runs: the first word that is neither an option
/// (`-S`, `-i`) nor a `NAME=value` assignment.
fn env_program(arg: &str) -> Option<&str> {
    arg.split_whitespace()
        .find(|w| !w.starts_with('-') && !w.contains('='))
}

/// `PATH` search for a bare program name in [`SCRIPT_PATH`], as `execvp`
/// (and keepalived's `find_path`) do: the first regular file executable by
/// uid:gid.
fn search_path(name: &str, uid: Uid, gid: Gid) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    std::env::split_paths(SCRIPT_PATH)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate).is_ok_and(|m| m.is_file() && is_executable(&m, uid, gid))
        })
}

/// keepalived's `is_executable` (notify.c): root needs any x bit, the owner
/// u+x, a member of the file's group g+x, anyone else o+x.
pub(super) fn is_executable(meta: &fs::Metadata, uid: Uid, gid: Gid) -> bool {
    let mode = meta.permissions().mode();
    if uid.is_root() {
        mode & 0o111 != 0
    } else if uid.as_raw() == meta.uid() {
        mode & 0o100 != 0
    } else if gid.as_raw() == meta.gid() {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let (uid, gid) = (Uid::current(), Gid::current());
        let plan_of = |line: &str| plan(line, &["x y".into()], uid, gid).unwrap();
        assert_eq!(
            plan_of("</dev/tcp/127.0.0.1/80"),
            Plan::Shell {
                line: "</dev/tcp/127.0.0.1/80 'x y'".into(),
                script: None
            }
        );
        assert!(matches!(
            plan_of("if true; then exit 0; fi"),
            Plan::Shell { script: None, .. }
        ));
        match plan_of("true -a") {
            Plan::Exec { program, args } => {
                assert!(program.is_absolute());
                assert_eq!(args, ["-a", "x y"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(plan("no-such-program-lb", &[], uid, gid).is_err());
    }

    #[test]
    fn a_script_without_shebang_is_planned_for_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain");
        fs::write(&path, "exit 0\n").unwrap();
        let plan = plan(path.to_str().unwrap(), &[], Uid::current(), Gid::current()).unwrap();
        assert!(
            matches!(&plan, Plan::Shell { script: Some(s), .. } if *s == path),
            "{plan:?}"
        );
    }

    #[test]
    fn finds_every_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let (uid, gid) = (Uid::current(), Gid::current());
        let direct = dir.path().join("direct");
        fs::write(&direct, "#!/bin/sh -e\nexit 0\n").unwrap();
        assert_eq!(interpreters(&direct, uid, gid), [PathBuf::from("/bin/sh")]);

        let nested = dir.path().join("nested");
        fs::write(&nested, format!("#!{}\n", direct.display())).unwrap();
        assert_eq!(
            interpreters(&nested, uid, gid),
            [direct.clone(), PathBuf::from("/bin/sh")]
        );

        let env = dir.path().join("env");
        fs::write(&env, "#!/usr/bin/env -S A=1 sh -e\n").unwrap();
        let found = interpreters(&env, uid, gid);
        assert_eq!(found[0], PathBuf::from("/usr/bin/env"));
        assert!(
            found[1].ends_with("sh") && found[1].is_absolute(),
            "{found:?}"
        );

        let looping = dir.path().join("loop");
        fs::write(&looping, format!("#!{}\n", looping.display())).unwrap();
        assert_eq!(
            interpreters(&looping, uid, gid).len(),
            MAX_INTERPRETER_DEPTH
        );
        assert!(interpreters(Path::new("/no/such/file"), uid, gid).is_empty());
    }
}
