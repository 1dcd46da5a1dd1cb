//! Models of the task state machine (`src/task/state.rs`, `src/task/raw.rs`,
//! `src/task/join.rs`, `src/task/waker.rs`), run through the public API on a
//! one-worker runtime: the worker, the model's main thread and at most one
//! more loom thread.

mod common;

use std::sync::Mutex as StdMutex;
use std::task::{Poll, Waker};

use common::{model, poll_fn, poll_once, runtime, Counter, Threads};
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
        let rt = runtime(1);
        let threads = Threads::default();
        let woken = Arc::new(AtomicBool::new(false));
        let polls = AtomicUsize::new(0);
        rt.scope(|s| {
            s.spawn(poll_fn(|cx| {
                if polls.fetch_add(1, Relaxed) == 0 {
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
        threads.join_all();
    });
}

/// A task completes while another thread wakes it with a clone of its
/// waker; later, after the runtime itself is gone, the main thread wakes and
/// then drops the last waker. Neither wake may schedule the complete task:
/// the task is polled exactly once, and (checked by loom at the end of every
/// execution) nothing leaks, though a queue entry left on the dropped
/// runtime's injector would keep the task and the runtime alive forever.
#[test]
fn wake_after_completion_does_nothing() {
    model(|| {
        let rt = runtime(1);
        let threads = Threads::default();
        let polls = AtomicUsize::new(0);
        let kept: Waker = rt.scope(|s| {
            let handle = s.spawn(poll_fn(|cx| {
                polls.fetch_add(1, Relaxed);
                let racer = cx.waker().clone();
                threads.spawn(move || racer.wake());
                Poll::Ready(cx.waker().clone())
            }));
            handle.join().expect("the task returns its waker")
        });
        drop(rt);
        kept.wake_by_ref();
        kept.wake();
        threads.join_all();
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
