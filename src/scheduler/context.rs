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
}

struct Context {
    thread: Cell<*const ThreadContext>,
    runtime: Cell<*const Shared>,
    task: Cell<*const Header>,
}

#[cfg(not(paddock_loom))]
std::thread_local! {
    static CONTEXT: Context = const {
        Context {
            thread: Cell::new(ptr::null()),
            runtime: Cell::new(ptr::null()),
            task: Cell::new(ptr::null()),
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
    };
}

/// Runs `f` with this thread's runtime-thread context, if it is one.
pub(crate) fn with_thread<R>(f: impl FnOnce(Option<&ThreadContext>) -> R) -> R {
    CONTEXT.with(|cx| {
        // SAFETY: `enter_thread` sets the pointer for exactly the lifetime of
        // the context, which lives on this thread's stack below every caller.
        f(unsafe { cx.thread.get().as_ref() })
    })
}

/// Runs `f` with this thread's context if it is a thread of `shared`.
pub(crate) fn with_thread_of<R>(shared: &Shared, f: impl FnOnce(Option<&ThreadContext>) -> R) -> R {
    with_thread(|cx| f(cx.filter(|cx| ptr::eq(&*cx.shared, shared))))
}

/// Makes this thread a runtime thread while `f` runs.
pub(crate) fn enter_thread<R>(cx: &ThreadContext, f: impl FnOnce() -> R) -> R {
    let _restore = Restore::new(|c| {
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

/// The task being polled on this thread, or null.
pub(crate) fn current_task() -> *const Header {
    CONTEXT.with(|cx| cx.task.get())
}

/// Runs a queued task with its own runtime current and itself as the task
/// being polled, then restores what was there: a task run by a waiting frame
/// must not see the frame's runtime (DESIGN §2).
pub(crate) fn run_task(task: Runnable) {
    let header = task.header();
    let (runtime, this) = (header.runtime_ptr(), header as *const Header);
    let _restore = Restore::new(|c| {
        (
            c.thread.get(),
            c.runtime.replace(runtime),
            c.task.replace(this),
        )
    });
    task.run();
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
