//! What every bench shares: building each runtime with a given number of
//! workers, once per group, and the sizes of the workloads.
//!
//! Each bench file includes this module and uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::thread;
use std::time::Duration;

use criterion::Criterion;

/// The worker counts every group runs with: 1 and 2 (the team's machines
/// have 2 cores), or the comma-separated list in `PADDOCK_BENCH_WORKERS`,
/// such as `1,2,4,8,16` for a scaling run on a many-core machine.
pub fn workers() -> Vec<usize> {
    let Ok(list) = std::env::var("PADDOCK_BENCH_WORKERS") else {
        return vec![1, 2];
    };
    list.split(',')
        .map(|count| match count.trim().parse() {
            Ok(count) if count > 0 => count,
            _ => panic!(
                "PADDOCK_BENCH_WORKERS must be a comma-separated list of \
                 positive integers, such as 1,2,4,8,16 (got {list:?})"
            ),
        })
        .collect()
}

/// True under `cargo bench`; false under `cargo test --benches` or
/// `cargo bench -- --test`, where criterion runs each bench once and the
/// workloads shrink so that the check stays fast in a debug build.
pub fn full_size() -> bool {
    let mut bench = false;
    for arg in std::env::args() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--test" => return false,
            _ => {}
        }
    }
    bench
}

/// `full` under `cargo bench`, else `quick`.
pub fn size(full: usize, quick: usize) -> usize {
    if full_size() {
        full
    } else {
        quick
    }
}

/// Criterion settings small enough for the whole suite to run in minutes on
/// two cores: ten samples, a short warm-up and a few seconds of measurement.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

pub fn paddock(workers: usize) -> paddock::Runtime {
    paddock::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("paddock runtime")
}

pub fn tokio(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("tokio runtime")
}

pub fn rayon(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool")
}

pub fn bevy(workers: usize) -> bevy_tasks::TaskPool {
    bevy_tasks::TaskPoolBuilder::new()
        .num_threads(workers)
        .build()
}

/// An `async_executor::Executor` run by `workers` threads, the way its docs
/// suggest: each thread runs `block_on(ex.run(shutdown))`.
pub struct Executor {
    /// Leaked so that tasks can capture it as `&'static` (one per group).
    pub ex: &'static async_executor::Executor<'static>,
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Executor {
    pub fn new(workers: usize) -> Self {
        let ex: &'static async_executor::Executor<'static> =
            Box::leak(Box::new(async_executor::Executor::new()));
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads = (0..workers)
            .map(|_| {
                let stopped = stopped.clone();
                thread::spawn(move || {
                    let _ = futures_lite::future::block_on(ex.run(stopped.recv()));
                })
            })
            .collect();
        Executor {
            ex,
            stop: Some(stop),
            threads,
        }
    }

    /// Waits on the calling thread, which is not one of the executor's.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        futures_lite::future::block_on(future)
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Closing the channel ends every `run`.
        drop(self.stop.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// fib(n) through a nested `paddock::scope` per node, the children writing
/// into the parent's locals. Shared by fork_join and instructions.
pub fn fib_scope(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (mut a, mut b) = (0, 0);
    paddock::scope(|s| {
        s.spawn(async { a = fib_scope(n - 1) });
        s.spawn(async { b = fib_scope(n - 2) });
    });
    a + b
}

/// spawn_many's workload on paddock: `tasks` empty tasks in one scope,
/// spawned from the calling thread. Shared with the metrics bench.
pub fn paddock_spawn_many(rt: &paddock::Runtime, tasks: usize) {
    rt.scope(|s| {
        for _ in 0..tasks {
            s.spawn(async {});
        }
    })
}

/// spawn_many's workload on tokio: `tasks` empty tasks spawned from
/// `block_on`, each awaited through its handle.
pub async fn tokio_spawn_many(tasks: usize) {
    let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(async {})).collect();
    for handle in handles {
        handle.await.unwrap();
    }
}

/// yield_many's workload on paddock: `tasks` tasks in one scope, each
/// yielding `yields` times.
pub fn paddock_yield_many(rt: &paddock::Runtime, tasks: usize, yields: usize) {
    rt.scope(|s| {
        for _ in 0..tasks {
            s.spawn(async move {
                for _ in 0..yields {
                    paddock::yield_now().await;
                }
            });
        }
    })
}

/// yield_many's workload on tokio, from `block_on`.
pub async fn tokio_yield_many(tasks: usize, yields: usize) {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            tokio::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
}
