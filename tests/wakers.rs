//! Wakers: they may outlive their task, scope and runtime; wakes from foreign
//! threads race completion; a wake during a poll is never lost.

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{rt, watchdog, CountDrop, LIMIT};

#[test]
fn waker_outlives_its_scope_and_runtime() {
    static STASH: Mutex<Vec<Waker>> = Mutex::new(Vec::new());
    static POLLS: AtomicUsize = AtomicUsize::new(0);

    watchdog(LIMIT, "waker_outlives_its_scope_and_runtime", || {
        let rt = rt(2);
        let dropped = AtomicUsize::new(0);
        rt.scope(|s| {
            for i in 0..8 {
                let guard = CountDrop(&dropped);
                drop(s.spawn(async move {
                    let _guard = guard;
                    let mut stashed = false;
                    poll_fn(|cx| {
                        POLLS.fetch_add(1, SeqCst);
                        if !stashed {
                            stashed = true;
                            STASH.lock().unwrap().push(cx.waker().clone());
                            if i % 2 == 0 {
                                // Complete at once, leaving the waker behind.
                                return Poll::Ready(());
                            }
                            // Otherwise wait to be woken through the stash.
                            return Poll::Pending;
                        }
                        Poll::Ready(())
                    })
                    .await;
                }));
            }
            // Wake the odd tasks through their stashed wakers.
            loop {
                let wakers = STASH.lock().unwrap().clone();
                if wakers.len() == 8 {
                    wakers.iter().for_each(Waker::wake_by_ref);
                    break;
                }
                thread::yield_now();
            }
        });
        assert_eq!(dropped.load(SeqCst), 8, "a live waker kept a future alive");
        let polls = POLLS.load(SeqCst);

        // The scope is gone; its tasks are finished. Waking them does nothing.
        let wakers = std::mem::take(&mut *STASH.lock().unwrap());
        for w in &wakers {
            w.wake_by_ref();
            // Waking by value consumes a reference: a different path.
            let by_value = w.clone();
            by_value.wake();
        }
        let clones: Vec<Waker> = wakers.to_vec();
        drop(rt);
        // The runtime is gone too.
        for w in clones {
            w.wake();
        }
        drop(wakers);
        assert_eq!(
            POLLS.load(SeqCst),
            polls,
            "a finished task was polled again"
        );
    });
}

#[test]
fn waker_of_a_cancelled_static_task_outlives_the_runtime() {
    static STASH: Mutex<Option<Waker>> = Mutex::new(None);

    watchdog(
        LIMIT,
        "waker_of_a_cancelled_static_task_outlives_the_runtime",
        || {
            let rt = rt(1);
            let (tx, rx) = mpsc::channel();
            let h = rt.spawn(poll_fn(move |cx| {
                *STASH.lock().unwrap() = Some(cx.waker().clone());
                let _ = tx.send(());
                Poll::<()>::Pending
            }));
            rx.recv().unwrap();
            drop(rt);
            assert!(h.join().unwrap_err().is_cancelled());
            let waker = STASH.lock().unwrap().take().unwrap();
            waker.wake_by_ref();
            waker.wake();
        },
    );
}

/// A task's half of a hand-off with a foreign thread.
#[derive(Default)]
struct Slot {
    ready: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

#[test]
fn foreign_wakes_race_completion() {
    watchdog(LIMIT, "foreign_wakes_race_completion", || {
        const TASKS: usize = 64;
        let rt = rt(2);
        let slots: Vec<Arc<Slot>> = (0..TASKS).map(|_| Arc::default()).collect();
        let completed = AtomicUsize::new(0);
        thread::scope(|threads| {
            // Two foreign threads hand each task its result and keep waking it,
            // before, while and after it completes.
            for half in slots.chunks(TASKS / 2) {
                threads.spawn(move || {
                    let mut kept = Vec::new();
                    for slot in half {
                        let waker = loop {
                            if let Some(w) = slot.waker.lock().unwrap().clone() {
                                break w;
                            }
                            thread::yield_now();
                        };
                        slot.ready.store(true, SeqCst);
                        for _ in 0..5 {
                            waker.wake_by_ref();
                        }
                        let by_value = waker.clone();
                        by_value.wake();
                        kept.push(waker);
                    }
                    // Late wakes, probably after the tasks are gone.
                    for waker in &kept {
                        waker.wake_by_ref();
                    }
                    drop(kept);
                });
            }
            rt.scope(|s| {
                for slot in &slots {
                    let completed = &completed;
                    drop(s.spawn(async move {
                        poll_fn(|cx| {
                            if slot.ready.load(SeqCst) {
                                return Poll::Ready(());
                            }
                            *slot.waker.lock().unwrap() = Some(cx.waker().clone());
                            if slot.ready.load(SeqCst) {
                                Poll::Ready(())
                            } else {
                                Poll::Pending
                            }
                        })
                        .await;
                        completed.fetch_add(1, SeqCst);
                    }));
                }
            });
            assert_eq!(completed.load(SeqCst), TASKS);
        });
    });
}

/// On its first poll, gets itself woken by another thread and returns
/// `Pending` only after that wake has happened, so the wake certainly arrives
/// while the task is being polled.
struct WokenDuringPoll {
    polls: u32,
}

impl Future for WokenDuringPoll {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls += 1;
        if self.polls > 1 {
            return Poll::Ready(self.polls);
        }
        let waker = cx.waker().clone();
        thread::spawn(move || waker.wake()).join().unwrap();
        Poll::Pending
    }
}

#[test]
fn wake_during_poll_is_not_lost() {
    watchdog(LIMIT, "wake_during_poll_is_not_lost", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            let polls = rt.scope(|s| {
                let hs: Vec<_> = (0..16)
                    .map(|_| s.spawn(WokenDuringPoll { polls: 0 }))
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            });
            assert!(polls.iter().all(|&p| p == 2), "{polls:?}");
            // The same through block_on on a non-worker thread.
            assert_eq!(rt.block_on(WokenDuringPoll { polls: 0 }), 2);
        }
    });
}

#[test]
fn self_wake_during_poll_is_not_lost() {
    watchdog(LIMIT, "self_wake_during_poll_is_not_lost", || {
        let rt = rt(1);
        let polls = rt.scope(|s| {
            let mut polls = 0;
            s.spawn(async move {
                poll_fn(|cx| {
                    polls += 1;
                    if polls < 100 {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    } else {
                        Poll::Ready(polls)
                    }
                })
                .await
            })
            .join()
            .unwrap()
        });
        assert_eq!(polls, 100);
    });
}

#[test]
fn delayed_foreign_wake_repolls_the_task() {
    watchdog(LIMIT, "delayed_foreign_wake_repolls_the_task", || {
        let rt = rt(1);
        let flag = Arc::new(AtomicBool::new(false));
        let v = rt.scope(|s| {
            s.spawn(async {
                let mut spawned = false;
                poll_fn(|cx| {
                    if flag.load(SeqCst) {
                        return Poll::Ready(7);
                    }
                    if !spawned {
                        spawned = true;
                        let (flag, waker) = (Arc::clone(&flag), cx.waker().clone());
                        thread::spawn(move || {
                            thread::sleep(Duration::from_millis(20));
                            flag.store(true, SeqCst);
                            waker.wake();
                        });
                    }
                    Poll::Pending
                })
                .await
            })
            .join()
            .unwrap()
        });
        assert_eq!(v, 7);
    });
}

#[test]
fn waker_clones_dropped_across_threads() {
    watchdog(LIMIT, "waker_clones_dropped_across_threads", || {
        let rt = rt(2);
        let (tx, rx) = mpsc::channel::<Vec<Waker>>();
        rt.scope(|s| {
            for _ in 0..8 {
                let tx = tx.clone();
                drop(s.spawn(async move {
                    let mut sent = false;
                    poll_fn(|cx| {
                        if !sent {
                            sent = true;
                            let clones = (0..100).map(|_| cx.waker().clone()).collect();
                            tx.send(clones).unwrap();
                        }
                        Poll::Ready(())
                    })
                    .await;
                }));
            }
        });
        drop(tx);
        // Drop the clones from several threads at once, after the tasks are done.
        let batches: Vec<Vec<Waker>> = rx.into_iter().collect();
        assert_eq!(batches.len(), 8);
        thread::scope(|threads| {
            for batch in batches {
                threads.spawn(move || {
                    for (i, w) in batch.into_iter().enumerate() {
                        if i % 2 == 0 {
                            w.wake();
                        } else {
                            drop(w);
                        }
                    }
                });
            }
        });
        // The runtime still works.
        assert_eq!(rt.scope(|s| s.spawn(async { 1 }).join().unwrap()), 1);
    });
}
