//! The scheduler: cores and their run queues, the threads that hold them,
//! sleeping, and blocking waits.
//!
//! - `core`: a worker's role and its queues, in the main loop's order and in
//!   a waiting frame's.
//! - `queue`: local queues over crossbeam-deque (and a loom model).
//! - `inject`: the shared queue for tasks from outside the pool.
//! - `worker`: the body of every runtime thread.
//! - `pool`: threads, and how cores and blocking jobs move between them.
//! - `idle`: how idle workers sleep and are woken.
//! - `wait`: blocking waits, and who may run what while a frame waits.
//! - `park`: blocking a thread until another wakes it.
//! - `owned`: the list of `'static` tasks that shutdown cancels.
//! - `context`: what this thread is to paddock.
//! - `metrics`: per-core counters.
//!
//! Tasks reach the scheduler through `Shared::schedule` (queue a runnable
//! task), `Shared::wake_waiter` (a scope's last task is done) and the
//! `owned` list; nothing else in `task/` knows how it is run.

mod context;
mod core;
mod idle;
mod inject;
mod metrics;
mod owned;
mod park;
mod pool;
mod queue;
mod wait;
mod worker;

use std::io;

use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::Arc;
use crate::scope::Waiter;
use crate::task::Notified;

pub(crate) use context::{enter_scope, with_current_runtime, with_thread_of};
pub(crate) use metrics::Metrics;
pub(crate) use pool::ThreadConfig;
pub(crate) use wait::{block_on, wait_scope, wait_task};

use self::core::Core;
use idle::Idle;
use inject::Injector;
use owned::OwnedTasks;
use park::{External, Parker};
use pool::{IdleView, Pool};
use queue::{Queues, Stealer};

/// Why a task is being queued, which decides where it goes on a core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A new task: to the stealable `spawned` queue, so an idle worker can
    /// take it even if its spawner goes on to block or to compute.
    Spawned,
    /// Woken by another task or a reactor: to the LIFO slot, to run next.
    Woken,
    /// Woken during its own poll (`yield_now`): behind every ready task.
    Yielded,
}

/// State shared by a runtime's handle, its threads and its tasks.
pub(crate) struct Shared {
    injector: Injector,
    stealers: Box<[Queues<Stealer<Notified>>]>,
    idle: Idle,
    pool: Pool,
    /// One per thread slot (`pool`): where runtime threads park.
    parkers: Box<[Parker]>,
    /// Where threads outside the pool wait for the runtime's scopes.
    external: External,
    pub(crate) owned: OwnedTasks,
    shut_down: AtomicBool,
    pub(crate) metrics: Metrics,
}

impl Shared {
    /// Starts a runtime with `workers` cores, one thread for each.
    pub(crate) fn start(workers: usize, config: ThreadConfig) -> io::Result<Arc<Shared>> {
        let queues: Vec<_> = (0..workers).map(|_| Queues::new()).collect();
        let pool = Pool::new(config, workers);
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: queues.iter().map(Queues::stealers).collect(),
            idle: Idle::new(workers),
            parkers: (0..pool.max_threads()).map(|_| Parker::new()).collect(),
            pool,
            external: External::new(),
            owned: OwnedTasks::new(workers),
            shut_down: AtomicBool::new(false),
            metrics: Metrics::new(workers),
        });
        for (index, queues) in queues.into_iter().enumerate() {
            let counters = Arc::clone(shared.metrics.core(index));
            let core = Box::new(Core::new(index, queues, counters));
            if let Err(error) = Pool::start_thread(&shared, Some(core)) {
                shared.begin_shutdown();
                shared.pool.join_all();
                return Err(io::Error::new(
                    error.kind(),
                    format!("paddock: could not spawn worker thread {index}: {error}"),
                ));
            }
        }
        Ok(shared)
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.stealers.len()
    }

    /// Queues a runnable task: on this thread's core if it holds one of this
    /// runtime's, else on the injector.
    ///
    /// The caller keeps `self` alive through the call (a runtime handle, or a
    /// reference to a task of this runtime that outlives the push).
    ///
    /// A new task (`Reason::Spawned`) is counted for the metrics here, by
    /// the spawning thread's core if it holds one.
    pub(crate) fn schedule(&self, task: Notified, reason: Reason) {
        with_thread_of(self, |cx| {
            let core = cx.map(|cx| cx.core.borrow());
            let core = core.as_ref().and_then(|core| core.as_deref());
            if reason == Reason::Spawned {
                match core {
                    Some(core) => core.counters.count_spawn(),
                    None => self.metrics.count_outside_spawn(),
                }
            }
            match core {
                Some(core) => core.push(self, task, reason),
                None => match self.injector.push(task) {
                    Ok(()) => {
                        // `notify_work`'s fence serves both checks.
                        self.notify_work();
                        self.pool.wake_starved(&self.parkers);
                    }
                    // The runtime has exited: dropping the entry cancels the
                    // task (on this thread) instead of stranding it on the
                    // injector, where it would keep itself and the runtime
                    // alive forever.
                    Err(refused) => drop(refused),
                },
            }
        });
    }

    /// Queues a blocking job on the pool, which starts a thread for it if
    /// none is idle and the cap allows. Once the runtime has exited, the job
    /// is cancelled instead.
    pub(crate) fn submit_blocking(shared: &Arc<Shared>, job: Notified) {
        shared.metrics.count_outside_spawn();
        if let Err(refused) = Pool::push_job(shared, job) {
            drop(refused);
        }
    }

    pub(crate) fn global_queue_depth(&self) -> usize {
        self.injector.depth()
    }

    #[track_caller]
    pub(crate) fn core_counters(&self, index: usize) -> metrics::CoreSnapshot {
        self.metrics.snapshot(index)
    }

    #[track_caller]
    pub(crate) fn local_queue_depth(&self, index: usize) -> usize {
        // The snapshot checks the index, with the same message.
        let _ = self.metrics.snapshot(index);
        self.stealers[index].len()
    }

    /// Threads without a core, of which idle, and queued blocking jobs.
    pub(crate) fn pool_counts(&self) -> (usize, usize, usize) {
        self.pool.counts(self.num_workers())
    }

    /// Counts a task that was spawned but never queued: refused by a runtime
    /// that has shut down, it is cancelled at once.
    pub(crate) fn count_refused_spawn(&self) {
        self.metrics.count_outside_spawn();
    }

    /// Counts a task of this runtime completed by the calling thread.
    #[inline]
    pub(crate) fn count_completion(&self) {
        match context::held_core_counters(self) {
            Some(counters) => counters.count_completion(),
            None => self.metrics.count_outside_completion(),
        }
    }

    /// Wakes a sleeping worker for a task just queued, if one is needed
    /// (see `idle`).
    pub(crate) fn notify_work(&self) {
        self.idle.notify_work(&self.parkers);
    }

    /// Wakes the thread waiting for a scope whose counter just reached zero.
    pub(crate) fn wake_waiter(&self, waiter: Waiter) {
        match waiter {
            Waiter::Slot(slot) => self.parkers[slot].unpark(),
            Waiter::External => self.external.notify_all(),
        }
    }

    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|stealers| !stealers.is_empty())
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        // Acquire: pairs with the Release in `begin_shutdown`.
        self.shut_down.load(Acquire)
    }

    /// Shuts the runtime down: cancels every `'static` task that is not
    /// running (a running one is cancelled when its poll returns), and lets
    /// the threads exit once none of them has anything left to do. Scoped
    /// tasks are never cancelled: they run to the end, since a frame waits
    /// for them (see `Runtime`'s docs).
    pub(crate) fn begin_shutdown(&self) {
        self.shut_down.store(true, Release);
        self.owned.close_and_cancel_all();
        // Every thread looks again, and the last one to go idle ends them.
        for slot in self.idle.sleeper_slots() {
            self.parkers[slot].unpark();
        }
        self.pool.wake_all_idle();
    }

    /// Blocks until every thread of the runtime has exited.
    pub(crate) fn join_threads(&self) {
        self.pool.join_all();
    }

    /// Ends every thread if the runtime has shut down and no thread has
    /// anything to do; called by each thread as it goes idle.
    fn finish_if_quiescent(&self, pool: &mut IdleView<'_>) {
        if pool.all_idle(self.idle.num_asleep()) && !self.has_work() {
            let slots_used = self.pool.exit_all(pool);
            // Every used parker, not only the sleepers': a spurious wake-up
            // costs a thread one look at its condition, and one missed here
            // would keep `Runtime::drop` waiting for ever.
            self.parkers[..slots_used].iter().for_each(Parker::unpark);
        }
    }

    fn finish_if_quiescent_from_worker(&self) {
        self.pool
            .with_idle_view(|pool| self.finish_if_quiescent(pool));
    }

    /// Run by the last thread out: cancels every task still queued. Tasks
    /// that the dropped futures wake land on the injector, drained last;
    /// those they spawn are refused by the closed list and cancelled at birth.
    fn cancel_remaining_tasks(&self) {
        self.owned.close_and_cancel_all();
        self.injector.close_and_drain();
    }

    /// Runs a thread hook; its panic is caught and dropped, since there is
    /// no task or scope to send it to, and a runtime thread must not unwind.
    fn run_hook(&self, hook: Option<&(dyn Fn() + Send + Sync)>) {
        if let Some(hook) = hook {
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
                crate::task::drop_panic_payload(payload);
            }
        }
    }
}
