//! Worker threads: where tasks are found, run, and waited for.
//!
//! Each worker owns a LIFO slot and two local queues (`queue::Pair`). A task
//! woken on a worker goes to the LIFO slot, so a task that wakes another (a
//! message sent) has it run next while its data is hot; the task it displaces
//! moves to the `ready` queue, where idle workers can steal it. A task spawned
//! on a worker goes to `ready` at once: a spawner often goes on to compute or
//! to block, and the slot cannot be stolen. `ready` is LIFO for its owner, as in
//! rayon: a worker that helps while it waits runs the newest work, which
//! belongs to the deepest frame, so 200 nested scopes need 200 frames of
//! stack, not one per task ever spawned. A task that wakes itself while
//! running (`yield_now`) goes to the back of the FIFO `yielded` queue, behind
//! every other ready task.
//!
//! Finding a task, in order: every `FAIRNESS_INTERVAL` ticks, the injector
//! and then `yielded` (so that tasks from outside and tasks that yielded are
//! not starved by a busy worker); the LIFO slot, at most `MAX_LIFO_STREAK`
//! times in a row (so two tasks waking each other cannot starve the others:
//! one local task then runs before the slot's); `ready`; `yielded`; a batch
//! from the injector; a batch stolen from a random victim (the oldest tasks of
//! its `ready`, then of its `yielded`).
//!
//! A worker that blocks (`scope`, `JoinHandle::join`, `block_on`) keeps
//! finding and running tasks until its condition holds (`help_until`), so
//! blocking never deadlocks the pool, even with one worker. Each task runs in
//! its own panic boundary (`Header::run` catches), so another task's panic
//! never unwinds into the frame that waits (invariant 7).

use std::cell::Cell;
use std::ptr;

use super::block_on::SignalSlot;
use super::context::CURRENT;
use super::queue::{LocalQueue, Pair};
use super::{Reason, Shared};
use crate::loom::sync::Arc;
use crate::loom::Backoff;
use crate::task::Notified;

/// Ticks between turns for the injector, then the `yielded` queue, ahead of
/// the LIFO slot and `ready`.
const FAIRNESS_INTERVAL: u32 = 61;

/// LIFO-slot tasks run in a row before the local queue gets a turn.
const MAX_LIFO_STREAK: u8 = 3;

pub(crate) struct WorkerContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
    /// The signal of `block_on` and `JoinHandle::join` on this worker.
    pub(crate) signal: SignalSlot,
    local: Pair<LocalQueue<Notified>>,
    lifo: Cell<Option<Notified>>,
    lifo_streak: Cell<u8>,
    tick: Cell<u32>,
    rng: Cell<u64>,
}

/// The body of a worker thread.
pub(crate) fn run(shared: Arc<Shared>, index: usize, local: Pair<LocalQueue<Notified>>) {
    let cx = WorkerContext {
        signal: SignalSlot::for_worker(shared.clone(), index),
        shared,
        index,
        local,
        lifo: Cell::new(None),
        lifo_streak: Cell::new(0),
        tick: Cell::new(0),
        rng: Cell::new(
            0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        ),
    };
    CURRENT.with(|current| current.set(&cx));
    // Task panics are caught where tasks run; a panic here is a bug in
    // paddock, and unwinding out would leave the pool one worker short and
    // scopes waiting forever. (Not under loom, which unwinds the threads of
    // a model it found deadlocked.)
    #[cfg(not(paddock_loom))]
    let abort_guard = AbortOnUnwind;

    let shared = &cx.shared;
    while !shared.is_shut_down() {
        match cx
            .next_task()
            .or_else(|| cx.wait_for_task(&|| shared.is_shut_down()))
        {
            Some(task) => task.run(),
            None => continue,
        }
    }

    // Dropping unrun queue entries cancels their tasks. This thread stops
    // being a worker first, so that whatever those drops wake goes to the
    // injector, which the last worker out drains, not to this worker's slot.
    CURRENT.with(|current| current.set(ptr::null()));
    drop(cx.lifo.take());
    for queue in [&cx.local.ready, &cx.local.yielded] {
        while let Some(task) = queue.pop() {
            drop(task);
        }
    }
    if shared.worker_exited() {
        shared.cancel_remaining_tasks();
    }
    #[cfg(not(paddock_loom))]
    std::mem::forget(abort_guard);
}

#[cfg(not(paddock_loom))]
struct AbortOnUnwind;

#[cfg(not(paddock_loom))]
impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        eprintln!("paddock: a worker thread panicked outside any task; aborting");
        std::process::abort();
    }
}

impl WorkerContext {
    /// Queues a task made runnable on this worker.
    pub(crate) fn push(&self, task: Notified, reason: Reason) {
        match reason {
            Reason::Spawned => self.local.ready.push(task),
            Reason::Yielded => self.local.yielded.push(task),
            Reason::Woken => match self.lifo.replace(Some(task)) {
                Some(displaced) => self.local.ready.push(displaced),
                // The LIFO slot cannot be stolen: nothing for others to do.
                None => return,
            },
        }
        self.shared.sleep.notify_one();
    }

    fn next_task(&self) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % FAIRNESS_INTERVAL == 0 {
            if let Some(task) = self
                .take_from_injector()
                .or_else(|| self.local.yielded.pop())
            {
                return Some(task);
            }
        }
        let local = || self.local.ready.pop().or_else(|| self.local.yielded.pop());
        if let Some(slot) = self.lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < MAX_LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                return Some(slot);
            }
            // Let another local task run first; the slot's task runs next.
            // (Pushing it behind them instead would make a waiting worker run
            // old, shallow work on top of its deep stack.)
            self.lifo_streak.set(0);
            return Some(match local() {
                Some(other) => {
                    self.lifo.set(Some(slot));
                    other
                }
                None => slot,
            });
        }
        self.lifo_streak.set(0);
        local().or_else(|| self.steal())
    }

    /// Takes a batch from the injector or from a random victim.
    fn steal(&self) -> Option<Notified> {
        self.take_from_injector().or_else(|| {
            let shared = &*self.shared;
            let victims = shared.stealers.len();
            let start = self.random() % victims;
            let task = (0..victims)
                .map(|offset| (start + offset) % victims)
                .filter(|&victim| victim != self.index)
                .find_map(|victim| {
                    let victim = &shared.stealers[victim];
                    let into = &self.local.ready;
                    victim
                        .ready
                        .steal_into(into)
                        .or_else(|| victim.yielded.steal_into(into))
                });
            // The batch may have brought more tasks than this worker can run
            // at once: let a sleeping worker take some.
            if task.is_some() && !self.local.ready.is_empty() {
                shared.sleep.notify_one();
            }
            task
        })
    }

    /// Takes a batch from the injector. If tasks are left over, here or on
    /// the injector, wakes a sleeping worker to take them: besides the batch
    /// being more than this worker can run at once, the injector looked empty
    /// while the batch was moved, and a worker may have gone to sleep on that
    /// (see `Injector::steal_into`).
    fn take_from_injector(&self) -> Option<Notified> {
        let shared = &*self.shared;
        let task = shared
            .injector
            .steal_into(&self.local.ready, shared.num_workers())?;
        if !self.local.ready.is_empty() || !shared.injector.is_empty() {
            shared.sleep.notify_one();
        }
        Some(task)
    }

    fn random(&self) -> usize {
        // xorshift64*: cheap, and good enough to spread steals.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize
    }

    /// Spins briefly for a task, then sleeps until there may be work or
    /// `done` holds. Returns a task if the spin found one.
    fn wait_for_task(&self, done: &dyn Fn() -> bool) -> Option<Notified> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Some(task) = self.next_task() {
                return Some(task);
            }
            if done() {
                return None;
            }
            backoff.snooze();
        }
        let shared = &*self.shared;
        let chosen = shared
            .sleep
            .sleep(self.index, || done() || shared.has_work());
        if chosen && done() {
            // The notification was for a task; this worker is about to return
            // to a waiting frame instead, so hand it to another sleeper.
            shared.sleep.notify_one();
        }
        None
    }

    /// Runs one task, if one is ready.
    pub(crate) fn run_one(&self) {
        if let Some(task) = self.next_task() {
            task.run();
        }
    }

    /// Runs tasks until `done` holds. `done` must become true only before a
    /// call to `self.shared.sleep.unpark(self.index)`.
    pub(crate) fn help_until(&self, done: impl Fn() -> bool) {
        while !done() {
            if let Some(task) = self.next_task().or_else(|| self.wait_for_task(&done)) {
                task.run();
            }
        }
    }
}
