//! `Runtime`, its `Builder`, and the global runtime behind the free functions.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::OnceLock;

use crate::loom::sync::Arc;
use crate::loom::thread;
use crate::scheduler::{self, Reason, Shared};
use crate::scope::{run_scope, Scope};
use crate::task::{self, JoinHandle, Notified};

/// Worker stacks are large because a blocked worker runs other tasks on top
/// of its own frame: 200 nested scopes inside tasks must fit.
const DEFAULT_STACK_SIZE: usize = 16 * 1024 * 1024;

/// The environment variable that sizes the global runtime.
const WORKER_THREADS_ENV: &str = "PADDOCK_WORKER_THREADS";

/// A fixed pool of worker threads that run async tasks, stealing work from
/// each other.
///
/// Dropping the runtime cancels its pending `'static` tasks (their handles
/// report [`is_cancelled`](crate::JoinError::is_cancelled)) and joins its
/// threads. A task running when the runtime is dropped finishes its current
/// poll first, including any scope it is blocked in. Dropped from one of its
/// own workers, the runtime cannot join that thread: it shuts down the same
/// way, and the threads exit on their own.
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
    threads: Vec<thread::JoinHandle<()>>,
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
    /// this runtime, the wait keeps running other tasks, so nested scopes
    /// never deadlock; on any other thread it parks.
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
    /// On a worker of this runtime the wait keeps running other tasks; on any
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
        drop(queued);
    }
    // SAFETY: the handle's reference counted at allocation; the output type
    // is `F::Output`.
    unsafe { JoinHandle::from_raw(raw) }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shared.shut_down();
        let on_own_worker = scheduler::with_current_of(&self.shared, |cx| cx.is_some());
        if on_own_worker {
            // Joining would wait for this very thread: let the workers exit
            // by themselves instead.
            return;
        }
        for thread in self.threads.drain(..) {
            // A worker only panics through a bug in paddock, and then aborts.
            let _ = thread.join();
        }
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
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            worker_threads: None,
            thread_name: Box::new(|index| format!("paddock-worker-{index}")),
            stack_size: DEFAULT_STACK_SIZE,
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

    /// Names worker `i` by `name(i)` (default: `paddock-worker-{i}`).
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

    /// Sets each worker's stack size in bytes (default: 16 MiB, reserved
    /// rather than committed by most systems). Blocking waits run other tasks
    /// on the waiting worker's stack, so deep nesting needs room.
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

    /// Starts the worker threads.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for zero workers; the operating
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
        let (shared, locals) = Shared::new(workers);
        let mut runtime = Runtime {
            shared,
            threads: Vec::with_capacity(workers),
        };
        for (index, local) in locals.into_iter().enumerate() {
            let shared = runtime.shared.clone();
            runtime.shared.worker_started();
            let spawned = thread::Builder::new()
                .name((self.thread_name)(index))
                .stack_size(self.stack_size)
                .spawn(move || scheduler::run_worker(shared, index, local));
            match spawned {
                Ok(thread) => runtime.threads.push(thread),
                Err(error) => {
                    // The closure (and its `Arc`) was dropped with the error,
                    // so this worker never counts itself out.
                    runtime.shared.worker_exited();
                    drop(runtime);
                    return Err(io::Error::new(
                        error.kind(),
                        format!("paddock: could not spawn worker thread {index}: {error}"),
                    ));
                }
            }
        }
        Ok(runtime)
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
    scheduler::with_current(|shared| match shared {
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
