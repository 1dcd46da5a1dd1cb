//! A core: the worker role that a runtime thread holds while it runs tasks
//! from the queues (see `pool` for how cores move between threads).
//!
//! A core owns a LIFO slot and three queues (`queue::Queues`): `spawned`,
//! `runnable` and `yielded`. Two orders read them.
//!
//! # The main loop: FIFO, with bounded turns for everyone
//!
//! `next_task`, for a thread at the top of its stack, takes in this order:
//!
//! 1. every `FAIRNESS_INTERVAL` ticks, the injector, then `yielded`, then the
//!    oldest of `spawned`, whichever has a task first, so that none of them
//!    waits behind a worker that always has other work;
//! 2. the LIFO slot, where a task woken on this core goes, so that a task
//!    that wakes another (a message sent) has it run next while its data is
//!    hot; at most `MAX_LIFO_STREAK` times in a row, after which the slot's
//!    task goes to the back of `runnable`, so that two tasks waking each
//!    other cannot starve the rest;
//! 3. if the slot is empty and a task was spawned here since the slot was
//!    last found empty, the newest of `spawned`: normally the child of the
//!    task just run, run while the data they share is hot (a pinger's
//!    partner, a chain's next link; tokio puts every spawn in its LIFO slot
//!    for this). Until then the child stays in `spawned`, where a thief can
//!    take it. These turns count toward the same `MAX_LIFO_STREAK` as the
//!    slot's, so an endless chain of spawns cannot starve `runnable`
//!    either;
//! 4. `runnable`, oldest first;
//! 5. the oldest half of `spawned`, moved to `runnable` in one batch;
//! 6. `yielded`, oldest first;
//! 7. a batch from the injector, in the order it was pushed.
//!
//! Then, searching (`steal`): a batch of the oldest tasks of another core.
//!
//! So a task made runnable on a core runs after at most the tasks queued
//! ahead of it there, counting up to `MAX_LIFO_STREAK` turns of the slot
//! and of fresh spawns for each, and every queue gets a turn at least once
//! every `FAIRNESS_INTERVAL` ticks: no task waits on tasks that became
//! runnable after it, beyond those turns.
//!
//! # A waiting frame: newest first, and only its own work
//!
//! `find_member`, for a frame that waits (see `wait`), runs only tasks that
//! the wait already depends on, newest first: the LIFO slot, the top of
//! `spawned` (the tasks the frame's scope just spawned), `yielded`, and then
//! the oldest spawn of other cores, one at a time ("leapfrogging": taking
//! back work of its own that a thief runs there). It looks at most
//! `MAX_SCAN` tasks deep into `spawned` and `yielded`, and puts back in
//! order the ones that are not its own; a task in the LIFO slot that is not
//! its own, or one it stole, goes to the back of `runnable`, where the main
//! loop and other cores find it.

use std::cell::Cell;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::metrics::CoreCounters;
use super::queue::{LocalQueue, Queues};
use super::wait::Target;
use super::Shared;
use crate::loom::sync::Arc;
use crate::task::{Notified, Runnable};

/// Ticks between turns for the injector, `yielded` and `spawned` ahead of
/// the LIFO slot and `runnable`.
const FAIRNESS_INTERVAL: u32 = 61;

/// Tasks run in a row from the LIFO slot or as fresh spawns (module docs)
/// before `runnable` gets a turn.
const MAX_LIFO_STREAK: u8 = 3;

/// How deep a waiting frame looks into a queue for a task of its own, so
/// that a wait under a pile of other work costs a bounded time per look.
const MAX_SCAN: usize = 16;

/// At most `MAX_SCAN` tasks, kept on the stack.
struct ArrayStack {
    tasks: [Option<Notified>; MAX_SCAN],
    len: usize,
}

impl ArrayStack {
    fn new() -> Self {
        ArrayStack {
            tasks: std::array::from_fn(|_| None),
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == MAX_SCAN
    }

    fn push(&mut self, task: Notified) {
        self.tasks[self.len] = Some(task);
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Notified> {
        self.len = self.len.checked_sub(1)?;
        self.tasks[self.len].take()
    }
}

pub(crate) struct Core {
    pub(crate) index: usize,
    lifo: Cell<Option<Notified>>,
    lifo_streak: Cell<u8>,
    /// Set by a spawn here; cleared when `next_task` next finds the LIFO
    /// slot empty, which then runs the newest of `spawned` (module docs).
    fresh_spawn: Cell<bool>,
    tick: Cell<u32>,
    rng: Cell<u64>,
    queues: Queues<LocalQueue<Notified>>,
    /// Counted as searching in `Idle`.
    pub(crate) searching: Cell<bool>,
    /// Whether the last batch this core took left work behind, where it
    /// came from: a searcher that found work then wakes another (`idle`).
    left_work: Cell<bool>,
    /// Since when the core has been awake, for its busy time.
    pub(crate) awake_since: Cell<Instant>,
    /// This core's metrics, which only its holder writes.
    pub(crate) counters: Arc<CachePadded<CoreCounters>>,
}

impl Core {
    pub(crate) fn new(
        index: usize,
        queues: Queues<LocalQueue<Notified>>,
        counters: Arc<CachePadded<CoreCounters>>,
    ) -> Self {
        Core {
            index,
            lifo: Cell::new(None),
            lifo_streak: Cell::new(0),
            fresh_spawn: Cell::new(false),
            tick: Cell::new(0),
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            ),
            queues,
            searching: Cell::new(false),
            left_work: Cell::new(false),
            awake_since: Cell::new(Instant::now()),
            counters,
        }
    }

    /// Queues a task made runnable by this core's thread.
    pub(crate) fn push(&self, shared: &Shared, task: Notified, reason: super::Reason) {
        use super::Reason;
        match reason {
            Reason::Spawned => {
                self.queues.spawned.push(task);
                self.fresh_spawn.set(true);
            }
            Reason::Yielded => self.queues.yielded.push(task),
            Reason::Woken => match self.lifo.replace(Some(task)) {
                Some(displaced) => self.queues.runnable.push(displaced),
                // The LIFO slot cannot be stolen: nothing for others to do.
                None => return,
            },
        }
        shared.notify_work();
    }

    /// The next task for the main loop, from this core and the injector
    /// (module docs); `None` if it has to search other cores.
    pub(crate) fn next_task(&self, shared: &Shared) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % FAIRNESS_INTERVAL == 0 {
            let task = self
                .take_from_injector(shared)
                .or_else(|| self.queues.yielded.pop())
                .or_else(|| self.take_spawned(shared));
            if task.is_some() {
                self.lifo_streak.set(0);
                return task;
            }
        }
        if let Some(slot) = self.lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < MAX_LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                return Some(slot);
            }
            self.queues.runnable.push(slot);
        } else if self.fresh_spawn.replace(false) {
            let streak = self.lifo_streak.get();
            if streak < MAX_LIFO_STREAK {
                if let Some(task) = self.queues.spawned.pop() {
                    self.lifo_streak.set(streak + 1);
                    return Some(task);
                }
            }
        }
        self.lifo_streak.set(0);
        self.queues
            .runnable
            .pop()
            .or_else(|| self.take_spawned(shared))
            .or_else(|| self.queues.yielded.pop())
            .or_else(|| self.take_from_injector(shared))
    }

    /// Moves the oldest half of `spawned` to `runnable` and returns the
    /// oldest, through this core's own stealer: `spawned` pops newest first.
    fn take_spawned(&self, shared: &Shared) -> Option<Notified> {
        // The owner's emptiness check is two loads; a steal pins an epoch.
        if self.queues.spawned.is_empty() {
            return None;
        }
        shared.stealers[self.index]
            .spawned
            .steal_into(&self.queues.runnable)
    }

    /// Takes a batch from the injector. If tasks are left over, here or on
    /// the injector, wakes a sleeping worker to take them: besides the batch
    /// being more than this core can run at once, the injector looked empty
    /// while the batch was moved, and a worker may have gone to sleep on that
    /// (see `Injector::steal_into`).
    fn take_from_injector(&self, shared: &Shared) -> Option<Notified> {
        let task = shared
            .injector
            .steal_into(&self.queues.runnable, shared.num_workers())?;
        let left_work = !shared.injector.is_empty();
        self.left_work.set(left_work);
        if left_work || !self.queues.runnable.is_empty() {
            shared.notify_work();
        }
        Some(task)
    }

    /// Takes a batch of another core's oldest tasks, starting from a random
    /// one, or from the injector. One pass.
    pub(crate) fn steal(&self, shared: &Shared) -> Option<Notified> {
        if let Some(task) = self.take_from_injector(shared) {
            return Some(task);
        }
        let into = &self.queues.runnable;
        self.others(shared).find_map(|victim| {
            let victim = &shared.stealers[victim];
            let task = victim
                .spawned
                .steal_into(into)
                .or_else(|| victim.runnable.steal_into(into))
                .or_else(|| victim.yielded.steal_into(into))?;
            self.left_work.set(!victim.is_empty());
            self.counters.count_steal();
            Some(task)
        })
    }

    /// True if work is left, here or where this core last took a batch
    /// from, besides the task it is about to run: a searcher that found work
    /// then wakes another (see `idle`).
    pub(crate) fn left_work(&self) -> bool {
        self.left_work.replace(false)
            || !self.queues.runnable.is_empty()
            || !self.queues.spawned.is_empty()
    }

    /// The other cores, from a random one on.
    fn others(&self, shared: &Shared) -> impl Iterator<Item = usize> {
        let cores = shared.stealers.len();
        let start = self.random() % cores;
        let me = self.index;
        (0..cores)
            .map(move |offset| (start + offset) % cores)
            .filter(move |&victim| victim != me)
    }

    /// The newest task that a frame waiting on `target` may run (module
    /// docs), counted as a poll of this core. A `starved` frame, which holds
    /// the core because no other thread could take it, also looks through
    /// the injector and `runnable`: nobody else may run them for a while.
    #[inline]
    pub(crate) fn find_member(
        &self,
        shared: &Shared,
        target: Target,
        starved: bool,
    ) -> Option<Runnable> {
        // The common case first, with nothing else touched: an empty LIFO
        // slot and the frame's newest spawn on top of `spawned`.
        if !starved {
            match self.lifo.take() {
                None => {
                    if let Some(task) = self.queues.spawned.pop() {
                        if target.is_direct_member(task.header()) {
                            self.counters.count_poll();
                            return Some(Runnable::Queued(task));
                        }
                        self.queues.spawned.push(task);
                    }
                }
                slot => self.lifo.set(slot),
            }
        }
        let found = self.find_member_slow(shared, target, starved);
        if found.is_some() {
            self.counters.count_poll();
        }
        found
    }

    #[inline(never)]
    fn find_member_slow(&self, shared: &Shared, target: Target, starved: bool) -> Option<Runnable> {
        let mut set_aside = false;
        let found = self.find_local_member(target, &mut set_aside);
        if set_aside {
            // Tasks moved to `runnable` are for other cores now.
            shared.notify_work();
        }
        if found.is_some() {
            return found;
        }
        if starved {
            // Everything queued here and on the injector, once: nobody else
            // runs it while no thread can take this core.
            while let Some(task) = self.take_from_injector(shared) {
                self.queues.runnable.push(task);
            }
            for _ in 0..self.queues.runnable.len() {
                let Some(task) = self.queues.runnable.pop() else {
                    break;
                };
                match target.classify(task) {
                    Some(Ok(member)) => return Some(member),
                    Some(Err(other)) => self.queues.runnable.push(other),
                    None => {}
                }
            }
        }
        // Leapfrog: the oldest task each other core spawned: a thief that
        // runs a task of ours spawns that task's subtree there, so its
        // oldest spawn is the biggest piece of our work. (Not from
        // `runnable`, where batches stolen from elsewhere mix in.) A task
        // that is not ours goes to our `runnable`, at most one a call.
        for victim in self.others(shared) {
            let Some(task) = shared.stealers[victim].spawned.steal_one() else {
                continue;
            };
            match target.classify(task) {
                Some(Ok(member)) => {
                    self.counters.count_steal();
                    return Some(member);
                }
                Some(Err(other)) => {
                    self.queues.runnable.push(other);
                    shared.notify_work();
                    return None;
                }
                None => {}
            }
        }
        None
    }

    fn find_local_member(&self, target: Target, set_aside: &mut bool) -> Option<Runnable> {
        if let Some(task) = self.lifo.take() {
            match target.classify(task) {
                Some(Ok(member)) => return Some(member),
                Some(Err(other)) => {
                    // The slot cannot be stolen: leave the task where others
                    // can take it while this frame waits.
                    self.queues.runnable.push(other);
                    *set_aside = true;
                }
                None => {}
            }
        }
        // The top of `spawned`, newest first, down to `MAX_SCAN` deep; tasks
        // that are not the frame's go back in the order they were, so that
        // a sibling frame (a join after a join) finds its own on top later.
        // The common case, the frame's newest spawn on top, touches no stack.
        let mut passed = None::<ArrayStack>;
        let mut found = None;
        while let Some(task) = self.queues.spawned.pop() {
            match target.classify(task) {
                Some(Ok(member)) => {
                    found = Some(member);
                    break;
                }
                Some(Err(other)) => {
                    let passed = passed.get_or_insert_with(ArrayStack::new);
                    passed.push(other);
                    if passed.is_full() {
                        break;
                    }
                }
                None => {}
            }
        }
        if let Some(mut passed) = passed {
            while let Some(task) = passed.pop() {
                self.queues.spawned.push(task);
            }
        }
        if found.is_some() {
            return found;
        }
        // Tasks that yielded, oldest first, each looked at once and put back
        // in order behind the others.
        for _ in 0..self.queues.yielded.len().min(MAX_SCAN) {
            let Some(task) = self.queues.yielded.pop() else {
                break;
            };
            match target.classify(task) {
                Some(Ok(member)) => return Some(member),
                Some(Err(other)) => self.queues.yielded.push(other),
                None => {}
            }
        }
        None
    }

    /// Before the core moves to another thread: the LIFO slot cannot be
    /// stolen, so its task goes where other cores can take it meanwhile.
    pub(crate) fn prepare_handoff(&self, shared: &Shared) {
        if let Some(task) = self.lifo.take() {
            self.queues.runnable.push(task);
        }
        if !self.queues.runnable.is_empty() || !self.queues.spawned.is_empty() {
            shared.notify_work();
        }
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
}
