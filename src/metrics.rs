//! `RuntimeMetrics`: what a runtime's workers and threads have done, read at
//! any time without stopping them.

use std::fmt;
use std::time::Duration;

use crate::loom::sync::Arc;
use crate::scheduler::Shared;

/// A view of a runtime's counters, named after tokio's `RuntimeMetrics`
/// where tokio has the same measure.
///
/// Each worker's counters are written only by the thread that holds that
/// worker's role, with no shared write on the path of a poll, and are read
/// here without synchronisation: a figure may lag by the work in flight.
/// Worker `i` is a role, not a thread: when a thread blocks in a wait, the
/// role, and its counters, pass to another thread (`worker_handoff_count`).
///
/// # Examples
///
/// ```
/// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(async {
///     paddock::spawn(async {
///         for _ in 0..3 {
///             paddock::yield_now().await;
///         }
///     })
///     .await
///     .unwrap();
/// });
/// let metrics = rt.metrics();
/// assert_eq!(metrics.num_workers(), 1);
/// // The task was polled four times: once, then after each yield.
/// assert_eq!(metrics.worker_poll_count(0), 4);
/// assert_eq!(metrics.num_alive_tasks(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    shared: Arc<Shared>,
}

impl RuntimeMetrics {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RuntimeMetrics { shared }
    }

    /// The number of workers: tasks run on at most this many threads at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(3).build()?;
    /// assert_eq!(rt.metrics().num_workers(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn num_workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// Tasks spawned (futures and blocking jobs, scoped or not) that have not
    /// completed yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// assert_eq!(rt.metrics().num_alive_tasks(), 1);
    /// handle.abort();
    /// assert_eq!(rt.metrics().num_alive_tasks(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        usize::try_from(self.shared.metrics.alive()).unwrap_or(usize::MAX)
    }

    /// Tasks waiting in the queue shared by all workers: those spawned or
    /// woken from threads outside the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {});
    /// assert_eq!(rt.metrics().global_queue_depth(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn global_queue_depth(&self) -> usize {
        self.shared.global_queue_depth()
    }

    /// The number of times worker `worker` has run a task: polled it, or
    /// dropped its future if it was aborted, in its main loop or in a frame
    /// that waits and runs the tasks it waits for.
    ///
    /// # Panics
    ///
    /// If `worker` is not less than `num_workers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.spawn(async {}).join().unwrap();
    /// assert_eq!(rt.metrics().worker_poll_count(0), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.shared.core_counters(worker).polls
    }

    /// The number of times worker `worker` took tasks from another worker.
    ///
    /// # Panics
    ///
    /// If `worker` is not less than `num_workers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// // One worker has no one to steal from.
    /// rt.scope(|s| for _ in 0..10 { s.spawn(async {}); });
    /// assert_eq!(rt.metrics().worker_steal_count(0), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.shared.core_counters(worker).steals
    }

    /// The number of times worker `worker` went to sleep for lack of work.
    ///
    /// # Panics
    ///
    /// If `worker` is not less than `num_workers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.spawn(async {}).join().unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(50));
    /// assert!(rt.metrics().worker_park_count(0) >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.shared.core_counters(worker).parks
    }

    /// The number of times a thread holding worker `worker`'s role blocked
    /// in a wait with nothing of its own to run, and handed the role to
    /// another thread. Each costs a thread wake-up (see the crate docs).
    ///
    /// # Panics
    ///
    /// If `worker` is not less than `num_workers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// // A task that blocks on another runtime's work hands its worker on.
    /// let other = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.spawn(async move { other.block_on(async { 1 }) }).join().unwrap();
    /// assert!(rt.metrics().worker_handoff_count(0) <= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn worker_handoff_count(&self, worker: usize) -> u64 {
        self.shared.core_counters(worker).handoffs
    }

    /// Tasks queued on worker `worker`, which other workers may take.
    ///
    /// # Panics
    ///
    /// If `worker` is not less than `num_workers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.block_on(async {});
    /// assert_eq!(rt.metrics().worker_local_queue_depth(0), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.shared.local_queue_depth(worker)
    }

    /// How long worker `worker` has been awake (running tasks or looking for
    /// them) in all, as of its last sleep.
    ///
    /// # Panics
    ///
    /// If `worker` is not less than `num_workers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.spawn(async { std::thread::sleep(std::time::Duration::from_millis(20)) }).join().unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(50));
    /// assert!(rt.metrics().worker_total_busy_duration(0) >= std::time::Duration::from_millis(20));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn worker_total_busy_duration(&self, worker: usize) -> Duration {
        Duration::from_nanos(self.shared.core_counters(worker).busy_nanos)
    }

    /// Threads the runtime runs besides its workers: spares that take over
    /// a worker's role, and threads that run blocking jobs, busy or idle.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.spawn_blocking(|| 1).join().unwrap();
    /// assert!(rt.metrics().num_blocking_threads() >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn num_blocking_threads(&self) -> usize {
        self.shared.pool_counts().0
    }

    /// Of those, the ones waiting for work.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.spawn_blocking(|| 1).join().unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(50));
    /// assert_eq!(rt.metrics().num_idle_blocking_threads(), rt.metrics().num_blocking_threads());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.shared.pool_counts().1
    }

    /// Blocking jobs waiting for a thread (only past `max_blocking_threads`).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// assert_eq!(rt.metrics().blocking_queue_depth(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn blocking_queue_depth(&self) -> usize {
        self.shared.pool_counts().2
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_alive_tasks", &self.num_alive_tasks())
            .field("global_queue_depth", &self.global_queue_depth())
            .finish_non_exhaustive()
    }
}
