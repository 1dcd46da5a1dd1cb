//! paddock is a parallel, work-stealing async runtime whose tasks may borrow
//! from the caller's stack.
//!
//! `tokio::spawn` needs `'static` futures, because a spawned task may outlive
//! the function that spawned it. [`std::thread::scope`] solved that for OS
//! threads by not returning until every scoped thread has finished; paddock's
//! [`scope`] does the same for async tasks on a fixed pool of worker threads.
//! Tasks borrow `&T` and `&mut T` from the caller, with the borrow checker
//! fully at work and no `unsafe` in user code.
//!
//! ```
//! let urls = vec!["a.example", "b.example", "c.example"];
//! let mut sizes = vec![0; urls.len()];
//! paddock::scope(|s| {
//!     for (url, size) in urls.iter().zip(sizes.iter_mut()) {
//!         // `url` and `size` are borrows of the caller's locals.
//!         s.spawn(async move { *size = url.len() });
//!     }
//! });
//! assert_eq!(sizes, [9, 9, 9]);
//! ```
//!
//! # Semantics in brief
//!
//! - [`Runtime::scope`] returns only after every task spawned on the scope —
//!   by the closure or by its tasks — has completed or been cancelled, and
//!   its future has been dropped.
//! - A panic in a task is caught on the worker. Awaiting or joining its
//!   [`JoinHandle`] gives a [`JoinError`]; if nobody looks, the scope
//!   re-raises the first such panic once all its tasks are done.
//! - A paddock program deadlocks only if it would also deadlock with one OS
//!   thread per task (up to a thread cap, [`Builder::max_blocking_threads`]).
//!   A blocking wait ([`scope`], [`JoinHandle::join`], [`block_on`]) inside a
//!   task runs on top of itself only the tasks it waits for; when it has
//!   none left to run, its thread hands its worker role to another thread
//!   and parks, so the workers keep running. Nested scopes, waits across
//!   runtimes and thousands of blocked tasks complete, on one worker too.
//! - Workers run their tasks first in, first out, with bounded turns for
//!   woken tasks, yielded tasks and tasks from outside the pool.
//! - The free functions use the *current* runtime: inside a task, the
//!   task's own; inside [`Runtime::block_on`] or the closure of
//!   [`Runtime::scope`], that runtime; on a runtime's own thread, that one;
//!   anywhere else a global runtime built on first use with
//!   `PADDOCK_WORKER_THREADS` workers (default: one per CPU).
//! - Dropping a [`Runtime`] cancels its `'static` tasks that are not running;
//!   scoped tasks always run to their end.
//!
//! # Working with I/O and timers
//!
//! paddock has no reactor of its own. Futures that bring their own driver
//! work in its tasks as they are: `async-io` (`Timer`, `Async<T>`),
//! `async-net`, `async-channel`. tokio-based crates (tokio's sockets and
//! timers, reqwest, hyper) need a tokio context: wrap them in
//! `async_compat::Compat`, and create the tokio futures *inside* the wrapped
//! block. Blocking calls (`std::fs`, DNS lookups, `thread::sleep`) hold the
//! worker they run on: run them with [`Scope::spawn_blocking`], which may
//! borrow from the caller, or [`spawn_blocking`], and await the handle.
//! CPU-heavy work is what the workers are for.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let delays = [30, 10, 20];
//! let mut waited = [Duration::ZERO; 3];
//! paddock::scope(|s| {
//!     for (ms, waited) in delays.iter().zip(&mut waited) {
//!         s.spawn(async move {
//!             let start = Instant::now();
//!             async_io::Timer::after(Duration::from_millis(*ms)).await;
//!             *waited = start.elapsed();
//!         });
//!     }
//! });
//! assert!(delays.iter().zip(waited).all(|(ms, w)| w >= Duration::from_millis(*ms)));
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]

mod blocking;
mod compile_fail;
mod loom;
mod metrics;
mod runtime;
mod scheduler;
mod scope;
mod task;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use metrics::RuntimeMetrics;
pub use runtime::{Builder, Handle, Runtime};
pub use scope::Scope;
pub use task::{JoinError, JoinHandle};

/// Creates a scope on the current runtime, runs `f` in it, and returns only
/// after every task spawned on the scope has completed.
///
/// The current runtime is the one whose [`Runtime::block_on`] or
/// [`Runtime::scope`] this thread is in, else the worker's own inside a task,
/// else the global runtime. See [`Runtime::scope`] for the details.
///
/// # Panics
///
/// Resumes the closure's panic, or else the first unobserved task panic,
/// after every task has completed. Panics if the global runtime is needed and
/// `PADDOCK_WORKER_THREADS` is not a positive integer.
///
/// # Examples
///
/// ```
/// let config = String::from("shared configuration");
/// let mut results = [0usize; 4];
/// paddock::scope(|s| {
///     for (i, slot) in results.iter_mut().enumerate() {
///         let config = &config;
///         s.spawn(async move { *slot = config.len() * i });
///     }
/// });
/// assert_eq!(results, [0, 20, 40, 60]);
/// ```
pub fn scope<'env, F, R>(f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    runtime::with_current(|shared| scope::run_scope(shared, f))
}

/// Runs `future` to completion on the calling thread, on the current runtime.
///
/// Inside a task, the worker's role passes to another thread while the future
/// waits, so the other tasks keep running.
///
/// # Examples
///
/// ```
/// let sum = paddock::block_on(async {
///     let a = paddock::spawn(async { 1 });
///     let b = paddock::spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 3);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime::with_current(|shared| scheduler::block_on(shared, future))
}

/// Spawns a detached `'static` task on the current runtime.
///
/// # Examples
///
/// ```
/// let handle = paddock::spawn(async { vec![1, 2, 3].len() });
/// assert_eq!(handle.join().unwrap(), 3);
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<'static, F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime::with_current(|shared| runtime::spawn_on(shared, future))
}

/// Runs a `'static` blocking job on the current runtime's blocking pool; see
/// [`Runtime::spawn_blocking`].
///
/// # Examples
///
/// ```
/// let handle = paddock::spawn_blocking(|| std::env::current_dir().is_ok());
/// assert!(handle.join().unwrap());
/// ```
pub fn spawn_blocking<F, T>(job: F) -> JoinHandle<'static, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    runtime::with_current(|shared| {
        // SAFETY: no scope; the job and its output are 'static.
        unsafe { blocking::spawn_blocking_on(shared, std::ptr::null(), job) }
    })
}

/// Yields to the scheduler: every other task ready on this worker runs before
/// the caller resumes.
///
/// # Examples
///
/// ```
/// paddock::block_on(async {
///     for _ in 0..3 {
///         paddock::yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`]: pending once, then ready.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
///
/// let mut yielding = pin!(paddock::yield_now());
/// let mut cx = Context::from_waker(Waker::noop());
/// assert!(yielding.as_mut().poll(&mut cx).is_pending());
/// assert!(yielding.as_mut().poll(&mut cx).is_ready());
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // A wake during its own poll sends a task to the back of its worker's
        // queue, behind every other ready task.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
