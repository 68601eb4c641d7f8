//! Lanes and the per-phase in-flight budget.
//!
//! [`Pool`]: long-lived lane tasks pulling [`Work`] from one channel; it grows
//! when a phase (or steering) asks for more lanes than it has (it never
//! shrinks: idle tasks cost nothing). [`Budget`]: the phase's semaphore,
//! whose permit count is the number of messages that may be outstanding at
//! once (waiting for a lane, or sent and waiting for their answer); a due
//! tick that finds it exhausted is dropped, never queued.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::worker::{self, Shared, Work};

pub struct Pool {
    shared: Arc<Shared>,
    rx: async_channel::Receiver<Work>,
    tasks: Mutex<JoinSet<()>>,
    spawned: Mutex<usize>,
}

impl Pool {
    pub fn new(shared: Arc<Shared>, rx: async_channel::Receiver<Work>, lanes: usize) -> Self {
        let pool = Self {
            shared,
            rx,
            tasks: Mutex::new(JoinSet::new()),
            spawned: Mutex::new(0),
        };
        pool.ensure(lanes);
        pool
    }

    /// At least `n` lane tasks.
    pub fn ensure(&self, n: usize) {
        let mut spawned = self.spawned.lock().unwrap_or_else(|p| p.into_inner());
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        while *spawned < n {
            tasks.spawn(worker::run(self.shared.clone(), self.rx.clone(), *spawned));
            *spawned += 1;
        }
    }

    /// The tasks, for draining at the end of the run.
    pub fn take(&self) -> JoinSet<()> {
        std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A phase's in-flight budget (`max_in_flight` messages).
pub struct Budget {
    pub sem: Arc<Semaphore>,
}

impl Budget {
    pub fn new(size: u32) -> Self {
        Self {
            sem: Arc::new(Semaphore::new(size as usize)),
        }
    }
}
