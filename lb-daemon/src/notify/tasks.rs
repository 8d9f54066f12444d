//! Bookkeeping of the notify tasks still running, so that the daemon can wait
//! for them (bounded) before it exits and cancel the stragglers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::AbortHandle;

/// Spawned tasks not finished yet.
#[derive(Debug)]
pub(super) struct Tasks {
    /// How many are running; `drain` waits for 0.
    pending: watch::Sender<usize>,
    /// How to cancel each, by id.
    running: Mutex<HashMap<u64, AbortHandle>>,
    next_id: AtomicU64,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            pending: watch::Sender::new(0),
            running: Mutex::default(),
            next_id: AtomicU64::new(0),
        }
    }
}

/// Marks its task finished when dropped: on completion, panic or abort.
struct Finished {
    tasks: Arc<Tasks>,
    id: u64,
}

impl Drop for Finished {
    fn drop(&mut self) {
        self.tasks.running.lock().unwrap().remove(&self.id);
        self.tasks.pending.send_modify(|n| *n -= 1);
    }
}

impl Tasks {
    /// Spawns `work` on the current tokio runtime. Returns `false` (and runs
    /// nothing) when called outside of one.
    pub(super) fn spawn<F>(self: &Arc<Self>, work: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.pending.send_modify(|n| *n += 1);
        let finished = Finished {
            tasks: self.clone(),
            id,
        };
        // Hold the lock until the handle is stored, so that a task finishing
        // at once cannot leave a stale entry behind.
        let mut running = self.running.lock().unwrap();
        let task = runtime.spawn(async move {
            let _finished = finished;
            work.await;
        });
        running.insert(id, task.abort_handle());
        true
    }

    /// Waits up to `timeout` for every task to finish, then cancels the
    /// rest (which kills their scripts). Returns how many were cancelled.
    pub(super) async fn drain(&self, timeout: Duration) -> usize {
        let mut pending = self.pending.subscribe();
        if tokio::time::timeout(timeout, pending.wait_for(|n| *n == 0))
            .await
            .is_ok()
        {
            return 0;
        }
        let left: Vec<AbortHandle> = self
            .running
            .lock()
            .unwrap()
            .drain()
            .map(|(_, h)| h)
            .collect();
        for task in &left {
            task.abort();
        }
        left.len()
    }
}
