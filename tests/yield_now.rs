//! `yield_now` lets the other ready tasks run before the yielding task resumes.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use common::{rt, watchdog, LIMIT};
use paddock::yield_now;

#[test]
fn yielding_tasks_interleave_on_one_worker() {
    watchdog(LIMIT, "yielding_tasks_interleave_on_one_worker", || {
        let rt = rt(1);
        let log = Mutex::new(Vec::new());
        let log = &log;
        rt.scope(|s| {
            // Spawned from a task, so both land in the worker's own queues.
            drop(s.spawn(async move {
                for id in ['a', 'b'] {
                    drop(s.spawn(async move {
                        for _ in 0..5 {
                            log.lock().unwrap().push(id);
                            yield_now().await;
                        }
                    }));
                }
            }));
        });
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 10);
        assert!(
            log.windows(2).all(|w| w[0] != w[1]),
            "a yielding task resumed before the other ready task ran: {log:?}"
        );
    });
}

#[test]
fn yield_loop_lets_a_sibling_make_progress() {
    watchdog(LIMIT, "yield_loop_lets_a_sibling_make_progress", || {
        let rt = rt(1);
        let flag = AtomicBool::new(false);
        let spins = AtomicUsize::new(0);
        rt.scope(|s| {
            drop(s.spawn(async {
                while !flag.load(SeqCst) {
                    spins.fetch_add(1, SeqCst);
                    yield_now().await;
                }
            }));
            drop(s.spawn(async {
                flag.store(true, SeqCst);
            }));
        });
        assert!(flag.load(SeqCst));
    });
}

#[test]
fn yield_inside_block_on_on_a_worker_lets_siblings_run() {
    watchdog(
        LIMIT,
        "yield_inside_block_on_on_a_worker_lets_siblings_run",
        || {
            let rt = rt(1);
            let flag = AtomicBool::new(false);
            let rt = &rt;
            rt.scope(|s| {
                let flag = &flag;
                drop(s.spawn(async move {
                    drop(s.spawn(async move { flag.store(true, SeqCst) }));
                    // The sibling is queued on the only worker, which is busy
                    // in this block_on.
                    rt.block_on(async {
                        while !flag.load(SeqCst) {
                            yield_now().await;
                        }
                    });
                }));
            });
            assert!(flag.load(SeqCst));
        },
    );
}

#[test]
fn yield_now_completes_in_block_on_and_the_global_runtime() {
    watchdog(
        LIMIT,
        "yield_now_completes_in_block_on_and_the_global_runtime",
        || {
            let rt = rt(1);
            let v = rt.block_on(async {
                for _ in 0..10 {
                    yield_now().await;
                }
                5
            });
            assert_eq!(v, 5);
            let v = paddock::block_on(async {
                yield_now().await;
                6
            });
            assert_eq!(v, 6);
        },
    );
}

struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn yield_now_wakes_itself_under_a_foreign_executor() {
    // Polled by hand on a thread that is no worker, yield_now must wake its
    // waker before returning `Pending`, or any other executor would hang.
    let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&wakes));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(yield_now());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(wakes.0.load(SeqCst), 1);
    assert!(fut.as_mut().poll(&mut cx).is_ready());
}
