//! `RuntimeMetrics`: exact counts where the program determines them.

mod common;

use std::future::pending;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{capped_rt, panic_message, rt, sleep, wait_until, watchdog, Event, Gate, LIMIT};
use paddock::{yield_now, RuntimeMetrics};

fn total_polls(metrics: &RuntimeMetrics) -> u64 {
    (0..metrics.num_workers())
        .map(|i| metrics.worker_poll_count(i))
        .sum()
}

/// A task that yields `k` times is polled `k + 1` times; on one worker,
/// with the waits outside the runtime, nothing else is polled.
#[test]
fn poll_count_is_one_plus_the_yields() {
    watchdog(LIMIT, "poll_count_is_one_plus_the_yields", || {
        let rt = rt(1);
        let metrics = rt.metrics();
        assert_eq!(metrics.worker_poll_count(0), 0);
        let mut expected = 0;
        for k in [0u64, 1, 5, 20] {
            rt.spawn(async move {
                for _ in 0..k {
                    yield_now().await;
                }
            })
            .join()
            .unwrap();
            expected += k + 1;
            assert_eq!(metrics.worker_poll_count(0), expected, "after {k} yields");
        }
        // A scope from outside: 6 tasks of 3 yields each.
        rt.scope(|s| {
            for _ in 0..6 {
                s.spawn(async {
                    for _ in 0..3 {
                        yield_now().await;
                    }
                });
            }
        });
        expected += 6 * 4;
        assert_eq!(metrics.worker_poll_count(0), expected);
    });
}

/// On two workers the polls split between them, but their sum is exact.
#[test]
fn poll_counts_sum_exactly_on_two_workers() {
    watchdog(LIMIT, "poll_counts_sum_exactly_on_two_workers", || {
        let rt = rt(2);
        let metrics = rt.metrics();
        rt.scope(|s| {
            for i in 0..40u64 {
                s.spawn(async move {
                    for _ in 0..i % 4 {
                        yield_now().await;
                    }
                });
            }
        });
        let expected: u64 = (0..40u64).map(|i| i % 4 + 1).sum();
        assert_eq!(total_polls(&metrics), expected);
    });
}

/// `num_alive_tasks` counts tasks and jobs from spawn to completion,
/// aborted ones included.
#[test]
fn alive_tasks_before_and_after() {
    watchdog(LIMIT, "alive_tasks_before_and_after", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            let metrics = rt.metrics();
            assert_eq!(metrics.num_alive_tasks(), 0);
            let event = Event::new();
            let gate = Gate::default();
            rt.scope(|s| {
                let waiting: Vec<_> = (0..5).map(|_| s.spawn(event.wait())).collect();
                let jobs: Vec<_> = (0..2).map(|_| s.spawn_blocking(|| gate.wait())).collect();
                let forever = rt.spawn(pending::<()>());
                assert_eq!(metrics.num_alive_tasks(), 8);
                forever.abort();
                assert_eq!(metrics.num_alive_tasks(), 7);
                event.set();
                for task in waiting {
                    task.join().unwrap();
                }
                assert_eq!(metrics.num_alive_tasks(), 2);
                gate.open();
                for job in jobs {
                    job.join().unwrap();
                }
                assert_eq!(metrics.num_alive_tasks(), 0);
            });
            assert_eq!(metrics.num_alive_tasks(), 0);
        }
    });
}

/// While a dropped runtime waits for a running job, spawns through a handle
/// are refused (cancelled at once): the running job is still the one task
/// alive, and none is once it ends.
#[test]
fn alive_tasks_stay_exact_across_shutdown() {
    watchdog(LIMIT, "alive_tasks_stay_exact_across_shutdown", || {
        let rt = capped_rt(1, 1);
        let (metrics, handle) = (rt.metrics(), rt.handle());
        let gate = std::sync::Arc::new(Gate::default());
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let running = {
            let gate = gate.clone();
            rt.spawn_blocking(move || {
                started_tx.send(()).unwrap();
                gate.wait();
            })
        };
        started_rx.recv().unwrap();
        let queued = rt.spawn_blocking(|| ());
        assert_eq!(metrics.num_alive_tasks(), 2);
        let dropper = std::thread::spawn(move || drop(rt));
        // The shutdown cancels the queued job, which is certain.
        wait_until(|| queued.is_finished());
        assert_eq!(metrics.num_alive_tasks(), 1);
        for _ in 0..3 {
            assert!(handle.spawn(async {}).join().unwrap_err().is_cancelled());
            assert!(handle
                .spawn_blocking(|| ())
                .join()
                .unwrap_err()
                .is_cancelled());
        }
        assert_eq!(metrics.num_alive_tasks(), 1, "the running job");
        gate.open();
        dropper.join().unwrap();
        running.join().unwrap();
        assert_eq!(metrics.num_alive_tasks(), 0);
    });
}

/// Tasks spawned from outside while every worker is held by a blocking call
/// wait in the global queue: its depth is their number, then zero.
#[test]
fn global_queue_depth_counts_tasks_from_outside() {
    watchdog(
        LIMIT,
        "global_queue_depth_counts_tasks_from_outside",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let metrics = rt.metrics();
                assert_eq!(metrics.global_queue_depth(), 0);
                let gate = Gate::default();
                let (busy_tx, busy_rx) = mpsc::channel::<()>();
                rt.scope(|s| {
                    for _ in 0..workers {
                        let busy_tx = busy_tx.clone();
                        let gate = &gate;
                        s.spawn(async move {
                            busy_tx.send(()).unwrap();
                            gate.wait();
                        });
                    }
                    for _ in 0..workers {
                        busy_rx.recv().unwrap();
                    }
                    // Every worker is blocked: nothing takes from the queue.
                    for n in 1..=5 {
                        s.spawn(async {});
                        assert_eq!(metrics.global_queue_depth(), n);
                    }
                    gate.open();
                });
                assert_eq!(metrics.global_queue_depth(), 0);
            }
        },
    );
}

/// Tasks spawned by a running task wait in its worker's local queue until
/// it returns: the depth is their number, then zero.
#[test]
fn local_queue_depth_counts_tasks_spawned_by_a_running_task() {
    watchdog(
        LIMIT,
        "local_queue_depth_counts_tasks_spawned_by_a_running_task",
        || {
            let rt = rt(1);
            let metrics = rt.metrics();
            let depths = rt.scope(|s| {
                s.spawn(async {
                    let metrics = paddock::Handle::current().metrics();
                    let mut depths = vec![metrics.worker_local_queue_depth(0)];
                    for _ in 0..7 {
                        s.spawn(async {});
                        depths.push(metrics.worker_local_queue_depth(0));
                    }
                    depths
                })
                .join()
                .unwrap()
            });
            assert_eq!(depths, (0..=7).collect::<Vec<_>>());
            assert_eq!(metrics.worker_local_queue_depth(0), 0);
        },
    );
}

/// An idle worker parks, and parks again after each burst of work.
#[test]
fn park_count_grows_when_idle() {
    watchdog(LIMIT, "park_count_grows_when_idle", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            let metrics = rt.metrics();
            // Every worker goes to sleep for lack of work, which is certain.
            for i in 0..workers {
                wait_until(|| metrics.worker_park_count(i) >= 1);
            }
            for _ in 0..3 {
                let before: u64 = (0..workers).map(|i| metrics.worker_park_count(i)).sum();
                rt.spawn(async {}).join().unwrap();
                wait_until(|| {
                    (0..workers)
                        .map(|i| metrics.worker_park_count(i))
                        .sum::<u64>()
                        > before
                });
            }
        }
    });
}

/// A task blocks its worker until a child it spawned has run: only the
/// other worker can run the child, by stealing it. One steal per round,
/// and never any on one worker.
#[test]
fn steal_count_on_two_workers() {
    watchdog(LIMIT, "steal_count_on_two_workers", || {
        let rt = rt(2);
        let metrics = rt.metrics();
        let rounds = 10;
        for _ in 0..rounds {
            rt.scope(|s| {
                s.spawn(async move {
                    let (tx, rx) = mpsc::channel::<()>();
                    s.spawn(async move { tx.send(()).unwrap() });
                    // A plain blocking wait: this worker runs nothing else.
                    rx.recv().unwrap();
                });
            });
        }
        let steals = metrics.worker_steal_count(0) + metrics.worker_steal_count(1);
        // The parent comes from the global queue, which is not a steal.
        assert_eq!(steals, rounds, "steals in {rounds} rounds");

        let one = rt_one_with_work();
        assert_eq!(one.worker_steal_count(0), 0);
    });
}

fn rt_one_with_work() -> RuntimeMetrics {
    let rt = rt(1);
    rt.scope(|s| {
        for _ in 0..20 {
            s.spawn(async {
                yield_now().await;
            });
        }
    });
    rt.metrics()
}

/// A worker's busy time grows by at least the time a task keeps it busy,
/// and never exceeds the runtime's age.
#[test]
fn busy_duration_grows_with_work() {
    watchdog(LIMIT, "busy_duration_grows_with_work", || {
        let born = Instant::now();
        let rt = rt(1);
        let metrics = rt.metrics();
        let before = metrics.worker_total_busy_duration(0);
        let work = Duration::from_millis(30);
        rt.spawn(async move {
            let start = Instant::now();
            while start.elapsed() < work {
                std::hint::spin_loop();
            }
        })
        .join()
        .unwrap();
        // Counted when the worker next sleeps, which is certain.
        wait_until(|| metrics.worker_total_busy_duration(0) >= before + work);
        assert!(metrics.worker_total_busy_duration(0) <= born.elapsed());
    });
}

/// With `max_blocking_threads(2)` and 5 jobs held at a gate: 2 threads, none
/// idle, 3 jobs queued; once the gate opens, all done, queue empty.
#[test]
fn blocking_counts_with_a_cap() {
    watchdog(LIMIT, "blocking_counts_with_a_cap", || {
        for workers in [1, 2] {
            let rt = capped_rt(workers, 2);
            let metrics = rt.metrics();
            assert_eq!(metrics.num_blocking_threads(), 0);
            assert_eq!(metrics.blocking_queue_depth(), 0);
            let gate = Gate::default();
            let started = AtomicUsize::new(0);
            rt.scope(|s| {
                for _ in 0..5 {
                    s.spawn_blocking(|| {
                        started.fetch_add(1, SeqCst);
                        gate.wait();
                    });
                }
                wait_until(|| started.load(SeqCst) == 2);
                assert_eq!(metrics.num_blocking_threads(), 2);
                assert_eq!(metrics.num_idle_blocking_threads(), 0);
                assert_eq!(metrics.blocking_queue_depth(), 3);
                gate.open();
            });
            assert_eq!(started.load(SeqCst), 5);
            assert_eq!(metrics.blocking_queue_depth(), 0);
            assert_eq!(metrics.num_blocking_threads(), 2);
            // Both threads go idle, which is certain.
            wait_until(|| metrics.num_idle_blocking_threads() == 2);
        }
    });
}

/// A task that opens a nested scope whose child waits on a timer has
/// nothing to run while it waits: it hands its worker role to another
/// thread, once.
#[test]
fn handoff_count_when_a_nested_scope_waits_on_a_timer() {
    watchdog(
        LIMIT,
        "handoff_count_when_a_nested_scope_waits_on_a_timer",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let metrics = rt.metrics();
                let handoffs = |m: &RuntimeMetrics| {
                    (0..workers).map(|i| m.worker_handoff_count(i)).sum::<u64>()
                };
                assert_eq!(handoffs(&metrics), 0);
                let other_ran = AtomicUsize::new(0);
                rt.scope(|s| {
                    s.spawn(async {
                        paddock::scope(|inner| {
                            inner.spawn(sleep(30));
                        });
                    });
                    // While the task waits, its worker keeps running tasks.
                    for _ in 0..4 {
                        s.spawn(async { other_ran.fetch_add(1, SeqCst) });
                    }
                });
                assert_eq!(other_ran.load(SeqCst), 4);
                assert_eq!(handoffs(&metrics), 1, "{workers} workers");
                assert!(
                    metrics.num_blocking_threads() >= 1,
                    "the spare that took over"
                );
            }
        },
    );
}

/// A worker index out of range panics with a message that gives the range.
#[test]
fn worker_index_out_of_range_panics_with_a_message() {
    watchdog(
        LIMIT,
        "worker_index_out_of_range_panics_with_a_message",
        || {
            let rt = rt(2);
            let metrics = rt.metrics();
            let calls: [(&str, &dyn Fn()); 6] = [
                ("poll", &|| {
                    let _ = metrics.worker_poll_count(2);
                }),
                ("steal", &|| {
                    let _ = metrics.worker_steal_count(2);
                }),
                ("park", &|| {
                    let _ = metrics.worker_park_count(2);
                }),
                ("handoff", &|| {
                    let _ = metrics.worker_handoff_count(2);
                }),
                ("local depth", &|| {
                    let _ = metrics.worker_local_queue_depth(2);
                }),
                ("busy", &|| {
                    let _ = metrics.worker_total_busy_duration(2);
                }),
            ];
            for (what, call) in calls {
                let payload = panic::catch_unwind(AssertUnwindSafe(call)).unwrap_err();
                let message = panic_message(&*payload);
                assert!(
                    message.contains("out of range") && message.contains('2'),
                    "{what}: {message:?}"
                );
            }
            // In range is fine.
            assert_eq!(metrics.worker_steal_count(1), 0);
        },
    );
}

/// Metrics are `Clone + Send + Sync + Debug`, and stay readable after the
/// runtime is dropped, with the last figures.
#[test]
fn metrics_outlive_the_runtime() {
    watchdog(LIMIT, "metrics_outlive_the_runtime", || {
        fn send_sync<T: Clone + Send + Sync + std::fmt::Debug>() {}
        send_sync::<RuntimeMetrics>();
        let rt = rt(1);
        let metrics = rt.metrics();
        rt.spawn(async {}).join().unwrap();
        drop(rt);
        assert_eq!(metrics.num_workers(), 1);
        assert_eq!(metrics.worker_poll_count(0), 1);
        assert_eq!(metrics.num_alive_tasks(), 0);
        assert_eq!(metrics.num_blocking_threads(), 0);
        let debug = format!("{metrics:?}");
        assert!(debug.contains("num_workers: 1"), "{debug}");
    });
}

/// A task that completes on a worker of another runtime (aborted there, by
/// the task holding its handle) counts for its own runtime: each runtime's
/// `num_alive_tasks` stays exact.
#[test]
fn alive_tasks_count_a_completion_on_another_runtimes_worker() {
    watchdog(
        LIMIT,
        "alive_tasks_count_a_completion_on_another_runtimes_worker",
        || {
            let (home, other) = (rt(1), rt(1));
            let (home_metrics, other_metrics) = (home.metrics(), other.metrics());
            let forever = home.spawn(pending::<()>());
            // Once polled, the task is idle: `abort` completes it at once, on
            // the aborting thread.
            wait_until(|| home_metrics.worker_poll_count(0) == 1);
            other
                .spawn(async move {
                    forever.abort();
                    assert!(forever.await.unwrap_err().is_cancelled());
                })
                .join()
                .unwrap();
            assert_eq!(home_metrics.num_alive_tasks(), 0, "the home runtime");
            assert_eq!(other_metrics.num_alive_tasks(), 0, "the other runtime");
            // The count went to `home`'s own counters, so more of `other`'s
            // tasks are counted from zero, not from below it.
            let gate = std::sync::Arc::new(Gate::default());
            let waiting = {
                let gate = gate.clone();
                other.spawn_blocking(move || gate.wait())
            };
            assert_eq!(other_metrics.num_alive_tasks(), 1);
            gate.open();
            waiting.join().unwrap();
        },
    );
}
