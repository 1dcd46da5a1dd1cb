//! What this thread is to paddock, in one thread-local with no destructor
//! (so that it can be read from other thread-locals' destructors):
//!
//! - `thread`: the runtime thread this is, if it is one: its runtime, its
//!   parking slot and the core it holds, if any (`ThreadContext`).
//! - `runtime`: the current runtime of the free functions. A task's poll
//!   sets it to the task's own runtime, and `block_on` and `scope` to theirs,
//!   each restoring the previous one after, so whatever frames lie below on
//!   the thread, a task sees its own runtime (DESIGN §2).
//! - `task`: the task being polled on this thread, which a scope opened
//!   during that poll records as its parent (see `wait`).

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;
use std::ptr;

use super::core::Core;
use super::metrics::CoreCounters;
use super::wait::SignalSlot;
use super::Shared;
use crate::loom::sync::Arc;
use crate::task::{Header, Runnable};

/// A runtime thread: a worker holding a core, a spare waiting for one, or a
/// blocking thread. It lives on the thread's own stack for the thread's life.
pub(crate) struct ThreadContext {
    pub(crate) shared: Arc<Shared>,
    /// Index of this thread's parker in `Shared::parkers`.
    pub(crate) slot: usize,
    /// The worker role this thread holds, if any. Only this thread touches
    /// it; it is borrowed briefly to push or pop, never across a poll, so
    /// that a wait inside a poll can give the core away.
    pub(crate) core: RefCell<Option<Box<Core>>>,
    /// The signal of this thread's `block_on` and `join` waits.
    pub(crate) signal: SignalSlot,
    /// Set when a wait inside the poll this thread is running handed its
    /// core to another thread, until it holds one again or the poll ends:
    /// each wait that ends meanwhile tries to take one back (`wait`).
    pub(crate) core_lent: Cell<bool>,
}

struct Context {
    thread: Cell<*const ThreadContext>,
    runtime: Cell<*const Shared>,
    task: Cell<*const Header>,
    /// The core `thread.core` holds, if any: a copy that costs no borrow to
    /// read, kept by `set_core`, for a completing task's count.
    held: Cell<HeldCore>,
}

/// Which runtime's core a thread holds, and that core's counters.
#[derive(Clone, Copy)]
struct HeldCore {
    runtime: *const Shared,
    counters: *const CoreCounters,
}

impl HeldCore {
    const NONE: HeldCore = HeldCore {
        runtime: ptr::null(),
        counters: ptr::null(),
    };

    fn of(thread: &ThreadContext, core: Option<&Core>) -> HeldCore {
        match core {
            Some(core) => HeldCore {
                runtime: Arc::as_ptr(&thread.shared),
                counters: &**core.counters,
            },
            None => HeldCore::NONE,
        }
    }
}

#[cfg(not(paddock_loom))]
std::thread_local! {
    static CONTEXT: Context = const {
        Context {
            thread: Cell::new(ptr::null()),
            runtime: Cell::new(ptr::null()),
            task: Cell::new(ptr::null()),
            held: Cell::new(HeldCore::NONE),
        }
    };
}

// loom's `thread_local!` takes no `const` initialiser.
#[cfg(paddock_loom)]
loom::thread_local! {
    static CONTEXT: Context = Context {
        thread: Cell::new(ptr::null()),
        runtime: Cell::new(ptr::null()),
        task: Cell::new(ptr::null()),
        held: Cell::new(HeldCore::NONE),
    };
}

/// Runs `f` with this thread's runtime-thread context, if it is one.
#[inline]
pub(crate) fn with_thread<R>(f: impl FnOnce(Option<&ThreadContext>) -> R) -> R {
    CONTEXT.with(|cx| {
        // SAFETY: `enter_thread` sets the pointer for exactly the lifetime of
        // the context, which lives on this thread's stack below every caller.
        f(unsafe { cx.thread.get().as_ref() })
    })
}

/// Runs `f` with this thread's context if it is a thread of `shared`.
#[inline]
pub(crate) fn with_thread_of<R>(shared: &Shared, f: impl FnOnce(Option<&ThreadContext>) -> R) -> R {
    with_thread(|cx| f(cx.filter(|cx| ptr::eq(&*cx.shared, shared))))
}

impl ThreadContext {
    /// Gives the thread `core`, or takes its core away (`None`); the only
    /// way `core` changes, so that `held_core_counters` stays right.
    pub(crate) fn set_core(&self, core: Option<Box<Core>>) -> Option<Box<Core>> {
        if core.is_some() {
            self.core_lent.set(false);
        }
        let held = HeldCore::of(self, core.as_deref());
        CONTEXT.with(|cx| cx.held.set(held));
        std::mem::replace(&mut *self.core.borrow_mut(), core)
    }
}

/// The counters of the core this thread holds, if it holds one of
/// `shared`'s: two reads of the thread-local, no borrow.
#[inline]
pub(crate) fn held_core_counters(shared: &Shared) -> Option<&CoreCounters> {
    CONTEXT.with(|cx| {
        let held = cx.held.get();
        // SAFETY: `held` names a core that this thread holds now (`set_core`
        // sets it, and `enter_thread` clears it when the thread stops being
        // a runtime thread). Its counters belong to `held.runtime`, which is
        // `shared` here, and whose metrics keep every core's counters for
        // as long as `shared` is borrowed.
        ptr::eq(held.runtime, shared).then(|| unsafe { &*held.counters })
    })
}

/// Makes this thread a runtime thread while `f` runs.
pub(crate) fn enter_thread<R>(cx: &ThreadContext, f: impl FnOnce() -> R) -> R {
    let _forget_core = ForgetHeldCore;
    let _restore = Restore::new(|c| {
        c.held.set(HeldCore::of(cx, cx.core.borrow().as_deref()));
        (
            c.thread.replace(cx),
            c.runtime.replace(Arc::as_ptr(&cx.shared)),
            c.task.get(),
        )
    });
    f()
}

/// Runs `f` with the current runtime, if any (see the module docs).
pub(crate) fn with_current_runtime<R>(f: impl FnOnce(Option<&Arc<Shared>>) -> R) -> R {
    let current = CONTEXT.with(|cx| cx.runtime.get());
    if current.is_null() {
        return f(None);
    }
    // SAFETY: the pointer came from `Arc::as_ptr`, and the runtime is alive
    // while it is current: a runtime thread holds it, and `block_on` and
    // `scope` borrow it for as long as they keep it current. The `Arc` made
    // here is never dropped, so the count is unchanged.
    let shared = ManuallyDrop::new(unsafe { Arc::from_raw(current) });
    f(Some(&shared))
}

/// Makes `shared` the current runtime while `f` runs.
pub(crate) fn enter_runtime<R>(shared: &Arc<Shared>, f: impl FnOnce() -> R) -> R {
    let _restore = Restore::new(|c| {
        (
            c.thread.get(),
            c.runtime.replace(Arc::as_ptr(shared)),
            c.task.get(),
        )
    });
    f()
}

/// What a scope opened on this thread records about it: the thread's
/// parker slot if it is a thread of `shared` (else it waits with the
/// threads outside), and the task being polled, if any, as the scope's
/// parent. Makes `shared` the current runtime until the result is dropped.
pub(crate) fn enter_scope(shared: &Arc<Shared>) -> (Option<usize>, *const Header, impl Drop) {
    CONTEXT.with(|cx| {
        // SAFETY: as in `with_thread`.
        let thread = unsafe { cx.thread.get().as_ref() };
        let slot = thread
            .filter(|thread| ptr::eq(&*thread.shared, &**shared))
            .map(|thread| thread.slot);
        let task = cx.task.get();
        let restore = Restore {
            previous: (
                cx.thread.get(),
                cx.runtime.replace(Arc::as_ptr(shared)),
                task,
            ),
        };
        (slot, task, restore)
    })
}

/// Runs a queued task with its own runtime current and itself as the task
/// being polled, then restores what was there: a task run by a waiting frame
/// must not see the frame's runtime (DESIGN §2).
#[inline]
pub(crate) fn run_task(task: Runnable) {
    let header = task.header();
    let (runtime, this) = (header.runtime_ptr(), header as *const Header);
    let _restore = CONTEXT.with(|c| RestoreTask {
        runtime: c.runtime.replace(runtime),
        task: c.task.replace(this),
    });
    task.run();
}

/// Puts back the current runtime and task when dropped, even by a panic.
struct RestoreTask {
    runtime: *const Shared,
    task: *const Header,
}

impl Drop for RestoreTask {
    fn drop(&mut self) {
        CONTEXT.with(|cx| {
            cx.runtime.set(self.runtime);
            cx.task.set(self.task);
        });
    }
}

/// Clears `held` when the thread stops being a runtime thread, even by a
/// panic, so that no count outlives the core (or the runtime) it names.
struct ForgetHeldCore;

impl Drop for ForgetHeldCore {
    fn drop(&mut self) {
        CONTEXT.with(|cx| cx.held.set(HeldCore::NONE));
    }
}

/// Puts back the context's previous values when dropped, even by a panic.
struct Restore {
    previous: (*const ThreadContext, *const Shared, *const Header),
}

impl Restore {
    /// `set` changes the context and returns its previous values.
    fn new(
        set: impl FnOnce(&Context) -> (*const ThreadContext, *const Shared, *const Header),
    ) -> Self {
        Restore {
            previous: CONTEXT.with(set),
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let (thread, runtime, task) = self.previous;
        CONTEXT.with(|cx| {
            cx.thread.set(thread);
            cx.runtime.set(runtime);
            cx.task.set(task);
        });
    }
}
