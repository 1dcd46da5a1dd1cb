//! Helpers shared by the integration tests.
//!
//! Every test that could hang runs its body under [`watchdog`], so that a
//! deadlock or a lost wake-up fails within seconds and names the test,
//! instead of stalling `cargo test` forever.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use paddock::Runtime;

/// The time limit used by most tests. Every test finishes in well under a
/// second when the runtime is healthy; the limit only decides how soon a hang
/// is reported.
pub const LIMIT: u64 = 10;

/// Runs `f` on a fresh thread and returns its result, or panics with a message
/// naming `name` if it has not finished within `secs` seconds.
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

/// Installs, once per test binary, a panic hook that stays silent for the
/// panics the tests provoke on purpose (payload type [`Payload`]) and defers
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
            if !info.payload().is::<Payload>() {
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

/// A runtime with `n` workers named `{prefix}{index}`.
pub fn named_rt(n: usize, prefix: &'static str) -> Runtime {
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
        Err(other) => panic!(
            "expected a Payload panic, got {:?}",
            other
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| other.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string payload>".into())
        ),
    }
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
