//! Blocking calls and scoped tasks.
//!
//! paddock has no `spawn_blocking`. A blocking call (a file read, a DNS
//! lookup, `thread::sleep`) made inside a task holds its worker for as long
//! as it blocks. The recipe the README gives: run blocking work on a thread
//! of a `std::thread::scope` that encloses the paddock scope, and hand the
//! result to the tasks over a channel. These tests check that the recipe
//! works with borrowed data, and what a blocking task does to the others.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use common::{rt, watchdog, LIMIT};

/// Runs `f` on a new thread of the scope `threads` and returns a future of
/// its result. `f` may borrow anything that outlives the thread scope.
fn unblock<'t, T: Send + 't>(
    threads: &'t thread::Scope<'t, '_>,
    f: impl FnOnce() -> T + Send + 't,
) -> impl Future<Output = T> + Send + 't {
    let (tx, rx) = async_channel::bounded(1);
    threads.spawn(move || {
        // The receiving task may be gone (aborted); then nobody wants it.
        let _ = tx.send_blocking(f());
    });
    async move { rx.recv().await.expect("the blocking thread panicked") }
}

#[test]
fn blocking_file_reads_on_a_scoped_thread_feed_scoped_tasks() {
    watchdog(
        LIMIT,
        "blocking_file_reads_on_a_scoped_thread_feed_scoped_tasks",
        || {
            let rt = rt(2);
            let dir =
                std::env::temp_dir().join(format!("paddock-io-blocking-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let paths: Vec<_> = (0..8)
                .map(|i| {
                    let path = dir.join(format!("file-{i}.txt"));
                    std::fs::write(&path, "x".repeat(1000 * (i + 1))).unwrap();
                    path
                })
                .collect();
            let mut sizes = vec![0usize; paths.len()];

            thread::scope(|threads| {
                rt.scope(|s| {
                    for (path, size) in paths.iter().zip(sizes.iter_mut()) {
                        s.spawn(async move {
                            // `path` is borrowed by the task and by the
                            // blocking thread; the read does not hold a
                            // worker.
                            let bytes = unblock(threads, move || std::fs::read(path)).await;
                            *size = bytes.expect("read").len();
                        });
                    }
                });
            });

            std::fs::remove_dir_all(&dir).unwrap();
            assert_eq!(sizes, (1..=8).map(|i| 1000 * i).collect::<Vec<_>>());
        },
    );
}

#[test]
fn a_task_waiting_on_a_blocking_thread_leaves_its_worker_free() {
    watchdog(
        LIMIT,
        "a_task_waiting_on_a_blocking_thread_leaves_its_worker_free",
        || {
            // One worker: if the blocking call ran on it, nothing else could.
            let rt = rt(1);
            let released = AtomicBool::new(false);
            let others_done = AtomicUsize::new(0);
            thread::scope(|threads| {
                rt.scope(|s| {
                    let released = &released;
                    let others_done = &others_done;
                    s.spawn(async move {
                        unblock(threads, move || {
                            // Stands in for a slow syscall; it ends only
                            // after every other task has run.
                            common::wait_until(|| others_done.load(SeqCst) == 100);
                            released.store(true, SeqCst);
                        })
                        .await;
                    });
                    for _ in 0..100 {
                        s.spawn(async move {
                            paddock::yield_now().await;
                            others_done.fetch_add(1, SeqCst);
                        });
                    }
                });
            });
            assert!(released.load(SeqCst));
        },
    );
}

#[test]
fn a_blocking_call_inside_a_task_holds_only_its_own_worker() {
    watchdog(
        LIMIT,
        "a_blocking_call_inside_a_task_holds_only_its_own_worker",
        || {
            let rt = rt(2);
            let blocked = AtomicBool::new(false);
            let unblocked = AtomicBool::new(false);
            let finished_while_blocked = AtomicUsize::new(0);
            rt.scope(|s| {
                let (blocked, unblocked) = (&blocked, &unblocked);
                let finished_while_blocked = &finished_while_blocked;
                // What not to do: a blocking call in a task occupies a
                // worker until it returns.
                s.spawn(async move {
                    blocked.store(true, SeqCst);
                    thread::sleep(Duration::from_millis(300));
                    unblocked.store(true, SeqCst);
                });
                common::wait_until(|| blocked.load(SeqCst));
                // Tasks spawned meanwhile still run on the other worker.
                for _ in 0..100 {
                    s.spawn(async move {
                        paddock::yield_now().await;
                        if !unblocked.load(SeqCst) {
                            finished_while_blocked.fetch_add(1, SeqCst);
                        }
                    });
                }
            });
            assert_eq!(
                finished_while_blocked.load(SeqCst),
                100,
                "tasks waited for a worker blocked in a syscall, \
                 though another worker was free"
            );
        },
    );
}

/// A spawned task goes to the stealable queue at once (not to the LIFO slot,
/// which only its own worker can take), so an idle worker runs it.
#[test]
fn a_child_spawned_just_before_a_blocking_call_runs_on_another_worker() {
    watchdog(
        LIMIT,
        "a_child_spawned_just_before_a_blocking_call_runs_on_another_worker",
        || {
            let rt = rt(2);
            let child_ran_at = std::sync::Mutex::new(None);
            let start = Instant::now();
            rt.scope(|s| {
                let child_ran_at = &child_ran_at;
                s.spawn(async move {
                    s.spawn(async move {
                        *child_ran_at.lock().unwrap() = Some(start.elapsed());
                    });
                    thread::sleep(Duration::from_millis(300));
                });
            });
            let ran_at = child_ran_at.lock().unwrap().expect("child never ran");
            assert!(
                ran_at < Duration::from_millis(250),
                "the child waited {ran_at:?} for its parent's blocking call"
            );
        },
    );
}
