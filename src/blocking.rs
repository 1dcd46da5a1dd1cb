//! Blocking work as a task: a closure run once, on a thread of the
//! runtime's pool that holds no worker role (`scheduler::pool`), so that a
//! blocking call never holds up the workers.
//!
//! A job is an ordinary task whose future calls the closure on its first
//! poll. It gets a `JoinHandle` like any task, its panic is caught the same
//! way, a scoped job is counted by its scope, and `abort` claims a job that
//! has not started, exactly as it claims a task that is not running. A job
//! that has started cannot be interrupted: it runs to its end, and its
//! handle then gives its output.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::sync::Arc;
use crate::scheduler::Shared;
use crate::scope::ScopeState;
use crate::task::{allocate, JoinHandle, Notified};

/// The future of a blocking job.
struct BlockingTask<F>(Option<F>);

// The closure is never pinned: it is moved out whole to be called.
impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> T, T> Future for BlockingTask<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        let job = self
            .0
            .take()
            .expect("a blocking job is polled once: it never returns Pending");
        Poll::Ready(job())
    }
}

/// Queues `job` on `shared`'s blocking pool.
///
/// # Safety
///
/// As for `task::allocate`: if `scope` is not null, it outlives the job,
/// and so does everything the job and its output borrow.
pub(crate) unsafe fn spawn_blocking_on<'a, F, T>(
    shared: &Arc<Shared>,
    scope: *const ScopeState,
    job: F,
) -> JoinHandle<'a, T>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    // SAFETY: forwarded from the caller.
    let raw = unsafe { allocate(BlockingTask(Some(job)), shared, scope) };
    // SAFETY: the queue's reference counted at allocation.
    let queued = unsafe { Notified::from_raw(raw) };
    // A `'static` job is listed, so that dropping the runtime cancels it if
    // it has not started; a scoped one is waited for by its scope.
    if scope.is_null() && !shared.owned.insert(raw) {
        // The runtime has shut down: dropping the unrun entry cancels it.
        shared.count_refused_spawn();
        drop(queued);
    } else {
        Shared::submit_blocking(shared, queued);
    }
    // SAFETY: the handle's reference counted at allocation; the output type
    // is `T`.
    unsafe { JoinHandle::from_raw(raw) }
}
