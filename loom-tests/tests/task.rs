//! Models of the task state machine (`src/task/state.rs`, `src/task/raw.rs`,
//! `src/task/join.rs`, `src/task/waker.rs`), run through the public API on a
//! one-worker runtime: the worker, the model's main thread and at most one
//! more loom thread.

mod common;

use std::future::Future;
use std::sync::Mutex as StdMutex;
use std::task::{Context, Poll, Waker};

use common::{model, poll_fn, poll_once, runtime, Counter, Threads, Token};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use paddock::Scope;

/// A wake from another thread that lands while the task is being polled
/// (after the future stored its waker, before the poll's `to_idle`) must lead
/// to one more poll; if it were lost, the scope would wait forever and loom
/// would report a deadlock.
#[test]
fn wake_while_polling_is_not_lost() {
    model(|| {
        loom::stop_exploring();
        let rt = runtime(1);
        let threads = Threads::default();
        let woken = Arc::new(AtomicBool::new(false));
        let polls = AtomicUsize::new(0);
        rt.scope(|s| {
            s.spawn(poll_fn(|cx| {
                if polls.fetch_add(1, Relaxed) == 0 {
                    loom::explore();
                    // The waker travels to another thread, which wakes the
                    // task while this poll is still running (or after it).
                    let waker = cx.waker().clone();
                    let woken = woken.clone();
                    threads.spawn(move || {
                        woken.store(true, Release);
                        waker.wake();
                    });
                    return Poll::Pending;
                }
                // Only a wake polls the task again.
                assert!(woken.load(Acquire), "polled again without a wake");
                Poll::Ready(())
            }));
        });
        assert_eq!(polls.load(Relaxed), 2);
        loom::stop_exploring();
        threads.join_all();
    });
}

/// A task completes while another thread wakes it with a clone of its
/// waker; later, after that thread is done and the runtime itself is gone,
/// the main thread wakes and then drops the last waker. Neither wake may
/// schedule the complete task: the task is polled exactly once, and
/// (checked by loom at the end of every execution) nothing leaks, though a
/// queue entry left on the dropped runtime's injector would keep the task
/// and the runtime alive forever.
///
/// The waking thread is joined before the runtime is dropped: its wake
/// racing the shutdown is `wake_races_runtime_shutdown`'s race, and letting
/// it run through the shutdown here multiplied the executions by ten (two
/// million, three minutes) for nothing more.
#[test]
fn wake_after_completion_does_nothing() {
    model(|| {
        let rt = runtime(1);
        let threads = Threads::default();
        let polls = AtomicUsize::new(0);
        loom::stop_exploring();
        let kept: Waker = rt.scope(|s| {
            let handle = s.spawn(poll_fn(|cx| {
                loom::explore();
                polls.fetch_add(1, Relaxed);
                let racer = cx.waker().clone();
                threads.spawn(move || racer.wake());
                Poll::Ready(cx.waker().clone())
            }));
            handle.join().expect("the task returns its waker")
        });
        threads.join_all();
        drop(rt);
        kept.wake_by_ref();
        kept.wake();
        assert_eq!(polls.load(Relaxed), 1);
    });
}

/// `abort` on the main thread races the worker's poll of a future that never
/// completes by itself: before the poll (the aborting thread drops the
/// future), during it (the worker drops it after the poll), or after it (the
/// aborting thread again). The handle reports cancellation, and the future is
/// dropped exactly once, before the scope returns.
#[test]
fn abort_races_poll() {
    model(|| {
        let rt = runtime(1);
        let future_drops = Counter::new();
        rt.scope(|s| {
            let token = future_drops.token();
            let handle = s.spawn(poll_fn(move |_| {
                let _keep = &token;
                Poll::<()>::Pending
            }));
            handle.abort();
            let error = handle.join().expect_err("an aborted pending task");
            assert!(error.is_cancelled());
        });
        assert_eq!(future_drops.get(), 1);
    });
}

/// `abort` races the completion of a task that finishes on its first poll.
/// Either the task completes first (the handle gets the output, the abort does
/// nothing) or the abort wins (the future is dropped unpolled); the future is
/// dropped exactly once and the output, if made, exactly once.
#[test]
fn abort_races_completion() {
    model(|| {
        let rt = runtime(1);
        let future_drops = Counter::new();
        let output_drops = Counter::new();
        let outputs_made = AtomicUsize::new(0);
        rt.scope(|s| {
            let token = future_drops.token();
            let output = &output_drops;
            let made = &outputs_made;
            let handle = s.spawn(async move {
                let _keep = token;
                made.fetch_add(1, Relaxed);
                output.token()
            });
            handle.abort();
            match handle.join() {
                Ok(output) => drop(output),
                Err(error) => assert!(error.is_cancelled(), "{error:?}"),
            }
        });
        assert_eq!(future_drops.get(), 1);
        assert_eq!(output_drops.get(), outputs_made.load(Relaxed));
    });
}

/// Spawns and detaches a task that stores a clone of its waker in `kept` and
/// completes at once. `future_drops` counts its future's drop, `output_drops`
/// its output's.
fn detach_task_keeping_its_waker<'scope>(
    s: &'scope Scope<'scope, '_>,
    future_drops: &Counter,
    output_drops: &'scope Counter,
    kept: &'scope StdMutex<Option<Waker>>,
) {
    let token = future_drops.token();
    drop(s.spawn(poll_fn(move |cx| {
        let _keep = &token;
        *kept.lock().unwrap() = Some(cx.waker().clone());
        Poll::Ready(output_drops.token())
    })));
}

/// The handle is dropped (the task detached) while the task completes. Exactly
/// one of them consumes the output: the handle if the task completed first,
/// the completing worker otherwise. Either way the output is dropped exactly
/// once and before the scope returns (invariant 1), although a waker that the
/// task kept still holds the allocation after the scope.
#[test]
fn join_handle_dropped_while_task_completes() {
    model(|| {
        let rt = runtime(1);
        let future_drops = Counter::new();
        let output_drops = Counter::new();
        let kept = StdMutex::new(None::<Waker>);
        rt.scope(|s| detach_task_keeping_its_waker(s, &future_drops, &output_drops, &kept));
        assert_eq!(future_drops.get(), 1, "future dropped before scope returns");
        assert_eq!(output_drops.get(), 1, "output dropped before scope returns");
        drop(kept.into_inner().unwrap());
        drop(rt);
    });
}

/// The task keeps a waker; the main thread drops it right after the scope
/// returns, racing the worker's release of the task's last own references
/// (after its scope decrement). Whoever drops the last reference frees the
/// allocation exactly once: the future and the output are each dropped once,
/// before the scope returns, and loom's leak check (the task holds an `Arc`
/// to the runtime, taken when its waker was cloned) proves the allocation was
/// freed. A double free would drop that `Arc` twice.
#[test]
fn last_waker_dropped_after_scope_frees_task_once() {
    model(|| {
        let rt = runtime(1);
        let future_drops = Counter::new();
        let output_drops = Counter::new();
        let kept = StdMutex::new(None::<Waker>);
        rt.scope(|s| detach_task_keeping_its_waker(s, &future_drops, &output_drops, &kept));
        let waker = kept.into_inner().unwrap().expect("the task ran");
        drop(waker);
        assert_eq!(future_drops.get(), 1);
        assert_eq!(output_drops.get(), 1);
        drop(rt);
    });
}

/// The handle registers its waker (first a no-op waker, then `block_on`'s,
/// which replaces it) while the worker writes the output and completes the
/// task. Whichever wins, the handle gets the output exactly once and the
/// `block_on` is woken: a registration the completing task misses would
/// park the main thread forever.
#[test]
fn join_waker_registered_while_output_is_written() {
    model(|| {
        let rt = runtime(1);
        let output_drops = Counter::new();
        rt.scope(|s| {
            let output = &output_drops;
            let mut handle = s.spawn(async move { output.token() });
            let result = match poll_once(&mut handle) {
                Poll::Ready(result) => result,
                Poll::Pending => rt.block_on(&mut handle),
            };
            drop(result.expect("the task completes"));
            assert_eq!(output_drops.get(), 1);
            drop(handle);
        });
        assert_eq!(output_drops.get(), 1);
    });
}

/// A waker whose data is a loom `Arc` holding `token`: loom reports it as
/// leaked if nobody drops the last clone, and fails on a clone dropped
/// twice; the token counts the final drop. Waking does nothing else.
fn counted_waker(token: Token) -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live `Arc<Token>` (see `counted_waker`).
        unsafe { Arc::increment_strong_count(data as *const Token) };
        RawWaker::new(data, &VTABLE)
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: as above; this waker's count is released.
        drop(unsafe { Arc::from_raw(data as *const Token) });
    }
    unsafe fn wake_by_ref(_: *const ()) {}
    unsafe fn drop_waker(data: *const ()) {
        // SAFETY: as above.
        drop(unsafe { Arc::from_raw(data as *const Token) });
    }
    let data = Arc::into_raw(Arc::new(token)) as *const ();
    // SAFETY: every function of `VTABLE` keeps the `Arc`'s count right.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

/// The join waker's hand-back (`task/state.rs`, tokio's protocol): a
/// handle registers a waker, then is dropped while its task completes. The
/// completing task wakes the waker and lets go of the slot
/// (`State::release_join_waker`); the handle gives up its interest
/// (`State::drop_join_interest`); whichever of the two lets go second drops
/// the waker, on its own thread, before the scope returns. The waker is
/// built on a loom `Arc`: one that nobody drops fails the model ("Arc
/// leaked"), and one dropped twice frees its `Arc` twice; its token counts
/// exactly one drop.
#[test]
fn join_waker_handed_back_while_handle_drops() {
    model(|| {
        let rt = runtime(1);
        let waker_drops = Counter::new();
        rt.scope(|s| {
            let mut handle = s.spawn(async {});
            let waker = counted_waker(waker_drops.token());
            let mut cx = Context::from_waker(&waker);
            // Registers a clone of the waker, unless the task is done.
            let _ = std::pin::Pin::new(&mut handle).poll(&mut cx);
            drop(waker);
            drop(handle);
        });
        assert_eq!(
            waker_drops.get(),
            1,
            "the waker's last clone is dropped once"
        );
        drop(rt);
    });
}
