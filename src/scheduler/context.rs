//! What this thread is to paddock: a worker (of which runtime), or a thread
//! inside some runtime's `block_on` or `scope`. The free functions use it to
//! find "the current runtime".

// loom's `thread_local!` (edition 2021 `expr` fragments) takes no `const`
// block initialisers, and the same declarations serve both builds.
#![allow(clippy::missing_const_for_thread_local)]

use std::cell::{Cell, RefCell};
use std::ptr;

use super::worker::WorkerContext;
use super::Shared;
use crate::loom::sync::Arc;
use crate::loom::thread::thread_local;

thread_local! {
    /// The context of the worker this thread is, if it is one.
    pub(super) static CURRENT: Cell<*const WorkerContext> = Cell::new(ptr::null());

    /// The runtime whose `block_on` or `scope` this non-worker thread is in.
    static ENTERED: RefCell<Option<Arc<Shared>>> = RefCell::new(None);
}

/// Runs `f` with this thread's worker context if it is a worker of `shared`.
pub(crate) fn with_current_of<R>(
    shared: &Shared,
    f: impl FnOnce(Option<&WorkerContext>) -> R,
) -> R {
    CURRENT.with(|current| {
        // SAFETY: `worker::run` sets the pointer for exactly the lifetime of
        // the context, which lives on this thread's stack.
        let cx = unsafe { current.get().as_ref() };
        f(cx.filter(|cx| ptr::eq(&*cx.shared, shared)))
    })
}

/// Runs `f` with the runtime that free functions use on this thread: the one
/// whose `block_on` or `scope` it is in (innermost first), else its worker's
/// own; `None` if neither.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Arc<Shared>>) -> R) -> R {
    // `try_with`: a thread-local destructor may call in after ENTERED is
    // gone; it has entered nothing then.
    if let Some(entered) = ENTERED
        .try_with(|entered| entered.borrow().clone())
        .ok()
        .flatten()
    {
        return f(Some(&entered));
    }
    CURRENT.with(|current| {
        // SAFETY: as in `with_current_of`.
        f(unsafe { current.get().as_ref() }.map(|cx| &cx.shared))
    })
}

/// Makes `shared` the current runtime of this thread while `f` runs.
pub(crate) fn enter<R>(shared: &Arc<Shared>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Shared>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = ENTERED.try_with(|entered| *entered.borrow_mut() = previous);
        }
    }
    // From a thread-local destructor that runs after ENTERED's, nothing can
    // be entered: `f` runs as on a thread outside any runtime.
    match ENTERED.try_with(|entered| entered.borrow_mut().replace(shared.clone())) {
        Ok(previous) => {
            let _restore = Restore(previous);
            f()
        }
        Err(_) => f(),
    }
}
