//! The scheduler: run queues, worker threads, sleeping, and blocking waits.
//!
//! - `queue`: workers' local queues, over crossbeam-deque (and a loom model).
//! - `inject`: the shared queue for tasks from outside the pool.
//! - `worker`: worker threads, finding and running tasks, helping while blocked.
//! - `sleep`: parking idle threads without losing wake-ups.
//! - `owned`: the list of `'static` tasks that shutdown cancels.
//! - `block_on`: driving a future on the calling thread.
//! - `context`: which worker, or which entered runtime, this thread has.

mod block_on;
mod context;
mod inject;
mod owned;
mod queue;
mod sleep;
mod worker;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::Arc;
use crate::task::Notified;

pub(crate) use block_on::{block_on, wait_until};
pub(crate) use context::{enter, with_current, with_current_of};
pub(crate) use queue::{LocalQueue, Pair};

pub(crate) use worker::run as run_worker;

use inject::Injector;
use owned::OwnedTasks;
use queue::Stealer;
use sleep::Sleep;

/// Why a task is being queued, which decides where it goes on a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A new task: straight to the stealable `ready` queue, so an idle worker
    /// can take it even if its spawner goes on to block or to compute.
    Spawned,
    /// Woken by another task or a reactor: to the LIFO slot, to run next.
    Woken,
    /// Woken during its own poll (`yield_now`): behind every ready task.
    Yielded,
}

/// Who is blocked waiting for a scope, and so how to wake it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Waiter {
    /// Worker `index` of the scope's runtime, running tasks while it waits.
    Worker(usize),
    /// A thread outside the pool, parked on the runtime's external condvar.
    External,
}

/// State shared by a runtime's handle, its workers and its tasks.
pub(crate) struct Shared {
    injector: Injector,
    stealers: Box<[Pair<Stealer<Notified>>]>,
    sleep: Sleep,
    pub(crate) owned: OwnedTasks,
    shut_down: AtomicBool,
    live_workers: AtomicUsize,
}

impl Shared {
    /// A runtime for `workers` threads, and the local queues each will own.
    pub(crate) fn new(workers: usize) -> (Arc<Shared>, Vec<Pair<LocalQueue<Notified>>>) {
        let locals: Vec<_> = (0..workers).map(|_| Pair::new()).collect();
        let shared = Shared {
            injector: Injector::new(),
            stealers: locals.iter().map(Pair::stealers).collect(),
            sleep: Sleep::new(workers),
            owned: OwnedTasks::new(workers),
            shut_down: AtomicBool::new(false),
            live_workers: AtomicUsize::new(0),
        };
        (Arc::new(shared), locals)
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.stealers.len()
    }

    /// Queues a runnable task: on this thread's worker if it is one of ours,
    /// else on the injector.
    ///
    /// The caller keeps `self` alive through the call (a runtime handle, or a
    /// reference to a task of this runtime that outlives the push).
    pub(crate) fn schedule(&self, task: Notified, reason: Reason) {
        with_current_of(self, |cx| match cx {
            Some(cx) => cx.push(task, reason),
            None => match self.injector.push(task) {
                Ok(()) => self.sleep.notify_one(),
                // The workers are gone: dropping the entry cancels the task
                // (on this thread) instead of stranding it on the injector,
                // where it would keep itself and the runtime alive forever.
                Err(refused) => drop(refused),
            },
        });
    }

    /// Wakes the thread waiting for a scope whose counter just reached zero.
    pub(crate) fn wake_scope_waiter(&self, waiter: Waiter) {
        match waiter {
            Waiter::Worker(index) => self.sleep.unpark(index),
            Waiter::External => self.sleep.notify_external(),
        }
    }

    /// Blocks until `done` holds. `done` must become true only before a call
    /// to `wake_scope_waiter(waiter)`.
    pub(crate) fn wait_as(&self, waiter: Waiter, done: impl Fn() -> bool) {
        match waiter {
            Waiter::Worker(_) => with_current_of(self, |cx| {
                cx.expect("a worker waiter waits on its own worker")
                    .help_until(done)
            }),
            Waiter::External => self.sleep.wait_external(done),
        }
    }

    /// How the calling thread would wait on this runtime.
    pub(crate) fn current_waiter(&self) -> Waiter {
        with_current_of(self, |cx| {
            cx.map_or(Waiter::External, |cx| Waiter::Worker(cx.index))
        })
    }

    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|stealers| !stealers.is_empty())
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        // Acquire: pairs with the Release in `shut_down`; nothing else is
        // published through it, so this is belt and braces.
        self.shut_down.load(Acquire)
    }

    /// Tells the workers to exit once they are back in their main loop.
    pub(crate) fn shut_down(&self) {
        self.shut_down.store(true, Release);
        self.sleep.unpark_all();
    }

    pub(crate) fn worker_started(&self) {
        // Relaxed: only counts; the last exit is decided by the AcqRel below.
        self.live_workers.fetch_add(1, Relaxed);
    }

    /// Returns true for the last worker to exit.
    pub(crate) fn worker_exited(&self) -> bool {
        // AcqRel: the last worker sees every other worker's exit (and the
        // queue entries they dropped) before it cleans up.
        self.live_workers.fetch_sub(1, AcqRel) == 1
    }

    /// Run by the last worker out: cancels every task still pending. Tasks
    /// that the dropped futures wake land on the injector, drained last; those
    /// they spawn are refused by the closed list and cancelled at birth.
    fn cancel_remaining_tasks(&self) {
        self.owned.close_and_cancel_all();
        self.injector.close_and_drain();
    }
}
