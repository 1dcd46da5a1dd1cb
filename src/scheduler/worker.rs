//! The body of every runtime thread: run a core's main loop while holding
//! one, else run a blocking job or take a free core (`pool`), until the
//! runtime exits.
//!
//! With a core, the loop runs tasks in the main order (`Core::next_task`),
//! searches other cores when it runs out (`Core::steal`, at most
//! `SEARCH_PASSES` passes), and then sleeps (`idle`). A task's poll may give
//! the core away (`wait`); the thread then finishes that poll without one and
//! comes back here for a new role.

use std::cell::{Cell, RefCell};

use super::context::{enter_thread, run_task, ThreadContext};
use super::core::Core;
use super::idle::Woken;
use super::pool::Assignment;
use super::wait::SignalSlot;
use super::Shared;
use crate::loom::sync::Arc;
use crate::loom::Backoff;
use crate::task::Runnable;

/// Passes over the other cores a worker makes before it parks.
const SEARCH_PASSES: usize = 2;

/// The body of a runtime thread, which holds `core` to begin with, if given.
pub(crate) fn thread_main(shared: Arc<Shared>, slot: usize, core: Option<Box<Core>>) {
    let cx = ThreadContext {
        signal: SignalSlot::for_runtime_thread(shared.clone(), slot),
        shared,
        slot,
        core: RefCell::new(core),
        core_lent: Cell::new(false),
    };
    enter_thread(&cx, || {
        // Task panics are caught where tasks run, and hook panics here; a
        // panic out of this loop is a bug in paddock, and unwinding would
        // leave a core, and the scopes waiting on its tasks, stranded. (Not
        // under loom, which unwinds the threads of a model it found
        // deadlocked.)
        #[cfg(not(paddock_loom))]
        let abort_guard = AbortOnUnwind;
        cx.shared
            .run_hook(cx.shared.pool.config.on_start.as_deref());
        loop {
            if cx.core.borrow().is_some() {
                run_core(&cx);
                // Lost in a wait: the poll is over, and so is the claim to
                // take a core back in the middle of it.
                cx.core_lent.set(false);
                continue;
            }
            match cx.shared.pool.next_assignment(&cx.shared) {
                Assignment::Core(core) => drop(cx.set_core(Some(core))),
                Assignment::Job(job) => run_task(Runnable::Queued(job)),
                Assignment::Exit => break,
            }
        }
        cx.shared.run_hook(cx.shared.pool.config.on_stop.as_deref());
        #[cfg(not(paddock_loom))]
        std::mem::forget(abort_guard);
    });
    let ThreadContext { shared, slot, .. } = cx;
    shared.pool.thread_exited(&shared, slot);
}

#[cfg(not(paddock_loom))]
struct AbortOnUnwind;

#[cfg(not(paddock_loom))]
impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        eprintln!("paddock: a runtime thread panicked outside any task; aborting");
        std::process::abort();
    }
}

/// Runs the main loop with the thread's core until the thread loses it in
/// a wait, or the runtime exits (the core's leftover tasks are then
/// dropped, which cancels them).
fn run_core(cx: &ThreadContext) {
    let shared = &*cx.shared;
    loop {
        if shared.pool.is_exiting() {
            drop(cx.set_core(None));
            return;
        }
        let task = {
            let core = cx.core.borrow();
            let core = core.as_deref().expect("run_core holds a core");
            let task = core.next_task(shared).or_else(|| search(shared, core));
            if task.is_some() {
                if core.searching.get() {
                    stop_searching(shared, core);
                }
                core.counters.count_poll();
            }
            task
        };
        match task {
            Some(task) => {
                run_task(Runnable::Queued(task));
                if cx.core.borrow().is_none() {
                    return;
                }
            }
            None => {
                sleep(cx);
                if cx.core.borrow().is_none() {
                    return;
                }
            }
        }
    }
}

/// Looks for work on other cores and the injector, as a searcher (`idle`).
fn search(shared: &Shared, core: &Core) -> Option<crate::task::Notified> {
    if !core.searching.get() {
        if !shared.idle.try_start_searching() {
            return None;
        }
        core.searching.set(true);
    }
    let backoff = Backoff::new();
    for _ in 0..SEARCH_PASSES {
        if let Some(task) = core.steal(shared) {
            return Some(task);
        }
        backoff.spin();
    }
    None
}

/// A searcher found work: the last one wakes another if work is left.
#[cold]
fn stop_searching(shared: &Shared, core: &Core) {
    if core.searching.replace(false)
        && shared.idle.stop_searching()
        && (core.left_work() || shared.has_work())
    {
        shared.notify_work();
    }
}

/// Parks the thread, leaving its core with `idle`, until `notify_work`
/// chooses it, the runtime exits, or a frame takes the core (the thread is
/// then a spare: `run_core` returns).
fn sleep(cx: &ThreadContext) {
    let shared = &*cx.shared;
    let core = cx.set_core(None).expect("sleep holds a core");
    core.counters.count_park();
    core.counters.count_busy(core.awake_since.get().elapsed());
    shared.idle.before_park(cx.slot, core);
    if shared.has_work() {
        // Work came in as this worker went to sleep (see `idle`): wake a
        // sleeper for it, perhaps this one, unless a searcher will take it.
        shared.notify_work();
    }
    if shared.is_shut_down() {
        shared.finish_if_quiescent_from_worker();
    }
    let core = loop {
        if !shared.pool.is_exiting() {
            shared.parkers[cx.slot].park();
        }
        // Off the list either way once the runtime is ending; the main loop
        // looks again.
        let leave = shared.pool.is_exiting() || shared.is_shut_down();
        match shared.idle.wake(cx.slot, leave) {
            Woken::AsSearcher(core) | Woken::Itself(core) => break core,
            Woken::CoreTaken => return,
            // Woken for an earlier wait of this thread: still asleep.
            Woken::StillAsleep => {}
        }
    };
    core.awake_since.set(std::time::Instant::now());
    cx.set_core(Some(core));
}
