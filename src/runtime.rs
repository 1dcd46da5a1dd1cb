//! `Runtime`, its `Builder`, and the global runtime behind the free functions.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use crate::blocking::spawn_blocking_on;
use crate::loom::sync::Arc;
use crate::metrics::RuntimeMetrics;
use crate::scheduler::{self, Reason, Shared, ThreadConfig};
use crate::scope::{run_scope, Scope};
use crate::task::{self, JoinHandle, Notified};

/// Stacks are large because a blocked thread runs the tasks it waits for on
/// top of its own frame: 200 nested scopes inside tasks must fit.
const DEFAULT_STACK_SIZE: usize = 16 * 1024 * 1024;

/// Threads beyond the workers: for blocking jobs, and for the work of a
/// worker whose thread waits (tokio's default cap for blocking threads).
const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;

/// How long a thread with nothing to do waits for work before it exits.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The environment variable that sizes the global runtime.
const WORKER_THREADS_ENV: &str = "PADDOCK_WORKER_THREADS";

/// A fixed pool of worker threads that run async tasks, stealing work from
/// each other.
///
/// Dropping the runtime cancels its `'static` tasks and blocking jobs that
/// have not started (their handles report
/// [`is_cancelled`](crate::JoinError::is_cancelled)); a task in the middle of
/// a poll finishes that poll, and is then cancelled if it is not done. Scoped
/// tasks are never cancelled by shutdown: a task blocked in a scope when the
/// runtime is dropped finishes that scope, every task of which runs to its
/// end, since the blocked frame's borrows depend on it. `drop` returns once
/// every thread of the runtime has exited. Dropped from one of its own
/// threads, the runtime cannot join that thread: it shuts down the same way,
/// and its threads exit by themselves once nothing runs.
///
/// # Examples
///
/// ```
/// use paddock::Runtime;
///
/// let rt = Runtime::builder().worker_threads(2).build()?;
/// let data = vec![1u64, 2, 3, 4, 5, 6];
/// let sum: u64 = rt.scope(|s| {
///     let halves: Vec<_> = data.chunks(3).map(|c| s.spawn(async move { c.iter().sum::<u64>() })).collect();
///     halves.into_iter().map(|h| h.join().unwrap()).sum()
/// });
/// assert_eq!(sum, 21);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// A runtime with one worker per CPU (`num_cpus::get()`).
    ///
    /// # Errors
    ///
    /// Returns the error of a worker thread that could not be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::new()?;
    /// assert_eq!(rt.num_workers(), num_cpus::get());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// A builder to choose the number of workers, their names and stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(3).build()?;
    /// assert_eq!(rt.num_workers(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The number of worker threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// assert_eq!(rt.num_workers(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn num_workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// Creates a scope for tasks that borrow from the caller, runs `f` in it,
    /// and returns only after every task spawned on the scope has completed.
    ///
    /// This is [`std::thread::scope`] for async tasks. Called on a worker of
    /// this runtime, the wait runs the scope's own tasks on top of itself
    /// while it can, and hands its worker role to another thread while it
    /// cannot, so nested scopes never deadlock; on any other thread it parks.
    ///
    /// # Panics
    ///
    /// If `f` panics, `scope` waits for every task, then resumes that panic.
    /// Otherwise, if a task whose handle was dropped unread panicked, `scope`
    /// resumes the first such panic, with its original payload, after every
    /// task has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(2).build()?;
    /// let mut pixels = vec![0u8; 1024];
    /// let brightness = 7;
    /// rt.scope(|s| {
    ///     for row in pixels.chunks_mut(256) {
    ///         s.spawn(async move { row.fill(brightness) });
    ///     }
    /// });
    /// assert!(pixels.iter().all(|&p| p == 7));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        run_scope(&self.shared, f)
    }

    /// Runs `future` to completion on the calling thread and returns its
    /// output. The future need not be `Send`; tasks it spawns with the free
    /// functions go to this runtime.
    ///
    /// Inside a task, the worker's role passes to another thread while the
    /// future waits; on any
    /// other thread it parks between polls.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let answer = rt.block_on(async {
    ///     let task = paddock::spawn(async { 40 });
    ///     task.await.unwrap() + 2
    /// });
    /// assert_eq!(answer, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        scheduler::block_on(&self.shared, future)
    }

    /// Spawns a detached `'static` task. Drop the handle to let it run on its
    /// own; dropping the runtime cancels it if it has not completed.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.spawn(async { "owned data only" });
    /// assert_eq!(handle.join().unwrap(), "owned data only");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<'static, F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, future)
    }
}

impl Runtime {
    /// Runs `job` on a thread of the runtime's blocking pool, never on a
    /// worker, and returns a handle to its output. For blocking calls
    /// (`std::fs`, a DNS lookup, a C library that sleeps) that would
    /// otherwise hold up a worker; see [`Scope::spawn_blocking`] for the
    /// form that borrows.
    ///
    /// Threads start on demand, up to
    /// [`Builder::max_blocking_threads`], and exit after
    /// [`Builder::thread_keep_alive`] idle. [`JoinHandle::abort`] cancels a
    /// job that has not started; a job that has started runs to its end.
    /// Dropping the runtime cancels the jobs that have not started and waits
    /// for those that have.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.spawn_blocking(|| std::fs::metadata(".").map(|m| m.is_dir()));
    /// assert!(handle.join().unwrap()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_blocking<F, T>(&self, job: F) -> JoinHandle<'static, T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: no scope; the job and its output are 'static.
        unsafe { spawn_blocking_on(&self.shared, std::ptr::null(), job) }
    }

    /// A handle to this runtime, to spawn on it or enter it from elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.handle();
    /// let answer = std::thread::spawn(move || handle.block_on(async { 6 * 7 })).join().unwrap();
    /// assert_eq!(answer, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// The runtime's counters; see [`RuntimeMetrics`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(2).build()?;
    /// assert_eq!(rt.metrics().num_workers(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.shared.clone())
    }
}

/// A cheap, clonable handle to a [`Runtime`], to spawn on it, block on it
/// or open scopes on it from anywhere.
///
/// A handle does not keep the runtime's threads alive: once the runtime is
/// dropped, what a handle spawns is cancelled at once (its `JoinHandle`
/// reports [`is_cancelled`](crate::JoinError::is_cancelled)), as on any
/// runtime that has shut down.
///
/// # Examples
///
/// ```
/// let rt = paddock::Runtime::builder().worker_threads(2).build()?;
/// let handle = rt.handle();
/// let from_a_thread = std::thread::spawn(move || {
///     let words = vec!["borrowed", "by", "tasks"];
///     handle.scope(|s| {
///         let lens: Vec<_> = words.iter().map(|w| s.spawn(async move { w.len() })).collect();
///         lens.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
///     })
/// });
/// assert_eq!(from_a_thread.join().unwrap(), 15);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// The handle of the current runtime: inside a task, the task's own
    /// runtime; inside [`Runtime::block_on`] or [`Runtime::scope`], that
    /// runtime; on a thread of a runtime, that one.
    ///
    /// # Panics
    ///
    /// Outside every runtime. The global runtime is not built for it: use
    /// [`try_current`](Self::try_current) to check.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let workers = rt.block_on(async { paddock::Handle::current().metrics().num_workers() });
    /// assert_eq!(workers, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Some(handle) => handle,
            None => panic!(
                "paddock::Handle::current() called outside of any paddock runtime \
                 (no task, block_on or scope of one is running on this thread)"
            ),
        }
    }

    /// The handle of the current runtime (see [`current`](Self::current)),
    /// or `None` outside every runtime. Never builds the global runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(paddock::Handle::try_current().is_none());
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// assert!(rt.block_on(async { paddock::Handle::try_current().is_some() }));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_current() -> Option<Handle> {
        scheduler::with_current_runtime(|shared| {
            shared.map(|shared| Handle {
                shared: shared.clone(),
            })
        })
    }

    /// Spawns a detached `'static` task; see [`Runtime::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.handle();
    /// assert_eq!(handle.spawn(async { 1 }).join().unwrap(), 1);
    /// drop(rt);
    /// // The runtime is gone: what the handle spawns now is cancelled.
    /// assert!(handle.spawn(async { 1 }).join().unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<'static, F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, future)
    }

    /// Runs a blocking job; see [`Runtime::spawn_blocking`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.handle();
    /// assert_eq!(handle.spawn_blocking(|| 2 + 2).join().unwrap(), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_blocking<F, T>(&self, job: F) -> JoinHandle<'static, T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: no scope; the job and its output are 'static.
        unsafe { spawn_blocking_on(&self.shared, std::ptr::null(), job) }
    }

    /// Runs `future` to completion on the calling thread; see
    /// [`Runtime::block_on`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// assert_eq!(rt.handle().block_on(async { 3 }), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        scheduler::block_on(&self.shared, future)
    }

    /// Opens a scope on the runtime; see [`Runtime::scope`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let mut total = 0;
    /// rt.handle().scope(|s| {
    ///     s.spawn(async { total += 5 });
    /// });
    /// assert_eq!(total, 5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        run_scope(&self.shared, f)
    }

    /// The runtime's counters; see [`RuntimeMetrics`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(2).build()?;
    /// assert_eq!(rt.handle().metrics().num_workers(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.shared.clone())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("num_workers", &self.shared.num_workers())
            .finish()
    }
}

/// Spawns a `'static` task on `shared`.
pub(crate) fn spawn_on<F>(shared: &Arc<Shared>, future: F) -> JoinHandle<'static, F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: no scope; the future and its output are 'static.
    let raw = unsafe { task::allocate(future, shared, std::ptr::null()) };
    // SAFETY: the queue's reference counted at allocation.
    let queued = unsafe { Notified::from_raw(raw) };
    if shared.owned.insert(raw) {
        shared.schedule(queued, Reason::Spawned);
    } else {
        // The runtime has shut down: dropping the unrun entry cancels it.
        shared.count_refused_spawn();
        drop(queued);
    }
    // SAFETY: the handle's reference counted at allocation; the output type
    // is `F::Output`.
    unsafe { JoinHandle::from_raw(raw) }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shared.begin_shutdown();
        let on_own_thread = scheduler::with_thread_of(&self.shared, |cx| cx.is_some());
        if on_own_thread {
            // Joining would wait for this very thread: the threads exit by
            // themselves once this one is idle too.
            return;
        }
        self.shared.join_threads();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("num_workers", &self.num_workers())
            .finish()
    }
}

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = paddock::Runtime::builder()
///     .worker_threads(2)
///     .thread_name(|i| format!("crunch-{i}"))
///     .stack_size(4 * 1024 * 1024)
///     .build()?;
/// let name = rt.scope(|s| s.spawn(async { std::thread::current().name().map(String::from) }).join());
/// assert!(name.unwrap().unwrap().starts_with("crunch-"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: Box<dyn Fn(usize) -> String + Send + Sync>,
    stack_size: usize,
    max_blocking_threads: usize,
    keep_alive: Duration,
    on_thread_start: Option<Box<dyn Fn() + Send + Sync>>,
    on_thread_stop: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            worker_threads: None,
            thread_name: Box::new(|index| format!("paddock-worker-{index}")),
            stack_size: DEFAULT_STACK_SIZE,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            keep_alive: DEFAULT_KEEP_ALIVE,
            on_thread_start: None,
            on_thread_stop: None,
        }
    }
}

impl Builder {
    /// A builder with the defaults; the same as [`Runtime::builder`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Builder::new().worker_threads(1).build()?;
    /// assert_eq!(rt.num_workers(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Sets the number of worker threads (default: `num_cpus::get()`).
    /// Zero makes [`build`](Self::build) fail.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(2).build()?;
    /// assert_eq!(rt.num_workers(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn worker_threads(mut self, count: usize) -> Self {
        self.worker_threads = Some(count);
        self
    }

    /// Names thread `i` by `name(i)` (default: `paddock-worker-{i}`). The
    /// workers are `0..n`; threads started later (blocking threads, and
    /// spares that take over a blocked worker's role) take the next free
    /// indices.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).thread_name(|i| format!("io-{i}")).build()?;
    /// let name = rt.spawn(async { std::thread::current().name().unwrap().to_owned() }).join();
    /// assert_eq!(name.unwrap(), "io-0");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(mut self, name: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        self.thread_name = Box::new(name);
        self
    }

    /// Sets the stack size in bytes of every thread the runtime starts
    /// (default: 16 MiB, reserved rather than committed by most systems). A
    /// blocking wait runs the tasks it waits for on the waiting thread's
    /// stack, so deep nesting needs room.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).stack_size(1 << 20).build()?;
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Caps the threads the runtime starts beyond its workers (default 512,
    /// as tokio's blocking pool). They run blocking jobs
    /// ([`Scope::spawn_blocking`](crate::Scope::spawn_blocking)), and they
    /// take over the worker role of a thread whose task blocks in a wait
    /// (`scope`, `join`, `block_on`), so that the workers keep running
    /// while it waits.
    ///
    /// Zero makes [`build`](Self::build) fail: jobs run only on these threads.
    ///
    /// At the cap, a job waits for a thread to come free, and a thread that
    /// blocks keeps its worker role: it runs only work that its wait
    /// depends on until its wait ends or a thread comes free. Concurrency
    /// drops meanwhile; a program that needs more threads than the cap blocked
    /// at once, each waiting for work that only another worker would run,
    /// waits until one of them returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).max_blocking_threads(4).build()?;
    /// let inner = rt.block_on(async { paddock::scope(|s| s.spawn(async { 7 }).join().unwrap()) });
    /// assert_eq!(inner, 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_blocking_threads(mut self, count: usize) -> Self {
        self.max_blocking_threads = count;
        self
    }

    /// How long a thread beyond the workers waits for work before it exits
    /// (default 10 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = paddock::Runtime::builder()
    ///     .worker_threads(1)
    ///     .thread_keep_alive(Duration::from_millis(100))
    ///     .build()?;
    /// assert_eq!(rt.block_on(async { 1 }), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Runs `hook` on every thread the runtime starts, workers and blocking
    /// threads alike, before it runs anything else: to pin the thread to a
    /// core, to set up thread-locals, or to enter another runtime's context
    /// (say, a tokio runtime's, so that tokio-based crates find a reactor
    /// without wrapping each future in `async_compat::Compat`). A panic in
    /// the hook is caught and dropped; the thread goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let rt = paddock::Runtime::builder()
    ///     .worker_threads(2)
    ///     .on_thread_start(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// rt.block_on(async {});
    /// drop(rt);
    /// assert!(started.load(Ordering::SeqCst) >= 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_start(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_thread_start = Some(Box::new(hook));
        self
    }

    /// Runs `hook` on every thread the runtime started, as its last act
    /// before it exits. A panic in the hook is caught and dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let counter = stopped.clone();
    /// let rt = paddock::Runtime::builder()
    ///     .worker_threads(2)
    ///     .on_thread_stop(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// drop(rt);
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_stop(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_thread_stop = Some(Box::new(hook));
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for zero workers or a zero
    /// [`max_blocking_threads`](Self::max_blocking_threads); the operating
    /// system's error, with the worker's index, if a thread cannot be spawned.
    /// Workers already started are shut down and joined before it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let error = paddock::Runtime::builder().worker_threads(0).build().unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        let workers = self.worker_threads.unwrap_or_else(num_cpus::get);
        if workers == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "paddock: a runtime needs at least one worker thread, got 0",
            ));
        }
        if self.max_blocking_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "paddock: max_blocking_threads must be at least 1: blocking jobs \
                 run only on threads beyond the workers",
            ));
        }
        let config = ThreadConfig {
            name: self.thread_name,
            stack_size: self.stack_size,
            keep_alive: self.keep_alive,
            max_blocking_threads: self.max_blocking_threads,
            on_start: self.on_thread_start,
            on_stop: self.on_thread_stop,
        };
        Ok(Runtime {
            shared: Shared::start(workers, config)?,
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("stack_size", &self.stack_size)
            .finish_non_exhaustive()
    }
}

/// Runs `f` with the runtime of this thread for the free functions: the
/// entered or current worker's runtime, else the global one.
pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> R {
    scheduler::with_current_runtime(|shared| match shared {
        Some(shared) => f(shared),
        None => f(&global().shared),
    })
}

fn global() -> &'static Runtime {
    static GLOBAL: OnceLock<Runtime> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let mut builder = Runtime::builder();
        if let Some(value) = std::env::var_os(WORKER_THREADS_ENV) {
            match value.to_str().and_then(|v| v.trim().parse::<usize>().ok()) {
                Some(count) if count > 0 => builder = builder.worker_threads(count),
                _ => panic!("{WORKER_THREADS_ENV} must be a positive integer, got {value:?}"),
            }
        }
        builder
            .build()
            .unwrap_or_else(|error| panic!("paddock: could not start the global runtime: {error}"))
    })
}
