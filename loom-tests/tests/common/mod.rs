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

/// A runtime with `workers` worker threads: loom threads, under the model.
pub fn runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
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
