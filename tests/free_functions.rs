//! `paddock::scope`, `paddock::spawn`, `paddock::block_on` and
//! `paddock::yield_now`: the global runtime outside workers, the current
//! runtime inside them.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;

use common::{named_rt, thread_name, watchdog, LIMIT};

#[test]
fn free_scope_borrows_from_the_caller() {
    watchdog(LIMIT, "free_scope_borrows_from_the_caller", || {
        let mut data = vec![1u32; 100];
        let total = AtomicUsize::new(0);
        paddock::scope(|s| {
            for chunk in data.chunks_mut(10) {
                let total = &total;
                drop(s.spawn(async move {
                    paddock::yield_now().await;
                    for x in chunk.iter_mut() {
                        *x += 1;
                    }
                    total.fetch_add(chunk.len(), SeqCst);
                }));
            }
        });
        assert_eq!(total.load(SeqCst), 100);
        assert!(data.iter().all(|&x| x == 2));
    });
}

#[test]
fn free_spawn_and_block_on_outside_a_worker() {
    watchdog(LIMIT, "free_spawn_and_block_on_outside_a_worker", || {
        let caller = thread::current().id();
        let h = paddock::spawn(async { thread::current().id() });
        assert_ne!(
            h.join().unwrap(),
            caller,
            "a spawned task ran on the caller"
        );
        let (v, on) = paddock::block_on(async {
            let v = paddock::spawn(async { 6 }).await.unwrap();
            paddock::yield_now().await;
            (v, thread::current().id())
        });
        assert_eq!(v, 6);
        assert_eq!(on, caller, "block_on drives its future on the caller");
    });
}

#[test]
fn free_functions_use_the_current_runtime_inside_a_worker() {
    watchdog(
        LIMIT,
        "free_functions_use_the_current_runtime_inside_a_worker",
        || {
            let rt = named_rt(2, "ff-custom-");
            let (spawned, scoped, blocked, nested) = rt.scope(|s| {
                s.spawn(async {
                    let spawned = paddock::spawn(async { thread_name() }).await.unwrap();
                    let scoped =
                        paddock::scope(|s2| s2.spawn(async { thread_name() }).join().unwrap());
                    let blocked = paddock::block_on(async { thread_name() });
                    let nested = paddock::block_on(async {
                        paddock::spawn(async { thread_name() }).await.unwrap()
                    });
                    (spawned, scoped, blocked, nested)
                })
                .join()
                .unwrap()
            });
            for (what, name) in [
                ("spawn", &spawned),
                ("scope", &scoped),
                ("block_on", &blocked),
                ("spawn inside block_on", &nested),
            ] {
                assert!(
                    name.starts_with("ff-custom-"),
                    "paddock::{what} inside a worker ran on {name:?}, not the current runtime"
                );
            }
        },
    );
}

#[test]
fn free_spawn_outside_a_worker_does_not_use_other_runtimes() {
    watchdog(
        LIMIT,
        "free_spawn_outside_a_worker_does_not_use_other_runtimes",
        || {
            // A live runtime that this thread is not part of must not be
            // picked up by the free functions.
            let rt = named_rt(1, "ff-bystander-");
            let name = paddock::spawn(async { thread_name() }).join().unwrap();
            assert!(!name.starts_with("ff-bystander-"), "ran on {name:?}");
            let name = paddock::scope(|s| s.spawn(async { thread_name() }).join().unwrap());
            assert!(!name.starts_with("ff-bystander-"), "ran on {name:?}");
            drop(rt);
        },
    );
}

#[test]
fn free_functions_inside_block_on_and_scope_use_that_runtime() {
    watchdog(
        LIMIT,
        "free_functions_inside_block_on_and_scope_use_that_runtime",
        || {
            // As the crate docs say: on a thread that is inside a runtime's
            // `block_on` or `scope`, the free functions use that runtime.
            let rt = named_rt(1, "ff-entered-");
            let in_block_on =
                rt.block_on(async { paddock::spawn(async { thread_name() }).await.unwrap() });
            assert!(
                in_block_on.starts_with("ff-entered-"),
                "ran on {in_block_on:?}"
            );
            let in_scope = rt.scope(|_| paddock::spawn(async { thread_name() }).join().unwrap());
            assert!(in_scope.starts_with("ff-entered-"), "ran on {in_scope:?}");
        },
    );
}
