//! `JoinHandle::abort` and `JoinHandle::is_finished`.

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};

use common::{rt, wait_until, watchdog, CountDrop, Event, SetOnDrop, LIMIT};
use paddock::yield_now;

#[test]
fn abort_of_a_queued_task_drops_its_future_at_once() {
    watchdog(
        LIMIT,
        "abort_of_a_queued_task_drops_its_future_at_once",
        || {
            let rt = rt(1);
            let dropped = AtomicBool::new(false);
            let polled = AtomicBool::new(false);
            let (busy_tx, busy_rx) = mpsc::channel::<()>();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            rt.scope(|s| {
                // Occupy the only worker so the victim stays queued.
                let blocker = s.spawn(async move {
                    busy_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                });
                busy_rx.recv().unwrap();

                let guard = SetOnDrop(&dropped);
                let polled = &polled;
                let victim = s.spawn(async move {
                    let _guard = guard;
                    polled.store(true, SeqCst);
                });
                victim.abort();
                assert!(
                    dropped.load(SeqCst),
                    "abort of a task that is not running must drop its future at once"
                );
                release_tx.send(()).unwrap();
                blocker.join().unwrap();
                assert!(victim.join().unwrap_err().is_cancelled());
            });
            assert!(!polled.load(SeqCst), "an aborted task was polled");
        },
    );
}

#[test]
fn abort_of_a_suspended_task_drops_its_future_at_once() {
    watchdog(
        LIMIT,
        "abort_of_a_suspended_task_drops_its_future_at_once",
        || {
            let rt = rt(1);
            let dropped = AtomicBool::new(false);
            let (idle_tx, idle_rx) = mpsc::channel::<()>();
            rt.scope(|s| {
                let guard = SetOnDrop(&dropped);
                let victim = s.spawn(async move {
                    let _guard = guard;
                    // With one worker, this reporter can only run once the
                    // victim's poll has returned `Pending`.
                    drop(s.spawn(async move { idle_tx.send(()).unwrap() }));
                    pending::<()>().await;
                });
                idle_rx.recv().unwrap();
                assert!(!victim.is_finished());
                victim.abort();
                assert!(
                    dropped.load(SeqCst),
                    "abort of a suspended task must drop its future at once"
                );
                assert!(victim.join().unwrap_err().is_cancelled());
            });
        },
    );
}

#[test]
fn abort_of_a_running_task_takes_effect_at_its_next_suspension() {
    watchdog(
        LIMIT,
        "abort_of_a_running_task_takes_effect_at_its_next_suspension",
        || {
            let rt = rt(1);
            let dropped = AtomicBool::new(false);
            let reached_await = AtomicBool::new(false);
            let resumed = AtomicBool::new(false);
            let (running_tx, running_rx) = mpsc::channel::<()>();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            rt.scope(|s| {
                let guard = SetOnDrop(&dropped);
                let (reached_await, resumed) = (&reached_await, &resumed);
                let h = s.spawn(async move {
                    let _guard = guard;
                    running_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    reached_await.store(true, SeqCst);
                    yield_now().await;
                    resumed.store(true, SeqCst);
                });
                running_rx.recv().unwrap();
                h.abort();
                assert!(
                    !dropped.load(SeqCst),
                    "the future of a running task was dropped while it was being polled"
                );
                go_tx.send(()).unwrap();
                assert!(h.join().unwrap_err().is_cancelled());
            });
            assert!(
                reached_await.load(SeqCst),
                "the current poll must run to its end"
            );
            assert!(
                !resumed.load(SeqCst),
                "the task ran past its next suspension point"
            );
            assert!(dropped.load(SeqCst));
        },
    );
}

#[test]
fn abort_of_a_finished_task_does_nothing() {
    watchdog(LIMIT, "abort_of_a_finished_task_does_nothing", || {
        let rt = rt(2);
        let output_drops = AtomicUsize::new(0);
        rt.scope(|s| {
            let h = s.spawn(async { (5, CountDrop(&output_drops)) });
            wait_until(|| h.is_finished());
            h.abort();
            h.abort();
            assert_eq!(
                output_drops.load(SeqCst),
                0,
                "abort dropped a finished task's output"
            );
            let (v, _output) = h.join().expect("a finished task keeps its output");
            assert_eq!(v, 5);
        });
        assert_eq!(output_drops.load(SeqCst), 1);
    });
}

#[test]
fn is_finished_tracks_completion() {
    watchdog(LIMIT, "is_finished_tracks_completion", || {
        let rt = rt(2);
        let event = Event::new();
        rt.scope(|s| {
            let h = s.spawn(async {
                event.wait().await;
                3
            });
            let failing = s.spawn(async { common::boom(1) });
            for _ in 0..10 {
                std::thread::sleep(std::time::Duration::from_millis(1));
                assert!(!h.is_finished(), "finished before its event was set");
            }
            event.set();
            wait_until(|| h.is_finished());
            assert_eq!(h.join().unwrap(), 3);
            wait_until(|| failing.is_finished());
            assert!(failing.join().unwrap_err().is_panic());
        });
    });
}

#[test]
fn abort_from_another_task() {
    watchdog(LIMIT, "abort_from_another_task", || {
        let rt = rt(2);
        let dropped = AtomicBool::new(false);
        let cancelled = rt.scope(|s| {
            let guard = SetOnDrop(&dropped);
            let victim = s.spawn(async move {
                let _guard = guard;
                pending::<()>().await;
            });
            s.spawn(async move {
                yield_now().await;
                victim.abort();
                victim.await.unwrap_err().is_cancelled()
            })
            .join()
            .unwrap()
        });
        assert!(cancelled);
        assert!(dropped.load(SeqCst));
    });
}

#[test]
fn aborted_task_with_dropped_handle_does_not_hold_up_the_scope() {
    watchdog(
        LIMIT,
        "aborted_task_with_dropped_handle_does_not_hold_up_the_scope",
        || {
            let rt = rt(2);
            let dropped = AtomicUsize::new(0);
            rt.scope(|s| {
                for _ in 0..16 {
                    let guard = CountDrop(&dropped);
                    let h = s.spawn(async move {
                        let _guard = guard;
                        pending::<()>().await;
                    });
                    h.abort();
                    drop(h);
                }
            });
            assert_eq!(dropped.load(SeqCst), 16);
        },
    );
}

#[test]
fn abort_races_completion() {
    watchdog(LIMIT, "abort_races_completion", || {
        let rt = rt(2);
        let created = AtomicUsize::new(0);
        let dropped = AtomicUsize::new(0);
        let (mut finished, mut cancelled) = (0, 0);
        for round in 0..200u32 {
            rt.scope(|s| {
                let handles: Vec<_> = (0..8u32)
                    .map(|i| {
                        let (created, dropped) = (&created, &dropped);
                        s.spawn(async move {
                            if i % 2 == 0 {
                                yield_now().await;
                            }
                            created.fetch_add(1, SeqCst);
                            (round * 8 + i, CountDrop(dropped))
                        })
                    })
                    .collect();
                for (i, h) in handles.iter().enumerate() {
                    if (i + round as usize) % 3 != 0 {
                        h.abort();
                    }
                }
                for (i, h) in handles.into_iter().enumerate() {
                    match h.join() {
                        Ok((v, _output)) => {
                            assert_eq!(v, round * 8 + i as u32);
                            finished += 1;
                        }
                        Err(e) => {
                            assert!(e.is_cancelled(), "{e}");
                            cancelled += 1;
                        }
                    }
                }
            });
        }
        assert_eq!(finished + cancelled, 1600);
        // Every output that was produced was dropped exactly once, whether it
        // was returned through `join` or discarded by a late abort.
        assert_eq!(created.load(SeqCst), dropped.load(SeqCst));
    });
}

#[test]
fn abort_of_a_static_task() {
    watchdog(LIMIT, "abort_of_a_static_task", || {
        let rt = rt(2);
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dropped);
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let h = rt.spawn(async move {
            struct Guard(Arc<AtomicBool>);
            impl Drop for Guard {
                fn drop(&mut self) {
                    self.0.store(true, SeqCst);
                }
            }
            let _guard = Guard(flag);
            started_tx.send(()).unwrap();
            pending::<()>().await;
        });
        started_rx.recv().unwrap();
        h.abort();
        assert!(h.join().unwrap_err().is_cancelled());
        assert!(dropped.load(SeqCst));
    });
}
