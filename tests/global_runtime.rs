//! The global runtime is sized by `PADDOCK_WORKER_THREADS`.
//!
//! This binary holds a single test: the variable must be set before anything
//! touches the global runtime, and changing the environment while other
//! threads may read it is a data race.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use common::watchdog;

#[test]
fn global_runtime_has_paddock_worker_threads_workers() {
    std::env::set_var("PADDOCK_WORKER_THREADS", "3");
    watchdog(
        20,
        "global_runtime_has_paddock_worker_threads_workers",
        || {
            // Build it from several threads at once: one runtime, lazily.
            let firsts: Vec<u32> = thread::scope(|threads| {
                let hs: Vec<_> = (0..4)
                    .map(|i| {
                        threads.spawn(move || paddock::spawn(async move { i }).join().unwrap())
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(firsts, [0, 1, 2, 3]);

            // At least three workers: three tasks meet at a blocking barrier.
            let barrier = Barrier::new(3);
            paddock::scope(|s| {
                for _ in 0..3 {
                    drop(s.spawn(async {
                        barrier.wait();
                    }));
                }
            });

            // At most three: four tasks that each wait (up to a deadline) for
            // all four to run at once never see more than three. (Only
            // workers run tasks; the thread waiting for the scope parks.)
            let running = AtomicUsize::new(0);
            let most = AtomicUsize::new(0);
            paddock::scope(|s| {
                for _ in 0..4 {
                    drop(s.spawn(async {
                        let now = running.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        let deadline = Instant::now() + Duration::from_millis(300);
                        while running.load(SeqCst) < 4 && Instant::now() < deadline {
                            thread::sleep(Duration::from_millis(1));
                        }
                        most.fetch_max(running.load(SeqCst), SeqCst);
                        running.fetch_sub(1, SeqCst);
                    }));
                }
            });
            let most = most.load(SeqCst);
            assert!(most <= 3, "{most} tasks ran at once on a 3-worker runtime");
        },
    );
}
