//! Rate limiting of log lines that outside input can repeat at will (one per
//! received packet): the first occurrence of each kind is logged, then at
//! most one summary per window saying how many more there were. Pure: the
//! caller passes the time and does the logging.
use std::{collections::HashMap, hash::Hash, time::Duration};

/// Monotonic time since an arbitrary origin, as the caller's clock gives it.
pub type Time = Duration;

/// How often the log may speak about one kind of event.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Occurrences of events of kind `K` (each with a detail `D`, such as the
/// sender) and which of them may be logged.
///
/// Per kind: the first occurrence is logged ([`Limiter::hit`] hands its
/// detail back) and opens a window; later ones in the window are only counted.
/// When the window ends, [`Limiter::flush`] returns a [`Summary`] of what was
/// counted and a new window opens; a window with nothing counted closes the
/// kind, so its next occurrence is logged again.
#[derive(Debug, Clone)]
pub struct Limiter<K, D> {
    window: Duration,
    open: HashMap<K, Window<D>>,
}

#[derive(Debug, Clone)]
struct Window<D> {
    ends: Time,
    suppressed: u64,
    last: Option<D>,
}

/// What a closed window counted for one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary<K, D> {
    /// The kind of event.
    pub kind: K,
    /// How many occurrences were not logged.
    pub suppressed: u64,
    /// The detail of the latest of them.
    pub last: D,
    /// The window's length.
    pub window: Duration,
}

impl<K: Hash + Eq + Clone, D> Limiter<K, D> {
    /// A limiter allowing one line per kind and `window`.
    pub fn new(window: Duration) -> Limiter<K, D> {
        Limiter {
            window,
            open: HashMap::new(),
        }
    }

    /// Records an occurrence of `kind` at `now`; its detail comes back when
    /// it is to be logged. Summaries of windows that ended by `now` must have
    /// been taken with [`Limiter::flush`] first (else this occurrence joins
    /// them).
    pub fn hit(&mut self, kind: &K, detail: D, now: Time) -> Option<D> {
        match self.open.get_mut(kind) {
            Some(window) => {
                window.suppressed = window.suppressed.saturating_add(1);
                window.last = Some(detail);
                None
            }
            None => {
                let window = Window {
                    ends: now + self.window,
                    suppressed: 0,
                    last: None,
                };
                self.open.insert(kind.clone(), window);
                Some(detail)
            }
        }
    }

    /// When the next window ends, if one is open.
    pub fn next_flush(&self) -> Option<Time> {
        self.open.values().map(|w| w.ends).min()
    }

    /// Closes the windows that ended by `now`: those that counted something
    /// are summarized and start a new window, the others are forgotten.
    pub fn flush(&mut self, now: Time) -> Vec<Summary<K, D>> {
        let mut summaries = Vec::new();
        let window = self.window;
        self.open.retain(|kind, open| {
            if open.ends > now {
                return true;
            }
            let Some(last) = open.last.take() else {
                return false;
            };
            summaries.push(Summary {
                kind: kind.clone(),
                suppressed: std::mem::take(&mut open.suppressed),
                last,
                window,
            });
            open.ends = now + window;
            true
        });
        summaries
    }
}

/// `n` with a comma between groups of three digits: `14,880`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl<K, D> Summary<K, D> {
    /// The count part of a summary line: `14,880 more in the last 10 s`.
    pub fn more(&self) -> String {
        format!(
            "{} more in the last {} s",
            thousands(self.suppressed),
            self.window.as_secs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Time {
        Duration::from_secs(s)
    }

    #[test]
    fn first_is_logged_then_one_summary_per_window_with_the_count() {
        let mut limiter = Limiter::new(secs(10));
        assert_eq!(limiter.hit(&"pass", 1, secs(0)), Some(1));
        for i in 0..14_880 {
            assert_eq!(limiter.hit(&"pass", i, secs(1)), None);
        }
        assert_eq!(limiter.next_flush(), Some(secs(10)));
        assert!(limiter.flush(secs(9)).is_empty(), "window still open");
        let summaries = limiter.flush(secs(10));
        assert_eq!(
            summaries,
            [Summary {
                kind: "pass",
                suppressed: 14_880,
                last: 14_879,
                window: secs(10)
            }]
        );
        assert_eq!(summaries[0].more(), "14,880 more in the last 10 s");
        // The flood goes on: still counted, not logged, in the new window.
        assert_eq!(limiter.hit(&"pass", 0, secs(11)), None);
        assert_eq!(limiter.flush(secs(20))[0].suppressed, 1);
        // A quiet window closes the kind: its next occurrence is logged.
        assert!(limiter.flush(secs(30)).is_empty());
        assert_eq!(limiter.next_flush(), None);
        assert_eq!(limiter.hit(&"pass", 0, secs(31)), Some(0));
    }

    #[test]
    fn kinds_are_limited_separately() {
        let mut limiter = Limiter::new(secs(10));
        assert!(limiter.hit(&"pass", (), secs(0)).is_some());
        assert!(limiter.hit(&"ttl", (), secs(5)).is_some());
        assert!(limiter.hit(&"ttl", (), secs(6)).is_none());
        assert_eq!(limiter.next_flush(), Some(secs(10)));
        // "pass" counted nothing: no summary, and it is forgotten.
        assert!(limiter.flush(secs(10)).is_empty());
        assert_eq!(limiter.next_flush(), Some(secs(15)));
        let summaries = limiter.flush(secs(15));
        assert_eq!((summaries[0].kind, summaries[0].suppressed), ("ttl", 1));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(14_880), "14,880");
        assert_eq!(thousands(1_480_000), "1,480,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
