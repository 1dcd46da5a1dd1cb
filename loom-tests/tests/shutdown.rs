//! A model of runtime shutdown (`Drop for Runtime`, the workers' exit in
//! `src/scheduler/worker.rs`, `OwnedTasks::close_and_cancel_all`), beyond the
//! races the issue lists: cheap, and the one place where a queue entry, a
//! running poll and the owned-task list all race for the same task.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use common::{model, poll_fn, runtime, Counter, Threads, Token};
use loom::sync::atomic::{AtomicBool, Ordering::*};

/// A future that never completes and keeps `token` until it is dropped. Its
/// first poll starts a model thread (joined through `threads`) that wakes
/// the task through a clone of the task's waker, then sets `polled`. With
/// `explore`, that first poll is also where loom starts exploring (the
/// model stopped exploring as it began).
fn woken_from_another_thread(
    threads: &Threads,
    token: Token,
    polled: &Arc<AtomicBool>,
    explore: bool,
) -> impl Future<Output = ()> + Send + 'static {
    let threads = threads.clone();
    let polled = polled.clone();
    poll_fn(move |cx| {
        let _keep = &token;
        if !polled.load(Relaxed) {
            if explore {
                loom::explore();
            }
            let waker = cx.waker().clone();
            threads.spawn(move || waker.wake());
            polled.store(true, Release);
        }
        Poll::Pending
    })
}

/// The runtime is dropped while its worker may be polling a `'static` task
/// that never completes by itself. The task is cancelled exactly once (by
/// the last worker out, or by the dropped queue entry), its future dropped
/// exactly once, and its handle reports cancellation after the runtime is
/// gone; nothing leaks.
#[test]
fn runtime_dropped_while_static_task_pending() {
    model(|| {
        let rt = runtime(1);
        let future_drops = Counter::new();
        let token = future_drops.token();
        let handle = rt.spawn(poll_fn(move |_| {
            let _keep = &token;
            Poll::<()>::Pending
        }));
        drop(rt);
        assert_eq!(future_drops.get(), 1);
        let error = handle.join().expect_err("a pending task is cancelled");
        assert!(error.is_cancelled());
    });
}

/// A thread outside the pool wakes a pending `'static` task while the
/// runtime shuts down. Whatever the interleaving, the task is cancelled
/// exactly once and nothing leaks: in particular no queue entry may be left
/// on the injector of a runtime whose workers are gone, since the entry
/// keeps the task, and the task keeps the runtime's shared state, alive.
///
/// This model found the bug that `Shared::schedule` now guards against: the
/// waker's `to_notified_by_ref` succeeded (`Submit`) before the last worker
/// cancelled the task, but its push onto the injector landed after that
/// worker drained the injector and exited, leaving a cycle (entry → task →
/// `Arc<Shared>` → injector) that loom reported as "Arc leaked".
#[test]
fn wake_races_runtime_shutdown() {
    model(|| {
        let rt = runtime(1);
        let threads = Threads::default();
        let future_drops = Counter::new();
        let polled = Arc::new(AtomicBool::new(false));
        let future = woken_from_another_thread(&threads, future_drops.token(), &polled, false);
        let handle = rt.spawn(future);
        drop(rt);
        threads.join_all();
        assert_eq!(future_drops.get(), 1);
        let error = handle.join().expect_err("a pending task is cancelled");
        assert!(error.is_cancelled());
    });
}

/// A thread outside the pool wakes a scoped task, through a clone of its
/// waker, while the scope's closure aborts the task, the scope returns and
/// the runtime is dropped. The wake can find the task idle and count a queue
/// entry, then push it only after all of that, so the runtime it pushes to
/// must still be alive: the first clone of a scoped task's waker makes the
/// task hold its runtime (`Header::hold_runtime`), and the task's last
/// reference releases it. The closure waits for the first poll (which clones
/// the waker and starts the waking thread) before it aborts, so that every
/// execution has the race.
///
/// What loom checks here: the runtime reference is counted once and released
/// once (else "Arc leaked", or a release of a dropped `Arc`), and the future
/// is dropped exactly once. What it cannot check: with the hold removed, the
/// late push reads the freed runtime, plain memory that loom does not track
/// (instrumented, 900 of the 54,902 executions at bound 2 push after the
/// runtime is freed), and valgrind cannot tell that read from the noise of
/// loom's coroutine stacks. See README.md.
#[test]
fn outside_wake_races_abort_and_runtime_drop() {
    model(|| {
        loom::stop_exploring();
        let rt = runtime(1);
        let threads = Threads::default();
        let future_drops = Counter::new();
        let polled = Arc::new(AtomicBool::new(false));
        let future = woken_from_another_thread(&threads, future_drops.token(), &polled, true);
        rt.scope(|s| {
            let handle = s.spawn(future);
            while !polled.load(Acquire) {
                loom::thread::yield_now();
            }
            handle.abort();
        });
        drop(rt);
        threads.join_all();
        assert_eq!(future_drops.get(), 1);
    });
}
