//! spawn_many: 100,000 trivial tasks spawned in one scope, and waited for.
//!
//! paddock spawns them from the bench thread (`paddock`) and from inside a
//! task (`paddock_in_task`); tokio likewise from `block_on` and from inside a
//! task, keeping a `Vec<JoinHandle>`; async-executor keeps its `Task`s;
//! bevy_tasks uses `TaskPool::scope`; rayon `ThreadPool::scope`.

mod common;

use common::{criterion, size, Executor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn spawn_many(c: &mut Criterion) {
    let tasks = size(100_000, 1_000);
    let mut group = c.benchmark_group("spawn_many");
    for workers in common::workers() {
        let rt = common::paddock(workers);
        group.bench_function(BenchmarkId::new("paddock", workers), |b| {
            b.iter(|| common::paddock_spawn_many(&rt, tasks))
        });
        group.bench_function(BenchmarkId::new("paddock_in_task", workers), |b| {
            b.iter(|| {
                rt.scope(|s| {
                    s.spawn(async move {
                        for _ in 0..tasks {
                            s.spawn(async {});
                        }
                    });
                })
            })
        });
        drop(rt);

        let rt = common::tokio(workers);
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| rt.block_on(common::tokio_spawn_many(tasks)))
        });
        group.bench_function(BenchmarkId::new("tokio_in_task", workers), |b| {
            b.iter(|| {
                rt.block_on(rt.spawn(common::tokio_spawn_many(tasks)))
                    .unwrap()
            })
        });
        drop(rt);

        let exec = Executor::new(workers);
        let ex = exec.ex;
        group.bench_function(BenchmarkId::new("async_executor", workers), |b| {
            b.iter(|| {
                exec.block_on(async {
                    let tasks: Vec<_> = (0..tasks).map(|_| ex.spawn(async {})).collect();
                    for task in tasks {
                        task.await;
                    }
                })
            })
        });
        drop(exec);

        let pool = common::bevy(workers);
        group.bench_function(BenchmarkId::new("bevy_tasks", workers), |b| {
            b.iter(|| {
                // `false`: the bench thread waits without running tasks, so
                // the pool has `workers` threads, as every other runtime.
                pool.scope_with_executor(false, None, |s| {
                    for _ in 0..tasks {
                        s.spawn(async {});
                    }
                })
            })
        });
        drop(pool);

        let pool = common::rayon(workers);
        group.bench_function(BenchmarkId::new("rayon", workers), |b| {
            b.iter(|| {
                pool.scope(|s| {
                    for _ in 0..tasks {
                        s.spawn(|_| {});
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = spawn_many
}
criterion_main!(benches);
