//! Scopes: a completion counter that `scope` waits on before it returns, and
//! the first task panic that nobody observed.
//!
//! The counter (`pending`) counts spawned tasks that have not completed. It is
//! incremented by `spawn` — by the scope's closure, or by a task of the scope,
//! which is itself still counted — so it cannot reach zero while anything that
//! could still spawn into the scope is running, except the closure itself,
//! which the owner runs to its end before it waits.
//!
//! A task completes in this order: its future is dropped, its output is stored
//! for the handle or, if the handle is gone, dropped; then it decrements the
//! counter (`task_done`). That decrement is its last access to anything the
//! scope owns (invariant 6): the owner may see zero, return and free the scope
//! at once, so the task reads which thread to wake *before* the decrement, and
//! wakes it through the runtime, which the task keeps alive itself. The
//! decrement is `Release` and the owner's check is `Acquire`, so everything
//! the tasks did happens-before `scope` returns.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use crate::scheduler::{enter, Reason, Shared, Waiter};
use crate::task::{allocate, drop_panic_payload, JoinHandle, Notified};

/// A scope to spawn tasks that may borrow data from outside it.
///
/// Made by [`Runtime::scope`](crate::Runtime::scope) or [`scope`](crate::scope).
/// Every task spawned on it has completed before the scope returns. As in
/// [`std::thread::Scope`], `'scope` is the lifetime of the scope itself and
/// `'env` that of the data the tasks borrow; both are invariant, so a task
/// cannot hand a sibling a borrow of its own locals.
///
/// # Examples
///
/// ```
/// let mut numbers = vec![1, 2, 3, 4];
/// let factor = 10;
/// paddock::scope(|s| {
///     for n in numbers.iter_mut() {
///         s.spawn(async { *n *= factor });
///     }
/// });
/// assert_eq!(numbers, [10, 20, 30, 40]);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    state: ScopeState,
    /// Borrowed from `run_scope`'s caller, which outlives the scope.
    shared: &'scope Arc<Shared>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The part of a scope that its tasks point to.
pub(crate) struct ScopeState {
    pending: AtomicUsize,
    waiter: Waiter,
    /// The first panic of a task whose handle was dropped unread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl ScopeState {
    /// Counts one task of this scope done: the caller's last access to it.
    ///
    /// # Safety
    ///
    /// `this` is the scope of a task that is completing, and this is that
    /// task's only call. `shared` is the scope's runtime, kept alive by the
    /// caller independently of the scope.
    pub(crate) unsafe fn task_done(this: *const ScopeState, shared: &Shared) {
        // SAFETY: the caller's task is still counted, so the scope is alive.
        let state = unsafe { &*this };
        let waiter = state.waiter;
        // Release: publishes the task's work (and the drop of its future and
        // output) to the owner's Acquire check. From here on the scope may be
        // gone: only `waiter` (copied) and `shared` (not the scope's) are used.
        if state.pending.fetch_sub(1, Release) == 1 {
            shared.wake_scope_waiter(waiter);
        }
    }

    /// Keeps `payload` if it is the first unobserved panic; drops it otherwise.
    pub(crate) fn record_panic(&self, payload: Box<dyn Any + Send>) {
        let mut slot = self.panic.lock();
        let later = if slot.is_none() {
            slot.replace(payload)
        } else {
            Some(payload)
        };
        drop(slot);
        if let Some(later) = later {
            drop_panic_payload(later);
        }
    }

    fn is_done(&self) -> bool {
        self.pending.load(Acquire) == 0
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a task on the scope's runtime. The task may borrow anything
    /// that outlives the scope, including the scope itself (to spawn more).
    ///
    /// The task starts at once on a worker. Await or
    /// [`join`](JoinHandle::join) the handle for its output, or drop the handle
    /// to detach the task: the scope waits for it either way, and re-raises
    /// its panic if it panics unobserved.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(2).build()?;
    /// let text = String::from("borrowed, not cloned");
    /// let words = rt.scope(|s| {
    ///     let handle = s.spawn(async { text.split(' ').count() });
    ///     rt.block_on(handle).unwrap()
    /// });
    /// assert_eq!(words, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&'scope self, future: F) -> JoinHandle<'scope, F::Output>
    where
        F: Future + Send + 'scope,
        F::Output: Send + 'scope,
    {
        // Relaxed: the caller is the closure or a counted task, either of
        // which keeps the counter above zero until after this increment.
        self.state.pending.fetch_add(1, Relaxed);
        // SAFETY: the scope does not return before this task's completion
        // decrements the counter just incremented (`run_scope` waits for zero
        // after the closure, on every path), and the future and its output
        // borrow only what outlives 'scope, which outlives the wait, as does
        // the runtime (`self.shared` is borrowed for 'scope).
        let raw = unsafe { allocate(future, self.shared, &self.state) };
        // SAFETY: the queue's reference counted at allocation.
        self.shared
            .schedule(unsafe { Notified::from_raw(raw) }, Reason::Spawned);
        // SAFETY: the handle's reference counted at allocation; the output
        // type is `F::Output`.
        unsafe { JoinHandle::from_raw(raw) }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("pending_tasks", &self.state.pending.load(Relaxed))
            .field("num_workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}

/// Runs `f` with a new scope on `shared`, then waits for all of its tasks.
pub(crate) fn run_scope<'env, F, R>(shared: &Arc<Shared>, f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let waiter = shared.current_waiter();
    let scope = Scope {
        state: ScopeState {
            pending: AtomicUsize::new(0),
            waiter,
            panic: Mutex::new(None),
        },
        shared,
        scope: PhantomData,
        env: PhantomData,
    };
    let run_closure = || panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let result = match waiter {
        Waiter::Worker(_) => run_closure(),
        Waiter::External => enter(shared, run_closure),
    };
    // Invariant 4: the wait happens on every path, the closure's panic
    // included, and it cannot itself unwind: tasks run by a helping worker
    // catch their own panics.
    shared.wait_as(waiter, || scope.state.is_done());
    let task_panic = scope.state.panic.lock().take();
    match result {
        Err(closure_panic) => {
            if let Some(task_panic) = task_panic {
                drop_panic_payload(task_panic);
            }
            panic::resume_unwind(closure_panic)
        }
        Ok(value) => match task_panic {
            Some(task_panic) => panic::resume_unwind(task_panic),
            None => value,
        },
    }
}
