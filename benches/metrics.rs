//! metrics: what reading `RuntimeMetrics` costs the work it observes.
//!
//! The counters are always on: each worker's are written by the thread that
//! holds the worker, with a plain load and store, on the paths of a poll, a
//! spawn and a completion (their instruction count is measured with
//! callgrind, see `benches/README.md`). What this group measures is the
//! other side: spawn_many and yield_many (the same workloads as their own
//! groups, smaller) on paddock alone (`paddock`), and while another thread
//! reads every metric in a loop (`paddock_read`). The reads must stay within
//! the noise, since they only load counters that the workers write. tokio
//! runs the same two workloads in the same run, for the ratio.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;

use common::{criterion, size};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Reads every metric of `rt` until `stop` is set; returns how many rounds.
fn read_metrics(metrics: &paddock::RuntimeMetrics, stop: &AtomicBool) -> u64 {
    let mut rounds = 0u64;
    let mut sink = 0u64;
    while !stop.load(Relaxed) {
        sink = sink.wrapping_add(metrics.num_alive_tasks() as u64);
        sink = sink.wrapping_add(metrics.global_queue_depth() as u64);
        for worker in 0..metrics.num_workers() {
            sink = sink.wrapping_add(metrics.worker_poll_count(worker));
            sink = sink.wrapping_add(metrics.worker_steal_count(worker));
            sink = sink.wrapping_add(metrics.worker_park_count(worker));
            sink = sink.wrapping_add(metrics.worker_local_queue_depth(worker) as u64);
            sink = sink.wrapping_add(metrics.worker_total_busy_duration(worker).as_nanos() as u64);
        }
        rounds += 1;
        std::hint::black_box(sink);
    }
    rounds
}

/// Runs `work` on `rt`, with a metrics reader beside it if `read`.
fn with_reader(rt: &paddock::Runtime, read: bool, work: impl FnOnce()) {
    if !read {
        return work();
    }
    let stop = AtomicBool::new(false);
    let metrics = rt.metrics();
    thread::scope(|threads| {
        threads.spawn(|| read_metrics(&metrics, &stop));
        work();
        stop.store(true, Relaxed);
    });
}

fn metrics_cost(c: &mut Criterion) {
    let spawns = size(20_000, 500);
    let (tasks, yields) = (size(200, 20), size(200, 20));
    let mut group = c.benchmark_group("metrics_cost");
    for workers in common::workers() {
        let rt = common::paddock(workers);
        for (name, read) in [("paddock", false), ("paddock_read", true)] {
            group.bench_function(
                BenchmarkId::new(format!("spawn_many/{name}"), workers),
                |b| b.iter(|| with_reader(&rt, read, || common::paddock_spawn_many(&rt, spawns))),
            );
            group.bench_function(
                BenchmarkId::new(format!("yield_many/{name}"), workers),
                |b| {
                    b.iter(|| {
                        with_reader(&rt, read, || common::paddock_yield_many(&rt, tasks, yields))
                    })
                },
            );
        }
        drop(rt);

        let rt = common::tokio(workers);
        group.bench_function(BenchmarkId::new("spawn_many/tokio", workers), |b| {
            b.iter(|| rt.block_on(common::tokio_spawn_many(spawns)))
        });
        group.bench_function(BenchmarkId::new("yield_many/tokio", workers), |b| {
            b.iter(|| rt.block_on(common::tokio_yield_many(tasks, yields)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = metrics_cost
}
criterion_main!(benches);
