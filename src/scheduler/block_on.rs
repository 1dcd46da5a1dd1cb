//! Driving one future to completion on the calling thread.
//!
//! The future's waker sets a flag and wakes the blocked thread: a worker of
//! this runtime is unparked by index and keeps running other tasks in the
//! meantime; any other thread parks on a `Parker` of its own. The flag is set
//! before the unpark, and taken (`swap(false)`) before each poll, so a wake
//! during a poll leads to one more poll and is never lost.

use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::context::with_current_of;
use super::sleep::Parker;
use super::{enter, Shared};
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::Arc;
use crate::loom::thread::thread_local;

struct Signal {
    notified: AtomicBool,
    wake: Wake,
}

enum Wake {
    Worker { shared: Arc<Shared>, index: usize },
    Thread(Parker),
}

impl Signal {
    fn new(wake: Wake) -> Arc<Signal> {
        Arc::new(Signal {
            notified: AtomicBool::new(true),
            wake,
        })
    }

    /// A new signal that wakes the same thread.
    fn again(&self) -> Arc<Signal> {
        Signal::new(match &self.wake {
            Wake::Worker { shared, index } => Wake::Worker {
                shared: shared.clone(),
                index: *index,
            },
            Wake::Thread(_) => Wake::Thread(Parker::new()),
        })
    }

    fn wake(&self) {
        // Release: the waker's writes happen-before the next poll, which takes
        // the flag with an AcqRel swap.
        self.notified.store(true, Release);
        // Unpark even if the flag was already set: a wait nested on the same
        // thread (`wait_until`) may be parked on this signal, waiting for a
        // condition of its own. Unparking a thread that is not parked costs
        // one atomic swap.
        match &self.wake {
            Wake::Worker { shared, index } => shared.sleep.unpark(*index),
            Wake::Thread(parker) => parker.unpark(),
        }
    }

    /// Parks the thread that this signal wakes, which must be the caller.
    fn park_own_thread(&self) {
        match &self.wake {
            Wake::Thread(parker) => parker.park(),
            Wake::Worker { .. } => unreachable!("a thread's own signal wakes the thread"),
        }
    }

    fn is_notified(&self) -> bool {
        self.notified.load(Acquire)
    }
}

/// A thread's reusable signal, so that a blocking wait allocates nothing. A
/// wait nested inside another on the same thread makes a fresh one.
///
/// A waker of an earlier wait may still be held somewhere and fire during a
/// later one: that costs one spurious poll, which futures must tolerate.
pub(crate) struct SignalSlot {
    signal: Arc<Signal>,
    in_use: Cell<bool>,
}

impl SignalSlot {
    pub(crate) fn for_worker(shared: Arc<Shared>, index: usize) -> Self {
        SignalSlot::new(Wake::Worker { shared, index })
    }

    fn new(wake: Wake) -> Self {
        SignalSlot {
            signal: Signal::new(wake),
            in_use: Cell::new(false),
        }
    }

    /// Drives `future` to completion; `wait` blocks until the signal is set.
    fn drive<F: Future>(&self, future: Pin<&mut F>, wait: impl Fn(&Signal)) -> F::Output {
        let (signal, _release) = if self.in_use.replace(true) {
            (self.signal.again(), None)
        } else {
            self.signal.notified.store(true, Relaxed);
            (self.signal.clone(), Some(FreeOnDrop(&self.in_use)))
        };
        let waker = signal_waker(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = future;
        loop {
            if signal.notified.swap(false, AcqRel) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            wait(&signal);
        }
    }
}

/// Marks a thread's signal free again when its wait ends, even by a panic.
struct FreeOnDrop<'a>(&'a Cell<bool>);

impl Drop for FreeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

thread_local! {
    /// The signal of this thread when it blocks as a thread outside the pool.
    static THREAD_SIGNAL: SignalSlot = SignalSlot::new(Wake::Thread(Parker::new()));
}

/// Runs `f` with this thread's signal, or with a fresh one when a
/// thread-local destructor calls in after `THREAD_SIGNAL` is gone.
fn with_thread_signal<R>(f: impl FnOnce(&SignalSlot) -> R) -> R {
    let mut f = Some(f);
    let mut call = |slot: &SignalSlot| f.take().expect("called once")(slot);
    match THREAD_SIGNAL.try_with(&mut call) {
        Ok(result) => result,
        Err(_) => call(&SignalSlot::new(Wake::Thread(Parker::new()))),
    }
}

/// Runs `future` to completion on this thread: as a worker that keeps running
/// tasks if it is one of `shared`'s, else parked between polls, with `shared`
/// entered as the current runtime.
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let future = pin!(future);
    with_current_of(shared, |cx| match cx {
        Some(cx) => cx.signal.drive(future, |signal| {
            // Run one ready task even if the future woke itself
            // (`yield_now`), or a self-waking future would starve them.
            cx.run_one();
            cx.help_until(|| signal.is_notified());
        }),
        None => enter(shared, || {
            with_thread_signal(|slot| {
                slot.drive(future, |signal| {
                    // The flag, not the parker's token, says whether to poll
                    // again: a wait nested in the last poll may have consumed
                    // the token of a wake meant for this one.
                    if !signal.is_notified() {
                        signal.park_own_thread();
                    }
                })
            })
        }),
    })
}

/// Blocks until `done` holds, without polling anything: `arm` registers the
/// given waker where the event that makes `done` true will wake it.
///
/// A worker of `shared` keeps running tasks meanwhile; any other thread parks.
/// Every level of nested waits on a thread shares that thread's signal, since
/// each re-checks its own `done` after any wake-up: this allocates nothing.
pub(crate) fn wait_until(shared: &Shared, arm: impl FnOnce(&Waker), done: impl Fn() -> bool) {
    with_current_of(shared, |cx| match cx {
        Some(cx) => {
            arm(&signal_waker(cx.signal.signal.clone()));
            cx.help_until(done);
        }
        None => with_thread_signal(|slot| {
            arm(&signal_waker(slot.signal.clone()));
            while !done() {
                slot.signal.park_own_thread();
            }
        }),
    })
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_signal);

fn signal_waker(signal: Arc<Signal>) -> Waker {
    let data = Arc::into_raw(signal) as *const ();
    // SAFETY: `data` is an `Arc<Signal>` turned into a pointer, which is what
    // every function of `VTABLE` expects, and each of them keeps the count
    // right: `clone` adds one, `wake` and `drop_signal` release one.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `Arc<Signal>` pointer (see `signal_waker`).
    unsafe { Arc::increment_strong_count(data as *const Signal) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Signal>` pointer whose count this waker owns.
    unsafe { Arc::from_raw(data as *const Signal) }.wake();
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Signal>` pointer (see `signal_waker`).
    unsafe { &*(data as *const Signal) }.wake();
}

unsafe fn drop_signal(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Signal>` pointer whose count this waker owns.
    drop(unsafe { Arc::from_raw(data as *const Signal) });
}
