//! `enable_script_security`: keepalived's `check_script_secure` and
//! `check_security` (keepalived/core/notify.c; lib/notify.c in 2.2.7),
//! applied to every file a run executes.
//!
//! keepalived's rules:
//!
//! * The script must be executable by the user it runs as (`is_executable`),
//!   else "script '…' is not executable for uid:gid … - disabling", with or
//!   without script security.
//! * Protection is needed when the script runs as uid 0 or gid 0, or the
//!   file is set-uid root (owner 0, u+x, S_ISUID) or set-gid root (group 0,
//!   g+x, S_ISGID). A script run as another user is not checked.
//! * Then every prefix of the path as written (`/`, `/etc`, `/etc/x`, …,
//!   the file) and of its `realpath` is looked at with `lstat` (a symlink
//!   is judged itself, not followed). A component is unsafe if it is not
//!   owned by root, or if it is a regular file or a directory without the
//!   sticky bit and is group-writable with a non-root group or
//!   world-writable. Sticky directories such as `/tmp` only need a root
//!   owner; symlink modes do not matter.
//! * Non-final components must be directories and the final one a regular
//!   file or a symlink ("Wrong file type found in script path"); a path that
//!   cannot be looked at is "could not find script … - disabling". Both
//!   disable the script whatever `enable_script_security` says.
//! * Unsafe: "Unsafe permissions found for script '…' - disabling." with
//!   `enable_script_security` (the script never runs), the same without
//!   " - disabling" (logged, and the script runs) otherwise.
//!
//! lb-daemon goes further than keepalived, which checks only the script
//! file: the same rules apply to every file the kernel executes for the run,
//! because a root script is only as safe as its interpreter. That is the
//! interpreter named by `#!` (and its own `#!` interpreter, and the program
//! `#!/usr/bin/env NAME` finds), and the shell for scripts run through one
//! (files without `#!`, `</dev/tcp/…` tests, shell command lines). Also,
//! keepalived refuses a path with a symlinked directory in it (`/bin/…` on
//! merged-/usr systems, which is how the shell is found); lb-daemon accepts
//! a root-owned symlink there, since the `realpath`, which is checked as
//! well, is what actually runs.
//!
//! The checks run before every run, so fixing the permissions takes effect
//! without a reload (keepalived checks once, at load).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};
use nix::unistd::{Gid, Uid};

use super::command::{interpreters, is_executable, shell, Plan};

/// Why a file may not run.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// Missing, unreadable path or wrong file type: refused whatever
    /// `enable_script_security` says.
    Unusable(String),
    /// Writable by a non-root user: refused with `enable_script_security`.
    Unsafe(String),
}

/// Checks every file `plan` executes as `uid`:`gid`; `command` is the
/// configured command line (for the messages), `enforce` is
/// `enable_script_security`. An error means the run must not start.
pub(super) fn check(plan: &Plan, command: &str, uid: Uid, gid: Gid, enforce: bool) -> Result<()> {
    let (script, direct) = match plan {
        Plan::Exec { program, .. } => (Some(program.as_path()), program.as_path()),
        Plan::Shell { script, .. } => (script.as_deref(), shell()),
    };
    if let Some(script) = script {
        let meta = fs::metadata(script)
            .map_err(|e| anyhow::anyhow!("Unable to access script `{}` - {e}", script.display()))?;
        if !is_executable(&meta, uid, gid) {
            bail!(
                "WARNING - script '{}' is not executable for uid:gid {uid}:{gid} - disabling.",
                script.display()
            );
        }
    }
    let mut files: Vec<(&str, PathBuf)> =
        script.map(|s| ("script", s.into())).into_iter().collect();
    if script != Some(direct) {
        files.push(("shell", direct.into()));
    }
    files.extend(
        interpreters(direct, uid, gid)
            .into_iter()
            .map(|i| ("interpreter", i)),
    );
    for (role, file) in &files {
        let Some(problem) = problem(file, uid, gid) else {
            continue;
        };
        let what = match role {
            &"script" => format!("script '{}'", file.display()),
            role => format!("{role} '{}' of script '{command}'", file.display()),
        };
        match problem {
            Problem::Unusable(why) => bail!("{why} for {what} - disabling"),
            Problem::Unsafe(why) if enforce => {
                bail!("Unsafe permissions found for {what} - disabling: {why} (enable_script_security)")
            }
            Problem::Unsafe(why) => warn_once(format!(
                "Unsafe permissions found for {what}: {why}; it runs because enable_script_security is off"
            )),
        }
    }
    Ok(())
}

/// Logs `message` the first time only (scripts run every second).
fn warn_once(message: String) {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.contains(&message) {
        tracing::warn!("{message}");
        warned.insert(message);
    }
}

/// What is wrong with running `file` as `uid`:`gid`, if anything.
fn problem(file: &Path, uid: Uid, gid: Gid) -> Option<Problem> {
    let unusable = |e: std::io::Error| Problem::Unusable(format!("'{}': {e}", file.display()));
    let meta = match fs::metadata(file) {
        Ok(meta) => meta,
        Err(e) => return Some(unusable(e)),
    };
    if !needs_protection(&meta, uid, gid) {
        return None;
    }
    let written = std::path::absolute(file).map_err(unusable);
    let real = fs::canonicalize(file).map_err(unusable);
    let (written, real) = match (written, real) {
        (Ok(written), Ok(real)) => (written, real),
        (Err(e), _) | (_, Err(e)) => return Some(e),
    };
    unsafe_component(&written).or_else(|| unsafe_component(&real))
}

/// keepalived's `need_script_protection`: run as root (uid or gid 0), or
/// set-uid/set-gid root.
fn needs_protection(meta: &fs::Metadata, uid: Uid, gid: Gid) -> bool {
    let mode = meta.permissions().mode();
    uid.is_root()
        || gid.as_raw() == 0
        || (meta.uid() == 0 && mode & 0o4100 == 0o4100)
        || (meta.gid() == 0 && mode & 0o2010 == 0o2010)
}

/// keepalived's `check_security` walk over `path` (absolute): the first
/// component, from `/` down, a non-root user could replace or modify.
fn unsafe_component(path: &Path) -> Option<Problem> {
    let mut parts: Vec<&Path> = path.ancestors().collect();
    parts.reverse();
    parts.into_iter().find_map(|part| {
        let meta = match fs::symlink_metadata(part) {
            Ok(meta) => meta,
            Err(e) => {
                return Some(Problem::Unusable(format!(
                    "could not look at '{}': {e}",
                    part.display()
                )))
            }
        };
        judge(part, &meta, part == path)
    })
}

/// One component of a script's path: `last` is the file itself.
fn judge(part: &Path, meta: &fs::Metadata, last: bool) -> Option<Problem> {
    let kind = meta.file_type();
    let right_type = kind.is_symlink() || if last { kind.is_file() } else { kind.is_dir() };
    if !right_type {
        return Some(Problem::Unusable(format!(
            "Wrong file type found in script path: '{}' is not a {}",
            part.display(),
            if last { "regular file" } else { "directory" }
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    let shown = part.display();
    if meta.uid() != 0 {
        return Some(Problem::Unsafe(format!(
            "'{shown}' is owned by uid {}, not root",
            meta.uid()
        )));
    }
    let sticky_dir = kind.is_dir() && mode & 0o1000 != 0;
    if kind.is_symlink() || sticky_dir {
        return None;
    }
    if meta.gid() != 0 && mode & 0o020 != 0 {
        return Some(Problem::Unsafe(format!(
            "'{shown}' is writable by group {} (mode {mode:04o})",
            meta.gid()
        )));
    }
    (mode & 0o002 != 0)
        .then(|| Problem::Unsafe(format!("'{shown}' is world-writable (mode {mode:04o})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn unsafe_text(path: &Path) -> Option<String> {
        match problem(path, Uid::from_raw(0), Gid::from_raw(0))? {
            Problem::Unsafe(why) => Some(why),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keepalived_component_rules() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x");
        fs::write(&file, "#!/bin/sh\n").unwrap();
        mode(&file, 0o755);
        assert_eq!(unsafe_text(&file), None);
        // A group-writable file is fine when its group is root...
        mode(&file, 0o775);
        nix::unistd::chown(&file, Some(Uid::from_raw(0)), Some(Gid::from_raw(0))).unwrap();
        assert_eq!(unsafe_text(&file), None);
        // ...not when it is another group.
        nix::unistd::chown(&file, None, Some(Gid::from_raw(65534))).unwrap();
        assert!(unsafe_text(&file)
            .unwrap()
            .contains("writable by group 65534"));
        mode(&file, 0o757);
        assert!(unsafe_text(&file)
            .unwrap()
            .contains("world-writable (mode 0757)"));
        mode(&file, 0o755);
        nix::unistd::chown(&file, Some(Uid::from_raw(65534)), None).unwrap();
        assert!(unsafe_text(&file).unwrap().contains("owned by uid 65534"));
        nix::unistd::chown(&file, Some(Uid::from_raw(0)), None).unwrap();

        // A world-writable directory is unsafe unless sticky (like /tmp).
        mode(dir.path(), 0o777);
        let why = unsafe_text(&file).unwrap();
        assert!(why.contains(&dir.path().display().to_string()), "{why}");
        mode(dir.path(), 0o1777);
        assert_eq!(unsafe_text(&file), None);
        mode(dir.path(), 0o700);

        // A root-owned symlink is judged by its owner only; its target is
        // checked through the realpath.
        let link = dir.path().join("link");
        symlink(&file, &link).unwrap();
        assert_eq!(unsafe_text(&link), None);
        mode(&file, 0o777);
        assert!(unsafe_text(&link).unwrap().contains("(mode 0777)"));
    }

    #[test]
    fn other_users_need_no_protection() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x");
        fs::write(&file, "#!/bin/sh\n").unwrap();
        mode(&file, 0o777);
        let nobody = (Uid::from_raw(65534), Gid::from_raw(65534));
        assert_eq!(problem(&file, nobody.0, nobody.1), None);
        // Unless the file is set-uid root.
        mode(&file, 0o4777);
        assert!(problem(&file, nobody.0, nobody.1).is_some());
    }

    #[test]
    fn wrong_types_and_missing_files_are_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let root = (Uid::from_raw(0), Gid::from_raw(0));
        assert!(matches!(
            problem(dir.path(), root.0, root.1),
            Some(Problem::Unusable(why)) if why.contains("not a regular file")
        ));
        assert!(matches!(
            problem(&dir.path().join("none"), root.0, root.1),
            Some(Problem::Unusable(_))
        ));
    }
}
