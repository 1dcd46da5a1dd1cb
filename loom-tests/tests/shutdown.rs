//! A model of runtime shutdown (`Drop for Runtime`, the workers' exit in
//! `src/scheduler/worker.rs`, `OwnedTasks::close_and_cancel_all`), beyond the
//! races the issue lists: cheap, and the one place where a queue entry, a
//! running poll and the owned-task list all race for the same task.

mod common;

use std::task::Poll;

use common::{model, poll_fn, runtime, Counter};

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
        let threads = common::Threads::default();
        let future_drops = Counter::new();
        let token = future_drops.token();
        let waker_threads = threads.clone();
        let polled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let polled_in_task = polled.clone();
        let handle = rt.spawn(poll_fn(move |cx| {
            let _keep = &token;
            if !polled_in_task.swap(true, std::sync::atomic::Ordering::Relaxed) {
                let waker = cx.waker().clone();
                waker_threads.spawn(move || waker.wake());
            }
            Poll::<()>::Pending
        }));
        drop(rt);
        threads.join_all();
        assert_eq!(future_drops.get(), 1);
        let error = handle.join().expect_err("a pending task is cancelled");
        assert!(error.is_cancelled());
    });
}
