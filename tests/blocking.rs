//! Blocking jobs: `Scope::spawn_blocking`, `Runtime::spawn_blocking`,
//! `Handle::spawn_blocking` and `paddock::spawn_blocking`.
//!
//! A job runs on a thread of the runtime's elastic pool, never on a thread
//! while it holds a worker role; a scoped job may borrow like a scoped task.
//! Its handle is an ordinary `JoinHandle`: awaited, joined, aborted (which
//! cancels a job that has not started; a started job runs to its end).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use common::{
    boom, capped_rt, named_rt, payload_of, rt, thread_name, unique_prefix, wait_until, watchdog,
    Gate, SetOnDrop, LIMIT,
};
use paddock::Runtime;

/// Scoped tasks read files through blocking jobs that borrow the paths and
/// the output slots from the caller's stack, on 1 and 2 workers.
#[test]
fn scoped_jobs_read_files_borrowing_their_paths() {
    watchdog(
        LIMIT,
        "scoped_jobs_read_files_borrowing_their_paths",
        || {
            let dir = std::env::temp_dir().join(format!(
                "paddock-blocking-{}-{}",
                std::process::id(),
                unique_prefix("f")
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let paths: Vec<_> = (0..12)
                .map(|i| {
                    let path = dir.join(format!("file-{i}.txt"));
                    std::fs::write(&path, "x".repeat(100 * i + 1)).unwrap();
                    path
                })
                .collect();
            for workers in [1, 2] {
                let rt = rt(workers);
                let mut sizes = vec![0usize; paths.len()];
                rt.scope(|s| {
                    for (path, size) in paths.iter().zip(sizes.iter_mut()) {
                        // The task awaits the job; both borrow `path`.
                        s.spawn(async move {
                            let bytes = s.spawn_blocking(move || std::fs::read(path)).await;
                            *size = bytes.unwrap().unwrap().len();
                        });
                    }
                });
                let expected: Vec<_> = (0..paths.len()).map(|i| 100 * i + 1).collect();
                assert_eq!(sizes, expected, "{workers} workers");

                // Joined from the closure, writing into borrowed slots.
                let mut first_bytes = vec![0u8; paths.len()];
                rt.scope(|s| {
                    let reads: Vec<_> = paths
                        .iter()
                        .zip(first_bytes.iter_mut())
                        .map(|(path, first)| {
                            s.spawn_blocking(move || *first = std::fs::read(path).unwrap()[0])
                        })
                        .collect();
                    for read in reads {
                        read.join().unwrap();
                    }
                });
                assert!(first_bytes.iter().all(|&b| b == b'x'));
            }
            std::fs::remove_dir_all(&dir).unwrap();
        },
    );
}

/// With every worker blocked at a barrier inside a task, a job still runs
/// (the barrier needs it), so it is on a thread that holds no worker role:
/// none of the threads that ran those tasks.
#[test]
fn a_job_runs_while_every_worker_is_busy_on_another_thread() {
    watchdog(
        LIMIT,
        "a_job_runs_while_every_worker_is_busy_on_another_thread",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let barrier = Barrier::new(workers + 1);
                let worker_threads = Mutex::new(HashSet::<ThreadId>::new());
                let job_thread = rt.scope(|s| {
                    for _ in 0..workers {
                        s.spawn(async {
                            worker_threads
                                .lock()
                                .unwrap()
                                .insert(thread::current().id());
                            // Blocks the worker (std, not a paddock wait).
                            barrier.wait();
                        });
                    }
                    let job = s.spawn_blocking(|| {
                        barrier.wait();
                        thread::current().id()
                    });
                    job.join().unwrap()
                });
                let worker_threads = worker_threads.into_inner().unwrap();
                assert_eq!(worker_threads.len(), workers, "each worker held one task");
                assert!(
                    !worker_threads.contains(&job_thread),
                    "{workers} workers: the job ran on a worker thread"
                );
            }
        },
    );
}

/// Blocking threads take their names from `Builder::thread_name`, like the
/// workers; `paddock::spawn_blocking` inside a runtime uses that runtime.
#[test]
fn free_spawn_blocking_uses_the_current_runtime() {
    watchdog(
        LIMIT,
        "free_spawn_blocking_uses_the_current_runtime",
        || {
            let prefix = unique_prefix("fsb");
            let rt = named_rt(1, &prefix);
            let from_block_on = rt.block_on(async { paddock::spawn_blocking(thread_name).await });
            assert!(from_block_on.unwrap().starts_with(&prefix));
            let from_task = rt
                .spawn(async { paddock::spawn_blocking(thread_name).await.unwrap() })
                .join()
                .unwrap();
            assert!(from_task.starts_with(&prefix), "{from_task}");
            let from_rt = rt.spawn_blocking(thread_name).join().unwrap();
            assert!(from_rt.starts_with(&prefix), "{from_rt}");
        },
    );
}

/// A `'static` job's handle: awaited from a task, `is_finished` before and
/// after, joined from outside.
#[test]
fn static_job_handles_await_join_and_report_is_finished() {
    watchdog(
        LIMIT,
        "static_job_handles_await_join_and_report_is_finished",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let (go_tx, go_rx) = mpsc::channel::<()>();
                let job = rt.spawn_blocking(move || {
                    go_rx.recv().unwrap();
                    vec![1, 2, 3]
                });
                assert!(!job.is_finished());
                go_tx.send(()).unwrap();
                assert_eq!(job.join().unwrap(), [1, 2, 3]);

                let handle = rt.handle();
                let total = rt
                    .spawn(async move {
                        let jobs: Vec<_> = (0..8u64)
                            .map(|i| handle.spawn_blocking(move || i * i))
                            .collect();
                        let mut total = 0;
                        for job in jobs {
                            total += job.await.unwrap();
                        }
                        total
                    })
                    .join()
                    .unwrap();
                assert_eq!(total, 140);
            }
        },
    );
}

/// A job may spawn siblings onto its scope: the scope waits for them too.
#[test]
fn a_scoped_job_spawns_tasks_on_its_scope() {
    watchdog(LIMIT, "a_scoped_job_spawns_tasks_on_its_scope", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            let count = AtomicUsize::new(0);
            rt.scope(|s| {
                s.spawn_blocking(|| {
                    for _ in 0..10 {
                        s.spawn(async {
                            paddock::yield_now().await;
                            count.fetch_add(1, SeqCst);
                        });
                    }
                });
            });
            assert_eq!(count.load(SeqCst), 10);
        }
    });
}

/// `abort` of a job that has not started (queued past the cap) cancels it:
/// its closure is dropped unrun, and its handle says cancelled.
#[test]
fn abort_cancels_a_job_that_has_not_started() {
    watchdog(LIMIT, "abort_cancels_a_job_that_has_not_started", || {
        for workers in [1, 2] {
            let rt = capped_rt(workers, 1);
            let gate = Gate::default();
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let ran = AtomicBool::new(false);
            let dropped = AtomicBool::new(false);
            rt.scope(|s| {
                let first = s.spawn_blocking(|| {
                    started_tx.send(()).unwrap();
                    gate.wait();
                    1
                });
                started_rx.recv().unwrap();
                // The only blocking thread is busy: this one waits its turn.
                let guard = SetOnDrop(&dropped);
                let queued = s.spawn_blocking(|| {
                    let _guard = guard;
                    ran.store(true, SeqCst);
                    2
                });
                assert_eq!(rt.metrics().blocking_queue_depth(), 1);
                queued.abort();
                assert!(dropped.load(SeqCst), "the unrun closure is dropped at once");
                assert!(queued.is_finished());
                assert!(queued.join().unwrap_err().is_cancelled());
                gate.open();
                assert_eq!(first.join().unwrap(), 1);
            });
            assert!(!ran.load(SeqCst), "an aborted job ran");
            assert_eq!(rt.metrics().num_alive_tasks(), 0);
        }
    });
}

/// `abort` of a job that has started does not interrupt it: it runs to its
/// end and its handle gives its output.
#[test]
fn abort_of_a_started_job_lets_it_finish() {
    watchdog(LIMIT, "abort_of_a_started_job_lets_it_finish", || {
        let rt = rt(1);
        let gate = Arc::new(Gate::default());
        let finished = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let job = {
            let (gate, finished) = (gate.clone(), finished.clone());
            rt.spawn_blocking(move || {
                started_tx.send(()).unwrap();
                gate.wait();
                finished.store(true, SeqCst);
                "done"
            })
        };
        started_rx.recv().unwrap();
        job.abort();
        assert!(!job.is_finished(), "a started job cannot be cut short");
        gate.open();
        assert_eq!(job.join().unwrap(), "done");
        assert!(finished.load(SeqCst));
    });
}

/// A job's panic is caught into its handle, scoped or not; the thread
/// lives on and runs the next job.
#[test]
fn a_job_panic_goes_to_its_handle() {
    watchdog(LIMIT, "a_job_panic_goes_to_its_handle", || {
        let rt = capped_rt(1, 1);
        let error = rt.spawn_blocking(|| boom(7)).join().unwrap_err();
        assert!(error.is_panic());
        assert_eq!(payload_of(error.into_panic()), 7);
        let scoped = rt.scope(|s| {
            let error = s.spawn_blocking(|| boom(8)).join().unwrap_err();
            (
                payload_of(error.into_panic()),
                s.spawn_blocking(|| 9).join().unwrap(),
            )
        });
        assert_eq!(scoped, (8, 9));
        let awaited = rt.block_on(async { paddock::spawn_blocking(|| boom(10)).await });
        assert_eq!(payload_of(awaited.unwrap_err().into_panic()), 10);
    });
}

/// A scoped job that panics with its handle dropped: the scope waits for
/// everything, then re-raises that panic with its payload.
#[test]
fn an_unobserved_job_panic_is_raised_by_the_scope() {
    watchdog(
        LIMIT,
        "an_unobserved_job_panic_is_raised_by_the_scope",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                let others = AtomicUsize::new(0);
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt.scope(|s| {
                        drop(s.spawn_blocking(|| boom(11)));
                        for _ in 0..4 {
                            s.spawn_blocking(|| others.fetch_add(1, SeqCst));
                        }
                    })
                }));
                assert_eq!(payload_of(caught.unwrap_err()), 11);
                assert_eq!(others.load(SeqCst), 4, "the scope waited for every job");
            }
        },
    );
}

/// Past `max_blocking_threads`, jobs queue: never more running at once than
/// the cap, and every one of them runs.
#[test]
fn past_the_cap_jobs_queue_and_all_run() {
    watchdog(LIMIT, "past_the_cap_jobs_queue_and_all_run", || {
        for workers in [1, 2] {
            let rt = capped_rt(workers, 2);
            let (running, most, done) = (
                AtomicUsize::new(0),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
            );
            rt.scope(|s| {
                for _ in 0..40 {
                    s.spawn_blocking(|| {
                        let now = running.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        thread::yield_now();
                        running.fetch_sub(1, SeqCst);
                        done.fetch_add(1, SeqCst);
                    });
                }
                assert!(rt.metrics().num_blocking_threads() <= 2);
            });
            assert_eq!(done.load(SeqCst), 40);
            assert!(
                most.load(SeqCst) <= 2,
                "{} jobs ran at once",
                most.load(SeqCst)
            );
            assert!(rt.metrics().num_blocking_threads() <= 2);
        }
    });
}

/// Dropping the runtime cancels a queued `'static` job (its closure is
/// dropped unrun) and waits for the running one to finish.
#[test]
fn dropping_the_runtime_cancels_queued_jobs_and_waits_for_running_ones() {
    watchdog(
        LIMIT,
        "dropping_the_runtime_cancels_queued_jobs_and_waits_for_running_ones",
        || {
            for workers in [1, 2] {
                let rt = capped_rt(workers, 1);
                let gate = Arc::new(Gate::default());
                let finished = Arc::new(AtomicBool::new(false));
                let queued_ran = Arc::new(AtomicBool::new(false));
                let (started_tx, started_rx) = mpsc::channel::<()>();
                let running = {
                    let (gate, finished) = (gate.clone(), finished.clone());
                    rt.spawn_blocking(move || {
                        started_tx.send(()).unwrap();
                        gate.wait();
                        finished.store(true, SeqCst);
                        5
                    })
                };
                started_rx.recv().unwrap();
                let queued = {
                    let queued_ran = queued_ran.clone();
                    rt.spawn_blocking(move || queued_ran.store(true, SeqCst))
                };
                let dropped = Arc::new(AtomicBool::new(false));
                let dropper = {
                    let dropped = dropped.clone();
                    thread::spawn(move || {
                        drop(rt);
                        dropped.store(true, SeqCst);
                    })
                };
                // The shutdown cancels the queued job at once...
                wait_until(|| queued.is_finished());
                // ...and the drop cannot return while a job still runs.
                assert!(
                    !dropped.load(SeqCst),
                    "the drop did not wait for a running job"
                );
                gate.open();
                dropper.join().unwrap();
                assert!(finished.load(SeqCst));
                assert!(!queued_ran.load(SeqCst), "a queued job ran after shutdown");
                assert!(queued.join().unwrap_err().is_cancelled());
                // The running job ran to its end; its output survives.
                assert_eq!(running.join().unwrap(), 5, "{workers} workers");
            }
        },
    );
}

/// After `thread_keep_alive` idle, blocking threads exit: the count drops
/// to zero, and a new job starts a thread again.
#[test]
fn idle_blocking_threads_exit_after_keep_alive() {
    watchdog(LIMIT, "idle_blocking_threads_exit_after_keep_alive", || {
        let rt = Runtime::builder()
            .worker_threads(1)
            .thread_keep_alive(Duration::from_millis(30))
            .build()
            .unwrap();
        let metrics = rt.metrics();
        let barrier = Barrier::new(3);
        rt.scope(|s| {
            for _ in 0..3 {
                s.spawn_blocking(|| barrier.wait());
            }
        });
        assert!(metrics.num_blocking_threads() >= 3);
        // Waits for the keep-alive to expire, which is certain.
        wait_until(|| metrics.num_blocking_threads() == 0);
        assert_eq!(metrics.num_idle_blocking_threads(), 0);
        assert_eq!(rt.spawn_blocking(|| 4).join().unwrap(), 4);
        assert!(metrics.num_blocking_threads() >= 1);
        wait_until(|| metrics.num_blocking_threads() == 0);
    });
}

/// With `thread_keep_alive(0)` a blocking thread exits as soon as it is
/// idle: the churn of threads loses no job, and none is left after.
#[test]
fn zero_keep_alive_churn_loses_no_job() {
    watchdog(LIMIT, "zero_keep_alive_churn_loses_no_job", || {
        for workers in [1, 2] {
            let rt = Runtime::builder()
                .worker_threads(workers)
                .thread_keep_alive(Duration::ZERO)
                .build()
                .unwrap();
            for i in 0..200 {
                assert_eq!(rt.spawn_blocking(move || i).join().unwrap(), i);
            }
            let done = AtomicUsize::new(0);
            for _ in 0..30 {
                rt.scope(|s| {
                    for _ in 0..10 {
                        s.spawn_blocking(|| done.fetch_add(1, SeqCst));
                        s.spawn(async { s.spawn_blocking(|| done.fetch_add(1, SeqCst)).await });
                    }
                });
            }
            assert_eq!(done.load(SeqCst), 600);
            wait_until(|| rt.metrics().num_blocking_threads() == 0);
        }
    });
}

/// The last reference to a runtime, dropped inside one of its own blocking
/// jobs, shuts it down without waiting for that very thread.
#[test]
fn the_runtime_dropped_inside_its_own_job_does_not_deadlock() {
    watchdog(
        LIMIT,
        "the_runtime_dropped_inside_its_own_job_does_not_deadlock",
        || {
            let rt = Arc::new(rt(1));
            let last = rt.clone();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let job = rt.spawn_blocking(move || {
                go_rx.recv().unwrap();
                drop(last);
                "dropped"
            });
            drop(rt);
            go_tx.send(()).unwrap();
            assert_eq!(job.join().unwrap(), "dropped");
        },
    );
}

/// `max_blocking_threads(0)` would leave every job queued for ever: the
/// builder refuses it with `InvalidInput` (DESIGN §2: a clear error, never
/// a hang).
#[test]
fn a_zero_blocking_cap_is_refused() {
    watchdog(LIMIT, "a_zero_blocking_cap_is_refused", || {
        let error = Runtime::builder()
            .worker_threads(1)
            .max_blocking_threads(0)
            .build()
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            error.to_string().contains("max_blocking_threads"),
            "{error}"
        );
    });
}
