//! tokio's runtime tests (`tests/rt_common.rs`, `tests/rt_threaded.rs`,
//! `tests/task_abort.rs`), ported to paddock in our own code: each doc
//! comment names its original. tokio's `tokio::spawn` is `paddock::spawn`,
//! its `Runtime::block_on` is ours; tokio's channels (`tokio::sync`) work on
//! any executor, so they are used as they are. The fairness tests of
//! `rt_common` are in `tests/fairness.rs`.
//!
//! Each test runs on 1, 2 and 4 workers where the worker count matters.

mod common;

use std::future::{pending, poll_fn, Future};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{join, rt, wait_until, watchdog, Payload, LIMIT};
use paddock::Runtime;
use tokio::sync::oneshot;

const WORKERS: [usize; 3] = [1, 2, 4];

/// Runs `f` once for each worker count, each under a watchdog of its own
/// that names the count.
fn per_workers(name: &str, f: fn(usize)) {
    for workers in WORKERS {
        watchdog(LIMIT, &format!("{name}, {workers} worker(s)"), move || {
            f(workers)
        });
    }
}

/// Runs `f` on a runtime of each worker count, as [`per_workers`].
fn on_each(name: &str, f: fn(&Runtime)) {
    for workers in WORKERS {
        watchdog(LIMIT, &format!("{name}, {workers} worker(s)"), move || {
            f(&rt(workers))
        });
    }
}

/// Calls its closure when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// A future that is never ready and sends on `tx` when dropped.
struct Never {
    dropped: mpsc::Sender<()>,
}

impl Future for Never {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for Never {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

// ---------------------------------------------------------------------------
// block_on and spawn (rt_common)
// ---------------------------------------------------------------------------

/// tokio `rt_common::{block_on_sync, block_on_async}`: `block_on` of a future
/// that is ready at once (and writes to a borrowed local), and of one that
/// waits for a message sent from another thread.
#[test]
fn block_on_sync_and_async() {
    on_each("block_on_sync_and_async", |rt| {
        let mut win = false;
        rt.block_on(async {
            win = true;
        });
        assert!(win);

        let out = rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            thread::spawn(move || tx.send("ZOMG").unwrap());
            rx.await.unwrap()
        });
        assert_eq!(out, "ZOMG");
    });
}

/// tokio `rt_common::{spawn_one_bg, spawn_one_join, spawn_await_chain}`: from
/// `block_on`, a spawned task sends a message; awaiting its handle gives its
/// output; a chain of tasks each awaiting a task it spawned returns the
/// innermost one's value.
#[test]
fn spawn_one_and_await_chains() {
    on_each("spawn_one_and_await_chains", |rt| {
        let out = rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            drop(paddock::spawn(async move { tx.send("ZOMG").unwrap() }));
            rx.await.unwrap()
        });
        assert_eq!(out, "ZOMG");

        let out = rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            let handle = paddock::spawn(async move {
                tx.send("ZOMG").unwrap();
                "DONE"
            });
            let msg = rx.await.unwrap();
            assert_eq!(handle.await.unwrap(), "DONE");
            msg
        });
        assert_eq!(out, "ZOMG");

        let out = rt.block_on(async {
            paddock::spawn(async { paddock::spawn(async { "hello" }).await.unwrap() })
                .await
                .unwrap()
        });
        assert_eq!(out, "hello");
    });
}

/// tokio `rt_common::spawn_two` and `rt_threaded::spawn_two`: two tasks, one
/// forwarding the other's message to `block_on`; and a task whose own spawned
/// task sends the message.
#[test]
fn spawn_two() {
    on_each("spawn_two", |rt| {
        let out = rt.block_on(async {
            let (tx1, rx1) = oneshot::channel();
            let (tx2, rx2) = oneshot::channel();
            drop(paddock::spawn(async move { tx1.send("ZOMG").unwrap() }));
            drop(paddock::spawn(async move {
                let msg = rx1.await.unwrap();
                tx2.send(msg).unwrap();
            }));
            rx2.await.unwrap()
        });
        assert_eq!(out, "ZOMG");

        let out = rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            drop(paddock::spawn(async move {
                drop(paddock::spawn(async move { tx.send("ZOMG").unwrap() }));
            }));
            rx.await.unwrap()
        });
        assert_eq!(out, "ZOMG");
    });
}

/// The body of tokio's `spawn_many_from_*`: `count` tasks each wait for their
/// number from a oneshot, which another thread sends in order, and report it
/// back; every number comes back once.
async fn spawn_many(count: usize) -> Vec<usize> {
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let senders: Vec<_> = (0..count)
        .map(|i| {
            let (tx, rx) = oneshot::channel();
            let done_tx = done_tx.clone();
            drop(paddock::spawn(async move {
                let msg = rx.await.unwrap();
                assert_eq!(i, msg);
                done_tx.send(msg).unwrap();
            }));
            tx
        })
        .collect();
    drop(done_tx);
    thread::spawn(move || {
        for (i, tx) in senders.into_iter().enumerate() {
            tx.send(i).unwrap();
        }
    });
    let mut out = Vec::new();
    while let Some(i) = done_rx.recv().await {
        out.push(i);
    }
    out.sort_unstable();
    out
}

/// tokio `rt_common::spawn_many_from_block_on`: 200 tasks spawned from
/// `block_on`, woken from another thread.
#[test]
fn spawn_many_from_block_on() {
    on_each("spawn_many_from_block_on", |rt| {
        let out = rt.block_on(spawn_many(200));
        assert_eq!(out, (0..200).collect::<Vec<_>>());
    });
}

/// tokio `rt_common::spawn_many_from_task`: the same with 500 tasks spawned
/// from a task.
#[test]
fn spawn_many_from_task() {
    on_each("spawn_many_from_task", |rt| {
        let out = rt.block_on(rt.spawn(spawn_many(500))).unwrap();
        assert_eq!(out, (0..500).collect::<Vec<_>>());
    });
}

/// tokio `rt_common::spawn_from_other_thread_idle`: a task spawned from
/// another thread once the runtime has gone idle runs.
#[test]
fn spawn_from_other_thread_idle() {
    per_workers("spawn_from_other_thread_idle", |workers| {
        let rt = Arc::new(rt(workers));
        let (tx, rx) = oneshot::channel();
        let spawner = {
            let rt = rt.clone();
            thread::spawn(move || {
                // Let the workers go to sleep first (not required).
                thread::sleep(Duration::from_millis(20));
                drop(rt.spawn(async move { tx.send(()).unwrap() }));
            })
        };
        rt.block_on(rx).unwrap();
        spawner.join().unwrap();
    });
}

/// tokio `rt_threaded::many_oneshot_futures`: 1,000 tasks spawned from the
/// test's thread, the last to finish reporting over a std channel; five
/// rounds, each ending with `drop(rt)`.
#[test]
fn many_oneshot_futures() {
    const NUM: usize = 1000;
    per_workers("many_oneshot_futures", |workers| {
        for _ in 0..5 {
            let (tx, rx) = mpsc::channel();
            let rt = rt(workers);
            let count = Arc::new(AtomicUsize::new(0));
            for _ in 0..NUM {
                let (count, tx) = (count.clone(), tx.clone());
                drop(rt.spawn(async move {
                    if count.fetch_add(1, SeqCst) + 1 == NUM {
                        tx.send(()).unwrap();
                    }
                }));
            }
            rx.recv().unwrap();
            drop(rt);
        }
    });
}

/// tokio `rt_threaded::many_multishot_futures`, smaller (10 tracks of 50
/// forwarding tasks over bounded channels, each message making 5 laps,
/// 3 rounds): every track's message comes out.
#[test]
fn many_multishot_futures() {
    const CHAIN: usize = 50;
    const CYCLES: usize = 5;
    const TRACKS: usize = 10;
    per_workers("many_multishot_futures", |workers| {
        for _ in 0..3 {
            let rt = rt(workers);
            let mut starts = Vec::new();
            let mut finals = Vec::new();
            for _ in 0..TRACKS {
                let (start_tx, mut chain_rx) = tokio::sync::mpsc::channel::<&str>(10);
                for _ in 0..CHAIN {
                    let (next_tx, next_rx) = tokio::sync::mpsc::channel(10);
                    drop(rt.spawn(async move {
                        while let Some(v) = chain_rx.recv().await {
                            next_tx.send(v).await.unwrap();
                        }
                    }));
                    chain_rx = next_rx;
                }
                let (final_tx, final_rx) = tokio::sync::mpsc::channel(10);
                let cycle_tx = start_tx.clone();
                drop(rt.spawn(async move {
                    for lap in 1..=CYCLES {
                        let msg = chain_rx.recv().await.unwrap();
                        if lap == CYCLES {
                            final_tx.send(msg).await.unwrap();
                        } else {
                            cycle_tx.send(msg).await.unwrap();
                        }
                    }
                }));
                starts.push(start_tx);
                finals.push(final_rx);
            }
            rt.block_on(async move {
                for start in &starts {
                    start.send("ping").await.unwrap();
                }
                for mut fin in finals {
                    assert_eq!(fin.recv().await.unwrap(), "ping");
                }
            });
        }
    });
}

/// tokio `rt_threaded::multi_threadpool`: a task of one runtime waits for a
/// message that a task of another runtime sends.
#[test]
fn multi_runtime_message() {
    watchdog(LIMIT, "multi_runtime_message", || {
        let rt1 = rt(1);
        let rt2 = rt(2);
        let (tx, rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        drop(rt2.spawn(async move {
            rx.await.unwrap();
            done_tx.send(()).unwrap();
        }));
        drop(rt1.spawn(async move { tx.send(()).unwrap() }));
        done_rx.recv().unwrap();
    });
}

/// tokio `rt_common::create_rt_in_block_on`, and the reverse of tokio's
/// `nested_rt` (which expects a panic): a runtime created inside `block_on`
/// of another works after it returns; and `block_on` of one runtime nested
/// inside `block_on` of another completes (paddock allows it).
#[test]
fn runtimes_inside_block_on() {
    watchdog(LIMIT, "runtimes_inside_block_on", || {
        let rt1 = rt(1);
        let rt2 = rt1.block_on(async { rt(2) });
        assert_eq!(rt2.block_on(async { "ZOMG" }), "ZOMG");
        let out = rt1.block_on(async { rt2.block_on(async { "hello" }) });
        assert_eq!(out, "hello");
        let out = rt1.block_on(rt1.spawn(async {
            let inner = rt(1);
            let v = inner.block_on(inner.spawn(async { 5 })).unwrap();
            drop(inner);
            v
        }));
        assert_eq!(out.unwrap(), 5);
    });
}

// ---------------------------------------------------------------------------
// Panics (rt_common)
// ---------------------------------------------------------------------------

/// A future that panics when polled and reports its drop.
struct Boom(Option<oneshot::Sender<()>>);

impl Future for Boom {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        panic::panic_any(Payload(7))
    }
}

impl Drop for Boom {
    fn drop(&mut self) {
        self.0.take().unwrap().send(()).unwrap();
    }
}

/// tokio `rt_common::{panic_in_task, panic_in_block_on}`: a `'static` task
/// that panics in `poll` has its future dropped (tokio also checks that the
/// drop happens while unwinding; paddock does not promise when) and the
/// worker lives on; a panic inside `block_on` reaches its caller.
#[test]
fn panics_in_a_task_and_in_block_on() {
    on_each("panics_in_a_task_and_in_block_on", |rt| {
        let (tx, rx) = oneshot::channel();
        let handle = rt.spawn(Boom(Some(tx)));
        rt.block_on(rx).unwrap();
        assert!(rt.block_on(handle).unwrap_err().is_panic());
        // The runtime still runs tasks.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);

        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async { panic::panic_any(Payload(8)) })
        }));
        let payload = caught.expect_err("the panic reaches block_on's caller");
        assert_eq!(payload.downcast_ref::<Payload>(), Some(&Payload(8)));
    });
}

// ---------------------------------------------------------------------------
// Shutdown (rt_common, rt_threaded)
// ---------------------------------------------------------------------------

/// tokio `rt_common::outstanding_tasks_dropped`: a `'static` task that never
/// completes holds a clone of an `Arc` until the runtime is dropped, and no
/// longer.
#[test]
fn outstanding_tasks_dropped() {
    on_each_owned("outstanding_tasks_dropped", |rt| {
        let shared = Arc::new(());
        let mine = shared.clone();
        rt.block_on(async move {
            drop(paddock::spawn(poll_fn(move |_| {
                assert_eq!(Arc::strong_count(&mine), 2);
                Poll::<()>::Pending
            })));
        });
        assert_eq!(Arc::strong_count(&shared), 2);
        drop(rt);
        assert_eq!(Arc::strong_count(&shared), 1);
    });
}

/// Runs `f` on a runtime of each worker count, giving it the runtime, as
/// [`per_workers`].
fn on_each_owned(name: &str, f: fn(Runtime)) {
    for workers in WORKERS {
        watchdog(LIMIT, &format!("{name}, {workers} worker(s)"), move || {
            f(rt(workers))
        });
    }
}

/// tokio `rt_common::eagerly_drops_futures_on_shutdown` and
/// `rt_threaded::drop_threadpool_drops_futures` (100 rounds here): a task
/// that has started and waits forever has its future dropped by `drop(rt)`,
/// and so does one that has not started yet.
#[test]
fn shutdown_drops_waiting_futures() {
    on_each_owned("shutdown_drops_waiting_futures", |rt| {
        let (dropped_tx, dropped_rx) = mpsc::channel();
        let (run_tx, run_rx) = oneshot::channel();
        rt.block_on(async move {
            drop(paddock::spawn(async move {
                run_tx.send(()).unwrap();
                Never {
                    dropped: dropped_tx,
                }
                .await
            }));
            run_rx.await.unwrap();
        });
        drop(rt);
        dropped_rx
            .try_recv()
            .expect("drop(rt) returned before dropping the future");
    });
    watchdog(LIMIT, "shutdown_drops_waiting_futures (rounds)", || {
        for round in 0..100 {
            let rt = rt(WORKERS[round % WORKERS.len()]);
            let (dropped_tx, dropped_rx) = mpsc::channel();
            drop(rt.spawn(Never {
                dropped: dropped_tx,
            }));
            drop(rt);
            dropped_rx
                .try_recv()
                .expect("drop(rt) returned before dropping the future");
        }
    });
}

/// tokio `rt_common::wake_while_rt_is_dropping`: two tasks, each holding a
/// guard whose drop wakes the other (by completing a oneshot it waits on);
/// `drop(rt)` drops one, which wakes the other while shutdown is under way.
#[test]
fn wake_while_rt_is_dropping() {
    on_each_owned("wake_while_rt_is_dropping", |rt| {
        let (tx1, rx1) = oneshot::channel::<()>();
        let (tx2, rx2) = oneshot::channel::<()>();
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let b1 = barrier.clone();
        drop(rt.spawn(async move {
            let mut tx2 = Some(tx2);
            let _wakes_the_other = OnDrop(move || {
                let _ = tx2.take().unwrap().send(());
            });
            // Both the oneshot and the barrier hold this task's waker.
            let _ = tokio::join!(rx1, b1.wait());
        }));
        let b2 = barrier.clone();
        drop(rt.spawn(async move {
            let mut tx1 = Some(tx1);
            let _wakes_the_other = OnDrop(move || {
                let _ = tx1.take().unwrap().send(());
            });
            let _ = tokio::join!(rx2, b2.wait());
        }));
        rt.block_on(barrier.wait());
        drop(rt);
    });
}

/// tokio `rt_threaded::wake_during_shutdown` (tokio-rs/tokio#3869): of two
/// futures sharing a slot, the first leaves its waker there, the second's
/// drop wakes it; dropping the runtime drops both, in either order.
#[test]
fn wake_during_shutdown() {
    struct Shared {
        waker: Option<Waker>,
    }
    struct Half {
        shared: Arc<Mutex<Shared>>,
        leaves_waker: bool,
    }
    impl Future for Half {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.leaves_waker {
                self.shared.lock().unwrap().waker = Some(cx.waker().clone());
            }
            Poll::Pending
        }
    }
    impl Drop for Half {
        fn drop(&mut self) {
            if !self.leaves_waker {
                let waker = self.shared.lock().unwrap().waker.take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }
    }
    on_each_owned("wake_during_shutdown", |rt| {
        let shared = Arc::new(Mutex::new(Shared { waker: None }));
        drop(rt.spawn(Half {
            shared: shared.clone(),
            leaves_waker: true,
        }));
        drop(rt.spawn(Half {
            shared: shared.clone(),
            leaves_waker: false,
        }));
        wait_until(|| shared.lock().unwrap().waker.is_some());
        drop(rt);
    });
}

/// tokio `rt_common::shutdown_concurrent_spawn` (2,000 tasks, 3 rounds): tasks
/// waiting on oneshots, completed by another thread while `drop(rt)` runs.
#[test]
fn shutdown_while_tasks_are_woken() {
    const TASKS: usize = 2000;
    per_workers("shutdown_while_tasks_are_woken", |workers| {
        for _ in 0..3 {
            let (go_tx, go_rx) = mpsc::channel();
            let rt = rt(workers);
            let mut senders = Vec::new();
            for _ in 0..TASKS {
                let (tx, rx) = oneshot::channel::<()>();
                senders.push(tx);
                drop(rt.spawn(async move {
                    let _ = rx.await;
                }));
            }
            // Let every task register its waker.
            rt.block_on(paddock::yield_now());
            let waker = thread::spawn(move || {
                go_tx.send(()).unwrap();
                for tx in senders {
                    let _ = tx.send(());
                }
            });
            go_rx.recv().unwrap();
            drop(rt);
            waker.join().unwrap();
        }
    });
}

/// tokio `rt_common::{wake_by_ref_from_thread_local, wake_by_val_from_thread_local}`:
/// a task stores its own waker in a thread-local of the worker running it;
/// when `drop(rt)` ends that worker, the thread-local's destructor wakes the
/// finished task (by reference and by value), which must do no harm.
#[test]
fn wake_from_a_thread_local_destructor() {
    use std::cell::RefCell;

    struct Stored {
        by_ref: bool,
        waker: Option<Waker>,
        done: mpsc::Sender<bool>,
    }
    impl Drop for Stored {
        fn drop(&mut self) {
            let waker = self.waker.take().unwrap();
            if self.by_ref {
                waker.wake_by_ref();
            } else {
                waker.wake();
            }
            let _ = self.done.send(true);
        }
    }
    thread_local! {
        static STORED: RefCell<Option<Stored>> = const { RefCell::new(None) };
    }

    watchdog(LIMIT, "wake_from_a_thread_local_destructor", || {
        for by_ref in [true, false] {
            for workers in WORKERS {
                let (done_tx, done_rx) = mpsc::channel();
                thread::spawn(move || {
                    let rt = rt(workers);
                    // The task runs on a worker and leaves its waker in that
                    // worker's thread-local, whose destructor runs as the
                    // worker exits during `drop(rt)`.
                    rt.block_on(rt.spawn(poll_fn(move |cx| {
                        let stored = Stored {
                            by_ref,
                            waker: Some(cx.waker().clone()),
                            done: done_tx.clone(),
                        };
                        STORED.with(|s| *s.borrow_mut() = Some(stored));
                        Poll::Ready(())
                    })))
                    .unwrap();
                    drop(rt);
                })
                .join()
                .unwrap();
                assert!(done_rx.recv().unwrap());
            }
        }
    });
}

/// tokio `rt_common::runtime_in_thread_local`: a runtime kept in a
/// thread-local is dropped by the thread-local's destructor at thread exit.
#[test]
fn runtime_in_a_thread_local() {
    use std::cell::RefCell;
    thread_local! {
        static RT: RefCell<Option<Runtime>> = const { RefCell::new(None) };
    }
    watchdog(LIMIT, "runtime_in_a_thread_local", || {
        thread::spawn(|| {
            RT.with(|cell| *cell.borrow_mut() = Some(rt(2)));
            let _other = rt(1);
            RT.with(|cell| {
                let rt = cell.borrow();
                let rt = rt.as_ref().unwrap();
                assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
            });
        })
        .join()
        .unwrap();
    });
}

// ---------------------------------------------------------------------------
// Abort (task_abort.rs)
// ---------------------------------------------------------------------------

/// tokio `task_abort::test_abort_without_panic_3157` and
/// `test_abort_without_panic_3662`: a task suspended for good is aborted,
/// from the runtime's own thread or from another thread; awaiting its handle
/// gives a cancellation, by which time its future has been dropped.
#[test]
fn abort_a_suspended_task() {
    on_each("abort_a_suspended_task", |rt| {
        for from_another_thread in [false, true] {
            let dropped = Arc::new(AtomicBool::new(false));
            let started = Arc::new(AtomicBool::new(false));
            let (d, s) = (dropped.clone(), started.clone());
            let handle = rt.spawn(async move {
                let _guard = OnDrop(move || d.store(true, SeqCst));
                s.store(true, SeqCst);
                pending::<()>().await;
            });
            wait_until(|| started.load(SeqCst));
            let handle = if from_another_thread {
                thread::spawn(move || {
                    handle.abort();
                    handle
                })
                .join()
                .unwrap()
            } else {
                handle.abort();
                handle
            };
            let result = rt.block_on(handle);
            assert!(
                dropped.load(SeqCst),
                "the future outlived its handle's result"
            );
            assert!(result.unwrap_err().is_cancelled());
        }
    });
}

/// tokio `task_abort::test_abort_wakes_task_3964`: aborting a suspended task
/// and dropping its handle at once frees everything its future held.
#[test]
fn abort_then_drop_the_handle() {
    on_each("abort_then_drop_the_handle", |rt| {
        let held = Arc::new(());
        let weak = Arc::downgrade(&held);
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let handle = rt.spawn(async move {
            let _held = held;
            s.store(true, SeqCst);
            pending::<()>().await;
        });
        wait_until(|| started.load(SeqCst));
        handle.abort();
        drop(handle);
        wait_until(|| weak.upgrade().is_none());
    });
}

/// tokio `task_abort::{test_abort_task_that_panics_on_drop_contained,
/// test_abort_task_that_panics_on_drop_returned}`: aborting a task whose
/// future panics when dropped: with the handle awaited, the result is a
/// panic; with the handle dropped, the panic goes nowhere (the runtime and
/// the caller carry on).
#[test]
fn abort_a_task_whose_drop_panics() {
    on_each("abort_a_task_whose_drop_panics", |rt| {
        for keep_handle in [true, false] {
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            let handle = rt.spawn(async move {
                let _bomb = common::PanicOnDrop(9);
                s.store(true, SeqCst);
                pending::<()>().await;
            });
            wait_until(|| started.load(SeqCst));
            handle.abort();
            if keep_handle {
                let err = rt.block_on(handle).unwrap_err();
                assert!(err.is_panic(), "{err}");
                assert_eq!(
                    err.into_panic().downcast_ref::<Payload>(),
                    Some(&Payload(9))
                );
            } else {
                drop(handle);
            }
            assert_eq!(join(rt.spawn(async { 1 })), 1, "the runtime lives on");
        }
    });
}
