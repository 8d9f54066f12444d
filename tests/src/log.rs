//! Capturing a child process's output: echoed to stderr with a prefix (so a
//! failing test shows which node said what) and kept for assertions.
use std::{
    io::{BufRead, BufReader, Read},
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use anyhow::{Context, Result};

use crate::wait_until;

/// Lines captured from one or more streams of a process.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<String>>);

impl Log {
    /// Reads `stream` line by line on a thread of its own until it closes.
    pub fn capture(&self, stream: impl Read + Send + 'static, label: &str) {
        let (sink, prefix) = (self.clone(), format!("[{label}] "));
        thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("{prefix}{line}");
                let mut log = sink.0.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
    }

    /// Everything captured so far.
    pub fn contents(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the captured text contains `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<()> {
        wait_until(timeout, Duration::from_millis(50), || {
            self.contents().contains(needle)
        })
        .with_context(|| format!("no log line with {needle:?}; log:\n{}", self.contents()))
    }
}
