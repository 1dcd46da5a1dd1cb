//! Stress and fault suites: big, looping versions of the behaviours that the
//! topic tests check once (issue 3).
//!
//! Each scenario counts what it made and asserts that nothing was lost: every
//! task ran to its end, panicked or was cancelled exactly once, every future
//! was dropped exactly once ([`Counts`]: constructions against drops), and no
//! worker thread was left behind (threads named with a prefix of the
//! scenario's own, counted in `/proc/self/task`).
//!
//! Sizes are multiplied by `PADDOCK_STRESS_SCALE` (default 1: each test
//! takes under a second in a debug build on two cores, the file about 1.5 s;
//! `scripts/valgrind` runs them at 0.5). Each runs under a watchdog that
//! fails it once no round has finished for `STALL_SECS`.
//!
//! The `soak` test, ignored by default, runs every scenario over and over,
//! two at a time, for `PADDOCK_SOAK_SECS` seconds (default 3600). The other
//! ignored test, `dropping_a_finished_handle_contains_its_outputs_drop_panic`,
//! shows a known bug and stays ignored until it is fixed.
//!
//! ```text
//! cargo test --release --test stress soak -- --ignored
//! PADDOCK_SOAK_SECS=600 PADDOCK_STRESS_SCALE=4 \
//!     cargo test --release --test stress soak -- --ignored --nocapture
//! ```

mod common;

use std::future::{pending, poll_fn, Future};
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    assert_thread_count, assert_threads_gone, boom, defuse, every_worker_runs_at_once, named_rt,
    payload_of, progress_watchdog, scaled, soak_secs, stress_scale, track, unique_prefix,
    wait_until, watchdog, Bomb, Counts, Event, PanicOnDrop, Payload, Progress, LIMIT,
};
use paddock::{yield_now, JoinHandle, Runtime, Scope};

/// How long a scenario may go without finishing a round (or, in the million
/// tasks, a batch of 4096) before its watchdog calls it stuck. A round takes
/// milliseconds natively and seldom a second under valgrind; on a loaded host
/// under valgrind, rounds have taken 60 times longer than on an idle one, so
/// the watchdog judges progress rather than total time.
const STALL_SECS: u64 = 90;

/// A scenario: its size factor, and where it reports each round done.
type Scenario = fn(f64, &Progress);

/// Runs `scenario` at the configured scale under a progress watchdog.
fn stress(name: &'static str, scenario: Scenario) {
    let scale = stress_scale();
    progress_watchdog(STALL_SECS, name, move |progress| scenario(scale, progress));
}

// ---------------------------------------------------------------------------
// One million tasks in one scope.
// ---------------------------------------------------------------------------

#[test]
fn a_million_tasks_in_one_scope() {
    stress("a_million_tasks_in_one_scope", million_tasks);
}

/// Half the tasks are spawned by the closure, from outside the pool (the
/// injector); half by tasks, from inside it (the spawning worker's own
/// queues, from which the other worker steals).
fn million_tasks(scale: f64, progress: &Progress) {
    const PER_SPAWNER: usize = 1000;
    let total = scaled(1_000_000, scale);
    let from_tasks = total / 2;
    let spawners = from_tasks.div_ceil(PER_SPAWNER);

    let prefix = unique_prefix("mil");
    let rt = named_rt(2, &prefix);
    assert_thread_count(&prefix, 2);
    let counts = Counts::new();
    let spawner_counts = Counts::new();
    let ran = AtomicUsize::new(0);
    let sum = AtomicUsize::new(0);
    rt.scope(|s| {
        let (counts, ran, sum) = (&counts, &ran, &sum);
        let leaf = move |i: usize| {
            track(counts, async move {
                if i % 64 == 0 {
                    yield_now().await;
                }
                ran.fetch_add(1, SeqCst);
                sum.fetch_add(i, SeqCst);
                if i % 4096 == 0 {
                    progress.step();
                }
            })
        };
        for k in 0..spawners {
            let first = k * PER_SPAWNER;
            let last = (first + PER_SPAWNER).min(from_tasks);
            drop(s.spawn(track(&spawner_counts, async move {
                for i in first..last {
                    drop(s.spawn(leaf(i)));
                }
            })));
        }
        for i in from_tasks..total {
            drop(s.spawn(leaf(i)));
        }
    });
    assert_eq!(ran.load(SeqCst), total, "tasks that ran");
    assert_eq!(sum.load(SeqCst), total * (total - 1) / 2, "sum of task ids");
    let t = counts.assert_settled("leaves", total);
    assert_eq!(t.completed, total);
    assert_eq!(t.polls, total + total.div_ceil(64), "polls");
    assert_eq!(
        spawner_counts
            .assert_settled("spawners", spawners)
            .completed,
        spawners
    );
    drop(rt);
    assert_threads_gone(&prefix);
}

// ---------------------------------------------------------------------------
// Thousands of scopes in a row.
// ---------------------------------------------------------------------------

#[test]
fn thousands_of_scopes_in_a_row() {
    stress("thousands_of_scopes_in_a_row", scopes_in_a_row);
}

/// One scope of round `round`: 0 to 4 tasks, each writing a borrowed slot.
fn one_short_scope(rt: &Runtime, round: usize, counts: &Counts) -> usize {
    let tasks = round % 5;
    let mut slots = [0usize; 4];
    rt.scope(|s| {
        for (i, slot) in slots.iter_mut().take(tasks).enumerate() {
            drop(s.spawn(track(counts, async move {
                if (round + i) % 3 == 0 {
                    yield_now().await;
                }
                *slot = round * 10 + i + 1;
            })));
        }
    });
    for (i, &slot) in slots.iter().enumerate() {
        let expected = if i < tasks { round * 10 + i + 1 } else { 0 };
        assert_eq!(slot, expected, "round {round}, slot {i}");
    }
    tasks
}

/// Two sequences of scopes at once: one from this thread (which parks while
/// it waits) and one from a task (whose worker helps while it waits).
fn scopes_in_a_row(scale: f64, progress: &Progress) {
    let rounds = scaled(10000, scale);
    let prefix = unique_prefix("row");
    let rt = named_rt(2, &prefix);
    let counts = Counts::new();
    let outer_counts = Counts::new();
    let mut spawned = 0;
    let inner_spawned = AtomicUsize::new(0);
    rt.scope(|outer| {
        let (rt, counts, inner_spawned) = (&rt, &counts, &inner_spawned);
        drop(outer.spawn(track(&outer_counts, async move {
            for round in 0..rounds {
                inner_spawned.fetch_add(one_short_scope(rt, round, counts), SeqCst);
                progress.step();
            }
        })));
        for round in 0..rounds {
            spawned += one_short_scope(rt, round, counts);
            progress.step_at(format!("round {round} of {rounds}: {:?}", counts.tally()));
        }
    });
    let total = spawned + inner_spawned.load(SeqCst);
    assert_eq!(total, 2 * (0..rounds).map(|r| r % 5).sum::<usize>());
    assert_eq!(
        counts.assert_settled("scoped tasks", total).completed,
        total
    );
    assert_eq!(outer_counts.assert_settled("outer task", 1).completed, 1);
    drop(rt);
    assert_threads_gone(&prefix);
}

// ---------------------------------------------------------------------------
// 200 rounds of aborting 50 running tasks.
// ---------------------------------------------------------------------------

#[test]
fn rounds_of_aborting_fifty_running_tasks() {
    stress("rounds_of_aborting_fifty_running_tasks", abort_rounds);
}

/// Busy work inside a poll, so that some aborts land mid-poll.
fn spin_a_little() {
    for _ in 0..50 {
        std::hint::spin_loop();
    }
}

fn abort_rounds(scale: f64, progress: &Progress) {
    const TASKS: usize = 50;
    let rounds = scaled(200, scale);
    let prefix = unique_prefix("abt");
    let rt = named_rt(2, &prefix);
    let counts = Counts::new();
    let (mut total_ok, mut total_cancelled) = (0, 0);
    for round in 0..rounds {
        let started = AtomicUsize::new(0);
        let finished: Vec<AtomicBool> = (0..TASKS).map(|_| AtomicBool::new(false)).collect();
        let event = Event::new();
        let results: Vec<Result<usize, paddock::JoinError>> = thread::scope(|threads| {
            rt.scope(|s| {
                let handles: Vec<JoinHandle<'_, usize>> = (0..TASKS)
                    .map(|i| {
                        let (started, finished, event) = (&started, &finished[i], &event);
                        s.spawn(track(&counts, async move {
                            started.fetch_add(1, SeqCst);
                            match i % 5 {
                                // Suspended, never to be woken.
                                0 => pending::<()>().await,
                                // Running for ever, one yield at a time.
                                1 => loop {
                                    yield_now().await
                                },
                                // Finishing soon: the abort races completion.
                                2 => {
                                    for _ in 0..(round + i) % 7 {
                                        yield_now().await;
                                    }
                                }
                                // Woken from a foreign thread as it is aborted.
                                3 => event.wait().await,
                                // Busy inside its polls when the abort comes.
                                _ => loop {
                                    spin_a_little();
                                    yield_now().await;
                                },
                            }
                            finished.store(true, SeqCst);
                            i
                        }))
                    })
                    .collect();
                // "Running": every task has been polled at least once.
                wait_until(|| started.load(SeqCst) == TASKS);
                threads.spawn(|| event.set());
                // Half are aborted from this thread, half from a task.
                let (here, there): (Vec<_>, Vec<_>) = handles
                    .into_iter()
                    .enumerate()
                    .partition(|(i, _)| i % 2 == 0);
                let aborter = s.spawn(async move {
                    for (_, h) in &there {
                        h.abort();
                    }
                    there
                });
                for (_, h) in &here {
                    h.abort();
                    h.abort();
                }
                let mut all = here;
                all.extend(aborter.join().expect("the aborter task"));
                all.sort_by_key(|(i, _)| *i);
                all.into_iter()
                    .map(|(_, h)| {
                        // Aborting an aborted or finished task does nothing.
                        h.abort();
                        h.join()
                    })
                    .collect()
            })
        });
        for (i, result) in results.into_iter().enumerate() {
            let finished = finished[i].load(SeqCst);
            match result {
                Ok(value) => {
                    assert_eq!(value, i);
                    assert!(finished, "round {round}: task {i} is Ok but did not finish");
                    assert!(
                        matches!(i % 5, 2 | 3),
                        "round {round}: task {i} cannot finish"
                    );
                    total_ok += 1;
                }
                Err(error) => {
                    assert!(error.is_cancelled(), "round {round}: task {i}: {error}");
                    assert!(
                        !finished,
                        "round {round}: task {i} finished yet is cancelled"
                    );
                    total_cancelled += 1;
                }
            }
        }
        assert!(event.is_set());
        let t = counts.assert_settled("aborted tasks", TASKS * (round + 1));
        assert_eq!((t.completed, t.cancelled), (total_ok, total_cancelled));
        progress.step_at(format!("round {round} of {rounds}: {:?}", counts.tally()));
    }
    assert_eq!(total_ok + total_cancelled, TASKS * rounds);
    assert!(
        total_cancelled >= rounds * TASKS * 3 / 5,
        "the never-ending tasks"
    );
    drop(rt);
    assert_threads_gone(&prefix);
}

// ---------------------------------------------------------------------------
// Wakes racing completion from foreign threads.
// ---------------------------------------------------------------------------

#[test]
fn foreign_wakes_race_completion_in_rounds() {
    stress("foreign_wakes_race_completion_in_rounds", foreign_wakes);
}

/// A task's half of a hand-off with a foreign thread: the foreign thread
/// moves `step` on once the task has seen the current one, and wakes it.
#[derive(Default)]
struct Stepper {
    step: AtomicUsize,
    seen: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

fn foreign_wakes(scale: f64, progress: &Progress) {
    const TASKS: usize = 64;
    const STEPS: usize = 6;
    const THREADS: usize = 3;
    let rounds = scaled(200, scale);
    let prefix = unique_prefix("fwk");
    let rt = named_rt(2, &prefix);
    let counts = Counts::new();
    for round in 0..rounds {
        let steppers: Vec<Stepper> = (0..TASKS).map(|_| Stepper::default()).collect();
        let scope_done = AtomicBool::new(false);
        thread::scope(|threads| {
            for t in 0..THREADS {
                let (steppers, scope_done) = (&steppers, &scope_done);
                threads.spawn(move || {
                    let mine: Vec<&Stepper> = steppers.iter().skip(t).step_by(THREADS).collect();
                    let mut kept = Vec::new();
                    let mut idle_passes = 0u32;
                    while mine.iter().any(|st| st.step.load(SeqCst) < STEPS) {
                        let mut progressed = false;
                        for (k, st) in mine.iter().enumerate() {
                            let step = st.step.load(SeqCst);
                            if step == STEPS || st.seen.load(SeqCst) != step {
                                continue;
                            }
                            let Some(waker) = st.waker.lock().unwrap().clone() else {
                                continue;
                            };
                            st.step.store(step + 1, SeqCst);
                            progressed = true;
                            // Several wakes by several means, racing the
                            // poll they cause and, at the last step, the
                            // task's completion.
                            match (k + step + round) % 3 {
                                0 => waker.wake_by_ref(),
                                // Waking by value consumes a reference.
                                1 => {
                                    let by_value = waker.clone();
                                    by_value.wake();
                                }
                                _ => {
                                    waker.wake_by_ref();
                                    waker.wake_by_ref();
                                }
                            }
                            if step + 1 == STEPS {
                                waker.wake_by_ref();
                                kept.push(waker);
                            }
                        }
                        if progressed {
                            idle_passes = 0;
                        } else {
                            idle_passes += 1;
                            if idle_passes < 64 {
                                thread::yield_now();
                            } else {
                                thread::sleep(Duration::from_micros(50));
                            }
                        }
                    }
                    // Wakes after the tasks are certainly gone.
                    wait_until(|| scope_done.load(SeqCst));
                    for waker in kept {
                        waker.wake_by_ref();
                        waker.wake();
                    }
                });
            }
            rt.scope(|s| {
                for st in &steppers {
                    drop(s.spawn(track(&counts, async move {
                        poll_fn(|cx| {
                            let step = st.step.load(SeqCst);
                            if step == STEPS {
                                return Poll::Ready(());
                            }
                            *st.waker.lock().unwrap() = Some(cx.waker().clone());
                            st.seen.store(step, SeqCst);
                            // A step taken since the load above was taken
                            // with this waker in place, so it will wake us.
                            Poll::Pending
                        })
                        .await;
                    })));
                }
            });
            scope_done.store(true, SeqCst);
            // The foreign threads are joined at the end of `thread::scope`.
        });
        // Each task was woken at every step; none was polled after it ended.
        let t = counts.assert_settled("woken tasks", TASKS * (round + 1));
        assert_eq!(t.completed, TASKS * (round + 1));
        assert!(t.polls >= t.completed * (STEPS + 1), "{t:?}");
        for st in &steppers {
            assert_eq!(st.step.load(SeqCst), STEPS);
        }
        progress.step_at(format!("round {round} of {rounds}: {:?}", counts.tally()));
    }
    drop(rt);
    assert_threads_gone(&prefix);
}

// ---------------------------------------------------------------------------
// Wakers kept in a global after their scope returned, woken later.
// ---------------------------------------------------------------------------

#[test]
fn wakers_kept_in_a_global_after_their_scope() {
    stress(
        "wakers_kept_in_a_global_after_their_scope",
        wakers_in_a_global,
    );
}

/// Wakers of tasks long finished or cancelled, of scopes long returned and of
/// runtimes long dropped, as a reactor would keep them.
static STASH: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

/// Stashes a clone of its waker on the first poll; then `Pending` until it
/// is woken `polls - 1` times, or for ever if `polls` is 0.
fn stashing(polls: usize) -> impl Future<Output = ()> + Send {
    let mut polled = 0;
    poll_fn(move |cx| {
        polled += 1;
        if polled == 1 {
            STASH.lock().unwrap().push(cx.waker().clone());
        }
        if polled == polls {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

/// Wakes every stashed waker, by every means, from two threads at once.
fn wake_the_stash() {
    let wakers = STASH.lock().unwrap().clone();
    thread::scope(|threads| {
        for half in wakers.chunks(wakers.len().div_ceil(2).max(1)) {
            threads.spawn(move || {
                for waker in half {
                    waker.wake_by_ref();
                    let by_value = waker.clone();
                    by_value.wake();
                }
            });
        }
    });
    drop(wakers);
}

fn wakers_in_a_global(scale: f64, progress: &Progress) {
    const KEEP: usize = 2000;
    let rounds = scaled(150, scale);
    let prefix = unique_prefix("wkg");
    // Each round's counts, and its poll count once all of its tasks ended.
    let mut history: Vec<(Arc<Counts>, usize)> = Vec::new();
    for round in 0..rounds {
        let rt = named_rt(1 + round % 2, &prefix);
        let counts = Arc::new(Counts::new());
        // 'static tasks that stay pending until the runtime cancels them.
        let statics: Vec<_> = (0..3)
            .map(|_| rt.spawn(track(Arc::clone(&counts), stashing(0))))
            .collect();
        let woken_here = Event::new();
        let suspended = AtomicUsize::new(0);
        let raise = round % 4 == 0;
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                let (c, woken_here, suspended) = (&*counts, &woken_here, &suspended);
                let mut to_abort = Vec::new();
                for i in 0..12 {
                    let h = match i % 4 {
                        // Done on its first poll, its waker left behind.
                        0 => s.spawn(track(c, stashing(1))),
                        // Woken through an event of its own, once.
                        1 => s.spawn(track(c, async move {
                            stashing(1).await;
                            woken_here.wait().await;
                        })),
                        // Woken through the stash, then done.
                        2 => s.spawn(track(c, stashing(2))),
                        // Suspended for ever: aborted below.
                        _ => s.spawn(track(c, async move {
                            stashing(1).await;
                            suspended.fetch_add(1, SeqCst);
                            pending::<()>().await;
                        })),
                    };
                    if i % 4 == 3 {
                        to_abort.push(h);
                    }
                }
                if raise {
                    drop(s.spawn(track(c, async move {
                        stashing(1).await;
                        panic::panic_any(Payload(round as u32));
                    })));
                }
                woken_here.set();
                // Wake this round's tasks, and every older waker, while the
                // tasks run.
                wait_until(|| {
                    wake_the_stash();
                    c.tally().completed >= 9 && suspended.load(SeqCst) == 3
                });
                for h in to_abort {
                    h.abort();
                }
            })
        }));
        match result {
            Ok(()) => assert!(!raise),
            Err(payload) => {
                assert!(raise);
                assert_eq!(payload_of(payload), round as u32);
            }
        }
        let t = counts.tally();
        assert_eq!(
            (t.completed, t.panicked, t.cancelled),
            (9, usize::from(raise), 3),
            "round {round}: {t:?}"
        );
        if round % 2 == 0 {
            // Wake everything with the runtime still alive...
            wake_the_stash();
            drop(rt);
        } else {
            // ... or only after it is gone.
            drop(rt);
            wake_the_stash();
        }
        assert_threads_gone(&prefix);
        for h in statics {
            assert!(h.join().unwrap_err().is_cancelled());
        }
        let t = counts.assert_settled("stashing tasks", 15 + usize::from(raise));
        history.push((counts, t.polls));
        // Nothing that ended was polled again, whatever woke it since.
        wake_the_stash();
        for (r, (counts, polls)) in history.iter().enumerate() {
            assert_eq!(
                counts.tally().polls,
                *polls,
                "a task of round {r} was polled after its end"
            );
        }
        // Keep the stash bounded; drop the oldest wakers on another thread.
        let old: Vec<Waker> = {
            let mut stash = STASH.lock().unwrap();
            let excess = stash.len().saturating_sub(KEEP);
            stash.drain(..excess).collect()
        };
        thread::spawn(move || drop(old)).join().unwrap();
        progress.step_at(format!("round {round} of {rounds}: {t:?}"));
    }
    assert_threads_gone(&prefix);
}

// ---------------------------------------------------------------------------
// Panics in poll, in a future's drop, in the closure, and payloads whose own
// drop panics.
// ---------------------------------------------------------------------------

#[test]
fn panics_everywhere_in_rounds() {
    stress("panics_everywhere_in_rounds", panics_everywhere);
}

/// Completes at once, then panics with `Payload(id)` when dropped.
struct ReadyThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl Future for ReadyThenPanicOnDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// Pending for ever; panics with `Payload(id)` when dropped.
struct PendingThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl Future for PendingThenPanicOnDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

fn id_of(error: paddock::JoinError) -> u32 {
    assert!(error.is_panic(), "{error}");
    defuse(error.into_panic())
}

fn panics_everywhere(scale: f64, progress: &Progress) {
    const UNOBSERVED: u32 = 6;
    const HEALTHY: usize = 20;
    let rounds = scaled(500, scale);
    let prefix = unique_prefix("pan");
    let rt = named_rt(2, &prefix);
    let counts = Counts::new();
    let bombs_dropped = Arc::new(AtomicUsize::new(0));
    let mut bombs_made = 0;
    let (mut completed, mut panicked, mut cancelled) = (0, 0, 0);
    for round in 0..rounds {
        let healthy = AtomicUsize::new(0);
        let gate = Event::new();
        let closure_panics = round % 3 == 0;
        let bomb = |id| Bomb {
            id,
            drops: Arc::clone(&bombs_dropped),
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                let c = &counts;
                // Observed: joined, each an error with its own payload.
                let first_poll = s.spawn(track(c, async { boom(1) }));
                let later_poll = s.spawn(track(c, async {
                    yield_now().await;
                    boom(2)
                }));
                let bomb_3 = bomb(3);
                let observed_bomb = s.spawn(track(c, async move {
                    yield_now().await;
                    panic::panic_any(bomb_3)
                }));
                // A future whose drop panics as the abort drops it: the panic
                // is the handle's error, not lost.
                let aborted = s.spawn(track(c, PendingThenPanicOnDrop(PanicOnDrop(4))));
                // Unobserved: the scope re-raises the first, disposes of the rest.
                for k in 0..UNOBSERVED {
                    drop(s.spawn(track(c, async move {
                        for _ in 0..k % 3 {
                            yield_now().await;
                        }
                        boom(100 + k)
                    })));
                }
                let bomb_200 = bomb(200);
                drop(s.spawn(track(c, async move { panic::panic_any(bomb_200) })));
                // Completed, then the future's drop panics.
                drop(s.spawn(track(c, ReadyThenPanicOnDrop(PanicOnDrop(201)))));
                // Completed, then the detached output's drop panics. The task
                // waits for `gate` so that its handle is certainly dropped
                // first and the runtime drops the output; a handle dropped
                // after completion is `dropping_a_finished_handle_...` below.
                let gate = &gate;
                drop(s.spawn(track(c, async move {
                    gate.wait().await;
                    PanicOnDrop(202)
                })));
                gate.set();
                // Tasks the scope must wait for, whatever panics around them.
                for k in 0..HEALTHY {
                    let healthy = &healthy;
                    drop(s.spawn(track(c, async move {
                        for _ in 0..k % 5 {
                            yield_now().await;
                        }
                        healthy.fetch_add(1, SeqCst);
                    })));
                }
                aborted.abort();
                assert_eq!(id_of(first_poll.join().unwrap_err()), 1);
                assert_eq!(id_of(later_poll.join().unwrap_err()), 2);
                assert_eq!(id_of(observed_bomb.join().unwrap_err()), 3);
                assert_eq!(id_of(aborted.join().unwrap_err()), 4);
                if closure_panics {
                    panic::panic_any(Payload(999));
                }
            })
        }));
        bombs_made += 2;
        let reraised = defuse(result.expect_err("every round has an unobserved panic"));
        if closure_panics {
            assert_eq!(reraised, 999, "round {round}: the closure's panic wins");
        } else {
            let unobserved: Vec<u32> = (100..100 + UNOBSERVED).chain([200, 201, 202]).collect();
            assert!(
                unobserved.contains(&reraised),
                "round {round}: re-raised {reraised}, not an unobserved panic"
            );
        }
        assert_eq!(
            healthy.load(SeqCst),
            HEALTHY,
            "round {round}: a panic cut the wait short"
        );
        // Per round: 3 + UNOBSERVED + 1 polls panic; 1 future is cancelled;
        // the healthy tasks and the two panicking drops complete.
        panicked += 4 + UNOBSERVED as usize;
        cancelled += 1;
        completed += HEALTHY + 2;
        let t = counts.assert_settled("panicking tasks", completed + panicked + cancelled);
        assert_eq!(
            (t.completed, t.panicked, t.cancelled),
            (completed, panicked, cancelled)
        );
        assert_eq!(
            bombs_dropped.load(SeqCst),
            bombs_made,
            "round {round}: every Bomb payload is dropped once"
        );
        progress.step_at(format!("round {round} of {rounds}: {:?}", counts.tally()));
    }
    // Both workers are alive: two tasks that wait for each other complete.
    every_worker_runs_at_once(&rt);
    assert_thread_count(&prefix, 2);
    drop(rt);
    assert_threads_gone(&prefix);
}

/// A finished task's output whose `Drop` panics, its handle dropped after
/// the task completed. Dropped before completion, the same handle leaves the
/// output to the runtime, which catches the panic and has the scope re-raise
/// it after every task is done; dropped after, the output is dropped inside
/// `JoinHandle::drop` with no panic boundary, so the panic unwinds into the
/// code that dropped the handle (and aborts the process if that code is
/// already unwinding). In `panics_everywhere_in_rounds` this made the closure
/// stop half-way, before it aborted a task that waits for ever, and the scope
/// then waited for ever too (seen under valgrind on a loaded host).
#[test]
fn dropping_a_finished_handle_contains_its_outputs_drop_panic() {
    watchdog(
        LIMIT,
        "dropping_a_finished_handle_contains_its_outputs_drop_panic",
        || {
            let rt = common::rt(1);
            let went_on = AtomicBool::new(false);
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    let h = s.spawn(async { PanicOnDrop(7) });
                    wait_until(|| h.is_finished());
                    drop(h);
                    went_on.store(true, SeqCst);
                })
            }));
            assert!(
                went_on.load(SeqCst),
                "the output's drop panic unwound out of JoinHandle::drop into the closure"
            );
            assert_eq!(
                payload_of(result.expect_err("the scope re-raises the unobserved panic")),
                7
            );
        },
    );
}

// ---------------------------------------------------------------------------
// Nested scopes 200 deep.
// ---------------------------------------------------------------------------

#[test]
fn nested_scopes_two_hundred_deep_in_rounds() {
    stress("nested_scopes_two_hundred_deep_in_rounds", nested_scopes);
}

const DEPTH: usize = 200;

/// Level `depth` of a nest: a scope with a sibling leaf and a task that goes
/// one level deeper. The bottom returns its depth, or panics with it, which
/// every level then passes up.
fn nest(rt: &Runtime, depth: usize, counts: &Counts, panics: bool) -> usize {
    if depth == DEPTH {
        if panics {
            panic::panic_any(Payload(depth as u32));
        }
        return depth;
    }
    if depth % 7 == 3 {
        paddock::scope(|s| nest_level(s, rt, depth, counts, panics))
    } else {
        rt.scope(|s| nest_level(s, rt, depth, counts, panics))
    }
}

/// The body of one level's scope; the deeper task is waited for in one of
/// three ways.
fn nest_level<'scope>(
    s: &'scope Scope<'scope, '_>,
    rt: &'scope Runtime,
    depth: usize,
    counts: &'scope Counts,
    panics: bool,
) -> usize {
    drop(s.spawn(track(counts, async {
        yield_now().await;
    })));
    let deeper = s.spawn(track(
        counts,
        async move { nest(rt, depth + 1, counts, panics) },
    ));
    let resume = |error: paddock::JoinError| panic::resume_unwind(error.into_panic());
    match depth % 3 {
        0 => deeper.join().unwrap_or_else(resume),
        1 => paddock::block_on(deeper).unwrap_or_else(resume),
        // Detached: a panic comes back through the scope.
        _ => {
            drop(deeper);
            DEPTH
        }
    }
}

fn nested_scopes(scale: f64, progress: &Progress) {
    let rounds = scaled(60, scale);
    let prefix = unique_prefix("nst");
    let (mut completed, mut panicked) = (0, 0);
    let counts = Counts::new();
    for round in 0..rounds {
        let rt = named_rt(1 + round % 2, &prefix);
        let panics = round % 3 == 2;
        let result = catch_unwind(AssertUnwindSafe(|| {
            if round % 2 == 0 {
                // Level 0 is this thread, outside the pool.
                nest(&rt, 0, &counts, panics)
            } else {
                rt.block_on(async { nest(&rt, 0, &counts, panics) })
            }
        }));
        match result {
            Ok(depth) => {
                assert!(!panics);
                assert_eq!(depth, DEPTH);
                completed += 2 * DEPTH;
            }
            Err(payload) => {
                assert!(panics);
                assert_eq!(
                    payload_of(payload),
                    DEPTH as u32,
                    "the bottom's panic, intact"
                );
                completed += DEPTH;
                panicked += DEPTH;
            }
        }
        let t = counts.assert_settled("nested tasks", 2 * DEPTH * (round + 1));
        assert_eq!((t.completed, t.panicked), (completed, panicked));
        drop(rt);
        assert_threads_gone(&prefix);
        progress.step_at(format!("round {round} of {rounds}: {:?}", counts.tally()));
    }
}

// ---------------------------------------------------------------------------
// Runtimes created and dropped hundreds of times.
// ---------------------------------------------------------------------------

#[test]
fn hundreds_of_runtimes_created_and_dropped() {
    stress("hundreds_of_runtimes_created_and_dropped", runtime_churn);
}

fn runtime_churn(scale: f64, progress: &Progress) {
    let rounds = scaled(500, scale);
    let prefix = unique_prefix("rts");
    let scoped = Counts::new();
    let statics = Arc::new(Counts::new());
    let mut completed = 0;
    for round in 0..rounds {
        let workers = 1 + round % 3;
        let rt = named_rt(workers, &prefix);
        assert_eq!(rt.num_workers(), workers);
        let data: Vec<usize> = (0..64).collect();
        let sum = rt.scope(|s| {
            let handles: Vec<_> = data
                .chunks(16)
                .map(|c| {
                    s.spawn(track(
                        &scoped,
                        async move { c.iter().sum::<usize>() + round },
                    ))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(sum, 2016 + 4 * round);
        // 'static tasks left in every state when the runtime goes.
        let quick = rt.spawn(track(Arc::clone(&statics), async { 7 }));
        let suspended = rt.spawn(track(Arc::clone(&statics), async {
            pending::<()>().await;
            0
        }));
        let spinning = rt.spawn(track(Arc::clone(&statics), async {
            loop {
                yield_now().await;
            }
        }));
        if round % 2 == 0 {
            assert_eq!(quick.join().unwrap(), 7);
            completed += 1;
            match round % 4 {
                0 => drop(rt),
                // Dropped by another thread.
                _ => thread::spawn(move || drop(rt)).join().unwrap(),
            }
        } else {
            // Dropped at once: `quick` may not have run.
            drop(rt);
            match quick.join() {
                Ok(value) => {
                    assert_eq!(value, 7);
                    completed += 1;
                }
                Err(error) => assert!(error.is_cancelled(), "{error}"),
            }
        }
        assert!(suspended.join().unwrap_err().is_cancelled());
        assert!(spinning.join().unwrap_err().is_cancelled());
        // Every future of the dropped runtime is gone, and so are its threads.
        let t = statics.assert_settled("'static tasks", 3 * (round + 1));
        assert_eq!(t.completed, completed);
        assert_threads_gone(&prefix);
        progress.step_at(format!("round {round} of {rounds}: {:?}", statics.tally()));
    }
    assert_eq!(
        scoped.assert_settled("scoped tasks", 4 * rounds).completed,
        4 * rounds
    );
}

// ---------------------------------------------------------------------------
// A runtime dropped while 'static tasks are pending.
// ---------------------------------------------------------------------------

#[test]
fn runtime_dropped_while_static_tasks_pending() {
    stress(
        "runtime_dropped_while_static_tasks_pending",
        drop_with_pending_tasks,
    );
}

fn drop_with_pending_tasks(scale: f64, progress: &Progress) {
    const TASKS: usize = 60;
    let rounds = scaled(150, scale);
    let prefix = unique_prefix("drp");
    let counts = Arc::new(Counts::new());
    let children = Arc::new(Counts::new());
    for round in 0..rounds {
        let rt = named_rt(2, &prefix);
        let started = Arc::new(AtomicUsize::new(0));
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let finished: Arc<Vec<AtomicBool>> =
            Arc::new((0..TASKS).map(|_| AtomicBool::new(false)).collect());
        let handles: Vec<JoinHandle<'static, usize>> = (0..TASKS)
            .map(|i| {
                let (started, wakers, finished) =
                    (started.clone(), wakers.clone(), finished.clone());
                let children = children.clone();
                rt.spawn(track(counts.clone(), async move {
                    started.fetch_add(1, SeqCst);
                    match i % 5 {
                        // Pending, with its waker in foreign hands.
                        0 => {
                            let mut first = true;
                            poll_fn(|cx| {
                                if first {
                                    first = false;
                                    wakers.lock().unwrap().push(cx.waker().clone());
                                }
                                Poll::<()>::Pending
                            })
                            .await
                        }
                        // Running for ever.
                        1 => loop {
                            yield_now().await;
                        },
                        // Finishing soon: the drop races completion.
                        2 => {
                            for _ in 0..i % 7 {
                                yield_now().await;
                            }
                        }
                        // Spawning 'static children while the runtime shuts
                        // down; those spawned after are cancelled at birth.
                        3 => loop {
                            drop(paddock::spawn(track(children.clone(), async {
                                yield_now().await;
                            })));
                            yield_now().await;
                        },
                        // Blocked in a nested scope when the drop comes: the
                        // poll finishes, scope and all, before the worker goes.
                        _ => {
                            paddock::scope(|s| {
                                for _ in 0..3 {
                                    drop(s.spawn(async {
                                        for _ in 0..3 {
                                            yield_now().await;
                                        }
                                    }));
                                }
                            });
                            pending::<()>().await;
                        }
                    }
                    finished[i].store(true, SeqCst);
                    i
                }))
            })
            .collect();
        let stop = AtomicBool::new(false);
        thread::scope(|threads| {
            // Wakes of pending tasks, racing the shutdown.
            threads.spawn(|| {
                while !stop.load(SeqCst) {
                    for waker in wakers.lock().unwrap().iter() {
                        waker.wake_by_ref();
                    }
                    thread::yield_now();
                }
            });
            if round % 2 == 0 {
                // Every task has run at least once; otherwise some are still
                // queued, never polled, when the drop comes.
                wait_until(|| started.load(SeqCst) == TASKS);
            }
            if round % 3 == 0 {
                thread::spawn(move || drop(rt)).join().unwrap();
            } else {
                drop(rt);
            }
            // Workers are joined: every future is already gone.
            let t = counts.assert_settled("'static tasks", TASKS * (round + 1));
            assert_eq!(t.panicked, 0);
            stop.store(true, SeqCst);
        });
        assert_threads_gone(&prefix);
        let t = children.tally();
        assert_eq!(children.assert_settled("children", t.created).panicked, 0);
        for (i, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(value) => {
                    assert_eq!(value, i);
                    assert_eq!(i % 5, 2, "task {i} cannot finish");
                    assert!(finished[i].load(SeqCst));
                }
                Err(error) => {
                    assert!(error.is_cancelled(), "{error}");
                    assert!(!finished[i].load(SeqCst));
                }
            }
        }
        // The wakers outlive their runtime; waking them does nothing.
        for waker in std::mem::take(&mut *wakers.lock().unwrap()) {
            waker.wake();
        }
        assert_eq!(counts.tally().dropped, TASKS * (round + 1));
        progress.step_at(format!("round {round} of {rounds}: {:?}", counts.tally()));
    }
}

// ---------------------------------------------------------------------------
// The soak: every scenario, over and over, two at a time.
// ---------------------------------------------------------------------------

const SCENARIOS: [(&str, Scenario); 9] = [
    ("a_million_tasks_in_one_scope", million_tasks),
    ("thousands_of_scopes_in_a_row", scopes_in_a_row),
    ("rounds_of_aborting_fifty_running_tasks", abort_rounds),
    ("foreign_wakes_race_completion_in_rounds", foreign_wakes),
    (
        "wakers_kept_in_a_global_after_their_scope",
        wakers_in_a_global,
    ),
    ("panics_everywhere_in_rounds", panics_everywhere),
    ("nested_scopes_two_hundred_deep_in_rounds", nested_scopes),
    ("hundreds_of_runtimes_created_and_dropped", runtime_churn),
    (
        "runtime_dropped_while_static_tasks_pending",
        drop_with_pending_tasks,
    ),
];

#[test]
#[ignore = "an hour-long soak: cargo test --release --test stress soak -- --ignored"]
fn soak() {
    let scale = stress_scale();
    let secs = soak_secs();
    let deadline = Instant::now() + Duration::from_secs(secs);
    eprintln!("soak: {secs} s at scale {scale}, two scenarios at a time");
    let passes = AtomicUsize::new(0);
    thread::scope(|threads| {
        for lane in 0..2 {
            let passes = &passes;
            threads.spawn(move || {
                let mut order = SCENARIOS.to_vec();
                if lane == 1 {
                    order.reverse();
                }
                let mut pass = 0;
                while Instant::now() < deadline {
                    // Rotate, so that every pair of scenarios meets in time.
                    order.rotate_left(lane + 1);
                    for &(name, scenario) in &order {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let started = Instant::now();
                        progress_watchdog(STALL_SECS, name, move |progress| {
                            scenario(scale, progress)
                        });
                        eprintln!(
                            "soak lane {lane} pass {pass}: {name} ok in {:.1} s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                    pass += 1;
                    passes.fetch_add(1, SeqCst);
                }
            });
        }
    });
    eprintln!("soak: {} passes, no failure", passes.load(SeqCst));
}
