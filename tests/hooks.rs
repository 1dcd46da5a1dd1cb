//! `Builder::on_thread_start` and `on_thread_stop`: run on every worker and
//! blocking thread; and what they are for, entering a tokio runtime's
//! context so that tokio-based futures run in paddock tasks without
//! `async_compat::Compat`.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use common::{boom, wait_until, watchdog, LIMIT};
use paddock::Runtime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Threads = Arc<Mutex<Vec<ThreadId>>>;

/// A runtime whose hooks record the threads they run on.
fn recording_rt(builder: paddock::Builder) -> (Runtime, Threads, Threads) {
    let (started, stopped): (Threads, Threads) = Default::default();
    let rt = {
        let (started, stopped) = (started.clone(), stopped.clone());
        builder
            .on_thread_start(move || started.lock().unwrap().push(thread::current().id()))
            .on_thread_stop(move || stopped.lock().unwrap().push(thread::current().id()))
            .build()
            .unwrap()
    };
    (rt, started, stopped)
}

fn set(threads: &Threads) -> HashSet<ThreadId> {
    threads.lock().unwrap().iter().copied().collect()
}

/// Both hooks run once on each thread: every worker, every blocking thread
/// (here 3 at once), every spare that takes over a worker role.
#[test]
fn hooks_run_once_on_every_worker_and_blocking_thread() {
    watchdog(
        LIMIT,
        "hooks_run_once_on_every_worker_and_blocking_thread",
        || {
            for workers in [1, 2] {
                let (rt, started, stopped) =
                    recording_rt(Runtime::builder().worker_threads(workers));
                let task_threads = Mutex::new(HashSet::new());
                let job_threads = Mutex::new(HashSet::new());
                let barrier = Barrier::new(3);
                rt.scope(|s| {
                    for _ in 0..3 {
                        s.spawn_blocking(|| {
                            job_threads.lock().unwrap().insert(thread::current().id());
                            barrier.wait();
                        });
                    }
                    for _ in 0..workers {
                        s.spawn(async {
                            task_threads.lock().unwrap().insert(thread::current().id());
                            // A nested wait on a timer: the role passes to a
                            // spare thread.
                            paddock::scope(|inner| {
                                inner.spawn(common::sleep(10));
                            });
                        });
                    }
                });
                drop(rt);
                let (started_list, stopped_list) = (
                    started.lock().unwrap().clone(),
                    stopped.lock().unwrap().clone(),
                );
                let (started, stopped) = (set(&started), set(&stopped));
                assert_eq!(started.len(), started_list.len(), "a start hook ran twice");
                assert_eq!(stopped.len(), stopped_list.len(), "a stop hook ran twice");
                assert_eq!(started, stopped, "every started thread stopped");
                assert!(started.len() >= workers + 3, "{} threads", started.len());
                let job_threads = job_threads.into_inner().unwrap();
                assert_eq!(job_threads.len(), 3);
                assert!(job_threads.is_subset(&started));
                assert!(task_threads.into_inner().unwrap().is_subset(&started));
            }
        },
    );
}

thread_local! {
    static PREPARED: Cell<bool> = const { Cell::new(false) };
}

/// The start hook runs before anything else on its thread, inside the
/// runtime (`Handle::try_current` is set): every task and job sees what it
/// set up; the stop hook runs when an idle blocking
/// thread exits after its keep-alive, while the runtime lives on.
#[test]
fn start_hook_runs_first_and_stop_hook_at_keep_alive_exit() {
    watchdog(
        LIMIT,
        "start_hook_runs_first_and_stop_hook_at_keep_alive_exit",
        || {
            let stops = Arc::new(AtomicUsize::new(0));
            let rt = {
                let stops = stops.clone();
                Runtime::builder()
                    .worker_threads(2)
                    .thread_keep_alive(Duration::from_millis(20))
                    .on_thread_start(|| {
                        // The hook runs inside the runtime.
                        assert!(paddock::Handle::try_current().is_some());
                        PREPARED.with(|p| p.set(true));
                    })
                    .on_thread_stop(move || {
                        stops.fetch_add(1, SeqCst);
                    })
                    .build()
                    .unwrap()
            };
            let seen = AtomicUsize::new(0);
            rt.scope(|s| {
                for _ in 0..20 {
                    s.spawn(async {
                        assert!(PREPARED.with(Cell::get));
                        paddock::yield_now().await;
                        assert!(PREPARED.with(Cell::get));
                        seen.fetch_add(1, SeqCst);
                    });
                    s.spawn_blocking(|| {
                        assert!(PREPARED.with(Cell::get));
                        seen.fetch_add(1, SeqCst);
                    });
                }
            });
            assert_eq!(seen.load(SeqCst), 40);
            // The blocking threads exit after their keep-alive, which is
            // certain; the workers stay.
            wait_until(|| rt.metrics().num_blocking_threads() == 0);
            wait_until(|| stops.load(SeqCst) >= 1);
            assert_eq!(rt.spawn(async { 7 }).join().unwrap(), 7);
            let before_drop = stops.load(SeqCst);
            drop(rt);
            assert_eq!(
                stops.load(SeqCst),
                before_drop + 2,
                "the two workers stop last"
            );
        },
    );
}

/// A runtime dropped from inside one of its own tasks cannot join its
/// threads; they exit on their own, and each still runs its stop hook.
#[test]
fn stop_hooks_run_when_the_runtime_is_dropped_from_its_own_task() {
    watchdog(
        LIMIT,
        "stop_hooks_run_when_the_runtime_is_dropped_from_its_own_task",
        || {
            for workers in [1, 2] {
                let (rt, started, stopped) =
                    recording_rt(Runtime::builder().worker_threads(workers));
                let rt = Arc::new(rt);
                rt.spawn_blocking(|| ()).join().unwrap();
                let last = rt.clone();
                let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
                let task = rt.spawn(async move {
                    go_rx.recv().unwrap();
                    drop(last);
                });
                drop(rt);
                go_tx.send(()).unwrap();
                task.join().unwrap();
                // The threads exit by themselves, which is certain.
                wait_until(|| set(&stopped).len() == set(&started).len());
                assert_eq!(set(&stopped), set(&started));
                assert!(set(&started).len() > workers, "a blocking thread too");
            }
        },
    );
}

/// A panicking hook is caught: the runtime starts, runs and stops.
#[test]
fn a_panicking_hook_is_contained() {
    watchdog(LIMIT, "a_panicking_hook_is_contained", || {
        let rt = Runtime::builder()
            .worker_threads(2)
            .on_thread_start(|| {
                boom(1);
            })
            .on_thread_stop(|| {
                boom(2);
            })
            .build()
            .unwrap();
        assert_eq!(rt.spawn(async { 3 }).join().unwrap(), 3);
        assert_eq!(rt.spawn_blocking(|| 4).join().unwrap(), 4);
        drop(rt);
    });
}

/// The tokio runtime whose context every paddock thread enters.
fn tokio_rt() -> &'static tokio::runtime::Runtime {
    static TOKIO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    TOKIO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

thread_local! {
    /// Held for the thread's life: the thread is inside tokio's context.
    static TOKIO_CONTEXT: RefCell<Option<tokio::runtime::EnterGuard<'static>>> =
        const { RefCell::new(None) };
}

/// A paddock runtime whose threads enter tokio's context in their start
/// hook, and leave it in their stop hook.
fn rt_in_tokio_context(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .on_thread_start(|| TOKIO_CONTEXT.set(Some(tokio_rt().enter())))
        .on_thread_stop(|| drop(TOKIO_CONTEXT.take()))
        .build()
        .unwrap()
}

/// tokio's timers in paddock's scoped tasks, with no `Compat`: the start
/// hook entered tokio's context on every thread. A plain runtime has none.
#[test]
fn tokio_sleep_runs_in_tasks_after_the_hook_enters_tokio() {
    watchdog(
        LIMIT,
        "tokio_sleep_runs_in_tasks_after_the_hook_enters_tokio",
        || {
            let plain = Runtime::builder().worker_threads(1).build().unwrap();
            assert!(
                plain
                    .spawn(async { tokio::runtime::Handle::try_current().is_err() })
                    .join()
                    .unwrap(),
                "control: a plain paddock thread has no tokio context"
            );
            for workers in [1, 2] {
                let rt = rt_in_tokio_context(workers);
                let lengths: Vec<_> = (1..=10).map(|i| Duration::from_millis(3 * i)).collect();
                let mut slept = vec![Duration::ZERO; lengths.len()];
                rt.scope(|s| {
                    for (length, slept) in lengths.iter().zip(slept.iter_mut()) {
                        s.spawn(async move {
                            let start = Instant::now();
                            tokio::time::sleep(*length).await;
                            *slept = start.elapsed();
                        });
                    }
                });
                for (length, slept) in lengths.iter().zip(&slept) {
                    assert!(slept >= length, "slept {slept:?} for {length:?}");
                }
                // And in a blocking job, a tokio handle is at hand.
                let blocking_has_tokio = rt
                    .spawn_blocking(|| tokio::runtime::Handle::try_current().is_ok())
                    .join()
                    .unwrap();
                assert!(blocking_has_tokio);
            }
        },
    );
}

/// A tokio `TcpListener` and `TcpStream` in paddock tasks, with no
/// `Compat`: an echo over loopback, the message and the reply buffer
/// borrowed from the caller.
#[test]
fn tokio_tcp_runs_in_tasks_after_the_hook_enters_tokio() {
    watchdog(
        LIMIT,
        "tokio_tcp_runs_in_tasks_after_the_hook_enters_tokio",
        || {
            for workers in [1, 2] {
                let rt = rt_in_tokio_context(workers);
                let message = b"borrowed bytes over tokio's reactor";
                let mut echoed = vec![0u8; message.len()];
                rt.scope(|s| {
                    let (address_tx, address_rx) = async_channel::bounded(1);
                    s.spawn(async move {
                        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                        address_tx
                            .send(listener.local_addr().unwrap())
                            .await
                            .unwrap();
                        let (mut stream, _) = listener.accept().await.unwrap();
                        let mut buffer = [0u8; 64];
                        loop {
                            let n = stream.read(&mut buffer).await.unwrap();
                            if n == 0 {
                                break;
                            }
                            stream.write_all(&buffer[..n]).await.unwrap();
                        }
                    });
                    let echoed = &mut echoed;
                    s.spawn(async move {
                        let address = address_rx.recv().await.unwrap();
                        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
                        stream.write_all(message).await.unwrap();
                        stream.read_exact(echoed).await.unwrap();
                    });
                });
                assert_eq!(&echoed[..], &message[..], "{workers} workers");
            }
        },
    );
}
