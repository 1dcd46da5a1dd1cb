//! metrics: what reading `RuntimeMetrics` costs the work it observes.
//!
//! The counters are always on: each worker's are written by the thread that
//! holds the worker, with a plain load and store, on the paths of a poll, a
//! spawn and a completion (their instruction count is measured with
//! callgrind, see `benches/README.md`). What this group measures is the
//! other side: spawn_many and yield_many (the same workloads as their own
//! groups, smaller) on paddock alone (`paddock`), and while another thread
//! reads every metric every `READ_EVERY` (`paddock_read`), a thousand times
//! more often than a monitor that scrapes every second. Each read pulls the
//! workers' counter lines to the reader's core, so the workers' next writes
//! miss; that is the cost to see. The reader sleeps between reads: on the
//! 2-core machines we measure on, the workers (and the bench thread, which
//! spawns) keep both cores busy, so a reader that spins, or wakes 20,000
//! times a second, measures the CPU it takes from them (13–22% at 50 µs,
//! see `benches/README.md`), not the metrics. tokio runs the same two
//! workloads in the same run, for the ratio.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

use common::{criterion, size};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// How often the reader reads every metric.
const READ_EVERY: Duration = Duration::from_millis(1);

/// Reads every metric of `rt` every `READ_EVERY` until `stop` is set;
/// returns how many rounds.
fn read_metrics(metrics: &paddock::RuntimeMetrics, stop: &AtomicBool) -> u64 {
    let mut rounds = 0u64;
    let mut sink = 0u64;
    while !stop.load(Relaxed) {
        thread::sleep(READ_EVERY);
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

/// Runs `work` (a whole criterion measurement) on `rt`, with a metrics
/// reader beside it if `read`. The reader lives across every iteration: a
/// reader started and joined per iteration would add a thread's start and
/// up to `READ_EVERY` of its last sleep to each one.
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
                |b| {
                    with_reader(&rt, read, || {
                        b.iter(|| common::paddock_spawn_many(&rt, spawns))
                    })
                },
            );
            group.bench_function(
                BenchmarkId::new(format!("yield_many/{name}"), workers),
                |b| {
                    with_reader(&rt, read, || {
                        b.iter(|| common::paddock_yield_many(&rt, tasks, yields))
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
