//! Reading a configuration file (the main one or an `include`d one) with a
//! bound: a file that never ends (`include /dev/zero`) or is absurdly large
//! is an error naming it, never an exhausted daemon.
use std::{fs::File, io::Read, path::Path};

/// The largest configuration file read: far above any real one (keepalived
/// configurations of 10,000 real servers are a few MiB).
pub const MAX_BYTES: u64 = 8 << 20;

/// The text of `path`, or why it cannot be had (the message names the
/// file).
pub fn read(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|err| format!("cannot read {shown}: {err}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read {shown}: {err}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "cannot read {shown}: larger than {} MiB (is it a configuration file?)",
            MAX_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|err| {
        format!(
            "cannot read {shown}: not UTF-8 text (byte {})",
            err.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_and_binary_files_are_errors_naming_them() {
        let endless = read(Path::new("/dev/zero")).unwrap_err();
        assert!(
            endless.contains("/dev/zero: larger than 8 MiB"),
            "{endless}"
        );
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("b.conf");
        std::fs::write(&binary, b"global_defs {\xff}").unwrap();
        let err = read(&binary).unwrap_err();
        assert!(err.contains("b.conf: not UTF-8 text (byte 13)"), "{err}");
        let missing = read(&dir.path().join("none.conf")).unwrap_err();
        assert!(missing.contains("none.conf: No such file"), "{missing}");
    }
}
