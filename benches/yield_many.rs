//! yield_many: 1,000 tasks, each yielding 1,000 times, with each runtime's
//! own yield: `paddock::yield_now`, `tokio::task::yield_now`, and
//! `futures_lite::future::yield_now` for async-executor and bevy_tasks,
//! which have none of their own. A yield sends a task behind the other ready
//! tasks, so this measures the local queue's push and pop.

mod common;

use common::{criterion, size, Executor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn yield_many(c: &mut Criterion) {
    let tasks = size(1_000, 50);
    let yields = size(1_000, 50);
    let mut group = c.benchmark_group("yield_many");
    for workers in common::workers() {
        let rt = common::paddock(workers);
        group.bench_function(BenchmarkId::new("paddock", workers), |b| {
            b.iter(|| common::paddock_yield_many(&rt, tasks, yields))
        });
        drop(rt);

        let rt = common::tokio(workers);
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| rt.block_on(common::tokio_yield_many(tasks, yields)))
        });
        drop(rt);

        let exec = Executor::new(workers);
        let ex = exec.ex;
        group.bench_function(BenchmarkId::new("async_executor", workers), |b| {
            b.iter(|| {
                exec.block_on(async {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            ex.spawn(async move {
                                for _ in 0..yields {
                                    futures_lite::future::yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for handle in handles {
                        handle.await;
                    }
                })
            })
        });
        drop(exec);

        let pool = common::bevy(workers);
        group.bench_function(BenchmarkId::new("bevy_tasks", workers), |b| {
            b.iter(|| {
                pool.scope_with_executor(false, None, |s| {
                    for _ in 0..tasks {
                        s.spawn(async move {
                            for _ in 0..yields {
                                futures_lite::future::yield_now().await;
                            }
                        });
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
    targets = yield_many
}
criterion_main!(benches);
