//! Test counts summed from libtest's summary lines, as `cargo xtask test`
//! reports them for the host's tests and the IPVS guest's.

/// Passed and failed tests summed over every `test result:` line.
#[derive(Debug, Default, PartialEq)]
pub struct Totals {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
}

impl Totals {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &Totals) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    /// Adds the counts of a libtest summary line such as
    /// `test result: ok. 7 passed; 0 failed; 0 ignored; ...`.
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (what, count) = (
                words.next(),
                words.next().and_then(|n| n.parse::<u64>().ok()),
            );
            match (what, count) {
                (Some("passed"), Some(n)) => self.passed += n,
                (Some("failed"), Some(n)) => self.failed += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_libtest_summary_lines() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.08s");
        t.add_line(
            "test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("test foo ... ok");
        assert_eq!(
            t,
            Totals {
                passed: 10,
                failed: 2
            }
        );
    }
}
