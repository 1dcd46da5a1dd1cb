//! Driving one future to completion on the calling thread.
//!
//! The future's waker sets a flag and wakes the blocked thread: a worker of
//! this runtime is unparked by index and keeps running other tasks in the
//! meantime; any other thread parks on a `Parker` of its own. The flag is set
//! before the unpark, and taken (`swap(false)`) before each poll, so a wake
//! during a poll leads to one more poll and is never lost.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::sleep::Parker;
use super::{enter, with_current_of, Shared, Waiter};
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::Arc;

struct Signal {
    notified: AtomicBool,
    wake: Wake,
}

enum Wake {
    Worker { shared: Arc<Shared>, index: usize },
    Thread(Parker),
}

impl Signal {
    fn wake(&self) {
        // AcqRel: releases the waker's writes to the next poll, which takes
        // the flag with an Acquire swap. If the flag was already set, its
        // setter has unparked (or will unpark) the thread.
        if !self.notified.swap(true, AcqRel) {
            match &self.wake {
                Wake::Worker { shared, index } => shared.sleep.unpark(*index),
                Wake::Thread(parker) => parker.unpark(),
            }
        }
    }

    fn is_notified(&self) -> bool {
        self.notified.load(Acquire)
    }
}

/// Runs `future` to completion on this thread, as a waiter of `shared`.
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let mut future = pin!(future);
    let waiter = shared.current_waiter();
    let wake = match waiter {
        Waiter::Worker(index) => Wake::Worker {
            shared: shared.clone(),
            index,
        },
        Waiter::External => Wake::Thread(Parker::new()),
    };
    let signal = Arc::new(Signal {
        notified: AtomicBool::new(true),
        wake,
    });
    let waker = signal_waker(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut drive = || loop {
        if signal.notified.swap(false, AcqRel) {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
        match &signal.wake {
            Wake::Worker { .. } => with_current_of(shared, |cx| {
                let cx = cx.expect("a worker waiter waits on its own worker");
                // Run one ready task even if the future woke itself
                // (`yield_now`), or a self-waking future would starve them.
                cx.run_one();
                cx.help_until(|| signal.is_notified());
            }),
            Wake::Thread(parker) => parker.park(),
        }
    };
    match waiter {
        Waiter::Worker(_) => drive(),
        Waiter::External => enter(shared, drive),
    }
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
