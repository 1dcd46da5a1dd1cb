//! Helpers shared by the models: drop counters, a loom-checked cell for data
//! that tasks borrow, a thread list to join, and a quiet panic hook.
//!
//! Everything here is built from loom's types inside `loom::model`, so loom
//! sees every access; nothing here re-implements any of paddock's code.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll, Waker};

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;

use paddock::Runtime;

/// A runtime with `workers` worker threads and room for one more thread (a
/// spare, to take a core that a waiting frame gives up, or to run a
/// blocking job): loom threads, under the model.
///
/// The cap matters under loom, which allows at most 5 threads, the model's
/// main thread included. (A cap of 0 is refused: blocking jobs need a thread
/// beyond the workers.)
pub fn runtime(workers: usize) -> Runtime {
    runtime_with_spares(workers, 1)
}

/// A runtime with `workers` worker threads and at most `spares` threads
/// besides (`Builder::max_blocking_threads`).
pub fn runtime_with_spares(workers: usize, spares: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .max_blocking_threads(spares)
        .build()
        .expect("a loom runtime builds")
}

/// Counts how many times values made by [`Counter::token`] were dropped.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Self {
        Counter(Arc::new(AtomicUsize::new(0)))
    }

    /// A value whose drop is counted.
    pub fn token(&self) -> Token {
        Token(self.0.clone())
    }

    pub fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// Increments its counter when dropped.
pub struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Plain (non-atomic) data that tasks and threads share by reference, as a
/// user's borrowed locals are. Every access goes through loom's `UnsafeCell`,
/// so an access that is not ordered after the previous write by a
/// happens-before edge fails the model ("Causality violation").
pub struct Racy<T>(UnsafeCell<T>);

// SAFETY: the models only share a `Racy` where paddock promises the accesses
// are ordered; loom checks that promise on every execution.
unsafe impl<T: Send> Sync for Racy<T> {}

impl<T: Copy> Racy<T> {
    pub fn new(value: T) -> Self {
        Racy(UnsafeCell::new(value))
    }

    pub fn set(&self, value: T) {
        // SAFETY: loom checks that no other access races with this one.
        self.0.with_mut(|p| unsafe { *p = value })
    }

    pub fn get(&self) -> T {
        // SAFETY: loom checks that no write races with this read.
        self.0.with(|p| unsafe { *p })
    }
}

/// Loom threads started by a model (often from inside a task's `poll`), to
/// join before the model ends.
#[derive(Clone, Default)]
pub struct Threads(std::sync::Arc<std::sync::Mutex<Vec<loom::thread::JoinHandle<()>>>>);

impl Threads {
    pub fn spawn(&self, f: impl FnOnce() + 'static) {
        let handle = loom::thread::spawn(f);
        self.0.lock().unwrap().push(handle);
    }

    pub fn join_all(&self) {
        let handles = std::mem::take(&mut *self.0.lock().unwrap());
        for handle in handles {
            handle.join().expect("a model thread panicked");
        }
    }
}

/// A future that runs `f` on each poll until it returns `Ready`.
pub fn poll_fn<T>(f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> impl Future<Output = T> {
    std::future::poll_fn(f)
}

/// Polls `future` once with a waker that does nothing.
pub fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(future).poll(&mut cx)
}

/// The payload of the panics the models raise on purpose.
pub struct Boom(pub Token);

/// Installs (once per test binary) a panic hook that stays silent for
/// `Boom` payloads and prints every other panic as the default hook does:
/// thousands of executions of a deliberate panic would bury loom's report.
pub fn quiet_boom_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Boom>() {
                default(info);
            }
        }));
    });
}

/// `loom::model`, reporting how many executions it explored (seen with
/// `--nocapture`, and in the output of a failing test).
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::Relaxed};
    let executions = std::sync::Arc::new(StdAtomicUsize::new(0));
    let count = executions.clone();
    let started = std::time::Instant::now();
    loom::model(move || {
        count.fetch_add(1, Relaxed);
        f();
    });
    eprintln!(
        "{}: {} executions in {:.1?}",
        std::thread::current().name().unwrap_or("model"),
        executions.load(Relaxed),
        started.elapsed()
    );
}

/// A one-shot event that a task waits for and another loom thread fires:
/// the waiting future publishes its waker, and `fire_when_waited` blocks
/// (on a loom condition variable, which costs loom no spinning) until it
/// has, then fires the event and wakes the future through that waker.
#[derive(Clone)]
pub struct Event(Arc<EventState>);

struct EventState {
    /// Whether the event fired, and the waker of the future waiting for it.
    state: loom::sync::Mutex<(bool, Option<Waker>)>,
    published: loom::sync::Condvar,
}

impl Event {
    pub fn new() -> Self {
        Event(Arc::new(EventState {
            state: loom::sync::Mutex::new((false, None)),
            published: loom::sync::Condvar::new(),
        }))
    }

    /// A future that completes once the event has fired; until then each
    /// poll publishes its waker.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let event = self.clone();
        poll_fn(move |cx| {
            let mut state = event.0.state.lock().unwrap();
            if state.0 {
                return Poll::Ready(());
            }
            state.1 = Some(cx.waker().clone());
            event.0.published.notify_all();
            Poll::Pending
        })
    }

    /// Blocks until a future waits for the event (has published its
    /// waker).
    pub fn wait_until_waited(&self) {
        drop(self.waited());
    }

    fn waited(&self) -> loom::sync::MutexGuard<'_, (bool, Option<Waker>)> {
        let mut state = self.0.state.lock().unwrap();
        while state.1.is_none() {
            state = self.0.published.wait(state).unwrap();
        }
        state
    }

    /// Blocks until a future waits for the event, then fires it: sets it
    /// and wakes that future, outside the lock, as a reactor would.
    pub fn fire_when_waited(&self) {
        let waker = {
            let mut state = self.waited();
            state.0 = true;
            state.1.take().unwrap()
        };
        waker.wake();
    }
}

/// A blocking job's gate: the job reports that it started and then blocks
/// until the model releases it, so that it holds its thread meanwhile.
#[derive(Clone)]
pub struct Gate(Arc<(loom::sync::Mutex<(bool, bool)>, loom::sync::Condvar)>);

impl Gate {
    pub fn new() -> Self {
        Gate(Arc::new((
            loom::sync::Mutex::new((false, false)),
            loom::sync::Condvar::new(),
        )))
    }

    /// Run by the job: says it started, then waits for `release`.
    pub fn hold(&self) {
        let (state, changed) = &*self.0;
        let mut state = state.lock().unwrap();
        state.0 = true;
        changed.notify_all();
        while !state.1 {
            state = changed.wait(state).unwrap();
        }
    }

    /// Blocks until the job has started.
    pub fn wait_started(&self) {
        let (state, changed) = &*self.0;
        let mut state = state.lock().unwrap();
        while !state.0 {
            state = changed.wait(state).unwrap();
        }
    }

    pub fn release(&self) {
        let (state, changed) = &*self.0;
        state.lock().unwrap().1 = true;
        changed.notify_all();
    }
}

/// Counts executions of a model with a property, across all of them: a
/// model asserts at the end that the interleaving it is about happened at
/// least once (loom explores every schedule, but a change in `src/` could
/// make a model's race unreachable without making it fail).
pub struct Seen(std::sync::atomic::AtomicUsize);

impl Seen {
    pub const fn new() -> Self {
        Seen(std::sync::atomic::AtomicUsize::new(0))
    }

    pub fn record(&self, happened: bool) {
        if happened {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
