//! `Runtime` and `Builder`: construction, errors, thread naming, shutdown and
//! idleness.

mod common;

use std::future::pending;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{named_rt, rt, thread_name, watchdog, LIMIT};
use paddock::Runtime;

#[test]
fn zero_workers_is_invalid_input() {
    watchdog(LIMIT, "zero_workers_is_invalid_input", || {
        let err = Runtime::builder().worker_threads(0).build().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(!err.to_string().is_empty());
    });
}

#[test]
fn num_workers_reports_the_pool_size() {
    watchdog(LIMIT, "num_workers_reports_the_pool_size", || {
        assert_eq!(rt(1).num_workers(), 1);
        assert_eq!(rt(3).num_workers(), 3);
        assert!(Runtime::new().unwrap().num_workers() >= 1);
        assert!(Runtime::builder().build().unwrap().num_workers() >= 1);
    });
}

#[test]
fn thread_name_is_applied_to_every_worker() {
    watchdog(LIMIT, "thread_name_is_applied_to_every_worker", || {
        let indices = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&indices);
        let rt = Runtime::builder()
            .worker_threads(3)
            .thread_name(move |i| {
                seen.lock().unwrap().push(i);
                format!("rt-name-{i}")
            })
            .build()
            .unwrap();
        let mut called: Vec<usize> = indices.lock().unwrap().clone();
        called.sort_unstable();
        called.dedup();
        assert_eq!(
            called,
            [0, 1, 2],
            "thread_name called with each worker index"
        );

        let expected = ["rt-name-0", "rt-name-1", "rt-name-2"];
        let names = rt.scope(|s| {
            let hs: Vec<_> = (0..30)
                .map(|_| {
                    s.spawn(async {
                        paddock::yield_now().await;
                        thread_name()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        for name in &names {
            assert!(expected.contains(&name.as_str()), "task ran on {name:?}");
        }
        #[cfg(target_os = "linux")]
        {
            // A new thread sets its OS name itself when it starts running, so
            // give a worker that has not been scheduled yet a moment.
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            loop {
                let mut os_names: Vec<String> = linux::threads()
                    .into_iter()
                    .map(|t| t.comm)
                    .filter(|c| c.starts_with("rt-name-"))
                    .collect();
                os_names.sort();
                if os_names == expected || std::time::Instant::now() > deadline {
                    assert_eq!(os_names, expected, "OS-level worker thread names");
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    });
}

#[cfg(target_pointer_width = "64")]
#[test]
fn unspawnable_stack_size_is_an_io_error() {
    watchdog(LIMIT, "unspawnable_stack_size_is_an_io_error", || {
        // No machine can map a stack this large, so spawning the first worker
        // fails; `build` must report it instead of panicking or hanging.
        let result = Runtime::builder()
            .worker_threads(2)
            .stack_size(1 << 60)
            .build();
        assert!(result.is_err(), "building with a 1 EiB stack succeeded");
        // The process is still able to build runtimes afterwards.
        assert_eq!(rt(2).scope(|s| s.spawn(async { 1 }).join().unwrap()), 1);
    });
}

#[test]
fn block_on_drives_the_future_on_the_calling_thread() {
    watchdog(
        LIMIT,
        "block_on_drives_the_future_on_the_calling_thread",
        || {
            let rt = rt(2);
            let caller = thread::current().id();
            let inside = rt.block_on(async {
                paddock::yield_now().await;
                thread::current().id()
            });
            assert_eq!(inside, caller);
            // A 'static task's handle is a future that block_on can drive.
            assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
            // block_on waits for wakes from outside the runtime.
            rt.block_on(common::sleep(10));
        },
    );
}

#[test]
fn detached_static_task_still_runs() {
    watchdog(LIMIT, "detached_static_task_still_runs", || {
        let rt = rt(2);
        let (tx, rx) = mpsc::channel();
        drop(rt.spawn(async move {
            paddock::yield_now().await;
            tx.send(7).unwrap();
        }));
        assert_eq!(rx.recv().unwrap(), 7);
    });
}

struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn drop_cancels_pending_static_tasks() {
    watchdog(LIMIT, "drop_cancels_pending_static_tasks", || {
        let rt = rt(2);
        let dropped = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let flag = DropFlag(Arc::clone(&dropped));
                let started = started_tx.clone();
                rt.spawn(async move {
                    let _flag = flag;
                    started.send(()).unwrap();
                    pending::<()>().await;
                })
            })
            .collect();
        for _ in 0..6 {
            started_rx.recv().unwrap();
        }
        drop(rt);
        assert_eq!(
            dropped.load(SeqCst),
            6,
            "dropping a runtime must drop the futures of its pending tasks"
        );

        let other = common::rt(1);
        for (i, h) in handles.into_iter().enumerate() {
            let err = if i % 2 == 0 {
                h.join().unwrap_err()
            } else {
                // A handle of a dead runtime can be awaited anywhere.
                other.block_on(h).unwrap_err()
            };
            assert!(err.is_cancelled(), "{err}");
        }
    });
}

#[test]
fn dropping_a_runtime_from_its_own_worker_does_not_deadlock() {
    watchdog(
        LIMIT,
        "dropping_a_runtime_from_its_own_worker_does_not_deadlock",
        || {
            struct SendOnDrop(mpsc::Sender<bool>, Arc<AtomicBool>);
            impl Drop for SendOnDrop {
                fn drop(&mut self) {
                    let _ = self.0.send(self.1.load(SeqCst));
                }
            }
            let rt = Arc::new(rt(2));
            let last_ref = Arc::clone(&rt);
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let (done_tx, done_rx) = mpsc::channel();
            let returned = Arc::new(AtomicBool::new(false));
            let returned2 = Arc::clone(&returned);
            drop(rt.spawn(async move {
                let _done = SendOnDrop(done_tx, returned2.clone());
                go_rx.recv().unwrap();
                // The last reference: `Runtime::drop` runs on its own worker.
                // It may panic with a message or detach, but must not wait
                // for the worker it is running on.
                drop(last_ref);
                returned2.store(true, SeqCst);
            }));
            drop(rt);
            go_tx.send(()).unwrap();
            done_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("dropping a runtime from its own worker deadlocked");
        },
    );
}

#[test]
fn runtimes_can_be_created_and_dropped_many_times() {
    watchdog(20, "runtimes_can_be_created_and_dropped_many_times", || {
        for round in 0..40u64 {
            let rt = named_rt(2, "rt-many-");
            let data: Vec<u64> = (0..100).collect();
            let sum = rt.scope(|s| {
                let hs: Vec<_> = data
                    .chunks(25)
                    .map(|c| s.spawn(async move { c.iter().sum::<u64>() + round }))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            });
            assert_eq!(sum, 4950 + 4 * round);
            if round % 2 == 0 {
                // Some runtimes are dropped with a detached task still queued
                // or running.
                drop(rt.spawn(async { paddock::yield_now().await }));
            }
        }
        #[cfg(target_os = "linux")]
        {
            // A joined thread can linger in /proc for a moment after `join`
            // returns, so allow a grace period; a leaked worker never goes.
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            loop {
                let left: Vec<_> = linux::threads()
                    .into_iter()
                    .filter(|t| t.comm.starts_with("rt-many-"))
                    .collect();
                if left.is_empty() {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "dropped runtimes left threads behind: {left:?}"
                );
                thread::sleep(Duration::from_millis(10));
            }
        }
    });
}

#[cfg(target_os = "linux")]
#[test]
fn idle_workers_do_not_burn_cpu() {
    watchdog(LIMIT, "idle_workers_do_not_burn_cpu", || {
        let rt = named_rt(2, "rt-idle-");
        // Make sure the workers have started and done some work.
        let n = rt.scope(|s| {
            let hs: Vec<_> = (0..100).map(|i| s.spawn(async move { i })).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        });
        assert_eq!(n, 4950);
        thread::sleep(Duration::from_millis(100));

        let cpu = || -> (usize, u64) {
            let workers: Vec<_> = linux::threads()
                .into_iter()
                .filter(|t| t.comm.starts_with("rt-idle-"))
                .collect();
            (workers.len(), workers.iter().map(|t| t.cpu_ticks).sum())
        };
        let (count, before) = cpu();
        assert_eq!(count, 2, "expected two worker threads");
        thread::sleep(Duration::from_millis(400));
        let (_, after) = cpu();
        // Ticks are 10 ms. Spinning workers would show about 80 here.
        let used_ms = (after - before) * 10;
        assert!(
            used_ms < 50,
            "idle workers used {used_ms} ms of CPU in 400 ms"
        );
        drop(rt);
    });
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs;

    #[derive(Debug)]
    pub struct ThreadInfo {
        pub comm: String,
        /// User plus system time, in clock ticks (USER_HZ = 100 on Linux).
        pub cpu_ticks: u64,
    }

    /// The threads of this process, as `/proc/self/task` lists them.
    pub fn threads() -> Vec<ThreadInfo> {
        let mut out = Vec::new();
        for entry in fs::read_dir("/proc/self/task").expect("/proc/self/task") {
            let path = entry.unwrap().path();
            // A thread may exit between listing and reading.
            let (Ok(comm), Ok(stat)) = (
                fs::read_to_string(path.join("comm")),
                fs::read_to_string(path.join("stat")),
            ) else {
                continue;
            };
            // Fields after the parenthesised command name start at field 3.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields[11].parse().unwrap();
            let stime: u64 = fields[12].parse().unwrap();
            out.push(ThreadInfo {
                comm: comm.trim_end().to_owned(),
                cpu_ticks: utime + stime,
            });
        }
        out
    }
}
