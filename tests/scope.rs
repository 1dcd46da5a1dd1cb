//! `Runtime::scope`: borrowing, waiting, sibling spawning and return values.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;

use common::{every_worker_runs_at_once, rt, sleep, wait_until, watchdog, Event, LIMIT};
use paddock::{yield_now, Runtime, Scope};

#[test]
fn tasks_borrow_shared_data() {
    watchdog(LIMIT, "tasks_borrow_shared_data", || {
        let rt = rt(2);
        let data: Vec<u64> = (1..=1000).collect();
        let total = rt.scope(|s| {
            let handles: Vec<_> = data
                .chunks(100)
                .map(|chunk| s.spawn(async move { chunk.iter().sum::<u64>() }))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(total, 500_500);
        // The borrow ended with the scope: `data` is usable again.
        assert_eq!(data.len(), 1000);
    });
}

#[test]
fn tasks_mutate_disjoint_chunks() {
    watchdog(LIMIT, "tasks_mutate_disjoint_chunks", || {
        let rt = rt(2);
        let mut data = vec![1u32; 1000];
        rt.scope(|s| {
            for (i, chunk) in data.chunks_mut(64).enumerate() {
                drop(s.spawn(async move {
                    for x in chunk.iter_mut() {
                        yield_now().await;
                        *x = *x * 2 + i as u32;
                    }
                }));
            }
        });
        for (i, x) in data.iter().enumerate() {
            assert_eq!(*x, 2 + (i / 64) as u32, "element {i}");
        }
    });
}

#[test]
fn scope_returns_the_closure_value() {
    watchdog(LIMIT, "scope_returns_the_closure_value", || {
        let rt = rt(2);
        assert_eq!(rt.scope(|_| 7), 7);
        let name = String::from("paddock");
        let r: String = rt.scope(|s| {
            let h = s.spawn(async { name.len() });
            format!("{name}:{}", h.join().unwrap())
        });
        assert_eq!(r, "paddock:7");
    });
}

#[test]
fn handles_carry_outputs_including_borrows() {
    watchdog(LIMIT, "handles_carry_outputs_including_borrows", || {
        let rt = rt(2);
        let words = ["alpha".to_string(), "beta".to_string()];
        let (first, doubled) = rt.scope(|s| {
            // An output may itself borrow from the environment.
            let borrowed = s.spawn(async { words[0].as_str() });
            // A handle may be moved into another task and awaited there.
            let len = s.spawn(async { words[1].len() });
            let doubled = s.spawn(async move { len.await.unwrap() * 2 });
            (borrowed.join().unwrap(), doubled.join().unwrap())
        });
        assert_eq!(first, "alpha");
        assert_eq!(doubled, 8);
    });
}

#[test]
fn scope_waits_for_tasks_pending_on_an_external_wake() {
    watchdog(
        LIMIT,
        "scope_waits_for_tasks_pending_on_an_external_wake",
        || {
            let rt = rt(2);
            let done = AtomicUsize::new(0);
            rt.scope(|s| {
                for _ in 0..4 {
                    drop(s.spawn(async {
                        sleep(50).await;
                        done.fetch_add(1, SeqCst);
                    }));
                }
            });
            assert_eq!(done.load(SeqCst), 4, "scope returned before its tasks");
        },
    );
}

fn spawn_tree<'scope>(s: &'scope Scope<'scope, '_>, depth: u32, finished: &'scope AtomicUsize) {
    drop(s.spawn(async move {
        yield_now().await;
        if depth == 0 {
            // Leaves finish late, after a wake from outside the runtime.
            sleep(10).await;
        } else {
            spawn_tree(s, depth - 1, finished);
            spawn_tree(s, depth - 1, finished);
        }
        finished.fetch_add(1, SeqCst);
    }));
}

#[test]
fn scope_waits_for_tasks_spawned_by_tasks() {
    watchdog(LIMIT, "scope_waits_for_tasks_spawned_by_tasks", || {
        let rt = rt(2);
        let finished = AtomicUsize::new(0);
        rt.scope(|s| spawn_tree(s, 5, &finished));
        // A binary tree of depth 5 has 2^6 - 1 nodes.
        assert_eq!(finished.load(SeqCst), 63);
    });
}

#[test]
fn tasks_spawn_siblings_and_await_them() {
    watchdog(LIMIT, "tasks_spawn_siblings_and_await_them", || {
        let rt = rt(2);
        let data: Vec<u64> = (0..100).collect();
        let data = &data;
        let sum = rt.scope(|s| {
            // `move` copies the `&Scope` into the task, so it can spawn.
            s.spawn(async move {
                let (left, right) = data.split_at(50);
                let l = s.spawn(async move { left.iter().sum::<u64>() });
                let r = s.spawn(async move { right.iter().sum::<u64>() });
                l.await.unwrap() + r.await.unwrap()
            })
            .join()
            .unwrap()
        });
        assert_eq!(sum, 4950);
    });
}

#[test]
fn empty_and_many_task_scopes() {
    watchdog(LIMIT, "empty_and_many_task_scopes", || {
        let rt = rt(2);
        rt.scope(|_| {});
        let count = AtomicUsize::new(0);
        rt.scope(|s| {
            for _ in 0..10_000 {
                drop(s.spawn(async {
                    count.fetch_add(1, SeqCst);
                }));
            }
        });
        assert_eq!(count.load(SeqCst), 10_000);
    });
}

#[test]
fn scopes_from_many_threads_share_one_runtime() {
    watchdog(LIMIT, "scopes_from_many_threads_share_one_runtime", || {
        let rt = rt(2);
        let rt = &rt;
        std::thread::scope(|threads| {
            let callers: Vec<_> = (0..4u64)
                .map(|t| {
                    threads.spawn(move || {
                        let data: Vec<u64> = (0..200).map(|i| i * t).collect();
                        rt.scope(|s| {
                            let hs: Vec<_> = data
                                .chunks(10)
                                .map(|c| {
                                    s.spawn(async move {
                                        yield_now().await;
                                        c.iter().sum::<u64>()
                                    })
                                })
                                .collect();
                            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                        })
                    })
                })
                .collect();
            for (t, caller) in callers.into_iter().enumerate() {
                assert_eq!(caller.join().unwrap(), 19_900 * t as u64);
            }
        });
    });
}

#[test]
fn two_workers_run_tasks_in_parallel() {
    watchdog(LIMIT, "two_workers_run_tasks_in_parallel", || {
        let rt = rt(2);
        // Only finishes if a sleeping worker is woken for the second task.
        every_worker_runs_at_once(&rt);
    });
}

#[test]
fn tasks_spawned_from_outside_start_in_spawn_order() {
    watchdog(
        LIMIT,
        "tasks_spawned_from_outside_start_in_spawn_order",
        || {
            let rt = rt(1);
            let running = Barrier::new(2);
            let release = Barrier::new(2);
            let started = std::sync::Mutex::new(Vec::new());
            rt.scope(|s| {
                // Hold the only worker so that every later task is queued
                // before any of them can start.
                drop(s.spawn(async {
                    running.wait();
                    release.wait();
                }));
                running.wait();
                for i in 0..16 {
                    let started = &started;
                    drop(s.spawn(async move { started.lock().unwrap().push(i) }));
                }
                release.wait();
            });
            assert_eq!(started.into_inner().unwrap(), (0..16).collect::<Vec<_>>());
        },
    );
}

#[test]
fn scope_waits_for_detached_task_blocked_on_a_sibling() {
    watchdog(
        LIMIT,
        "scope_waits_for_detached_task_blocked_on_a_sibling",
        || {
            let rt = rt(1);
            let event = Event::new();
            let waited = AtomicBool::new(false);
            rt.scope(|s| {
                drop(s.spawn(async {
                    event.wait().await;
                    waited.store(true, SeqCst);
                }));
                drop(s.spawn(async {
                    sleep(20).await;
                    event.set();
                }));
            });
            assert!(waited.load(SeqCst));
        },
    );
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    fn is_send<T: Send>(_: &T) {}
    fn is_sync<T: Sync>(_: &T) {}
    send_sync::<Runtime>();
    watchdog(LIMIT, "auto_traits", || {
        let rt = rt(1);
        let v = rt.scope(|s| {
            is_sync(s);
            let h = s.spawn(async { 1 });
            is_send(&h);
            h.join().unwrap()
        });
        assert_eq!(v, 1);
    });
}

/// What the first scope of `loop_of_scopes_after_a_hand_off` waits on.
#[derive(Clone, Copy, Debug)]
enum Blocker {
    /// An event that a thread outside every runtime sets.
    OutsideThread,
    /// A task of another runtime, waiting for that event.
    OtherRuntime,
}

/// A task that runs scope after scope, as a fork-join loop does. Its first
/// scope's child waits for an event that a thread outside sets only once
/// the frame has handed its core to a spare (it has nothing else to run).
/// After that wait the thread takes a core back (a free one, or a sleeping
/// worker's), and the rounds that follow run their children on the task's
/// own thread, as a frame holding a core does. Before the take-back, the
/// thread ran the rest of the poll without a core, so no child of a later
/// round could run on it: every round went through the injector and parked
/// through its wait.
///
/// Returns how many of the 200 later rounds ran a child on the task's
/// thread.
fn loop_of_scopes_after_a_hand_off(workers: usize, blocker: Blocker) -> usize {
    let other = rt(1);
    let rt = rt(workers);
    let metrics = rt.metrics();
    let event = Event::new();
    std::thread::scope(|threads| {
        threads.spawn(|| {
            wait_until(|| (0..workers).any(|i| metrics.worker_handoff_count(i) > 0));
            event.set();
        });
        rt.scope(|outer| {
            outer
                .spawn(async {
                    paddock::scope(|s| match blocker {
                        Blocker::OutsideThread => drop(s.spawn(event.wait())),
                        Blocker::OtherRuntime => drop(s.spawn(async {
                            other.scope(|o| drop(o.spawn(event.wait())));
                        })),
                    });
                    let own = std::thread::current().id();
                    (0..200)
                        .filter(|_| {
                            let on_own = AtomicBool::new(false);
                            paddock::scope(|s| {
                                for _ in 0..4 {
                                    drop(s.spawn(async {
                                        if std::thread::current().id() == own {
                                            on_own.store(true, SeqCst);
                                        }
                                    }));
                                }
                            });
                            on_own.load(SeqCst)
                        })
                        .count()
                })
                .join()
                .unwrap()
        })
    })
}

#[test]
fn loop_of_scopes_gets_its_core_back_after_a_hand_off() {
    watchdog(
        LIMIT,
        "loop_of_scopes_gets_its_core_back_after_a_hand_off",
        || {
            for blocker in [Blocker::OutsideThread, Blocker::OtherRuntime] {
                // One worker: the spare that took the core may keep finding the
                // next round's child before it ever sleeps, so no core is free
                // when the frame looks; the loop must still finish.
                loop_of_scopes_after_a_hand_off(1, blocker);
                for workers in [2, 4] {
                    assert!(
                        loop_of_scopes_after_a_hand_off(workers, blocker) > 0,
                        "{blocker:?}, {workers} workers: after the hand-off no round ran a \
                     child on the task's thread: it never got a core back"
                    );
                }
            }
        },
    );
}
