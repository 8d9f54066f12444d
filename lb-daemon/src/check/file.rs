//! `FILE_CHECK`, as keepalived's `check_file.c` and
//! `process_update_checker_track_file_status`: follows a `track_file`
//! (read with [`crate::track::file::read_value`]: `strtol` semantics,
//! clamped to -254..=254, missing/unreadable = 0).
//!
//! The weight is the checker's `weight` when non-zero, else the
//! `track_file`'s (default 1) with its `reverse`.
//!
//! * weight 0: value 0 is up, any other value is down (reversed: the
//!   opposite).
//! * weight W: up, with the real server's weight set to its configured
//!   weight + value × W (negated when reversed), kept within 0..=65535.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{Attempt, Check, Outcome, Reason, Target};
use crate::config::{Checker, TrackFile};
use crate::track::file::read_value;

/// IPVS's largest weight.
pub const IPVS_WEIGHT_MAX: i64 = 65535;

/// `FILE_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// The `track_file`'s name, for messages.
    name: String,
    /// The file read.
    path: PathBuf,
    /// Multiplier (0: up/down only).
    weight: i64,
    /// `reverse`.
    reverse: bool,
    /// The real server's configured weight.
    rs_weight: u32,
}

impl FileCheck {
    /// Builds the check for the `track_file` named by the checker, looked
    /// up in `track_files` (the configuration's); `rs_weight` is the real
    /// server's configured weight.
    pub fn new(checker: &Checker, track_files: &[TrackFile], rs_weight: u32) -> Result<FileCheck> {
        let name = checker
            .track_file
            .as_deref()
            .context("FILE_CHECK has no track_file specified")?;
        let def = track_files
            .iter()
            .find(|t| t.name == name)
            .with_context(|| format!("track_file {name} not found"))?;
        let path = def
            .file
            .as_deref()
            .with_context(|| format!("track_file {name} has no file"))?;
        let (weight, reverse) = match checker.weight {
            Some(w) if w != 0 => (w, false),
            _ => (def.weight.unwrap_or(1), def.reverse),
        };
        Ok(FileCheck {
            name: name.to_string(),
            path: PathBuf::from(path),
            weight: weight.into(),
            reverse,
            rs_weight,
        })
    }

    /// The verdict for the file's `value`.
    pub fn judge(&self, value: i64) -> Outcome {
        if self.weight == 0 {
            return if (value != 0) != self.reverse {
                Outcome::down(
                    Reason::Content,
                    format!("tracked file {} value {value}", self.name),
                )
            } else {
                Outcome::Up
            };
        }
        let delta = value * self.weight * if self.reverse { -1 } else { 1 };
        let weight = (i64::from(self.rs_weight) + delta).clamp(0, IPVS_WEIGHT_MAX);
        Outcome::UpWithWeight(weight as u32)
    }
}

impl Check for FileCheck {
    fn kind(&self) -> &'static str {
        "FILE_CHECK"
    }

    /// Reads the file; `target` is not used.
    fn check<'a>(&'a self, _target: &'a Target) -> Attempt<'a> {
        Box::pin(async move { self.judge(read_value(&self.path).await) })
    }
}
