//! `Scope::cancel`: aborts every unfinished task of the scope; tasks spawned
//! afterwards start cancelled (dropped, never polled); the scope still
//! waits for every future to be dropped, then returns the closure's value.

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Mutex};

use common::{
    capped_rt, is_cancelled, progress_watchdog, rt, scaled, stress_scale, track, watchdog,
    CountDrop, Counts, Event, Gate, SetOnDrop, LIMIT,
};
use paddock::yield_now;

/// The first task to fail records its error and cancels the rest, which
/// would otherwise never end; every future is dropped exactly once, and the
/// other handles report cancelled.
#[test]
fn the_first_error_cancels_the_rest() {
    watchdog(LIMIT, "the_first_error_cancels_the_rest", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            let dropped = AtomicUsize::new(0);
            let first_error = Mutex::new(None::<String>);
            let results = rt.scope(|s| {
                let handles: Vec<_> = (0..16)
                    .map(|i| {
                        let first_error = &first_error;
                        // Made here, not in the task: dropped with the
                        // future, polled or not.
                        let count = CountDrop(&dropped);
                        s.spawn(async move {
                            let _count = count;
                            for _ in 0..i {
                                yield_now().await;
                            }
                            if i == 5 {
                                first_error
                                    .lock()
                                    .unwrap()
                                    .get_or_insert(format!("task {i} failed"));
                                s.cancel();
                                return Err(i);
                            }
                            pending::<()>().await;
                            Ok(i)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
            });
            assert_eq!(dropped.load(SeqCst), 16, "{workers} workers");
            assert_eq!(
                first_error.into_inner().unwrap().as_deref(),
                Some("task 5 failed")
            );
            for (i, result) in results.iter().enumerate() {
                if i == 5 {
                    // It returned from the poll in which it cancelled: its
                    // output is kept.
                    assert!(matches!(result, Ok(Err(5))), "task 5: {result:?}");
                } else {
                    assert!(is_cancelled(result), "task {i}: {result:?}");
                }
            }
        }
    });
}

/// Cancelled from the closure: waiting, queued and yielding tasks are all
/// dropped; the scope returns the closure's value.
#[test]
fn cancel_from_the_closure_returns_the_closures_value() {
    watchdog(
        LIMIT,
        "cancel_from_the_closure_returns_the_closures_value",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let dropped = AtomicUsize::new(0);
                let event = Event::new();
                let (value, results) = rt.scope(|s| {
                    let mut handles = Vec::new();
                    for _ in 0..8 {
                        let count = CountDrop(&dropped);
                        let event = &event;
                        handles.push(s.spawn(async move {
                            let _count = count;
                            event.wait().await;
                        }));
                        let count = CountDrop(&dropped);
                        handles.push(s.spawn(async move {
                            let _count = count;
                            loop {
                                yield_now().await;
                            }
                        }));
                    }
                    s.cancel();
                    let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
                    ("closure value", results)
                });
                assert_eq!(value, "closure value");
                assert_eq!(dropped.load(SeqCst), 16);
                assert!(results.iter().all(is_cancelled), "{results:?}");
                assert!(!event.is_set());
            }
        },
    );
}

/// Tasks and jobs spawned after `cancel` start cancelled: never polled or
/// run, but dropped; their handles say so.
#[test]
fn spawns_after_cancel_start_cancelled() {
    watchdog(LIMIT, "spawns_after_cancel_start_cancelled", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            let polled = AtomicBool::new(false);
            let ran = AtomicBool::new(false);
            let dropped = AtomicBool::new(false);
            let job_dropped = AtomicBool::new(false);
            rt.scope(|s| {
                s.cancel();
                let guard = SetOnDrop(&dropped);
                let task = s.spawn(async {
                    let _guard = guard;
                    polled.store(true, SeqCst);
                });
                let guard = SetOnDrop(&job_dropped);
                let job = s.spawn_blocking(|| {
                    let _guard = guard;
                    ran.store(true, SeqCst);
                });
                assert!(is_cancelled(&task.join()));
                assert!(is_cancelled(&job.join()));
                assert!(dropped.load(SeqCst) && job_dropped.load(SeqCst));
            });
            assert!(
                !polled.load(SeqCst),
                "a task spawned after cancel was polled"
            );
            assert!(!ran.load(SeqCst), "a job spawned after cancel ran");

            // Spawned by a task of the scope after another task cancelled it.
            let child_polled = AtomicBool::new(false);
            let child = rt.scope(|s| {
                let (cancelled_tx, cancelled_rx) = async_channel::bounded::<()>(1);
                s.spawn(async move {
                    s.cancel();
                    // Still running: the cancel takes effect when it returns.
                    cancelled_tx.send(()).await.unwrap();
                });
                rt.block_on(cancelled_rx.recv()).unwrap();
                s.spawn(async { child_polled.store(true, SeqCst) }).join()
            });
            assert!(is_cancelled(&child));
            assert!(!child_polled.load(SeqCst));
        }
    });
}

/// A task that is in the middle of its poll when the scope is cancelled is
/// dropped when that poll returns `Pending`.
#[test]
fn a_running_task_is_cancelled_when_its_poll_returns() {
    watchdog(
        LIMIT,
        "a_running_task_is_cancelled_when_its_poll_returns",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let dropped = AtomicBool::new(false);
                let (in_poll_tx, in_poll_rx) = mpsc::channel::<()>();
                let (cancelled_tx, cancelled_rx) = mpsc::channel::<()>();
                let result = rt.scope(|s| {
                    let guard = SetOnDrop(&dropped);
                    let task = s.spawn(async move {
                        let _guard = guard;
                        in_poll_tx.send(()).unwrap();
                        cancelled_rx.recv().unwrap();
                        // Waits for a wake-up that never comes.
                        pending::<()>().await;
                    });
                    in_poll_rx.recv().unwrap();
                    s.cancel();
                    assert!(!dropped.load(SeqCst), "dropped in the middle of its poll");
                    cancelled_tx.send(()).unwrap();
                    task.join()
                });
                assert!(is_cancelled(&result), "{result:?}");
                assert!(dropped.load(SeqCst));
            }
        },
    );
}

/// Cancel with blocking jobs: a queued job is cancelled (its closure
/// dropped unrun, at its turn); a running one runs to its end and keeps its output; the
/// scope waits for it.
#[test]
fn cancel_with_blocking_jobs() {
    watchdog(LIMIT, "cancel_with_blocking_jobs", || {
        for workers in [1, 2] {
            let rt = capped_rt(workers, 1);
            let gate = Gate::default();
            let finished = AtomicBool::new(false);
            let queued_ran = AtomicBool::new(false);
            let queued_dropped = AtomicBool::new(false);
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let (running, queued) = rt.scope(|s| {
                let running = s.spawn_blocking(|| {
                    started_tx.send(()).unwrap();
                    gate.wait();
                    finished.store(true, SeqCst);
                    "ran to its end"
                });
                started_rx.recv().unwrap();
                let guard = SetOnDrop(&queued_dropped);
                let queued = s.spawn_blocking(|| {
                    let _guard = guard;
                    queued_ran.store(true, SeqCst);
                });
                s.cancel();
                assert!(!running.is_finished());
                gate.open();
                (running.join(), queued.join())
            });
            // The queued job is dropped instead of being run, when its turn
            // comes.
            assert!(queued_dropped.load(SeqCst));
            assert!(finished.load(SeqCst));
            assert_eq!(running.unwrap(), "ran to its end");
            assert!(is_cancelled(&queued));
            assert!(!queued_ran.load(SeqCst));
        }
    });
}

/// Cancelling a scope whose tasks have all finished changes nothing, and
/// cancelling twice is harmless.
#[test]
fn cancel_after_completion_keeps_outputs() {
    watchdog(LIMIT, "cancel_after_completion_keeps_outputs", || {
        let rt = rt(2);
        let outputs = rt.scope(|s| {
            let handles: Vec<_> = (0..10).map(|i| s.spawn(async move { i * 2 })).collect();
            while !handles.iter().all(|h| h.is_finished()) {
                std::thread::yield_now();
            }
            s.cancel();
            s.cancel();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(outputs, (0..10).map(|i| i * 2).collect::<Vec<_>>());
    });
}

/// Cancelling an inner scope leaves the outer scope's tasks alone, and the
/// outer task that opened it goes on.
#[test]
fn cancel_of_an_inner_scope_leaves_the_outer_one_alone() {
    watchdog(
        LIMIT,
        "cancel_of_an_inner_scope_leaves_the_outer_one_alone",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let event = Event::new();
                let (inner, outer) = rt.scope(|s| {
                    let event = &event;
                    let outer = s.spawn(async move {
                        event.wait().await;
                        "outer done"
                    });
                    let inner = s.spawn(async move {
                        let result = paddock::scope(|inner| {
                            let forever = inner.spawn(pending::<()>());
                            inner.cancel();
                            forever.join()
                        });
                        event.set();
                        result
                    });
                    (inner.join().unwrap(), outer.join())
                });
                assert!(is_cancelled(&inner));
                assert_eq!(outer.unwrap(), "outer done");
            }
        },
    );
}

/// Cancel racing completion, many rounds: tasks that yield a few times,
/// wait on an event that a sibling sets, spawn children, and complete,
/// while a sibling (or the closure) cancels the scope at a varying point
/// and the closure aborts some handles. Every future is dropped exactly once and
/// ends once, every handle gives either the output or cancelled, and a task
/// whose poll returned `Ready` keeps its output.
#[test]
fn cancel_racing_completion_loses_nothing() {
    progress_watchdog(5, "cancel_racing_completion_loses_nothing", |progress| {
        let rounds = scaled(2000, stress_scale());
        for workers in [1, 2] {
            let rt = rt(workers);
            for round in 0..rounds {
                let (tasks, children) = (Counts::new(), Counts::new());
                let (tasks, children) = (&tasks, &children);
                let event = Event::new();
                let event = &event;
                let results = rt.scope(|s| {
                    let handles: Vec<_> = (0..24usize)
                        .map(|i| {
                            s.spawn(track(tasks, async move {
                                for _ in 0..(i + round) % 5 {
                                    yield_now().await;
                                }
                                match i % 4 {
                                    0 => event.wait().await,
                                    1 => event.set(),
                                    _ => {}
                                }
                                if i % 3 == 0 {
                                    drop(s.spawn(track(children, async move {
                                        yield_now().await;
                                        i
                                    })));
                                }
                                if i == round % 24 {
                                    s.cancel();
                                }
                                i
                            }))
                        })
                        .collect();
                    if round % 4 == 0 {
                        s.cancel();
                    }
                    for handle in handles.iter().skip(round % 7).step_by(7) {
                        handle.abort();
                    }
                    handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
                });
                let what = format!("{workers} workers, round {round}");
                let tally = tasks.assert_settled(&what, 24);
                children.assert_settled(&what, children.tally().created);
                let mut outputs = 0;
                for (i, result) in results.iter().enumerate() {
                    match result {
                        Ok(output) => {
                            assert_eq!(*output, i, "{what}");
                            outputs += 1;
                        }
                        Err(error) => assert!(error.is_cancelled(), "{what}: task {i}: {error}"),
                    }
                }
                assert_eq!(
                    outputs, tally.completed,
                    "{what}: an output was lost; {tally:?}"
                );
                assert_eq!(tally.panicked, 0);
                progress.step_at(what);
            }
        }
    });
}

/// Spawns a task on `scope` and cancels it again when dropped.
struct SpawnOnDrop<'scope, 'env> {
    scope: &'scope paddock::Scope<'scope, 'env>,
    polled: &'scope AtomicBool,
    dropped: &'scope AtomicUsize,
}

impl Drop for SpawnOnDrop<'_, '_> {
    fn drop(&mut self) {
        let (polled, dropped) = (self.polled, self.dropped);
        let count = CountDrop(dropped);
        drop(self.scope.spawn(async move {
            let _count = count;
            polled.store(true, SeqCst);
        }));
        self.scope.cancel();
    }
}

/// Cancel from a blocking job; the futures it drops spawn onto the scope
/// and cancel it again from their `Drop`: no deadlock, the late spawns
/// start cancelled, every future is dropped.
#[test]
fn cancel_from_a_job_with_futures_that_spawn_and_cancel_on_drop() {
    watchdog(
        LIMIT,
        "cancel_from_a_job_with_futures_that_spawn_and_cancel_on_drop",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let polled = AtomicBool::new(false);
                let dropped = AtomicUsize::new(0);
                let event = Event::new();
                let results = rt.scope(|s| {
                    let handles: Vec<_> = (0..6)
                        .map(|_| {
                            let guard = SpawnOnDrop {
                                scope: s,
                                polled: &polled,
                                dropped: &dropped,
                            };
                            let event = &event;
                            s.spawn(async move {
                                let _guard = guard;
                                event.wait().await;
                            })
                        })
                        .collect();
                    s.spawn_blocking(|| s.cancel()).join().unwrap();
                    handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
                });
                assert!(results.iter().all(is_cancelled), "{results:?}");
                assert_eq!(dropped.load(SeqCst), 6, "the late spawns were dropped");
                assert!(
                    !polled.load(SeqCst),
                    "a task spawned after cancel was polled"
                );
            }
        },
    );
}
