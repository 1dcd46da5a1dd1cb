//! Models of the scope latch (`src/scope.rs`, and its wake-up in
//! `src/scheduler/park.rs`) and of `Scope::cancel`, through `Runtime::scope`
//! on a one-worker runtime: the worker and the model's main thread, which
//! waits as a thread outside the pool.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::task::Poll;

use common::{model, poll_fn, quiet_boom_panics, runtime, Boom, Counter, Racy};
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The scope's only task completes while the owner (the main thread) decides
/// to wait: before its check, between its check and its wait, or while it
/// waits. The owner must be woken (else loom reports a deadlock), and must
/// see everything the task did: the task writes the owner's local through a
/// borrow, and the owner reads it after `scope` returns; a read not ordered
/// after that write fails the model. The task's future is dropped before
/// `scope` returns.
#[test]
fn last_completion_races_owner_wait() {
    model(|| {
        let rt = runtime(1);
        let data = Racy::new(0);
        let future_drops = Counter::new();
        rt.scope(|s| {
            let token = future_drops.token();
            let data = &data;
            // Detached: only the latch orders the task before the owner.
            drop(s.spawn(async move {
                let _keep = token;
                data.set(1);
            }));
        });
        assert_eq!(data.get(), 1);
        assert_eq!(future_drops.get(), 1);
    });
}

/// With the latch near zero, a task spawns a sibling while another task of
/// the scope is being cancelled on the main thread: the spawn's increment
/// races the cancelled task's decrement. The counter must stay exact: the
/// scope returns only after the sibling ran (it writes the owner's local) and
/// every future was dropped, and it does return (else loom reports a
/// deadlock).
#[test]
fn spawn_sibling_while_latch_near_zero() {
    model(|| {
        let rt = runtime(1);
        let data = Racy::new(0);
        let future_drops = Counter::new();
        rt.scope(|s| {
            let idle = future_drops.token();
            let stuck = s.spawn(poll_fn(move |_| {
                let _keep = &idle;
                Poll::<()>::Pending
            }));
            let (parent_token, child_token) = (future_drops.token(), future_drops.token());
            let data = &data;
            drop(s.spawn(async move {
                let _keep = parent_token;
                drop(s.spawn(async move {
                    let _keep = child_token;
                    data.set(1);
                }));
            }));
            // Cancelling `stuck` decrements the latch on this thread (or on
            // the worker, if it is being polled) while the parent spawns.
            stuck.abort();
        });
        assert_eq!(data.get(), 1);
        assert_eq!(future_drops.get(), 3);
    });
}

/// A task panics while its handle is dropped. The panic is recorded in the
/// scope exactly once, by whichever side consumes the output (the handle if
/// the task completed first, the worker otherwise), and `scope` re-raises
/// that original payload after the task is done. The payload is dropped
/// exactly once, by the catcher.
#[test]
fn panicking_task_recorded_exactly_once() {
    quiet_boom_panics();
    model(|| {
        let rt = runtime(1);
        let payload_drops = Counter::new();
        let future_drops = Counter::new();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                let token = future_drops.token();
                let boom = payload_drops.token();
                drop(s.spawn(async move {
                    let _keep = token;
                    panic::panic_any(Boom(boom));
                }));
            })
        }));
        let payload = result.expect_err("the scope re-raises the task's panic");
        assert!(payload.is::<Boom>(), "the original payload is re-raised");
        assert_eq!(future_drops.get(), 1);
        assert_eq!(payload_drops.get(), 0);
        drop(payload);
        assert_eq!(payload_drops.get(), 1);
    });
}

/// `Scope::cancel` on the main thread races the first poll of a task that
/// waits for ever (it returns `Pending` and keeps no waker). The cancel may
/// land before that poll (the poll sees the flag and drops the future
/// unpolled), during it (the task lists itself in the scope under the
/// scope's lock, `ScopeState::list`, sees the flag there, and drops its
/// future), or after it (`cancel` finds the task listed and aborts it).
/// Whichever: the task is cancelled and its future dropped exactly once,
/// the scope returns (else loom reports a deadlock), and a task spawned
/// after the cancel starts cancelled, never polled.
#[test]
fn cancel_races_first_pending() {
    model(|| {
        loom::stop_exploring();
        let rt = runtime(1);
        // Unexplored, the worker starts, finds nothing and parks.
        loom::thread::yield_now();
        loom::explore();
        let future_drops = Counter::new();
        let late_polls = AtomicUsize::new(0);
        rt.scope(|s| {
            let token = future_drops.token();
            let waiting = s.spawn(poll_fn(move |_| {
                let _keep = &token;
                Poll::<()>::Pending
            }));
            s.cancel();
            let late_polls = &late_polls;
            let late = s.spawn(async move {
                late_polls.fetch_add(1, Relaxed);
            });
            let error = waiting.join().expect_err("the waiting task is cancelled");
            assert!(error.is_cancelled());
            // The race is over: the late task's flag is ordered by its spawn.
            loom::stop_exploring();
            let error = late
                .join()
                .expect_err("a task spawned after cancel is cancelled");
            assert!(error.is_cancelled());
        });
        assert_eq!(future_drops.get(), 1);
        assert_eq!(late_polls.load(Relaxed), 0);
    });
}
