//! Helpers shared by the integration tests.
//!
//! Every test that could hang runs its body under [`watchdog`], so that a
//! deadlock or a lost wake-up fails within seconds and names the test,
//! instead of stalling `cargo test` forever.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io::Read;
use std::ops::Deref;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use paddock::{JoinError, JoinHandle, Runtime};

/// The time limit used by most tests. Every test finishes in well under a
/// second when the runtime is healthy; the limit only decides how soon a hang
/// is reported.
pub const LIMIT: u64 = 10;

/// The environment variable that multiplies every watchdog's limit: a slow
/// host (valgrind runs the tests 20–50× slower) sets it, so that slowness is
/// not mistaken for a hang. Default 1.
pub const WATCHDOG_SCALE_ENV: &str = "PADDOCK_WATCHDOG_SCALE";

/// `secs`, times `PADDOCK_WATCHDOG_SCALE`.
pub fn scaled_secs(secs: u64) -> u64 {
    let scale = std::env::var(WATCHDOG_SCALE_ENV)
        .ok()
        .and_then(|value| value.trim().parse::<u64>().ok())
        .filter(|&scale| scale > 0)
        .unwrap_or(1);
    secs.saturating_mul(scale)
}

/// Runs `f` on a fresh thread and returns its result, or panics with a message
/// naming `name` if it has not finished within `secs` seconds (times
/// `PADDOCK_WATCHDOG_SCALE`).
///
/// A panic inside `f` is resumed on the calling thread with its original
/// payload. On a timeout the stuck thread is leaked; the test binary exits
/// anyway once the harness is done.
pub fn watchdog<T: Send + 'static>(
    secs: u64,
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    quiet_expected_panics();
    let secs = scaled_secs(secs);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let body = thread::Builder::new()
        .name(format!("watchdog:{name}"))
        .spawn(move || {
            // Dropped when `f` returns or unwinds, which wakes the watcher.
            let _done = done_tx;
            f()
        })
        .expect("watchdog: cannot spawn the test thread");
    match done_rx.recv_timeout(Duration::from_secs(secs)) {
        Err(RecvTimeoutError::Timeout) => panic!(
            "watchdog: `{name}` did not finish within {secs} s \
             (deadlock, lost wake-up or a wait that never ends)"
        ),
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match body.join() {
            Ok(value) => value,
            Err(payload) => panic::resume_unwind(payload),
        },
    }
}

/// What a long test has done so far, for [`progress_watchdog`].
#[derive(Debug, Default)]
pub struct Progress {
    steps: AtomicUsize,
    note: Mutex<String>,
}

impl Progress {
    /// Counts one step: a round done, a batch of tasks run.
    pub fn step(&self) {
        self.steps.fetch_add(1, SeqCst);
    }

    /// Counts one step and says where the test is, for the failure message.
    pub fn step_at(&self, note: impl Into<String>) {
        *self.note.lock().unwrap() = note.into();
        self.step();
    }
}

/// Like [`watchdog`], but for long, looping tests whose run time depends on
/// the machine (valgrind, a loaded CI host): `f` reports its steps in a
/// [`Progress`], and the test fails only if `stall_secs` pass without one.
/// A slow run passes; a stuck one fails, with the last step's note.
pub fn progress_watchdog<T: Send + 'static>(
    stall_secs: u64,
    name: &str,
    f: impl FnOnce(&Progress) -> T + Send + 'static,
) -> T {
    quiet_expected_panics();
    let stall_secs = scaled_secs(stall_secs);
    let progress = Arc::new(Progress::default());
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let body = {
        let progress = Arc::clone(&progress);
        thread::Builder::new()
            .name(format!("watchdog:{name}"))
            .spawn(move || {
                // Dropped when `f` returns or unwinds, which wakes the watcher.
                let _done = done_tx;
                f(&progress)
            })
            .expect("watchdog: cannot spawn the test thread")
    };
    let started = Instant::now();
    let (mut last_steps, mut last_change) = (0, Instant::now());
    loop {
        match done_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let steps = progress.steps.load(SeqCst);
        if steps != last_steps {
            (last_steps, last_change) = (steps, Instant::now());
        } else if last_change.elapsed() >= Duration::from_secs(stall_secs) {
            panic!(
                "watchdog: `{name}` made no progress for {stall_secs} s (deadlock, lost \
                 wake-up or a wait that never ends); {steps} steps in {:.0} s, the last at: {}",
                started.elapsed().as_secs_f64(),
                progress.note.lock().unwrap()
            );
        }
    }
    match body.join() {
        Ok(value) => value,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Installs, once per test binary, a panic hook that stays silent for the
/// panics the tests provoke on purpose (payload types [`Payload`] and
/// [`Bomb`]) and defers
/// to the default hook for every other panic.
///
/// Printing a backtrace (`RUST_BACKTRACE=1`) for each provoked panic floods
/// the output and takes long enough to hide the timing of a bug: a scope that
/// returns too early would find its tasks finished anyway.
pub fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            if !payload.is::<Payload>() && !payload.is::<Bomb>() {
                default(info);
            }
        }));
    });
}

/// A runtime with `n` workers.
pub fn rt(n: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(n)
        .build()
        .expect("building a runtime")
}

/// A runtime with `workers` workers and at most `max_blocking_threads`
/// threads besides (`Builder::max_blocking_threads`).
pub fn capped_rt(workers: usize, max_blocking_threads: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .max_blocking_threads(max_blocking_threads)
        .build()
        .expect("building a runtime")
}

/// Runs one task per worker of `rt`, each blocking its worker until all of
/// them have arrived: this returns only if every worker is alive and each
/// sleeping worker was woken for its task (else the caller's watchdog fires).
pub fn every_worker_runs_at_once(rt: &Runtime) {
    let workers = rt.num_workers();
    let barrier = std::sync::Barrier::new(workers);
    rt.scope(|s| {
        for _ in 0..workers {
            drop(s.spawn(async {
                barrier.wait();
            }));
        }
    });
}

/// A runtime with `n` workers named `{prefix}{index}`.
pub fn named_rt(n: usize, prefix: &str) -> Runtime {
    let prefix = prefix.to_owned();
    Runtime::builder()
        .worker_threads(n)
        .thread_name(move |i| format!("{prefix}{i}"))
        .build()
        .expect("building a runtime")
}

/// The name of the current thread, or `"<unnamed>"`.
pub fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// A panic payload with an identity, so a test can tell whose panic it got.
#[derive(Debug, PartialEq, Eq)]
pub struct Payload(pub u32);

/// Panics with `Payload(n)`. Typed as returning `u32` so it fits any task.
pub fn boom(n: u32) -> u32 {
    panic::panic_any(Payload(n))
}

/// Extracts the number from a `Payload`, failing the test on any other type.
pub fn payload_of(payload: Box<dyn std::any::Any + Send>) -> u32 {
    match payload.downcast::<Payload>() {
        Ok(p) => p.0,
        Err(other) => panic!("expected a Payload panic, got {:?}", panic_message(&*other)),
    }
}

/// The text of a panic payload: a `&str` or a `String` (what `panic!`
/// makes), else `"<non-string payload>"`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string payload>".into())
}

/// The value of a task's `Result`, or its panic resumed on this thread with
/// its own payload (so that an assertion inside a task fails the test with
/// its message). A cancelled task panics here.
pub fn unwrap_or_resume<T>(result: Result<T, JoinError>) -> T {
    result.unwrap_or_else(|e| panic::resume_unwind(e.into_panic()))
}

/// `JoinHandle::join`, resuming a task's panic with its own payload; see
/// [`unwrap_or_resume`].
pub fn join<T>(handle: JoinHandle<'_, T>) -> T {
    unwrap_or_resume(handle.join())
}

/// Whether a task's result is `Err` with a cancelled `JoinError`.
pub fn is_cancelled<T>(result: &Result<T, JoinError>) -> bool {
    matches!(result, Err(error) if error.is_cancelled())
}

/// Increments a borrowed counter when dropped.
#[derive(Debug)]
pub struct CountDrop<'a>(pub &'a AtomicUsize);

impl Drop for CountDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Sets a borrowed flag when dropped.
#[derive(Debug)]
pub struct SetOnDrop<'a>(pub &'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// A future that owns `guard` until the runtime drops the future itself.
///
/// An `async` block drops its locals when it completes, inside its last poll;
/// a guard held here is dropped only with the future, which is what a test of
/// the runtime's drop order needs.
pub struct Guarded<F: Future, G> {
    pub future: Pin<Box<F>>,
    pub guard: G,
}

impl<F: Future, G> Guarded<F, G> {
    pub fn new(future: F, guard: G) -> Self {
        Guarded {
            future: Box::pin(future),
            guard,
        }
    }
}

impl<F: Future, G: Unpin> Future for Guarded<F, G> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.future.as_mut().poll(cx)
    }
}

/// Panics with `Payload(n)` when dropped (unless already unwinding).
#[derive(Debug)]
pub struct PanicOnDrop(pub u32);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic::panic_any(Payload(self.0));
        }
    }
}

/// A future that completes once `ms` milliseconds have passed, woken by a
/// plain OS thread: the way a reactor or a timer wakes a task from outside the
/// runtime.
pub fn sleep(ms: u64) -> Sleep {
    Sleep { ms, shared: None }
}

/// Whether the time is up, and the waker to call when it is.
type SleepState = Arc<Mutex<(bool, Option<Waker>)>>;

#[derive(Debug)]
pub struct Sleep {
    ms: u64,
    shared: Option<SleepState>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let ms = self.ms;
        let shared = self.shared.get_or_insert_with(|| {
            let shared = Arc::new(Mutex::new((false, None::<Waker>)));
            let timer = Arc::clone(&shared);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(ms));
                let waker = {
                    let mut state = timer.lock().unwrap();
                    state.0 = true;
                    state.1.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            });
            shared
        });
        let mut state = shared.lock().unwrap();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// A one-shot async event: tasks wait for it, anyone may set it.
#[derive(Debug, Default)]
pub struct Event {
    state: Mutex<(bool, Vec<Waker>)>,
}

impl Event {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self) {
        let wakers = {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            std::mem::take(&mut state.1)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    pub fn is_set(&self) -> bool {
        self.state.lock().unwrap().0
    }

    pub fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            let mut state = self.state.lock().unwrap();
            if state.0 {
                Poll::Ready(())
            } else {
                state.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// Sleeps in 1 ms steps until `cond` holds. Only for waiting on something
/// that is certain to happen; the surrounding watchdog bounds it.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        thread::sleep(Duration::from_millis(1));
    }
}

/// A door that threads wait at until someone opens it: a plain blocking wait
/// (a `Mutex<bool>` and a `Condvar`) that holds its thread, for blocking jobs
/// and outside threads. Once open, it stays open.
#[derive(Debug, Default)]
pub struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    /// Blocks the calling thread until the gate is open.
    pub fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    /// Opens the gate, waking every thread that waits at it.
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

// ---------------------------------------------------------------------------
// Child processes: a test that may abort, overflow its stack or hang runs in
// a child process (this test binary again, running one ignored test), so
// that its failure is an exit status here, not the end of the test binary.
// ---------------------------------------------------------------------------

/// A command that runs this test binary again, running only the ignored
/// test `test` (`--exact --ignored --nocapture`). The caller adds arguments
/// and environment variables (the one that selects the case), then passes
/// it to [`run_child`].
pub fn child_test(test: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([test, "--exact", "--ignored", "--nocapture"]);
    command
}

/// How a child process ended and what it wrote; see [`run_child`].
#[derive(Debug)]
pub struct ChildRun {
    /// Its exit status (a SIGKILL where `killed`).
    pub status: ExitStatus,
    /// Whether it was still running at the deadline, and so killed.
    pub killed: bool,
    pub stdout: String,
    pub stderr: String,
}

impl ChildRun {
    /// Its stdout, then its stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `command` (see [`child_test`]) with its stdout and stderr captured,
/// each read by a thread of its own so that neither pipe fills up and stalls
/// the child, and kills it if it is still running after `secs` seconds
/// (times `PADDOCK_WATCHDOG_SCALE`, which the child inherits too).
pub fn run_child(command: &mut Command, secs: u64) -> ChildRun {
    let secs = scaled_secs(secs);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the child test process");
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (status, killed) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, false);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break (child.wait().unwrap(), true);
        }
        thread::sleep(Duration::from_millis(2));
    };
    ChildRun {
        status,
        killed,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// How a child ended, in words that follow "the child": an exit code, or
/// the signal that killed it.
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(6)) => "was killed by SIGABRT (the process aborted)".into(),
        (_, Some(signal)) => format!("was killed by signal {signal}"),
        (Some(code), _) => format!("exited with code {code}"),
        _ => format!("ended with {status}"),
    }
}

// ---------------------------------------------------------------------------
// Stress helpers (tests/stress*.rs): sizes, thread accounting, and futures
// that count their own life cycle.
// ---------------------------------------------------------------------------

/// The environment variable that scales the stress suites' sizes.
pub const STRESS_SCALE_ENV: &str = "PADDOCK_STRESS_SCALE";

/// The environment variable that sets how long the soak test runs.
pub const SOAK_SECS_ENV: &str = "PADDOCK_SOAK_SECS";

/// The size factor of the stress suites: `PADDOCK_STRESS_SCALE`, a positive
/// number, default 1. `scripts/valgrind` sets it below 1.
pub fn stress_scale() -> f64 {
    match std::env::var(STRESS_SCALE_ENV) {
        Err(std::env::VarError::NotPresent) => 1.0,
        Ok(value) => match value.trim().parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => scale,
            _ => panic!("{STRESS_SCALE_ENV} must be a positive number, got {value:?}"),
        },
        Err(error) => panic!("{STRESS_SCALE_ENV}: {error}"),
    }
}

/// `n` scaled by `scale`, rounded, and at least 1.
pub fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

/// How long the soak test runs: `PADDOCK_SOAK_SECS`, default 3600.
pub fn soak_secs() -> u64 {
    match std::env::var(SOAK_SECS_ENV) {
        Err(std::env::VarError::NotPresent) => 3600,
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SOAK_SECS_ENV} must be a whole number, got {value:?}")),
        Err(error) => panic!("{SOAK_SECS_ENV}: {error}"),
    }
}

/// A thread-name prefix no other runtime of this process uses, such as
/// `mil3-`. Linux keeps 15 bytes of a thread's name, so keep `tag` short.
pub fn unique_prefix(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let prefix = format!("{tag}{}-", NEXT.fetch_add(1, SeqCst));
    assert!(
        prefix.len() <= 12,
        "thread-name prefix {prefix:?} is too long"
    );
    prefix
}

/// The names of this process's threads that start with `prefix`, as
/// `/proc/self/task/*/comm` has them. `None` where there is no `/proc`.
pub fn threads_named(prefix: &str) -> Option<Vec<String>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut names: Vec<String> = tasks
        .filter_map(|entry| {
            // A thread may exit between the listing and the read.
            let comm = std::fs::read_to_string(entry.ok()?.path().join("comm")).ok()?;
            Some(comm.trim_end().to_owned())
        })
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    Some(names)
}

/// Asserts that `count` threads named `{prefix}*` are running, allowing a
/// just-started thread a moment to name itself.
pub fn assert_thread_count(prefix: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let Some(names) = threads_named(prefix) else {
            return;
        };
        if names.len() == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} threads named {prefix}*, found {names:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Asserts that no thread named `{prefix}*` is left. A joined thread can
/// linger in `/proc` for a moment after `join` returns, so this allows a
/// grace period; a leaked worker never goes.
pub fn assert_threads_gone(prefix: &str) {
    assert_thread_count(prefix, 0);
}

/// Life-cycle counters shared by many [`Tracked`] futures.
#[derive(Default)]
pub struct Counts {
    /// Futures constructed.
    pub created: AtomicUsize,
    /// Futures dropped.
    pub dropped: AtomicUsize,
    /// Calls to `poll`.
    pub polls: AtomicUsize,
    /// Polls that returned `Ready`.
    pub completed: AtomicUsize,
    /// Polls that panicked.
    pub panicked: AtomicUsize,
    /// Futures dropped before they completed or panicked: cancelled.
    pub cancelled: AtomicUsize,
    /// Polls that began while another poll of the same future was running.
    pub overlaps: AtomicUsize,
    /// Polls after the future had returned `Ready` or panicked.
    pub polled_after_end: AtomicUsize,
}

/// A copy of [`Counts`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub created: usize,
    pub dropped: usize,
    pub polls: usize,
    pub completed: usize,
    pub panicked: usize,
    pub cancelled: usize,
    pub overlaps: usize,
    pub polled_after_end: usize,
}

impl Counts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn tally(&self) -> Tally {
        Tally {
            created: self.created.load(SeqCst),
            dropped: self.dropped.load(SeqCst),
            polls: self.polls.load(SeqCst),
            completed: self.completed.load(SeqCst),
            panicked: self.panicked.load(SeqCst),
            cancelled: self.cancelled.load(SeqCst),
            overlaps: self.overlaps.load(SeqCst),
            polled_after_end: self.polled_after_end.load(SeqCst),
        }
    }

    /// Asserts that exactly `created` futures were made and that each one
    /// was dropped once and ended once (completed, panicked or cancelled),
    /// polled by one thread at a time and never after its end. Returns the
    /// tally for more specific checks.
    #[track_caller]
    pub fn assert_settled(&self, what: &str, created: usize) -> Tally {
        let t = self.tally();
        assert_eq!(t.created, created, "{what}: futures created; {t:?}");
        assert_eq!(t.dropped, t.created, "{what}: futures dropped; {t:?}");
        assert_eq!(
            t.completed + t.panicked + t.cancelled,
            t.created,
            "{what}: every future ends exactly once; {t:?}"
        );
        assert_eq!(
            t.overlaps, 0,
            "{what}: two threads polled one future; {t:?}"
        );
        assert_eq!(t.polled_after_end, 0, "{what}: polled after the end; {t:?}");
        t
    }
}

impl fmt::Debug for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.tally().fmt(f)
    }
}

/// Wraps `future` so that `counts` sees it made, polled, ended and dropped.
///
/// `C` is `&Counts` for scoped tasks and `Arc<Counts>` for `'static` ones.
pub fn track<C: Deref<Target = Counts>, F: Future>(counts: C, future: F) -> Tracked<C, F> {
    counts.created.fetch_add(1, SeqCst);
    Tracked {
        counts,
        future,
        ended: false,
        polling: AtomicBool::new(false),
    }
}

/// A future that counts its own life cycle in a [`Counts`]; see [`track`].
pub struct Tracked<C: Deref<Target = Counts>, F> {
    counts: C,
    future: F,
    /// Set when the future returned `Ready` or panicked.
    ended: bool,
    /// Set for the length of each poll, to catch two polls at once.
    polling: AtomicBool,
}

impl<C: Deref<Target = Counts>, F: Future> Future for Tracked<C, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `self` and `Drop` below does not move it; the other fields are not.
        let this = unsafe { self.get_unchecked_mut() };
        let counts = &*this.counts;
        counts.polls.fetch_add(1, SeqCst);
        if this.polling.swap(true, SeqCst) {
            counts.overlaps.fetch_add(1, SeqCst);
        }
        if this.ended {
            counts.polled_after_end.fetch_add(1, SeqCst);
        }
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let polled = panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        this.polling.store(false, SeqCst);
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                this.ended = true;
                counts.completed.fetch_add(1, SeqCst);
                Poll::Ready(output)
            }
            Err(payload) => {
                this.ended = true;
                counts.panicked.fetch_add(1, SeqCst);
                panic::resume_unwind(payload)
            }
        }
    }
}

impl<C: Deref<Target = Counts>, F> Drop for Tracked<C, F> {
    fn drop(&mut self) {
        // Counted before `future` is dropped, so a future whose drop panics
        // is still counted once.
        if !self.ended {
            self.counts.cancelled.fetch_add(1, SeqCst);
        }
        self.counts.dropped.fetch_add(1, SeqCst);
    }
}

/// A panic payload whose own `Drop` panics (with a [`Payload`]), and counts
/// that it ran. The panic hook stays quiet for it.
pub struct Bomb {
    pub id: u32,
    pub drops: Arc<AtomicUsize>,
}

impl fmt::Debug for Bomb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bomb").field("id", &self.id).finish()
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if !thread::panicking() {
            panic::panic_any(Payload(self.id));
        }
    }
}

/// Drops a panic payload that may be a [`Bomb`], containing the second panic.
/// Returns the payload's id: a [`Payload`]'s number or a [`Bomb`]'s id.
pub fn defuse(payload: Box<dyn std::any::Any + Send>) -> u32 {
    let id = if let Some(bomb) = payload.downcast_ref::<Bomb>() {
        bomb.id
    } else if let Some(p) = payload.downcast_ref::<Payload>() {
        p.0
    } else {
        panic!("expected a Payload or a Bomb panic, got another payload")
    };
    if let Err(second) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        // The Bomb's own panic, a `Payload`: dropping it is harmless.
        drop(second);
    }
    id
}
