//! Panics in tasks, in futures' destructors, in scope closures and in panic
//! payloads themselves.

mod common;

use std::error::Error;
use std::future::Future;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll};
use std::thread;

use common::{
    boom, every_worker_runs_at_once, payload_of, rt, sleep, wait_until, watchdog, PanicOnDrop,
    Payload, LIMIT,
};
use paddock::{yield_now, JoinError};

/// A panic payload whose destructor panics too.
#[derive(Debug)]
struct Bomb(u32);

impl Drop for Bomb {
    fn drop(&mut self) {
        if !thread::panicking() {
            // A `Payload`, so that the quiet panic hook stays quiet.
            panic::panic_any(Payload(1000 + self.0));
        }
    }
}

/// Disposes of a payload that may be a `Bomb` without setting it off.
fn defuse(payload: Box<dyn std::any::Any + Send>) {
    if payload.is::<Bomb>() {
        std::mem::forget(payload);
    }
}

#[test]
fn joined_panic_is_a_join_error_with_the_payload() {
    watchdog(
        LIMIT,
        "joined_panic_is_a_join_error_with_the_payload",
        || {
            let rt = rt(2);
            let err = rt.scope(|s| s.spawn(async { boom(1) }).join().unwrap_err());
            assert!(err.is_panic());
            assert!(!err.is_cancelled());
            assert_eq!(payload_of(err.into_panic()), 1);
        },
    );
}

#[test]
fn awaited_panic_is_a_join_error_and_is_not_reraised() {
    watchdog(
        LIMIT,
        "awaited_panic_is_a_join_error_and_is_not_reraised",
        || {
            let rt = rt(2);
            // The panic is observed through the handle, so `scope` returns normally.
            let payload = rt.scope(|s| {
                let failing = s.spawn(async {
                    yield_now().await;
                    boom(2)
                });
                s.spawn(async move { failing.await.unwrap_err().into_panic() })
                    .join()
                    .unwrap()
            });
            assert_eq!(payload_of(payload), 2);
        },
    );
}

#[test]
fn unobserved_panic_is_reraised_with_its_original_payload() {
    watchdog(
        LIMIT,
        "unobserved_panic_is_reraised_with_its_original_payload",
        || {
            let rt = rt(2);
            let finished = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    drop(s.spawn(async { boom(3) }));
                    for _ in 0..4 {
                        drop(s.spawn(async {
                            sleep(20).await;
                            finished.fetch_add(1, SeqCst);
                        }));
                    }
                })
            }));
            assert_eq!(payload_of(result.unwrap_err()), 3);
            assert_eq!(
                finished.load(SeqCst),
                4,
                "re-raised before all tasks finished"
            );
        },
    );
}

#[test]
fn unobserved_panic_message_survives() {
    watchdog(LIMIT, "unobserved_panic_message_survives", || {
        let rt = rt(1);
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                drop(s.spawn(async {
                    let n = 42;
                    panic!("task {n} failed");
                }));
            })
        }));
        let payload = result.unwrap_err();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "task 42 failed");
    });
}

#[test]
fn panic_of_finished_task_is_reraised_when_its_handle_is_dropped() {
    watchdog(
        LIMIT,
        "panic_of_finished_task_is_reraised_when_its_handle_is_dropped",
        || {
            let rt = rt(1);
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    let h = s.spawn(async { boom(4) });
                    wait_until(|| h.is_finished());
                    drop(h);
                })
            }));
            assert_eq!(payload_of(result.unwrap_err()), 4);
        },
    );
}

#[test]
fn first_unobserved_panic_wins() {
    watchdog(LIMIT, "first_unobserved_panic_wins", || {
        // One worker, so "first" is well defined: the second task panics only
        // after it has seen the first task's panic unwind.
        let rt = rt(1);
        let first_unwound = AtomicBool::new(false);
        let result = catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                drop(s.spawn(async {
                    let _flag = common::SetOnDrop(&first_unwound);
                    boom(10)
                }));
                drop(s.spawn(async {
                    while !first_unwound.load(SeqCst) {
                        yield_now().await;
                    }
                    boom(11)
                }));
            })
        }));
        assert_eq!(payload_of(result.unwrap_err()), 10);
    });
}

#[test]
fn closure_panic_waits_for_tasks_then_resumes() {
    watchdog(LIMIT, "closure_panic_waits_for_tasks_then_resumes", || {
        let rt = rt(2);
        let finished = AtomicUsize::new(0);
        let result: Result<(), _> = catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                for _ in 0..4 {
                    drop(s.spawn(async {
                        sleep(30).await;
                        finished.fetch_add(1, SeqCst);
                    }));
                }
                panic::panic_any(Payload(20));
            })
        }));
        assert_eq!(payload_of(result.unwrap_err()), 20);
        assert_eq!(finished.load(SeqCst), 4, "closure panic skipped the join");
    });
}

#[test]
fn closure_panic_takes_precedence_over_task_panic() {
    watchdog(
        LIMIT,
        "closure_panic_takes_precedence_over_task_panic",
        || {
            let rt = rt(1);
            let task_panicked = AtomicBool::new(false);
            let result: Result<(), _> = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    drop(s.spawn(async {
                        let _flag = common::SetOnDrop(&task_panicked);
                        boom(21)
                    }));
                    wait_until(|| task_panicked.load(SeqCst));
                    panic::panic_any(Payload(22));
                })
            }));
            assert_eq!(payload_of(result.unwrap_err()), 22);
        },
    );
}

/// Completes at once, then panics when the runtime drops it.
struct ReadyThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl Future for ReadyThenPanicOnDrop {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(1)
    }
}

#[test]
fn panic_in_future_drop_after_completion_is_contained() {
    watchdog(
        LIMIT,
        "panic_in_future_drop_after_completion_is_contained",
        || {
            let rt = rt(1);
            let finished = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    let h = s.spawn(ReadyThenPanicOnDrop(PanicOnDrop(30)));
                    for _ in 0..3 {
                        drop(s.spawn(async {
                            sleep(10).await;
                            finished.fetch_add(1, SeqCst);
                        }));
                    }
                    // Either the output or the drop's panic, never a hang or
                    // a cancellation.
                    match h.join() {
                        Ok(v) => assert_eq!(v, 1),
                        Err(e) => assert_eq!(payload_of(e.into_panic()), 30),
                    }
                    drop(s.spawn(ReadyThenPanicOnDrop(PanicOnDrop(31))));
                })
            }));
            if let Err(payload) = result {
                let n = payload_of(payload);
                assert!(n == 30 || n == 31, "unexpected payload {n}");
            }
            assert_eq!(finished.load(SeqCst), 3);
            // The single worker survived the panicking destructors.
            assert_eq!(rt.scope(|s| s.spawn(async { 5 }).join().unwrap()), 5);
        },
    );
}

#[test]
fn payload_with_panicking_drop_is_reraised_intact() {
    watchdog(
        LIMIT,
        "payload_with_panicking_drop_is_reraised_intact",
        || {
            let rt = rt(2);
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    drop(s.spawn(async {
                        panic::panic_any(Bomb(1));
                    }));
                })
            }));
            let payload = result.unwrap_err();
            let bomb = payload
                .downcast_ref::<Bomb>()
                .expect("the original Bomb payload");
            assert_eq!(bomb.0, 1);
            defuse(payload);
            // Observed through a handle, the same payload comes back too.
            let err = rt.scope(|s| {
                s.spawn(async {
                    panic::panic_any(Bomb(2));
                })
                .join()
                .unwrap_err()
            });
            assert!(err.is_panic());
            let payload = err.into_panic();
            assert_eq!(payload.downcast_ref::<Bomb>().unwrap().0, 2);
            defuse(payload);
        },
    );
}

#[test]
fn payloads_with_panicking_drop_do_not_cut_the_wait_short() {
    watchdog(
        LIMIT,
        "payloads_with_panicking_drop_do_not_cut_the_wait_short",
        || {
            let rt = rt(2);
            let finished = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    // Only one payload can be re-raised; the runtime has to
                    // dispose of the others, and each one panics when dropped.
                    for i in 0..4 {
                        drop(s.spawn(async move {
                            panic::panic_any(Bomb(i));
                        }));
                    }
                    for _ in 0..4 {
                        drop(s.spawn(async {
                            sleep(40).await;
                            finished.fetch_add(1, SeqCst);
                        }));
                    }
                })
            }));
            defuse(result.expect_err("unobserved panics must be re-raised"));
            assert_eq!(finished.load(SeqCst), 4, "scope returned before its tasks");
            // Both workers are still alive.
            every_worker_runs_at_once(&rt);
        },
    );
}

#[test]
fn worker_survives_panics() {
    watchdog(LIMIT, "worker_survives_panics", || {
        let rt = rt(1);
        let before = rt.scope(|s| s.spawn(async { thread::current().id() }).join().unwrap());
        for i in 0..50 {
            let err = rt.scope(|s| s.spawn(async move { boom(i) }).join().unwrap_err());
            assert_eq!(payload_of(err.into_panic()), i);
        }
        let _ = catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                for i in 0..50 {
                    drop(s.spawn(async move { boom(i) }));
                }
            })
        }));
        for i in 0..10 {
            drop(rt.spawn(async move { boom(i) }));
        }
        let after = rt.scope(|s| s.spawn(async { thread::current().id() }).join().unwrap());
        assert_eq!(before, after, "the worker thread was replaced or lost");
    });
}

#[test]
fn static_task_panic_is_a_join_error_and_is_not_reraised() {
    watchdog(
        LIMIT,
        "static_task_panic_is_a_join_error_and_is_not_reraised",
        || {
            let rt = rt(2);
            let err = rt.spawn(async { boom(6) }).join().unwrap_err();
            assert!(err.is_panic());
            assert_eq!(payload_of(err.into_panic()), 6);
            // A detached 'static task's panic has no scope to go to: it is
            // dropped, and the runtime carries on.
            let h = rt.spawn(async { boom(7) });
            wait_until(|| h.is_finished());
            drop(h);
            assert_eq!(rt.spawn(async { 8 }).join().unwrap(), 8);
            assert_eq!(rt.block_on(rt.spawn(async { 9 })).unwrap(), 9);
        },
    );
}

#[test]
fn block_on_panic_propagates_to_the_caller() {
    watchdog(LIMIT, "block_on_panic_propagates_to_the_caller", || {
        let rt = rt(1);
        let result = catch_unwind(AssertUnwindSafe(|| rt.block_on(async { boom(40) })));
        assert_eq!(payload_of(result.unwrap_err()), 40);
        assert_eq!(rt.block_on(async { 41 }), 41);
    });
}

#[test]
fn join_error_traits_and_messages() {
    fn assert_error<E: Error + Send + Sync + 'static>() {}
    assert_error::<JoinError>();

    watchdog(LIMIT, "join_error_traits_and_messages", || {
        let rt = rt(1);
        let (panicked, cancelled) = rt.scope(|s| {
            let panicked = s.spawn(async { boom(50) }).join().unwrap_err();
            let pending = s.spawn(std::future::pending::<()>());
            pending.abort();
            (panicked, pending.join().unwrap_err())
        });
        assert!(panicked.is_panic() && !panicked.is_cancelled());
        assert!(cancelled.is_cancelled() && !cancelled.is_panic());

        let shown = panicked.to_string().to_lowercase();
        assert!(shown.contains("panic"), "Display of a panic: {shown:?}");
        let shown = cancelled.to_string().to_lowercase();
        assert!(
            shown.contains("cancel"),
            "Display of a cancellation: {shown:?}"
        );
        assert!(!format!("{panicked:?}").is_empty());
        assert!(!format!("{cancelled:?}").is_empty());

        // Usable with `?` in code that returns boxed errors, across threads.
        fn fails(e: JoinError) -> Result<(), Box<dyn Error + Send + Sync>> {
            Err(e)?
        }
        let boxed = thread::spawn(move || fails(cancelled).unwrap_err())
            .join()
            .unwrap();
        assert!(boxed.to_string().to_lowercase().contains("cancel"));
    });
}
