//! One test per soundness invariant of DESIGN.md section 3, each written so
//! that it fails (wrong count, crash or watchdog timeout) if the invariant
//! breaks. Invariant 3 is a compile-time property: the `compile_fail` doc
//! tests in `src/compile_fail.rs` check it; the test here checks the
//! run-time half (a task's siblings may take its locals by value).

mod common;

use std::future::{poll_fn, Future};
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{
    boom, every_worker_runs_at_once, payload_of, rt, sleep, watchdog, CountDrop, Event, Guarded,
    PanicOnDrop, Payload, LIMIT,
};
use paddock::yield_now;

/// Writes `value` through a borrowed `&mut` when dropped, slowly (2 ms), so
/// that a scope that returned before this drop finished would be caught
/// reading.
struct WriteOnDrop<'a> {
    slot: &'a mut u32,
    value: u32,
}

impl Drop for WriteOnDrop<'_> {
    fn drop(&mut self) {
        thread::sleep(Duration::from_millis(2));
        *self.slot = self.value;
    }
}

fn expected(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[test]
fn invariant_1_completed_futures_are_dropped_before_scope_returns() {
    watchdog(
        LIMIT,
        "invariant_1_completed_futures_are_dropped_before_scope_returns",
        || {
            let rt = rt(2);
            let mut slots = vec![0u32; 16];
            rt.scope(|s| {
                for (i, slot) in slots.iter_mut().enumerate() {
                    let guard = WriteOnDrop {
                        slot,
                        value: i as u32 + 1,
                    };
                    // The guard lives in the future until the runtime drops it.
                    drop(s.spawn(Guarded::new(yield_now(), guard)));
                }
            });
            assert_eq!(
                slots,
                expected(16),
                "a completed task's future was dropped after scope returned"
            );
        },
    );
}

#[test]
fn invariant_1_a_future_cancelled_on_its_worker_is_dropped_before_scope_returns() {
    watchdog(
        LIMIT,
        "invariant_1_a_future_cancelled_on_its_worker_is_dropped_before_scope_returns",
        || {
            let rt = rt(1);
            let mut slot = 0u32;
            let (running_tx, running_rx) = mpsc::channel::<()>();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            rt.scope(|s| {
                let guard = WriteOnDrop {
                    slot: &mut slot,
                    value: 1,
                };
                let body = async move {
                    running_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    yield_now().await;
                };
                let h = s.spawn(Guarded::new(body, guard));
                // Abort while the task is being polled, so that its worker
                // drops the future at the next suspension point.
                running_rx.recv().unwrap();
                h.abort();
                go_tx.send(()).unwrap();
            });
            assert_eq!(
                slot, 1,
                "a cancelled future was dropped after scope returned"
            );
        },
    );
}

#[test]
fn invariant_1_detached_outputs_are_dropped_before_scope_returns() {
    watchdog(
        LIMIT,
        "invariant_1_detached_outputs_are_dropped_before_scope_returns",
        || {
            let rt = rt(2);
            // Handles dropped at once: the runtime drops the outputs.
            let mut slots = vec![0u32; 16];
            rt.scope(|s| {
                for (i, slot) in slots.iter_mut().enumerate() {
                    drop(s.spawn(async move {
                        yield_now().await;
                        WriteOnDrop {
                            slot,
                            value: i as u32 + 1,
                        }
                    }));
                }
            });
            assert_eq!(
                slots,
                expected(16),
                "a detached output was dropped after scope returned"
            );

            // Handles dropped after their tasks finished: the handle drops
            // the output, still inside the scope.
            let mut slots = vec![0u32; 4];
            rt.scope(|s| {
                let handles: Vec<_> = slots
                    .iter_mut()
                    .enumerate()
                    .map(|(i, slot)| {
                        s.spawn(async move {
                            WriteOnDrop {
                                slot,
                                value: i as u32 + 1,
                            }
                        })
                    })
                    .collect();
                for h in handles {
                    common::wait_until(|| h.is_finished());
                    drop(h);
                }
            });
            assert_eq!(slots, expected(4));
        },
    );
}

#[test]
fn invariant_2_wakers_outlive_tasks_scopes_and_runtimes() {
    static STASH: Mutex<Vec<Waker>> = Mutex::new(Vec::new());
    static POLLS: AtomicUsize = AtomicUsize::new(0);

    watchdog(
        LIMIT,
        "invariant_2_wakers_outlive_tasks_scopes_and_runtimes",
        || {
            let rt = rt(2);
            let futures_dropped = AtomicUsize::new(0);
            let outputs_dropped = AtomicUsize::new(0);
            rt.scope(|s| {
                for _ in 0..16 {
                    let guard = CountDrop(&futures_dropped);
                    let outputs_dropped = &outputs_dropped;
                    drop(s.spawn(async move {
                        let _guard = guard;
                        poll_fn(|cx| {
                            POLLS.fetch_add(1, SeqCst);
                            STASH.lock().unwrap().push(cx.waker().clone());
                            Poll::Ready(())
                        })
                        .await;
                        CountDrop(outputs_dropped)
                    }));
                }
            });
            // The stashed wakers did not keep any future or output alive.
            assert_eq!(futures_dropped.load(SeqCst), 16);
            assert_eq!(outputs_dropped.load(SeqCst), 16);
            let polls = POLLS.load(SeqCst);

            let wakers = std::mem::take(&mut *STASH.lock().unwrap());
            // Waking a finished task does nothing, from any thread.
            thread::scope(|threads| {
                for chunk in wakers.chunks(4) {
                    threads.spawn(move || chunk.iter().for_each(Waker::wake_by_ref));
                }
            });
            let (first, rest) = wakers.split_at(8);
            let first = first.to_vec();
            drop(rt);
            // Waking and dropping after the runtime is gone; the last waker
            // of each task frees it without touching the future or output.
            first.into_iter().for_each(Waker::wake);
            drop(rest.to_vec());
            drop(wakers);
            assert_eq!(
                POLLS.load(SeqCst),
                polls,
                "a finished task was polled again"
            );
            assert_eq!(
                futures_dropped.load(SeqCst),
                16,
                "a future was dropped twice"
            );
            assert_eq!(
                outputs_dropped.load(SeqCst),
                16,
                "an output was dropped twice"
            );
        },
    );
}

#[test]
fn invariant_3_siblings_take_a_tasks_locals_by_value() {
    watchdog(
        LIMIT,
        "invariant_3_siblings_take_a_tasks_locals_by_value",
        || {
            // Borrowing `local` in the sibling would not compile (see
            // src/compile_fail.rs); moving it in must work and be seen whole.
            let rt = rt(2);
            let seen = rt.scope(|s| {
                s.spawn(async move {
                    let local = String::from("sibling");
                    let sibling = s.spawn(async move { local.len() });
                    yield_now().await;
                    sibling.await.unwrap()
                })
                .join()
                .unwrap()
            });
            assert_eq!(seen, 7);
        },
    );
}

/// A future that completes at once and panics when the runtime drops it.
struct ReadyThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl Future for ReadyThenPanicOnDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// A future that returns `Pending` forever and panics when dropped.
struct PendingPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl Future for PendingPanicOnDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

#[test]
fn invariant_4_no_panic_skips_the_join() {
    watchdog(LIMIT, "invariant_4_no_panic_skips_the_join", || {
        let rt = rt(2);
        let slow_done = AtomicUsize::new(0);
        let guards_dropped = AtomicUsize::new(0);
        let result: Result<(), _> = catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                // Slow tasks the scope must still wait for.
                for _ in 0..4 {
                    let guard = CountDrop(&guards_dropped);
                    drop(s.spawn(async {
                        let _guard = guard;
                        sleep(40).await;
                        slow_done.fetch_add(1, SeqCst);
                    }));
                }
                // A panic in poll.
                drop(s.spawn(async { boom(1) }));
                // A panic in the drop of a future that completed.
                drop(s.spawn(ReadyThenPanicOnDrop(PanicOnDrop(2))));
                // A panic in the drop of a detached task's output.
                drop(s.spawn(async {
                    yield_now().await;
                    PanicOnDrop(3)
                }));
                // A panic in the drop of an aborted future: caught at the
                // task's boundary, so `abort` itself does not unwind, and the
                // task is still counted done.
                let h = s.spawn(PendingPanicOnDrop(PanicOnDrop(4)));
                assert!(
                    catch_unwind(AssertUnwindSafe(|| h.abort())).is_ok(),
                    "abort unwound with the future's drop panic"
                );
                drop(h);
                // And the closure panics last.
                panic::panic_any(Payload(5));
            })
        }));
        assert_eq!(
            payload_of(result.unwrap_err()),
            5,
            "the closure's panic is resumed"
        );
        assert_eq!(slow_done.load(SeqCst), 4, "a panic cut the wait short");
        assert_eq!(guards_dropped.load(SeqCst), 4);

        // No count leaked and no worker died: a scope still completes at once,
        // and both workers can run at the same time.
        every_worker_runs_at_once(&rt);
    });
}

#[test]
fn invariant_5_one_poller_at_a_time_and_no_lost_wakes() {
    watchdog(
        LIMIT,
        "invariant_5_one_poller_at_a_time_and_no_lost_wakes",
        || {
            const TASKS: usize = 8;
            const POLLS: usize = 300;
            let rt = rt(2);
            let overlaps = AtomicUsize::new(0);
            let completed = AtomicUsize::new(0);
            let stop = AtomicBool::new(false);
            let slots: Vec<Mutex<Option<Waker>>> = (0..TASKS).map(|_| Mutex::new(None)).collect();
            thread::scope(|threads| {
                // Foreign threads wake whatever they find, as fast as they
                // can, while the tasks are being polled.
                for _ in 0..2 {
                    threads.spawn(|| {
                        while !stop.load(SeqCst) {
                            for slot in &slots {
                                let waker = slot.lock().unwrap().clone();
                                if let Some(waker) = waker {
                                    waker.wake();
                                }
                            }
                            thread::yield_now();
                        }
                    });
                }
                rt.scope(|s| {
                    for slot in &slots {
                        let (overlaps, completed) = (&overlaps, &completed);
                        drop(s.spawn(async move {
                            let in_poll = AtomicBool::new(false);
                            let mut left = POLLS;
                            poll_fn(|cx| {
                                if in_poll.swap(true, SeqCst) {
                                    overlaps.fetch_add(1, SeqCst);
                                }
                                *slot.lock().unwrap() = Some(cx.waker().clone());
                                for _ in 0..50 {
                                    std::hint::spin_loop();
                                }
                                in_poll.store(false, SeqCst);
                                left -= 1;
                                if left == 0 {
                                    Poll::Ready(())
                                } else {
                                    // Always woken, by itself or a foreign
                                    // thread, possibly both and during this
                                    // poll.
                                    if left % 2 == 0 {
                                        cx.waker().wake_by_ref();
                                    }
                                    Poll::Pending
                                }
                            })
                            .await;
                            completed.fetch_add(1, SeqCst);
                        }));
                    }
                });
                stop.store(true, SeqCst);
            });
            assert_eq!(
                overlaps.load(SeqCst),
                0,
                "a task was polled by two threads at once"
            );
            assert_eq!(completed.load(SeqCst), TASKS);
        },
    );
}

/// Gets itself woken by another thread in the middle of its first poll.
struct WokenDuringPoll(u32);

impl Future for WokenDuringPoll {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.0 += 1;
        if self.0 > 1 {
            return Poll::Ready(self.0);
        }
        let waker = cx.waker().clone();
        thread::spawn(move || waker.wake()).join().unwrap();
        Poll::Pending
    }
}

#[test]
fn invariant_5_wake_during_poll_is_not_lost() {
    watchdog(LIMIT, "invariant_5_wake_during_poll_is_not_lost", || {
        let rt = rt(1);
        let polls = rt.scope(|s| s.spawn(WokenDuringPoll(0)).join().unwrap());
        assert_eq!(polls, 2);
    });
}

#[test]
fn invariant_6_scope_state_can_be_freed_as_soon_as_the_count_hits_zero() {
    watchdog(
        LIMIT,
        "invariant_6_scope_state_can_be_freed_as_soon_as_the_count_hits_zero",
        || {
            // Each scope's data is freed and the stack slot of its `Scope` is
            // reused by the next one straight after it returns; a task that
            // touched either after its decrement would corrupt a later scope
            // (wrong count, hang or crash).
            let rt = rt(2);
            for round in 0..2000usize {
                let counter = Box::new(AtomicUsize::new(0));
                rt.scope(|s| {
                    for _ in 0..(round % 4) + 1 {
                        drop(s.spawn(async {
                            counter.fetch_add(1, SeqCst);
                        }));
                    }
                });
                assert_eq!(counter.load(SeqCst), (round % 4) + 1, "round {round}");
                drop(counter);
            }
            // The same with scopes that live on worker stacks.
            let rt = &rt;
            let total = AtomicUsize::new(0);
            rt.scope(|s| {
                for _ in 0..20 {
                    let total = &total;
                    drop(s.spawn(async move {
                        for _ in 0..50 {
                            let local = AtomicUsize::new(0);
                            rt.scope(|s2| {
                                drop(s2.spawn(async {
                                    local.fetch_add(1, SeqCst);
                                }));
                            });
                            total.fetch_add(local.load(SeqCst), SeqCst);
                        }
                    }));
                }
            });
            assert_eq!(total.load(SeqCst), 1000);
        },
    );
}

#[test]
fn invariant_7_helping_runs_another_scopes_panic_inside_its_own_boundary() {
    watchdog(
        LIMIT,
        "invariant_7_helping_runs_another_scopes_panic_inside_its_own_boundary",
        || {
            let rt = rt(1);
            let rt = &rt;
            let panicker_ran = Event::new();
            let waiter_returned = AtomicBool::new(false);
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|outer| {
                    let (panicker_ran, waiter_returned) = (&panicker_ran, &waiter_returned);
                    drop(outer.spawn(async move {
                        // A task of the outer scope that panics, queued on the
                        // only worker behind this one.
                        drop(outer.spawn(async move {
                            panicker_ran.set();
                            boom(70)
                        }));
                        // This nested scope cannot finish until the panicking
                        // task has run, so the worker runs it while it waits
                        // here. Its panic belongs to the outer scope and must
                        // not unwind into this wait.
                        rt.scope(|inner| {
                            drop(inner.spawn(panicker_ran.wait()));
                        });
                        waiter_returned.store(true, SeqCst);
                    }));
                })
            }));
            assert!(
                waiter_returned.load(SeqCst),
                "another scope's panic unwound into a helping wait"
            );
            assert_eq!(
                payload_of(result.unwrap_err()),
                70,
                "the panic went to its own scope"
            );
        },
    );
}

/// A panic payload whose destructor panics too.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic::panic_any(Payload(1000));
        }
    }
}

#[test]
fn invariant_7_payload_with_panicking_drop_cannot_cut_a_wait_short() {
    watchdog(
        LIMIT,
        "invariant_7_payload_with_panicking_drop_cannot_cut_a_wait_short",
        || {
            let rt = rt(1);
            let rt = &rt;
            let inner_done = AtomicUsize::new(0);
            let outer_done = AtomicUsize::new(0);
            let (tx, rx) = mpsc::channel();
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|outer| {
                    let inner_done = &inner_done;
                    drop(outer.spawn(async move {
                        // The nested scope re-raises one Bomb here, on the
                        // worker, after all of its tasks are done.
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            rt.scope(|inner| {
                                drop(inner.spawn(async {
                                    sleep(30).await;
                                    inner_done.fetch_add(1, SeqCst);
                                }));
                                // Several unobserved Bombs: one is re-raised,
                                // the others are disposed of by the runtime.
                                for _ in 0..3 {
                                    drop(inner.spawn(async {
                                        panic::panic_any(Bomb);
                                    }));
                                }
                            })
                        }));
                        tx.send(inner_done.load(SeqCst)).unwrap();
                        if let Err(payload) = r {
                            if payload.is::<Bomb>() {
                                std::mem::forget(payload);
                            }
                        }
                    }));
                    drop(outer.spawn(async {
                        sleep(30).await;
                        outer_done.fetch_add(1, SeqCst);
                    }));
                })
            }));
            assert!(result.is_ok(), "the nested scope's panic escaped its task");
            assert_eq!(
                rx.recv().unwrap(),
                1,
                "the nested scope returned before its task"
            );
            assert_eq!(
                outer_done.load(SeqCst),
                1,
                "the outer scope returned before its task"
            );
            // The single worker is alive.
            assert_eq!(rt.scope(|s| s.spawn(async { 1 }).join().unwrap()), 1);
        },
    );
}

#[test]
fn invariant_7_abandoned_payloads_with_panicking_drop_are_contained() {
    watchdog(
        LIMIT,
        "invariant_7_abandoned_payloads_with_panicking_drop_are_contained",
        || {
            // A closure panic wins over task panics, so the runtime must drop
            // the tasks' Bomb payloads itself.
            let rt = rt(2);
            let slow_done = AtomicUsize::new(0);
            let result: Result<(), _> = catch_unwind(AssertUnwindSafe(|| {
                rt.scope(|s| {
                    for _ in 0..2 {
                        drop(s.spawn(async {
                            panic::panic_any(Bomb);
                        }));
                    }
                    drop(s.spawn(async {
                        sleep(30).await;
                        slow_done.fetch_add(1, SeqCst);
                    }));
                    panic::panic_any(Payload(8));
                })
            }));
            assert_eq!(slow_done.load(SeqCst), 1, "the wait was cut short");
            assert_eq!(
                payload_of(result.unwrap_err()),
                8,
                "the closure's panic is resumed"
            );
            // Both workers survived.
            every_worker_runs_at_once(&rt);
        },
    );
}
