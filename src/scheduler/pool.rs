//! The runtime's threads, and the roles they take.
//!
//! A runtime has a fixed number of *cores* (`core::Core`): the worker role,
//! with its run queues. A thread runs tasks only while it holds a core, so at
//! most `num_workers` threads run tasks from the queues at once. Threads
//! without a core are *spare*: they take a core that another thread gave up,
//! or run blocking jobs (`spawn_blocking`), or wait for either.
//!
//! A thread gives its core up when a wait inside a task's poll has nothing of
//! its own left to run (`wait`): the core goes on `free_cores`, and an idle
//! spare is woken, or a new thread started, to run it, so that N workers keep
//! running while the frame waits. When the wait is over, the thread takes a
//! core back if one is free or asleep (`wait`), and otherwise finishes the
//! poll without one; back in its main loop it takes a free core if there is
//! one, and otherwise becomes a spare itself. A worker whose core such a
//! thread took while it slept becomes a spare too (`idle`).
//!
//! Threads start on demand, up to `num_workers + max_blocking_threads`, and
//! an idle spare exits after `keep_alive`. At the cap, a core given up waits
//! on `free_cores` for the next thread to come free, and a job waits on
//! `jobs`: concurrency degrades for a while, and a program that needs more
//! threads than the cap to make progress waits until one comes free.
//!
//! Everything here is behind one lock, taken only when a thread changes role
//! (a core given up or taken, a job queued or started, a thread idle or
//! exiting), never on the path of a poll.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use super::core::Core;
use super::Shared;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::{wait_for, Arc, Condvar, Mutex};
use crate::loom::thread;
use crate::task::Notified;

/// What builds threads and runs around them, from the `Builder`.
pub(crate) struct ThreadConfig {
    pub(crate) name: Box<dyn Fn(usize) -> String + Send + Sync>,
    pub(crate) stack_size: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) max_blocking_threads: usize,
    pub(crate) on_start: Option<Box<dyn Fn() + Send + Sync>>,
    pub(crate) on_stop: Option<Box<dyn Fn() + Send + Sync>>,
}

pub(crate) struct Pool {
    state: Mutex<PoolState>,
    /// Idle threads wait here for a core or a job.
    available: Condvar,
    /// `Runtime::drop` waits here for the last thread to exit.
    exited: Condvar,
    /// Mirrors `PoolState::exiting`, for a check without the lock.
    exiting: AtomicBool,
    /// The slots of threads waiting in a frame that holds a core because no
    /// thread could take it (`enter_starved`), and their number.
    starved: Mutex<Vec<usize>>,
    num_starved: AtomicUsize,
    pub(crate) config: ThreadConfig,
    max_threads: usize,
}

struct PoolState {
    // Boxed: a core moves between a thread's context and this list by
    // pointer, and a box is what a thread holds.
    #[allow(clippy::vec_box)]
    free_cores: Vec<Box<Core>>,
    jobs: VecDeque<Notified>,
    /// Threads started and not yet exited.
    threads: usize,
    /// Threads waiting on `available`.
    idle: usize,
    /// Wake-ups sent to idle threads and not yet taken by one.
    notified: usize,
    /// Parker slots of exited threads, for reuse.
    free_slots: Vec<usize>,
    next_slot: usize,
    handles: Vec<thread::JoinHandle<()>>,
    /// Set once the runtime has shut down and every thread is idle: all exit.
    exiting: bool,
}

/// What a thread without a core does next.
pub(crate) enum Assignment {
    Core(Box<Core>),
    Job(Notified),
    Exit,
}

impl Pool {
    pub(crate) fn new(config: ThreadConfig, workers: usize) -> Self {
        let max_threads = workers.saturating_add(config.max_blocking_threads);
        Pool {
            state: Mutex::new(PoolState {
                free_cores: Vec::new(),
                jobs: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                free_slots: Vec::new(),
                next_slot: 0,
                handles: Vec::new(),
                exiting: false,
            }),
            available: Condvar::new(),
            exited: Condvar::new(),
            exiting: AtomicBool::new(false),
            starved: Mutex::new(Vec::new()),
            num_starved: AtomicUsize::new(0),
            config,
            max_threads,
        }
    }

    /// The number of parker slots the pool can use: one per thread at most.
    pub(crate) fn max_threads(&self) -> usize {
        self.max_threads
    }

    pub(crate) fn is_exiting(&self) -> bool {
        // Acquire: pairs with the Release in `exit_all`.
        self.exiting.load(Acquire)
    }

    /// Starts a thread, which runs `core` first if given. Fails at the cap,
    /// or with the system's error.
    pub(crate) fn start_thread(shared: &Arc<Shared>, core: Option<Box<Core>>) -> io::Result<()> {
        let slot = shared
            .pool
            .reserve_thread(&mut shared.pool.state.lock())
            .ok_or_else(|| io::Error::other("paddock: the thread cap is reached"))?;
        Pool::spawn_reserved(shared, slot, core)
    }

    /// Counts a thread about to start and gives it a parker slot, unless the
    /// pool is at its cap or exiting.
    fn reserve_thread(&self, state: &mut PoolState) -> Option<usize> {
        if state.threads >= self.max_threads || state.exiting {
            return None;
        }
        state.threads += 1;
        // The lowest slots go to the first threads, which hold the cores:
        // worker `i` is named by slot `i`, and so is every later thread.
        Some(state.free_slots.pop().unwrap_or_else(|| {
            state.next_slot += 1;
            state.next_slot - 1
        }))
    }

    /// Starts the thread that `reserve_thread` counted in `slot`.
    fn spawn_reserved(
        shared: &Arc<Shared>,
        slot: usize,
        core: Option<Box<Core>>,
    ) -> io::Result<()> {
        let pool = &shared.pool;
        let thread_shared = shared.clone();
        let spawned = thread::Builder::new()
            .name((pool.config.name)(slot))
            .stack_size(pool.config.stack_size)
            .spawn(move || super::worker::thread_main(thread_shared, slot, core));
        let mut state = pool.state.lock();
        match spawned {
            Ok(handle) => {
                #[cfg(not(paddock_loom))]
                state.handles.retain(|handle| !handle.is_finished());
                state.handles.push(handle);
                Ok(())
            }
            Err(error) => {
                // The closure, with its core, was dropped with the error.
                state.threads -= 1;
                state.free_slots.push(slot);
                drop(state);
                pool.exited.notify_all();
                Err(error)
            }
        }
    }

    /// Hands `core` to another thread: an idle one, or a new one if none is
    /// idle and the cap allows. At the cap, gives the core back: the caller
    /// keeps the worker role while it waits (see `wait`).
    ///
    /// The core goes on `free_cores` only with a thread counted to take it
    /// (notified, or reserved under the same lock): a thread that comes to
    /// the pool for a queued job takes a free core first, and a core
    /// published without a thread of its own would take the job's thread,
    /// stranding the job at the cap.
    pub(crate) fn give_core(shared: &Arc<Shared>, core: Box<Core>) -> Result<(), Box<Core>> {
        let pool = &shared.pool;
        let mut state = pool.state.lock();
        if state.idle > state.notified {
            state.free_cores.push(core);
            state.notified += 1;
            drop(state);
            pool.available.notify_one();
            return Ok(());
        }
        let Some(slot) = pool.reserve_thread(&mut state) else {
            return Err(core);
        };
        state.free_cores.push(core);
        drop(state);
        if Pool::spawn_reserved(shared, slot, None).is_ok() {
            return Ok(());
        }
        // The system refused the thread. Cores are interchangeable: any one
        // left free comes back.
        pool.state.lock().free_cores.pop().map_or(Ok(()), Err)
    }

    /// Takes back a core given up and not yet taken (`wait`): the thread
    /// counted for it finds none and goes idle again.
    pub(crate) fn take_free_core(&self) -> Option<Box<Core>> {
        self.state.lock().free_cores.pop()
    }

    /// Lists the thread in `slot` as waiting in a frame that holds a core
    /// only because no thread could take it: such a frame is woken whenever
    /// a task is queued on the injector (it may be one of its own) and
    /// whenever a thread goes idle (it can take the core now).
    pub(crate) fn enter_starved(&self, slot: usize) {
        self.starved.lock().push(slot);
        // SeqCst, then the fence: the store-buffer pattern against
        // `wake_starved`'s push, then fence, then load.
        self.num_starved.fetch_add(1, SeqCst);
        crate::loom::sync::atomic::fence(SeqCst);
    }

    /// True if an idle thread could take a core now. A starved frame asks
    /// after listing itself: either it sees the idle thread here, or that
    /// thread, going idle under the same lock, sees it listed.
    pub(crate) fn has_idle_thread(&self) -> bool {
        let state = self.state.lock();
        state.idle > state.notified
    }

    pub(crate) fn leave_starved(&self, slot: usize) {
        let mut starved = self.starved.lock();
        if let Some(position) = starved.iter().position(|&s| s == slot) {
            starved.swap_remove(position);
            self.num_starved.fetch_sub(1, SeqCst);
        }
    }

    /// Wakes every starved frame (see `enter_starved`), if there is one.
    /// The caller has pushed its task and fenced (`SeqCst`) since: the
    /// other half of the store-buffer pattern in `enter_starved`.
    pub(crate) fn wake_starved(&self, parkers: &[super::park::Parker]) {
        if self.num_starved.load(SeqCst) == 0 {
            return;
        }
        let slots = self.starved.lock().clone();
        for slot in slots {
            parkers[slot].unpark();
        }
    }

    /// Queues a blocking job, or gives it back once the runtime has exited.
    pub(crate) fn push_job(shared: &Arc<Shared>, job: Notified) -> Result<(), Notified> {
        let mut state = shared.pool.state.lock();
        if state.exiting {
            return Err(job);
        }
        state.jobs.push_back(job);
        shared.pool.wake_or_start(shared, state);
        Ok(())
    }

    fn wake_or_start(
        &self,
        shared: &Arc<Shared>,
        mut state: crate::loom::sync::MutexGuard<'_, PoolState>,
    ) {
        if state.idle > state.notified {
            state.notified += 1;
            drop(state);
            self.available.notify_one();
            return;
        }
        drop(state);
        // At the cap, or if the system refuses a thread, the work waits on
        // the pool for the next thread to come free (module docs).
        let _ = Pool::start_thread(shared, None);
    }

    /// For a thread with no core and nothing to run: the next core to run or
    /// job to do, after waiting if there is none. A spare that waits
    /// `keep_alive` in vain exits.
    pub(crate) fn next_assignment(&self, shared: &Shared) -> Assignment {
        let mut state = self.state.lock();
        loop {
            if state.exiting {
                return Assignment::Exit;
            }
            if let Some(core) = state.free_cores.pop() {
                return Assignment::Core(core);
            }
            if let Some(job) = state.jobs.pop_front() {
                return Assignment::Job(job);
            }
            state.idle += 1;
            if shared.is_shut_down() {
                shared.finish_if_quiescent(&mut state.idle_view());
            }
            // A frame holding a core for want of a thread can hand it to
            // this one now. (The lock orders this check after the frame's
            // listing, or the frame sees this thread idle when it tries.)
            self.wake_starved(&shared.parkers);
            let timed_out = if state.exiting {
                false
            } else {
                wait_for(&self.available, &mut state, self.config.keep_alive)
            };
            state.idle -= 1;
            let was_notified = state.notified > 0;
            if was_notified {
                state.notified -= 1;
            }
            if timed_out
                && !was_notified
                && !state.exiting
                && state.free_cores.is_empty()
                && state.jobs.is_empty()
            {
                return Assignment::Exit;
            }
        }
    }

    /// Called by each thread as it exits, with its slot. The last thread
    /// cancels whatever is left queued once the runtime has shut down.
    pub(crate) fn thread_exited(&self, shared: &Shared, slot: usize) {
        let mut state = self.state.lock();
        if state.threads == 1 && state.exiting {
            // Nobody else runs tasks any more: drop what is left, which
            // cancels it, before the count says the runtime is done.
            let cores = std::mem::take(&mut state.free_cores);
            let jobs = std::mem::take(&mut state.jobs);
            drop(state);
            drop(cores);
            drop(jobs);
            shared.cancel_remaining_tasks();
            state = self.state.lock();
        }
        state.threads -= 1;
        state.free_slots.push(slot);
        drop(state);
        self.exited.notify_all();
    }

    /// Ends every thread, once the runtime has shut down and all of them
    /// are idle. Returns how many parker slots threads have ever used: the
    /// parkers past them have never had a thread to wake.
    pub(crate) fn exit_all(&self, state: &mut IdleView<'_>) -> usize {
        state.0.exiting = true;
        // Release: a thread that sees the flag without the lock sees the
        // shutdown before it.
        self.exiting.store(true, Release);
        self.available.notify_all();
        state.0.next_slot
    }

    /// Blocks until every thread has exited, then joins them.
    pub(crate) fn join_all(&self) {
        let mut state = self.state.lock();
        while state.threads > 0 {
            self.exited.wait(&mut state);
        }
        let handles = std::mem::take(&mut state.handles);
        drop(state);
        for handle in handles {
            // A runtime thread only panics through a bug in paddock, and then
            // aborts the process.
            let _ = handle.join();
        }
    }

    /// Wakes every idle thread, to look at the runtime's state again.
    pub(crate) fn wake_all_idle(&self) {
        drop(self.state.lock());
        self.available.notify_all();
    }

    /// Runs `f` on the pool's state, for the shutdown check.
    pub(crate) fn with_idle_view<R>(&self, f: impl FnOnce(&mut IdleView<'_>) -> R) -> R {
        let mut state = self.state.lock();
        f(&mut state.idle_view())
    }

    /// The numbers behind `RuntimeMetrics`: threads without a core, of
    /// which idle, and queued jobs.
    pub(crate) fn counts(&self, num_workers: usize) -> (usize, usize, usize) {
        let state = self.state.lock();
        let held_cores = num_workers - state.free_cores.len();
        (
            state.threads.saturating_sub(held_cores),
            state.idle,
            state.jobs.len(),
        )
    }
}

/// The pool's state as the shutdown check sees it, under the pool's lock.
pub(crate) struct IdleView<'a>(&'a mut PoolState);

impl PoolState {
    fn idle_view(&mut self) -> IdleView<'_> {
        IdleView(self)
    }
}

impl IdleView<'_> {
    /// True if no thread is doing anything: each is idle in the pool or
    /// asleep holding a core (`asleep_with_core`), and nothing is queued on
    /// the pool.
    pub(crate) fn all_idle(&self, asleep_with_core: usize) -> bool {
        let state = &*self.0;
        state.free_cores.is_empty()
            && state.jobs.is_empty()
            && state.threads == state.idle + asleep_with_core
    }
}
