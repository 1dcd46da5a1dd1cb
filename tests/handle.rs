//! `Handle`: `rt.handle()`, `Handle::current()`, `Handle::try_current()`,
//! and a handle used after its runtime is gone.
//!
//! Every runtime in this file has named threads, so that the global
//! runtime's default names (`paddock-worker-*`) show whether anything built
//! it.

mod common;

use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

use common::{
    is_cancelled, named_rt, panic_message, thread_name, threads_named, track, unique_prefix,
    wait_until, watchdog, Counts, SetOnDrop, LIMIT,
};
use paddock::Handle;

/// A handle is `Clone + Send + Sync + Debug`; clones on other threads
/// spawn, run blocking jobs, block on futures and open scopes that borrow.
#[test]
fn handle_works_from_other_threads() {
    watchdog(LIMIT, "handle_works_from_other_threads", || {
        fn clone_send_sync<T: Clone + Send + Sync + std::fmt::Debug>() {}
        clone_send_sync::<Handle>();
        for workers in [1, 2] {
            let prefix = unique_prefix("hot");
            let rt = named_rt(workers, &prefix);
            let handle = rt.handle();
            assert!(format!("{handle:?}").contains(&format!("num_workers: {workers}")));
            let totals: Vec<u64> = thread::scope(|threads| {
                let runs: Vec<_> = (0..4u64)
                    .map(|t| {
                        let handle = handle.clone();
                        let prefix = &prefix;
                        threads.spawn(move || {
                            let spawned = handle.spawn(async move { t }).join().unwrap();
                            let job = handle.spawn_blocking(thread_name).join().unwrap();
                            assert!(job.starts_with(prefix.as_str()), "{job}");
                            let blocked = handle.block_on(async move {
                                paddock::spawn(async move { t * 10 }).await.unwrap()
                            });
                            let data: Vec<u64> = (0..10).map(|i| i * t).collect();
                            let scoped = handle.scope(|s| {
                                let halves: Vec<_> = data
                                    .chunks(5)
                                    .map(|c| s.spawn(async move { c.iter().sum::<u64>() }))
                                    .collect();
                                halves.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                            });
                            spawned + blocked + scoped
                        })
                    })
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert_eq!(
                totals,
                (0..4u64).map(|t| t + 10 * t + 45 * t).collect::<Vec<_>>()
            );
        }
    });
}

/// `Handle::current()` is the runtime the code runs in: in a task, in
/// `block_on`, in a scope's closure, in a blocking job; and inside a task
/// of one runtime that blocks on another, the inner one, then the outer.
#[test]
fn current_is_the_runtime_the_code_runs_in() {
    watchdog(LIMIT, "current_is_the_runtime_the_code_runs_in", || {
        let (pa, pb) = (unique_prefix("cua"), unique_prefix("cub"));
        let a = named_rt(1, &pa);
        let b = Arc::new(named_rt(2, &pb));
        // Where a task spawned through `Handle::current()` runs.
        let runs_on = || {
            Handle::current()
                .spawn(async { thread_name() })
                .join()
                .unwrap()
        };
        let workers = || Handle::current().metrics().num_workers();

        assert!(a.block_on(async { runs_on() }).starts_with(&pa));
        assert!(a.scope(|_| runs_on()).starts_with(&pa));
        assert!(a
            .spawn(async move { runs_on() })
            .join()
            .unwrap()
            .starts_with(&pa));
        assert!(a.spawn_blocking(runs_on).join().unwrap().starts_with(&pa));
        assert_eq!(b.spawn_blocking(workers).join().unwrap(), 2);

        let inner_b = b.clone();
        let (outer, inner, after) = a
            .spawn(async move {
                let outer = workers();
                let inner = inner_b.block_on(async { workers() });
                (outer, inner, workers())
            })
            .join()
            .unwrap();
        assert_eq!((outer, inner, after), (1, 2, 1));
    });
}

/// Outside every runtime, `Handle::current()` panics with a message that
/// says why, and `try_current()` is `None`; neither builds the global
/// runtime.
#[test]
fn current_outside_a_runtime() {
    watchdog(LIMIT, "current_outside_a_runtime", || {
        assert!(Handle::try_current().is_none());
        let payload = panic::catch_unwind(Handle::current).unwrap_err();
        let message = panic_message(&*payload);
        assert!(
            message.contains("Handle::current()") && message.contains("outside"),
            "{message:?}"
        );
        // A runtime that exists but is not entered does not count.
        let rt = named_rt(1, &unique_prefix("cuo"));
        assert!(Handle::try_current().is_none());
        assert!(rt.block_on(async { Handle::try_current().is_some() }));
        assert!(
            Handle::try_current().is_none(),
            "block_on left its runtime entered"
        );
        // No thread of the global runtime was started.
        if let Some(global) = threads_named("paddock-worker") {
            assert!(
                global.is_empty(),
                "the global runtime was built: {global:?}"
            );
        }
    });
}

/// After the runtime is dropped, what its handle spawns is cancelled: the
/// future or job is dropped unrun and its handle says cancelled.
#[test]
fn a_handle_after_its_runtime_is_dropped_cancels_what_it_spawns() {
    watchdog(
        LIMIT,
        "a_handle_after_its_runtime_is_dropped_cancels_what_it_spawns",
        || {
            let rt = named_rt(2, &unique_prefix("hdr"));
            let handle = rt.handle();
            assert_eq!(handle.spawn(async { 1 }).join().unwrap(), 1);
            drop(rt);

            let (polled, dropped) = (
                Arc::new(AtomicBool::new(false)),
                Arc::new(AtomicBool::new(false)),
            );
            let task = {
                let (polled, dropped) = (polled.clone(), dropped.clone());
                handle.spawn(async move {
                    let _guard = SetOnDrop(&dropped);
                    polled.store(true, SeqCst);
                })
            };
            assert!(is_cancelled(&task.join()));
            assert!(!polled.load(SeqCst));
            let ran = Arc::new(AtomicBool::new(false));
            let job = {
                let ran = ran.clone();
                handle.spawn_blocking(move || ran.store(true, SeqCst))
            };
            assert!(is_cancelled(&job.join()));
            assert!(!ran.load(SeqCst));

            // Scoped work too: the scope returns the closure's value.
            let job_dropped = AtomicBool::new(false);
            let (task, job, value) = handle.scope(|s| {
                let guard = SetOnDrop(&job_dropped);
                let job = s.spawn_blocking(move || {
                    let _guard = guard;
                    1
                });
                (s.spawn(async { 2 }).join(), job.join(), 3)
            });
            assert!(
                is_cancelled(&task) && is_cancelled(&job),
                "{task:?} {job:?}"
            );
            assert!(job_dropped.load(SeqCst));
            assert_eq!(value, 3);
            assert_eq!(handle.metrics().num_alive_tasks(), 0);
        },
    );
}

/// Threads keep spawning through handles while the runtime is dropped:
/// every task either completes or is cancelled, each future is dropped
/// once, and nothing hangs.
#[test]
fn handles_spawning_while_the_runtime_drops() {
    watchdog(LIMIT, "handles_spawning_while_the_runtime_drops", || {
        for workers in [1, 2] {
            let rt = named_rt(workers, &unique_prefix("hsd"));
            let counts = Arc::new(Counts::new());
            let spawned = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let spawners: Vec<_> = (0..3)
                .map(|t| {
                    let (handle, counts) = (rt.handle(), counts.clone());
                    let (spawned, stop) = (spawned.clone(), stop.clone());
                    thread::spawn(move || {
                        let (mut ok, mut cancelled) = (0, 0);
                        while !stop.load(SeqCst) {
                            let task = handle.spawn(track(counts.clone(), async move {
                                paddock::yield_now().await;
                                t
                            }));
                            let job = handle.spawn_blocking(move || t);
                            spawned.fetch_add(1, SeqCst);
                            for result in [task.join(), job.join()] {
                                match result {
                                    Ok(value) => {
                                        assert_eq!(value, t);
                                        ok += 1;
                                    }
                                    Err(error) => {
                                        assert!(error.is_cancelled(), "{error}");
                                        cancelled += 1;
                                    }
                                }
                            }
                        }
                        (ok, cancelled)
                    })
                })
                .collect();
            wait_until(|| spawned.load(SeqCst) >= 30);
            drop(rt);
            let after_drop = spawned.load(SeqCst);
            wait_until(|| spawned.load(SeqCst) >= after_drop + 30);
            stop.store(true, SeqCst);
            let mut cancelled = 0;
            for spawner in spawners {
                cancelled += spawner.join().unwrap().1;
            }
            assert!(cancelled >= 3 * 2, "spawns after the drop are cancelled");
            let created = counts.tally().created;
            counts.assert_settled(&format!("{workers} workers"), created);
        }
    });
}
