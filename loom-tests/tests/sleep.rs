//! Models of the sleep protocol (`src/scheduler/idle.rs`,
//! `src/scheduler/worker.rs`, the parkers of `src/scheduler/park.rs`) and of
//! `block_on` outside the pool (`src/scheduler/wait.rs`).

mod common;

use std::task::Poll;

use common::{model, poll_fn, runtime, Racy, Seen, Threads};
use loom::sync::atomic::{AtomicUsize, Ordering::*};
use loom::sync::Arc;

/// A thread outside the pool spawns a task while the only worker, finding
/// nothing to do, spins, announces itself idle, re-checks and parks. Whatever
/// the interleaving, either the spawner sees the idle worker and unparks it,
/// or the worker's re-check sees the task: the task runs, and the spawner's
/// `join` returns (else loom reports a deadlock).
///
/// The spawner is a thread of its own, started after the runtime, so that
/// "the worker parks first" costs loom no preemption: the main thread only
/// waits for it. (A spawner that had called `loom::thread::yield_now` would
/// not do: loom then never lets it read a value older than its yield, which
/// hides the stale read of the idle count that the fences prevent.)
#[test]
fn task_pushed_while_worker_parks_is_run() {
    model(|| {
        let rt = std::sync::Arc::new(runtime(1));
        let spawner = {
            let rt = rt.clone();
            loom::thread::spawn(move || {
                let handle = rt.spawn(async { 7 });
                assert_eq!(handle.join().expect("the task ran"), 7);
            })
        };
        spawner.join().expect("the spawner's task ran");
    });
}

/// Two workers. A task runs a nested scope on worker A with two children,
/// both spawned onto A's `spawned` queue: A's frame runs them newest first
/// (they are its own, `D(F)`), and worker B, woken as a searcher by the
/// spawns, may steal one meanwhile. If B completes the last child, it must
/// wake A's frame (`Waiter::Slot`), which may be spinning, handing its core
/// to a spare thread, or parked; the nested scope then returns on A and
/// sees the children's writes to the task's locals.
///
/// Loom explores only the nested scope: from the task's first poll to the
/// scope's return (`loom::explore`, `loom::stop_exploring`); the runtime's
/// start, the outer scope and the shutdown run in one schedule, as other
/// models check them. Four loom threads: the main thread, two workers, and
/// the spare that takes A's core.
#[test]
fn helping_worker_and_completing_worker() {
    static STOLEN: Seen = Seen::new();
    static HANDED_OFF: Seen = Seen::new();
    model(|| {
        loom::stop_exploring();
        let rt = runtime(2);
        let rt = &rt;
        let done = Racy::new(false);
        rt.scope(|s| {
            let done = &done;
            drop(s.spawn(async move {
                loom::explore();
                let (left, right) = (Racy::new(0), Racy::new(0));
                rt.scope(|inner| {
                    // Each child gives up the CPU mid-poll, as a thread may be
                    // descheduled anywhere: a free switch point for loom, so
                    // that "the other worker is still running the last child
                    // while this one goes to sleep" is reached within the
                    // preemption bound.
                    inner.spawn(async {
                        loom::thread::yield_now();
                        left.set(1);
                    });
                    inner.spawn(async {
                        loom::thread::yield_now();
                        right.set(2);
                    });
                });
                assert_eq!(left.get() + right.get(), 3);
                loom::stop_exploring();
                done.set(true);
            }));
        });
        assert!(done.get());
        let metrics = rt.metrics();
        STOLEN.record((0..2).any(|w| metrics.worker_steal_count(w) > 0));
        HANDED_OFF.record((0..2).any(|w| metrics.worker_handoff_count(w) > 0));
    });
    assert!(STOLEN.count() > 0, "no execution had a child stolen");
    assert!(HANDED_OFF.count() > 0, "no execution handed a core off");
}

/// `block_on` on a thread outside the pool: the future hands its waker to
/// another thread, which writes the future's input and wakes it, racing the
/// blocked thread's decision to park. The wake is never lost (else loom
/// reports a deadlock), the future is polled again only after it (the input
/// is read in order after its write), and exactly twice in all.
#[test]
fn block_on_wake_races_park() {
    model(|| {
        let rt = runtime(1);
        let threads = Threads::default();
        let input = Arc::new(Racy::new(0));
        let polls = AtomicUsize::new(0);
        let output = rt.block_on(poll_fn(|cx| {
            if polls.fetch_add(1, Relaxed) == 0 {
                let waker = cx.waker().clone();
                let input = input.clone();
                threads.spawn(move || {
                    input.set(5);
                    waker.wake();
                });
                return Poll::Pending;
            }
            Poll::Ready(input.get())
        }));
        assert_eq!(output, 5);
        assert_eq!(polls.load(Relaxed), 2);
        threads.join_all();
    });
}

/// Spawns, from a thread outside the pool, a `'static` task that reads what
/// this thread wrote just before the spawn; returns its handle.
fn spawn_reading_own_write(
    rt: &paddock::Runtime,
    id: usize,
) -> paddock::JoinHandle<'static, usize> {
    let data = Arc::new(Racy::new(0));
    data.set(id);
    rt.spawn(async move { data.get() })
}

/// Two threads outside the pool (the main thread and one more) spawn at
/// once while the only worker may be taking the injector's stack: one
/// push's compare-and-swap can lose to the other's and retry on the new
/// top, and the worker's swap can take the stack between the two pushes or
/// after both. Each task runs exactly once and sees what its spawner wrote
/// before spawning (the push publishes it, the swap acquires it), every
/// `join` returns, and nothing leaks.
///
/// Three loom threads: the main thread is the second spawner (it had only
/// waited for two spawner threads before, and a fourth thread put the model
/// past ten minutes at bound 2 once the spawn path grew its wake-ups). The
/// other spawner hands its handle back instead of joining it, so that it
/// exits as soon as it has pushed.
#[test]
fn outside_pushes_race_each_other_and_the_worker() {
    model(|| {
        loom::stop_exploring();
        let rt = std::sync::Arc::new(runtime(1));
        // Unexplored, the worker starts, finds nothing and parks.
        loom::thread::yield_now();
        loom::explore();
        let spawner = {
            let rt = rt.clone();
            loom::thread::spawn(move || spawn_reading_own_write(&rt, 2))
        };
        let mine = spawn_reading_own_write(&rt, 1);
        let theirs = spawner.join().expect("the spawner spawned");
        assert_eq!(mine.join().expect("the task ran"), 1);
        assert_eq!(theirs.join().expect("the task ran"), 2);
        // The shutdown is other models' business.
        loom::stop_exploring();
    });
}

/// Two workers, and two tasks spawned from outside that each block their
/// worker until both have started (a barrier, as `every_worker_runs_at_once`
/// in the integration tests): whichever worker takes the first task, and
/// however many it takes in one batch, the other must be woken to run the
/// second. A lost wake-up leaves both tasks (and loom) waiting.
#[test]
fn every_worker_is_woken_for_blocking_tasks() {
    model(|| {
        let rt = runtime(2);
        let arrived = loom::sync::Arc::new((loom::sync::Mutex::new(0), loom::sync::Condvar::new()));
        rt.scope(|s| {
            for _ in 0..2 {
                let arrived = arrived.clone();
                drop(s.spawn(async move {
                    let (count, all_here) = &*arrived;
                    let mut count = count.lock().unwrap();
                    *count += 1;
                    all_here.notify_all();
                    while *count < 2 {
                        count = all_here.wait(count).unwrap();
                    }
                }));
            }
        });
        // The shutdown is other models' business.
        loom::stop_exploring();
    });
}
