//! Blocking waits inside tasks: nested scopes, `join` and `block_on` on a
//! worker thread help run other tasks, so none of them deadlocks, even on a
//! single worker.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use common::{rt, sleep, watchdog, Event, LIMIT};
use paddock::{yield_now, Runtime};

/// `depth` scopes, each opened inside a task of the one before, each waiting
/// through `join` on a worker thread.
fn nest_join(rt: &Runtime, depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    rt.scope(|s| {
        s.spawn(async move { nest_join(rt, depth - 1) + 1 })
            .join()
            .unwrap()
    })
}

/// The same, but waiting only through the end of the scope.
fn nest_scope(rt: &Runtime, depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    let mut out = 0;
    rt.scope(|s| {
        drop(s.spawn(async {
            yield_now().await;
            out = nest_scope(rt, depth - 1) + 1;
        }));
    });
    out
}

/// The same, through the free function that finds the current runtime.
fn nest_free(depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    paddock::scope(|s| {
        s.spawn(async move { nest_free(depth - 1) + 1 })
            .join()
            .unwrap()
    })
}

#[test]
fn two_hundred_nested_scopes_on_one_worker() {
    watchdog(LIMIT, "two_hundred_nested_scopes_on_one_worker", || {
        let rt = rt(1);
        assert_eq!(nest_join(&rt, 200), 200);
        assert_eq!(nest_scope(&rt, 200), 200);
    });
}

#[test]
fn two_hundred_nested_scopes_on_two_workers() {
    watchdog(LIMIT, "two_hundred_nested_scopes_on_two_workers", || {
        let rt = rt(2);
        assert_eq!(nest_join(&rt, 200), 200);
        assert_eq!(nest_scope(&rt, 200), 200);
    });
}

#[test]
fn two_hundred_nested_free_scopes_inside_a_worker() {
    watchdog(
        LIMIT,
        "two_hundred_nested_free_scopes_inside_a_worker",
        || {
            let rt = rt(1);
            let depth = rt.scope(|s| s.spawn(async { nest_free(200) }).join().unwrap());
            assert_eq!(depth, 200);
        },
    );
}

#[test]
fn join_inside_a_task_on_one_worker() {
    watchdog(LIMIT, "join_inside_a_task_on_one_worker", || {
        let rt = rt(1);
        let v = rt.scope(|s| {
            s.spawn(async move {
                let inner = s.spawn(async {
                    yield_now().await;
                    21
                });
                // Blocks the only worker; the wait must run `inner` itself.
                inner.join().unwrap() * 2
            })
            .join()
            .unwrap()
        });
        assert_eq!(v, 42);

        // A 'static task joined from inside a task.
        let rt = &rt;
        let v = rt.scope(|s| {
            s.spawn(async move { rt.spawn(async { 5 }).join().unwrap() })
                .join()
                .unwrap()
        });
        assert_eq!(v, 5);
    });
}

#[test]
fn block_on_inside_a_task_on_one_worker() {
    watchdog(LIMIT, "block_on_inside_a_task_on_one_worker", || {
        let rt = rt(1);
        let rt = &rt;
        let v = rt.scope(|s| {
            s.spawn(async move {
                let a = rt.block_on(async move { s.spawn(async { 20 }).await.unwrap() });
                let b = paddock::block_on(async move { s.spawn(async { 1 }).await.unwrap() });
                let c = rt.block_on(rt.spawn(async { 100 })).unwrap();
                a + b + c
            })
            .join()
            .unwrap()
        });
        assert_eq!(v, 121);
    });
}

#[test]
fn block_on_inside_a_task_waits_for_a_queued_sibling() {
    watchdog(
        LIMIT,
        "block_on_inside_a_task_waits_for_a_queued_sibling",
        || {
            let rt = rt(1);
            let event = Event::new();
            let rt = &rt;
            rt.scope(|s| {
                let event = &event;
                drop(s.spawn(async move {
                    // The sibling that sets the event is queued behind this
                    // task on the only worker.
                    drop(s.spawn(async move { event.set() }));
                    rt.block_on(event.wait());
                }));
            });
            assert!(event.is_set());
        },
    );
}

#[test]
fn block_on_inside_a_task_waits_for_an_external_wake() {
    watchdog(
        LIMIT,
        "block_on_inside_a_task_waits_for_an_external_wake",
        || {
            let rt = rt(1);
            let rt = &rt;
            let other_ran = AtomicBool::new(false);
            rt.scope(|s| {
                drop(s.spawn(async move { rt.block_on(sleep(30)) }));
                drop(s.spawn(async {
                    other_ran.store(true, SeqCst);
                }));
            });
            assert!(other_ran.load(SeqCst));
        },
    );
}

fn tree(rt: &Runtime, depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    rt.scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(async move {
                    yield_now().await;
                    tree(rt, depth - 1)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

#[test]
fn nested_scope_trees_do_not_deadlock() {
    watchdog(LIMIT, "nested_scope_trees_do_not_deadlock", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            assert_eq!(tree(&rt, 5), 243, "{workers} worker(s)");
        }
    });
}

#[test]
fn nested_scope_of_another_runtime_inside_a_task() {
    watchdog(
        LIMIT,
        "nested_scope_of_another_runtime_inside_a_task",
        || {
            let outer = rt(1);
            let inner = rt(1);
            let inner = &inner;
            let v = outer.scope(|s| {
                s.spawn(async move { inner.scope(|s2| s2.spawn(async { 9 }).join().unwrap()) })
                    .join()
                    .unwrap()
            });
            assert_eq!(v, 9);
        },
    );
}

/// Fork-join through nested scopes: each node spawns its two children in a
/// scope of its own and waits for them. About 250,000 tasks, 25 levels deep.
fn fib(rt: &Runtime, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    rt.scope(|s| {
        let a = s.spawn(async move { fib(rt, n - 1) });
        let b = s.spawn(async move { fib(rt, n - 2) });
        a.join().unwrap() + b.join().unwrap()
    })
}

/// A waiting worker must run the newest work first: if it picked the oldest
/// queued task, each wait would start a fresh subtree on top of its stack,
/// and the stack would grow with the number of tasks, not the depth (this
/// overflowed the default worker stack at fib(23) on one worker).
#[test]
fn deep_fork_join_fits_the_default_worker_stack() {
    for workers in [1, 2] {
        watchdog(
            60,
            "deep_fork_join_fits_the_default_worker_stack",
            move || {
                let rt = rt(workers);
                assert_eq!(rt.block_on(async { fib(&rt, 25) }), 75_025);
            },
        );
    }
}
