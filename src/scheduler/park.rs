//! Blocking a thread until another wakes it.
//!
//! Every runtime thread parks on its own `Parker`, in `Shared::parkers` at
//! its slot: to sleep as an idle worker, and to wait in a frame (`scope`,
//! `join`, `block_on`). The parkers belong to the runtime, not the thread,
//! so a task that wakes a waiting thread after its last access to a scope
//! (invariant 6) touches only memory that the runtime keeps alive. A thread
//! that exits leaves its slot to the next thread; a late unpark of the slot
//! then costs that thread one spurious wake-up, which every wait tolerates
//! by re-checking its condition.
//!
//! Threads outside the pool that wait for a scope of the runtime share one
//! condition variable (`External`), for the same reason.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
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

    /// Parks until `done` holds. `done` must become true only before a call
    /// to `unpark`.
    pub(crate) fn park_until(&self, done: impl Fn() -> bool) {
        while !done() {
            self.park();
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

/// Where threads outside the pool wait for a scope of this runtime.
pub(crate) struct External {
    lock: Mutex<()>,
    condvar: Condvar,
}

impl External {
    pub(crate) fn new() -> Self {
        External {
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Blocks until `done` holds. `done` must become true only before a call
    /// to `notify_all`.
    pub(crate) fn wait_until(&self, done: impl Fn() -> bool) {
        let mut guard = self.lock.lock();
        while !done() {
            self.condvar.wait(&mut guard);
        }
    }

    pub(crate) fn notify_all(&self) {
        // Taking the lock orders this notification after any waiter's check.
        drop(self.lock.lock());
        self.condvar.notify_all();
    }
}
