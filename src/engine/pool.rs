//! Worker tasks and the per-phase worker limit.
//!
//! [`Pool`]: long-lived worker tasks pulling jobs from one channel; it grows
//! when steering asks for more workers than any phase planned (it never
//! shrinks: idle tasks cost nothing). [`Gate`]: the phase's semaphore, whose
//! permit count is the number of messages that may be in flight at once;
//! resizing down takes permits out as they come back, so in-flight sends are
//! never cancelled.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::worker::{self, Job, Shared};

pub struct Pool {
    shared: Arc<Shared>,
    rx: async_channel::Receiver<Job>,
    tasks: Mutex<JoinSet<()>>,
    spawned: Mutex<usize>,
}

impl Pool {
    pub fn new(shared: Arc<Shared>, rx: async_channel::Receiver<Job>, workers: usize) -> Self {
        let pool = Self {
            shared,
            rx,
            tasks: Mutex::new(JoinSet::new()),
            spawned: Mutex::new(0),
        };
        pool.ensure(workers);
        pool
    }

    /// At least `n` worker tasks.
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

/// A phase's worker limit.
pub struct Gate {
    pub sem: Arc<Semaphore>,
    size: u32,
}

impl Gate {
    pub fn new(size: u32) -> Self {
        Self {
            sem: Arc::new(Semaphore::new(size as usize)),
            size,
        }
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// Changes the limit to `n`, spawning worker tasks if needed.
    pub fn resize(&mut self, n: u32, pool: &Pool) {
        if n > self.size {
            pool.ensure(n as usize);
            self.sem.add_permits((n - self.size) as usize);
        } else if n < self.size {
            let want = (self.size - n) as usize;
            let got = self.sem.forget_permits(want);
            if got < want {
                // The rest are in flight: retire them as their sends finish.
                let sem = self.sem.clone();
                let rest = u32::try_from(want - got).unwrap_or(u32::MAX);
                tokio::spawn(async move {
                    if let Ok(p) = sem.acquire_many_owned(rest).await {
                        p.forget();
                    }
                });
            }
        }
        self.size = n;
    }
}
