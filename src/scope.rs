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

use std::ptr::NonNull;

use crate::blocking::spawn_blocking_on;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use crate::scheduler::{self, Reason, Shared};
use crate::task::{
    allocate, cancel_all, drop_panic_payload, Header, JoinHandle, Notified, TaskList,
};

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

/// Who waits for a scope, and so how to wake it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Waiter {
    /// A thread of the scope's runtime, parked on its slot's parker.
    Slot(usize),
    /// Any other thread, on the runtime's condition variable for outsiders.
    External,
}

/// A pointer to the task that opened a scope.
struct Parent(Option<NonNull<Header>>);

// SAFETY: the pointer is only compared, and followed by `scheduler::wait`
// under the conditions it documents, to read fields that never change after
// the task is allocated; sharing it between threads shares nothing else.
unsafe impl Send for Parent {}
// SAFETY: as above.
unsafe impl Sync for Parent {}

/// The part of a scope that its tasks point to.
pub(crate) struct ScopeState {
    pending: AtomicUsize,
    waiter: Waiter,
    /// The task whose poll opened the scope, if any: the scope's place in
    /// the tree of tasks that waits walk (see `scheduler::wait`).
    parent: Parent,
    /// The first panic of a task whose handle was dropped unread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Set by `Scope::cancel`, under `waiting`'s lock.
    cancelled: AtomicBool,
    /// The scope's tasks that have returned `Pending` at least once and not
    /// completed: those that `cancel` must reach, since they may wait for a
    /// wake-up that never comes. A task that never waited is queued or
    /// running, and sees `cancelled` when it is next polled.
    waiting: Mutex<TaskList>,
}

impl ScopeState {
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        // Relaxed: the flag orders nothing. A poll that misses a concurrent
        // `cancel` lists its task under the lock below, which sees it; a
        // task spawned after `cancel` is queued, and polled, after it.
        self.cancelled.load(Relaxed)
    }

    /// Lists a task of this scope that returned `Pending`, unless the scope
    /// was cancelled (then returns false).
    ///
    /// # Safety
    ///
    /// `task` is a task of this scope, not listed, whose `RUNNING` the
    /// caller holds.
    pub(crate) unsafe fn list(&self, task: NonNull<Header>) -> bool {
        let mut waiting = self.waiting.lock();
        if self.cancelled.load(Relaxed) {
            return false;
        }
        // SAFETY: the lock is held; the task is alive and on no list.
        unsafe { waiting.push_front(task) };
        // SAFETY: the caller holds RUNNING, which owns `listed`.
        unsafe { task.as_ref() }
            .listed
            .with_mut(|listed| unsafe { *listed = true });
        true
    }

    /// Takes a completing task off the list.
    ///
    /// # Safety
    ///
    /// `task` is listed here, and the caller holds its `RUNNING`.
    pub(crate) unsafe fn unlist(&self, task: NonNull<Header>) {
        let mut waiting = self.waiting.lock();
        // SAFETY: the lock is held; the task is listed.
        unsafe { waiting.remove(task) };
        // SAFETY: the caller holds RUNNING, which owns `listed`.
        unsafe { task.as_ref() }
            .listed
            .with_mut(|listed| unsafe { *listed = false });
    }

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
            shared.wake_waiter(waiter);
        }
    }

    pub(crate) fn waiter(&self) -> Waiter {
        self.waiter
    }

    pub(crate) fn parent(&self) -> Option<NonNull<Header>> {
        self.parent.0
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

    pub(crate) fn is_done(&self) -> bool {
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

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Runs `job` on a thread of the runtime's blocking pool, never on a
    /// worker; it may borrow anything that outlives the scope, like a task.
    /// No other runtime offers blocking work that borrows from the caller's
    /// stack: the scope's join is what makes it sound.
    ///
    /// The handle is the same [`JoinHandle`] as a task's: await it from a
    /// task, [`join`](JoinHandle::join) it, or drop it (the scope waits for
    /// the job either way, and re-raises its panic if nobody looked).
    /// [`abort`](JoinHandle::abort) cancels a job that has not started; a
    /// job that has started runs to its end, since a thread cannot be
    /// interrupted. See [`Runtime::spawn_blocking`](crate::Runtime::spawn_blocking)
    /// for the pool's limits.
    ///
    /// # Examples
    ///
    /// File reads with `std::fs`, borrowing the paths from the caller:
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("paddock-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let paths: Vec<_> = (0..3).map(|i| dir.join(format!("{i}.txt"))).collect();
    /// for (i, path) in paths.iter().enumerate() {
    ///     std::fs::write(path, "x".repeat(i))?;
    /// }
    /// let sizes = paddock::scope(|s| {
    ///     let reads: Vec<_> = paths.iter().map(|path| s.spawn_blocking(move || std::fs::read(path))).collect();
    ///     reads.into_iter().map(|read| read.join().unwrap().map(|bytes| bytes.len())).collect::<Result<Vec<_>, _>>()
    /// })?;
    /// assert_eq!(sizes, [0, 1, 2]);
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_blocking<F, T>(&'scope self, job: F) -> JoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        // Relaxed: as in `spawn`.
        self.state.pending.fetch_add(1, Relaxed);
        // SAFETY: as in `spawn`: the scope waits for the job's completion,
        // and the job and its output borrow only what outlives 'scope.
        unsafe { spawn_blocking_on(self.shared, &self.state, job) }
    }

    /// Cancels every task of the scope that has not finished: a task that
    /// waits has its future dropped now, on this thread; a task that is
    /// running, when its poll returns; a task that is queued, instead of its
    /// next poll. Tasks spawned on the scope afterwards start cancelled.
    /// Blocking jobs that have started run to their end.
    ///
    /// The scope still waits for every future to be dropped before it
    /// returns the closure's value; handles of cancelled tasks report
    /// [`is_cancelled`](crate::JoinError::is_cancelled).
    ///
    /// # Examples
    ///
    /// The first error cancels the rest:
    ///
    /// ```
    /// use std::sync::Mutex;
    ///
    /// let first_error = Mutex::new(None);
    /// paddock::scope(|s| {
    ///     for i in 0..8 {
    ///         let first_error = &first_error;
    ///         s.spawn(async move {
    ///             if i == 3 {
    ///                 first_error.lock().unwrap().get_or_insert(format!("task {i} failed"));
    ///                 s.cancel();
    ///             } else {
    ///                 // Work that would go on for ever.
    ///                 std::future::pending::<()>().await;
    ///             }
    ///         });
    ///     }
    /// });
    /// assert_eq!(first_error.into_inner().unwrap().as_deref(), Some("task 3 failed"));
    /// ```
    pub fn cancel(&self) {
        let waiting = {
            let mut waiting = self.state.waiting.lock();
            self.state.cancelled.store(true, Relaxed);
            // SAFETY: the lock is held. The tasks stay listed: each takes
            // itself off as it completes.
            unsafe { waiting.referenced(false) }
        };
        cancel_all(waiting);
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
    let (slot, parent, entered) = scheduler::enter_scope(shared);
    let scope = Scope {
        state: ScopeState {
            pending: AtomicUsize::new(0),
            waiter: slot.map_or(Waiter::External, Waiter::Slot),
            parent: Parent(NonNull::new(parent.cast_mut())),
            panic: Mutex::new(None),
            cancelled: AtomicBool::new(false),
            waiting: Mutex::new(TaskList::new()),
        },
        shared,
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    drop(entered);
    // Invariant 4: the wait happens on every path, the closure's panic
    // included, and it cannot itself unwind: tasks run by a waiting frame
    // catch their own panics.
    scheduler::wait_scope(shared, &scope.state);
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
