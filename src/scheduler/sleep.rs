//! How idle threads sleep, and how they are woken without a wake-up being lost.
//!
//! # Workers
//!
//! A worker that finds no task spins briefly (a bounded `Backoff`), then
//! announces itself idle — pushes its index on `idle` and increments
//! `num_idle` — and *re-checks* for work before it parks. A thread that makes a
//! task runnable pushes it, then reads `num_idle`, and if a worker is idle pops
//! exactly one index and unparks it. Both sides put a `SeqCst` fence between
//! their write and their read (the store-buffer pattern), so at least one of
//! them sees the other: either the pusher sees the idle worker and wakes it,
//! or the worker's re-check sees the task and it never parks. A new task thus
//! wakes at most one sleeper, and none when a worker is still spinning.
//!
//! A worker can also be unparked by index, without being popped: the last task
//! of a scope that the worker waits on, or the waker of a future it is blocked
//! on. Each worker's `Parker` keeps a sticky flag, so an unpark that lands
//! before the park is not lost; a spurious return from `park` only costs one
//! more look for work.
//!
//! # Other threads
//!
//! A thread outside the pool that waits for a scope blocks on `external_cv`.
//! The scope's last task decrements the scope's counter, then takes
//! `external` and notifies: the waiter checks the counter under that lock, so
//! the notification cannot slip in between its check and its wait. The task
//! touches only this runtime-owned state after the decrement (invariant 6).

use crossbeam_utils::CachePadded;

use crate::loom::sync::atomic::{fence, AtomicUsize, Ordering::*};
use crate::loom::sync::{Condvar, Mutex};

/// A sticky, one-thread wake-up flag.
///
/// `state` is `EMPTY`, `PARKED` (the owner is about to wait, or waits, on the
/// condvar) or `NOTIFIED`. `unpark` only takes the lock when the owner is
/// parked, so waking a thread that is running costs one atomic swap.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Blocks until `unpark` has been called since the last `park` returned.
    pub(crate) fn park(&self) {
        // Acquire (here and below): the unparker's writes happen-before the
        // return from `park`.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
        let mut guard = self.lock.lock();
        if let Err(actual) = self.state.compare_exchange(EMPTY, PARKED, Relaxed, Relaxed) {
            // Notified between the two checks.
            debug_assert_eq!(actual, NOTIFIED);
            self.state.swap(EMPTY, Acquire);
            return;
        }
        loop {
            self.condvar.wait(&mut guard);
            // The condvar may wake spuriously: only NOTIFIED ends the wait.
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    pub(crate) fn unpark(&self) {
        // Release: pairs with the Acquire in `park`.
        if self.state.swap(NOTIFIED, Release) == PARKED {
            // The owner set PARKED under the lock and holds it until it waits
            // on the condvar: taking the lock here means the notification
            // cannot land before that wait.
            drop(self.lock.lock());
            self.condvar.notify_one();
        }
    }
}

pub(crate) struct Sleep {
    parkers: Box<[CachePadded<Parker>]>,
    idle: Mutex<Vec<usize>>,
    num_idle: AtomicUsize,
    external: Mutex<()>,
    external_cv: Condvar,
}

impl Sleep {
    pub(crate) fn new(workers: usize) -> Self {
        Sleep {
            parkers: (0..workers)
                .map(|_| CachePadded::new(Parker::new()))
                .collect(),
            idle: Mutex::new(Vec::with_capacity(workers)),
            num_idle: AtomicUsize::new(0),
            external: Mutex::new(()),
            external_cv: Condvar::new(),
        }
    }

    /// Wakes one idle worker, if there is one, for a task just made runnable.
    pub(crate) fn notify_one(&self) {
        // Pairs with the fence in `sleep`; see the module docs.
        fence(SeqCst);
        if self.num_idle.load(SeqCst) == 0 {
            return;
        }
        let worker = {
            let mut idle = self.idle.lock();
            let worker = idle.pop();
            if worker.is_some() {
                self.num_idle.fetch_sub(1, SeqCst);
            }
            worker
        };
        if let Some(index) = worker {
            self.parkers[index].unpark();
        }
    }

    /// Wakes worker `index` for a reason of its own (its wait is over).
    pub(crate) fn unpark(&self, index: usize) {
        self.parkers[index].unpark();
    }

    pub(crate) fn unpark_all(&self) {
        self.parkers.iter().for_each(|parker| parker.unpark());
    }

    /// Parks worker `index` unless `stay_awake` holds once the worker is
    /// announced idle. Returns true if a `notify_one` chose this worker: the
    /// caller then owns that notification and must pass it on with
    /// `notify_one` if it will not look for work itself.
    pub(crate) fn sleep(&self, index: usize, stay_awake: impl Fn() -> bool) -> bool {
        {
            let mut idle = self.idle.lock();
            idle.push(index);
            self.num_idle.fetch_add(1, SeqCst);
        }
        // Pairs with the fence in `notify_one`; see the module docs.
        fence(SeqCst);
        if !stay_awake() {
            self.parkers[index].park();
        }
        let mut idle = self.idle.lock();
        match idle.iter().position(|&i| i == index) {
            Some(position) => {
                idle.swap_remove(position);
                self.num_idle.fetch_sub(1, SeqCst);
                false
            }
            None => true,
        }
    }

    /// Blocks a thread outside the pool until `done` holds. `done` must only
    /// become true before a call to `notify_external`.
    pub(crate) fn wait_external(&self, done: impl Fn() -> bool) {
        let mut guard = self.external.lock();
        while !done() {
            self.external_cv.wait(&mut guard);
        }
    }

    pub(crate) fn notify_external(&self) {
        // Taking the lock orders this notification after any waiter's check.
        drop(self.external.lock());
        self.external_cv.notify_all();
    }
}
