//! The shared libraries a program loads, as `ldd` resolves them.
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::cmd;

/// Copies the libraries `programs` need (looked up in `search`, a
/// `LD_LIBRARY_PATH`, before the host's) into `dest`, each under its soname.
/// The loader itself is not copied.
pub fn copy_libraries(programs: &[PathBuf], search: Option<&str>, dest: &Path) -> Result<()> {
    let mut libs = BTreeMap::new();
    for program in programs {
        let mut ldd = Command::new("ldd");
        ldd.arg(program);
        if let Some(search) = search {
            ldd.env("LD_LIBRARY_PATH", search);
        }
        let listing = cmd::output(&mut ldd)?;
        libs.extend(
            shared_libraries(&listing).with_context(|| format!("ldd {}", program.display()))?,
        );
    }
    fs::create_dir_all(dest)?;
    for (soname, path) in libs {
        fs::copy(&path, dest.join(&soname))
            .with_context(|| format!("copying {}", path.display()))?;
    }
    Ok(())
}

/// `(soname, resolved path)` of each library in an `ldd` listing; fails on
/// a library `ldd` could not find.
fn shared_libraries(ldd: &str) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for line in ldd.lines() {
        let Some((soname, target)) = line.trim().split_once(" => ") else {
            continue;
        };
        if target.starts_with("not found") {
            bail!("{soname} not found");
        }
        if let Some(path) = target
            .split_whitespace()
            .next()
            .filter(|p| p.starts_with('/'))
        {
            found.push((soname.to_owned(), PathBuf::from(path)));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_listing_gives_sonames_and_paths() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibnl-3.so.200 => /tmp/u/lib/x86_64-linux-gnu/libnl-3.so.200 (0x00007f)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        let libs = shared_libraries(ldd).unwrap();
        assert_eq!(
            libs,
            vec![
                (
                    "libnl-3.so.200".into(),
                    "/tmp/u/lib/x86_64-linux-gnu/libnl-3.so.200".into()
                ),
                ("libc.so.6".into(), "/lib/x86_64-linux-gnu/libc.so.6".into()),
            ]
        );
        assert!(shared_libraries("\tlibpopt.so.0 => not found\n").is_err());
    }
}
