//! par_sum: the sum of a 400 MB `Vec<u64>` in 1,024 chunks, one task per
//! chunk. paddock and bevy_tasks tasks borrow the chunks; tokio and
//! async-executor tasks need `'static` data, so they clone an `Arc` and index
//! into it; rayon uses `par_chunks`. `sequential` is the single-thread loop
//! that the speedups are measured against.
//!
//! The vector is allocated and filled once, outside the timing; this is a
//! memory-bandwidth workload, so the speedup on 2 workers says how well each
//! runtime keeps both cores streaming.

mod common;

use std::sync::Arc;

use common::{criterion, size, Executor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rayon::prelude::*;

const CHUNKS: usize = 1_024;

fn chunk_sum(chunk: &[u64]) -> u64 {
    chunk.iter().sum()
}

fn par_sum(c: &mut Criterion) {
    // 400 MB of u64 under `cargo bench`; 4 MB in test mode.
    let len = size(50_000_000, 500_000);
    let data: Arc<Vec<u64>> = Arc::new((0..len as u64).map(|i| i & 0xFFFF).collect());
    let expected = chunk_sum(&data);
    let chunk = len.div_ceil(CHUNKS);

    let mut group = c.benchmark_group("par_sum");
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function("sequential", |b| {
        b.iter(|| assert_eq!(chunk_sum(std::hint::black_box(&data)), expected))
    });
    for workers in common::workers() {
        let rt = common::paddock(workers);
        group.bench_function(BenchmarkId::new("paddock", workers), |b| {
            b.iter(|| {
                let mut partial = vec![0u64; CHUNKS];
                rt.scope(|s| {
                    for (slice, out) in data.chunks(chunk).zip(partial.iter_mut()) {
                        s.spawn(async move { *out = chunk_sum(slice) });
                    }
                });
                assert_eq!(partial.iter().sum::<u64>(), expected);
            })
        });
        drop(rt);

        let rt = common::tokio(workers);
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| {
                let total = rt.block_on(async {
                    let handles: Vec<_> = (0..len)
                        .step_by(chunk)
                        .map(|start| {
                            let data = data.clone();
                            tokio::spawn(async move {
                                chunk_sum(&data[start..(start + chunk).min(len)])
                            })
                        })
                        .collect();
                    let mut total = 0;
                    for handle in handles {
                        total += handle.await.unwrap();
                    }
                    total
                });
                assert_eq!(total, expected);
            })
        });
        drop(rt);

        let exec = Executor::new(workers);
        let ex = exec.ex;
        group.bench_function(BenchmarkId::new("async_executor", workers), |b| {
            b.iter(|| {
                let total = exec.block_on(async {
                    let tasks: Vec<_> = (0..len)
                        .step_by(chunk)
                        .map(|start| {
                            let data = data.clone();
                            ex.spawn(
                                async move { chunk_sum(&data[start..(start + chunk).min(len)]) },
                            )
                        })
                        .collect();
                    let mut total = 0;
                    for task in tasks {
                        total += task.await;
                    }
                    total
                });
                assert_eq!(total, expected);
            })
        });
        drop(exec);

        let pool = common::bevy(workers);
        group.bench_function(BenchmarkId::new("bevy_tasks", workers), |b| {
            b.iter(|| {
                let sums = pool.scope_with_executor(false, None, |s| {
                    for slice in data.chunks(chunk) {
                        s.spawn(async move { chunk_sum(slice) });
                    }
                });
                assert_eq!(sums.iter().sum::<u64>(), expected);
            })
        });
        drop(pool);

        let pool = common::rayon(workers);
        group.bench_function(BenchmarkId::new("rayon", workers), |b| {
            b.iter(|| {
                let total: u64 = pool.install(|| data.par_chunks(chunk).map(chunk_sum).sum());
                assert_eq!(total, expected);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = par_sum
}
criterion_main!(benches);
