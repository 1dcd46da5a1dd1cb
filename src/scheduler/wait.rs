//! Blocking waits, and who may run what while a frame waits.
//!
//! A *frame* is a blocking wait on some thread: `scope` waiting for its
//! tasks, `JoinHandle::join`, `block_on`. DESIGN §2 promises that a paddock
//! program deadlocks only if it would with one OS thread per task;
//! `../shared/WAITS.md` gives the argument this file implements.
//!
//! # What a waiting frame may run
//!
//! A frame `F` waits for a set of tasks `D(F)`: for a scope, its tasks and,
//! transitively, the tasks of every scope opened inside one of them; for a
//! join, the joined task and the same below it. Running a task of `D(F)` on
//! top of `F` adds no edge to the wait-for graph, since `F` cannot return
//! before that task completes anyway; running any other task would make `F`
//! wait for it too, which is how helping deadlocked (two siblings with nested
//! scopes, waits across runtimes) and how stacks grew with the number of
//! tasks. So a frame on a thread that holds a core of the awaited runtime
//! runs only tasks of `D(F)` (`Core::find_member`), newest first, which keeps
//! the stack as deep as the nesting of scopes and no deeper.
//!
//! Membership is decided by `Target::classify`. Each scope records the task
//! that was being polled when it was opened (its *parent*, the thread's
//! `context::current_task`), so a task's ancestry is the chain task → its
//! scope → that scope's parent → its scope → … A task of the awaited scope,
//! or the joined task itself, is recognised by comparing pointers, with no
//! access to the scope. For a task further down, the frame first claims the
//! task's stage (`Notified::claim`), so that it cannot complete; then every
//! link of the chain is alive, because an incomplete task's scope is alive,
//! and a live scope's parent is in the middle of the poll that opened it. A
//! task that turns out not to be in `D(F)` is given back (`unclaim`) and left
//! for the main loop (see `Core::find_member`).
//!
//! # When the frame has nothing of its own to run
//!
//! It spins briefly, looking again (work of its own may be finishing on
//! another core, or stealable from it), then gives its core to another
//! thread (`pool`) and parks, so that N workers keep running the rest of the
//! runtime's tasks while it waits. When the wait is over, the thread takes a
//! core back if one is free or asleep (`take_core_back`): the rest of its
//! poll is work like any other, and a poll that opens scope after scope
//! (fork-join in a loop) would otherwise spawn each round onto the injector
//! and park through each wait, a few thread switches a round, for as long as
//! the poll lasts. With every core busy it goes on without one, and tries
//! again at the end of each later wait of the same poll: meanwhile what it
//! spawns or wakes goes to the injector, as from a thread outside the pool.
//! Back in its main loop it takes a core again, or becomes a spare. A frame
//! that waits for another runtime, or for a future (`block_on`, whose
//! `D(F)` is unknown), has nothing to help with: it gives its core up at
//! once.
//!
//! # At the thread cap
//!
//! When no thread can take the core (`Builder::max_blocking_threads`), the
//! frame keeps it and becomes *starved*: it runs only its own tasks, looking
//! for them on the injector and `runnable` too, since no other thread runs
//! this core meanwhile, and parks listed in `Pool::enter_starved`. A task
//! pushed on the injector, or a thread going idle, wakes it: to run the
//! task if it is its own, or to hand the core to that thread.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use super::context::{self, enter_runtime, with_thread, ThreadContext};
use super::park::Parker;
use super::pool::Pool;
use super::Shared;
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::Arc;
use crate::loom::thread::thread_local;
use crate::loom::Backoff;
use crate::scope::{ScopeState, Waiter};
use crate::task::{Header, Notified, Runnable};

/// How long a frame with nothing of its own left to run spins, looking again,
/// before it gives its core up: about what a hand-off to another thread
/// costs (a thread wake-up, 20–25 µs on the machines we measure on), so
/// that a wait for work that other cores are about to finish never costs
/// more than twice what it would at best. (Under loom, one look.)
const HANDOFF_SPIN: Duration = Duration::from_micros(20);

/// What a frame waits for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    Scope(*const ScopeState),
    Task(NonNull<Header>),
    /// A future, or another runtime's event: nothing of this runtime's.
    Nothing,
}

impl Target {
    /// True if `task` is the joined task, or a task of the awaited scope:
    /// decided by comparing pointers, with no access to the scope.
    #[inline]
    pub(crate) fn is_direct_member(self, task: &Header) -> bool {
        match self {
            Target::Task(joined) => ptr::eq(task, joined.as_ptr()),
            Target::Scope(awaited) => ptr::eq(task.scope_ptr(), awaited),
            Target::Nothing => false,
        }
    }

    /// Decides whether a frame waiting on `self` may run `task`: `Ok` with
    /// the task to run if it is in `D(F)`, `Err` with the entry back if not,
    /// `None` if the entry was stale (its task finished or was taken).
    pub(crate) fn classify(self, task: Notified) -> Option<Result<Runnable, Notified>> {
        let header = task.header();
        let scope = header.scope_ptr();
        match self {
            Target::Task(joined) if ptr::eq(header, joined.as_ptr()) => {
                return Some(Ok(Runnable::Queued(task)));
            }
            Target::Scope(awaited) if ptr::eq(scope, awaited) => {
                return Some(Ok(Runnable::Queued(task)));
            }
            Target::Nothing => return Some(Err(task)),
            _ if scope.is_null() => return Some(Err(task)),
            _ => {}
        }
        // Further down, if at all: claim the task so that its ancestry stays
        // alive while the chain is walked (module docs).
        let claimed = task.claim()?;
        // SAFETY: the claimed task cannot complete, so its scope is alive,
        // and so is each scope's parent task and that task's scope, in turn.
        if unsafe { self.is_ancestor_of(claimed.header()) } {
            Some(Ok(Runnable::Claimed(claimed)))
        } else {
            Some(Err(claimed.unclaim()))
        }
    }

    /// # Safety
    ///
    /// `task` is claimed, or otherwise kept from completing, so that the
    /// chain of its scopes and their parents is alive (module docs).
    unsafe fn is_ancestor_of(self, mut task: &Header) -> bool {
        loop {
            if let Target::Task(joined) = self {
                if ptr::eq(task, joined.as_ptr()) {
                    return true;
                }
            }
            let scope = task.scope_ptr();
            if scope.is_null() {
                return false;
            }
            if let Target::Scope(awaited) = self {
                if ptr::eq(scope, awaited) {
                    return true;
                }
            }
            // SAFETY: an incomplete task's scope is alive (caller's contract).
            let parent = unsafe { &*scope }.parent();
            match parent {
                // SAFETY: a live scope's parent is in the middle of the poll
                // that opened it, so it is alive and incomplete.
                Some(parent) => task = unsafe { parent.as_ref() },
                None => return false,
            }
        }
    }
}

/// Gets the calling thread ready to block on `target` of `shared` until
/// `done` holds. On a thread of `shared` that holds a core, runs tasks of
/// `D(F)` meanwhile; returns true if `done` came to hold. Otherwise gives
/// up the core, if the thread holds one of any runtime, and returns false:
/// the caller then parks, and calls `take_core_back` after.
fn before_blocking(shared: &Shared, target: Target, done: &impl Fn() -> bool) -> bool {
    with_thread(|cx| {
        let Some(cx) = cx else { return false };
        let own_runtime = ptr::eq(&*cx.shared, shared);
        loop {
            if own_runtime && help(cx, target, done, false) {
                return true;
            }
            // A frame that waits on a future gives its core up even if the
            // future woke itself: what it waits for may be queued on this
            // very core (module docs).
            if give_up_core(cx) || !own_runtime {
                return false;
            }
            // No thread could take the core (`pool`): this frame keeps it,
            // and runs its own tasks as they come, until a thread frees up.
            if starved_wait(cx, target, done) {
                return true;
            }
        }
    })
}

/// Runs tasks of `D(F)` until `done` holds (true), or until none is left
/// to run or the thread lost its core in a nested wait (false). A `starved`
/// frame also looks for them on the injector and on `runnable`.
fn help(cx: &ThreadContext, target: Target, done: &impl Fn() -> bool, starved: bool) -> bool {
    if matches!(target, Target::Nothing) {
        return false;
    }
    let shared = &*cx.shared;
    let backoff = Backoff::new();
    let mut idle_since: Option<Instant> = None;
    loop {
        if done() {
            return true;
        }
        let found = {
            let core = cx.core.borrow();
            let Some(core) = core.as_deref() else {
                return false;
            };
            core.find_member(shared, target, starved)
        };
        match found {
            Some(task) => {
                idle_since = None;
                run_member(task);
            }
            None if !starved && spin_on(&backoff, &mut idle_since) => {}
            None => return false,
        }
    }
}

/// One spin of a frame that found nothing to run; false once it has spun for
/// `HANDOFF_SPIN` since it last found work.
fn spin_on(backoff: &Backoff, idle_since: &mut Option<Instant>) -> bool {
    if cfg!(paddock_loom) {
        // Hand off at once: loom explores the interleavings that a spin
        // would only wait for.
        return false;
    }
    let since = *idle_since.get_or_insert_with(Instant::now);
    if since.elapsed() >= HANDOFF_SPIN {
        return false;
    }
    backoff.spin();
    true
}

/// Waits holding a core that no thread could take: parks until `done`
/// holds, a task is queued on the injector (it may be this frame's), or a
/// thread goes idle (it can take the core now). Returns true if `done`
/// holds; false to try helping and handing off again.
fn starved_wait(cx: &ThreadContext, target: Target, done: &impl Fn() -> bool) -> bool {
    let pool = &cx.shared.pool;
    pool.enter_starved(cx.slot);
    // After listing itself (a fence, inside), the frame looks once more, so
    // that a task queued meanwhile is not missed (`Pool::wake_starved`).
    let found = help(cx, target, done, true);
    if !found && !pool.has_idle_thread() {
        cx.shared.parkers[cx.slot].park();
    }
    pool.leave_starved(cx.slot);
    found || done()
}

/// Runs a task of `D(F)` on top of the waiting frame. Its panic is caught
/// inside (`Header::run`); any other unwinding out of it would leave the
/// frame waiting on tasks that borrow from it, so it aborts instead.
fn run_member(task: Runnable) {
    let guard = AbortOnUnwind;
    context::run_task(task);
    std::mem::forget(guard);
}

struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        // Not under loom, which unwinds the threads of a model it found
        // deadlocked.
        if !cfg!(paddock_loom) {
            eprintln!("paddock: a panic escaped a task run by a waiting frame; aborting");
            std::process::abort();
        }
    }
}

/// Hands the thread's core, if it holds one, to another thread. Returns
/// false if the thread still holds it, for want of a thread to take it.
fn give_up_core(cx: &ThreadContext) -> bool {
    let Some(core) = cx.set_core(None) else {
        return true;
    };
    core.prepare_handoff(&cx.shared);
    let index = core.index;
    match Pool::give_core(&cx.shared, core) {
        Ok(()) => {
            cx.shared.metrics.core(index).count_handoff();
            cx.core_lent.set(true);
            true
        }
        Err(core) => {
            cx.set_core(Some(core));
            false
        }
    }
}

/// At the end of a wait: if a wait in the poll this thread is running
/// handed its core off (`ThreadContext::core_lent`), gives the thread a
/// core that no thread runs, one given up and not yet taken or a sleeping
/// worker's (module docs). Does nothing if every core is busy; the next
/// wait of the poll tries again.
#[cold]
fn take_core_back() {
    with_thread(|cx| {
        let Some(cx) = cx else { return };
        let shared = &*cx.shared;
        if !cx.core_lent.get() || cx.core.borrow().is_some() || shared.is_shut_down() {
            return;
        }
        let core = shared.pool.take_free_core().or_else(|| {
            let (sleeper, core) = shared.idle.take_sleeping_core()?;
            // It finds its core gone, and becomes a spare.
            shared.parkers[sleeper].unpark();
            Some(core)
        });
        if let Some(core) = core {
            core.awake_since.set(Instant::now());
            cx.set_core(Some(core));
        }
    })
}

/// Waits until every task of `scope` has completed, on the scope's runtime.
pub(crate) fn wait_scope(shared: &Shared, scope: &ScopeState) {
    let done = || scope.is_done();
    if done() {
        return;
    }
    if before_blocking(shared, Target::Scope(scope), &done) {
        return;
    }
    match scope.waiter() {
        Waiter::Slot(slot) => shared.parkers[slot].park_until(done),
        Waiter::External => shared.external.wait_until(done),
    }
    take_core_back();
}

/// Blocks until `done` holds, without polling anything: `arm` registers the
/// given waker where the event that makes `done` true will wake it. `task`
/// is the task whose completion that is.
pub(crate) fn wait_task(
    shared: &Shared,
    task: NonNull<Header>,
    arm: impl FnOnce(&Waker),
    done: impl Fn() -> bool,
) {
    with_signal(|slot| {
        arm(&signal_waker(slot.signal.clone()));
        if done() {
            return;
        }
        if !before_blocking(shared, Target::Task(task), &done) {
            slot.signal.parker().park_until(&done);
            take_core_back();
        }
    })
}

/// Runs `future` to completion on this thread, with `shared` as the current
/// runtime. A thread holding a core gives it up the first time the future
/// has to wait (`D(F)` of a future is unknown, module docs).
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let mut future = pin!(future);
    enter_runtime(shared, || {
        with_signal(|slot| {
            let signal = slot.take();
            let waker = signal_waker(signal.signal().clone());
            let mut cx = Context::from_waker(&waker);
            loop {
                // AcqRel: takes the flag, acquiring the waker's writes.
                if signal.signal().notified.swap(false, AcqRel) {
                    if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                        take_core_back();
                        return output;
                    }
                    // The future waits, on nothing this frame could run:
                    // the core goes to another thread, even if the future
                    // woke itself, since what it waits for may be queued
                    // on this very core.
                    let notified = || signal.signal().is_notified();
                    before_blocking(shared, Target::Nothing, &notified);
                    continue;
                }
                // Not woken since the last poll: wait for the flag, not for
                // the parker's token, which a wait nested in that poll (on
                // the same parker) may have consumed.
                signal
                    .signal()
                    .parker()
                    .park_until(|| signal.signal().is_notified());
            }
        })
    })
}

/// A wake-up flag and the parker of the thread it wakes.
struct Signal {
    notified: AtomicBool,
    wake: Wake,
}

enum Wake {
    /// A runtime thread: its parker in its runtime's table.
    Slot { shared: Arc<Shared>, slot: usize },
    /// Any other thread: a parker of its own.
    Thread(Parker),
}

impl Signal {
    fn new(wake: Wake) -> Arc<Signal> {
        Arc::new(Signal {
            notified: AtomicBool::new(true),
            wake,
        })
    }

    fn parker(&self) -> &Parker {
        match &self.wake {
            Wake::Slot { shared, slot } => &shared.parkers[*slot],
            Wake::Thread(parker) => parker,
        }
    }

    fn wake(&self) {
        // Release: the waker's writes happen-before the next poll, which takes
        // the flag with an AcqRel swap. Unpark even if the flag was already
        // set: a wait nested on the same thread may be parked, waiting for a
        // condition of its own.
        self.notified.store(true, Release);
        self.parker().unpark();
    }

    fn is_notified(&self) -> bool {
        self.notified.load(Acquire)
    }
}

/// A thread's reusable signal, so that a blocking wait allocates nothing. A
/// `block_on` nested inside another on the same thread takes a fresh one, so
/// that the two flags stay apart.
///
/// A waker of an earlier wait may still be held somewhere and fire during a
/// later one: that costs one spurious poll, which futures must tolerate.
pub(crate) struct SignalSlot {
    signal: Arc<Signal>,
    in_use: Cell<bool>,
}

/// A signal taken from a thread's slot for one `block_on`.
struct TakenSignal<'a> {
    signal: Arc<Signal>,
    slot: Option<&'a SignalSlot>,
}

impl TakenSignal<'_> {
    fn signal(&self) -> &Arc<Signal> {
        &self.signal
    }
}

impl Drop for TakenSignal<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            slot.in_use.set(false);
        }
    }
}

impl SignalSlot {
    pub(crate) fn for_runtime_thread(shared: Arc<Shared>, slot: usize) -> Self {
        SignalSlot::new(Wake::Slot { shared, slot })
    }

    fn new(wake: Wake) -> Self {
        SignalSlot {
            signal: Signal::new(wake),
            in_use: Cell::new(false),
        }
    }

    /// The slot's signal, set, if no `block_on` on this thread holds it;
    /// otherwise a fresh one that wakes the same thread.
    fn take(&self) -> TakenSignal<'_> {
        if self.in_use.replace(true) {
            let wake = match &self.signal.wake {
                Wake::Slot { shared, slot } => Wake::Slot {
                    shared: shared.clone(),
                    slot: *slot,
                },
                Wake::Thread(_) => Wake::Thread(Parker::new()),
            };
            return TakenSignal {
                signal: Signal::new(wake),
                slot: None,
            };
        }
        // Set, so that the first poll runs without waiting. Relaxed: this
        // thread is the only one that takes the flag, and a stale waker from
        // an earlier wait that sets it too costs one extra poll at most.
        self.signal.notified.store(true, Relaxed);
        TakenSignal {
            signal: self.signal.clone(),
            slot: Some(self),
        }
    }
}

thread_local! {
    /// The signal of a thread outside every pool.
    static THREAD_SIGNAL: SignalSlot = SignalSlot::new(Wake::Thread(Parker::new()));
}

/// Runs `f` with this thread's signal: a runtime thread's own, else the
/// thread-local one, or a fresh one when a thread-local destructor calls in
/// after `THREAD_SIGNAL` is gone.
fn with_signal<R>(f: impl FnOnce(&SignalSlot) -> R) -> R {
    let mut f = Some(f);
    let mut call = |slot: &SignalSlot| f.take().expect("called once")(slot);
    if let Some(result) = with_thread(|cx| cx.map(|cx| call(&cx.signal))) {
        return result;
    }
    match THREAD_SIGNAL.try_with(&mut call) {
        Ok(result) => result,
        Err(_) => call(&SignalSlot::new(Wake::Thread(Parker::new()))),
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_signal);

fn signal_waker(signal: Arc<Signal>) -> Waker {
    let data = Arc::into_raw(signal) as *const ();
    // SAFETY: `data` is an `Arc<Signal>` turned into a pointer, which is what
    // every function of `VTABLE` expects, and each of them keeps the count
    // right: `clone` adds one, `wake` and `drop_signal` release one.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `Arc<Signal>` pointer (see `signal_waker`).
    unsafe { Arc::increment_strong_count(data as *const Signal) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Signal>` pointer whose count this waker owns.
    unsafe { Arc::from_raw(data as *const Signal) }.wake();
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Signal>` pointer (see `signal_waker`).
    unsafe { &*(data as *const Signal) }.wake();
}

unsafe fn drop_signal(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Signal>` pointer whose count this waker owns.
    drop(unsafe { Arc::from_raw(data as *const Signal) });
}
