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
//! see `benches/README.md`), not the metrics. Even at one wake a
//! millisecond, a thread that wakes takes a core for a moment; so
//! `paddock_wake` runs the same thread reading nothing, and the cost of
//! the reads themselves is `paddock_read` against `paddock_wake`. tokio
//! runs the same two workloads in the same run, for the ratio.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

use common::{criterion, size};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// How often the reader reads every metric.
const READ_EVERY: Duration = Duration::from_millis(1);

/// What the thread beside the workload does.
#[derive(Clone, Copy, PartialEq)]
enum Beside {
    /// There is no such thread.
    Nothing,
    /// It wakes every `READ_EVERY` and reads nothing.
    Wake,
    /// It wakes every `READ_EVERY` and reads every metric.
    Read,
}

/// Wakes every `READ_EVERY` until `stop` is set, reading every metric if
/// `read`; returns how many rounds.
fn read_metrics(metrics: &paddock::RuntimeMetrics, read: bool, stop: &AtomicBool) -> u64 {
    let mut rounds = 0u64;
    let mut sink = 0u64;
    while !stop.load(Relaxed) {
        thread::sleep(READ_EVERY);
        rounds += 1;
        if !read {
            continue;
        }
        sink = sink.wrapping_add(metrics.num_alive_tasks() as u64);
        sink = sink.wrapping_add(metrics.global_queue_depth() as u64);
        for worker in 0..metrics.num_workers() {
            sink = sink.wrapping_add(metrics.worker_poll_count(worker));
            sink = sink.wrapping_add(metrics.worker_steal_count(worker));
            sink = sink.wrapping_add(metrics.worker_park_count(worker));
            sink = sink.wrapping_add(metrics.worker_local_queue_depth(worker) as u64);
            sink = sink.wrapping_add(metrics.worker_total_busy_duration(worker).as_nanos() as u64);
        }
        std::hint::black_box(sink);
    }
    rounds
}

/// Runs `work` (a whole criterion measurement) on `rt`, with `beside`. The
/// thread beside lives across every iteration: one started and joined per
/// iteration would add a thread's start and up to `READ_EVERY` of its last
/// sleep to each one.
fn with_reader(rt: &paddock::Runtime, beside: Beside, work: impl FnOnce()) {
    if beside == Beside::Nothing {
        return work();
    }
    let stop = AtomicBool::new(false);
    let metrics = rt.metrics();
    thread::scope(|threads| {
        threads.spawn(|| read_metrics(&metrics, beside == Beside::Read, &stop));
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
        for (name, beside) in [
            ("paddock", Beside::Nothing),
            ("paddock_wake", Beside::Wake),
            ("paddock_read", Beside::Read),
        ] {
            group.bench_function(
                BenchmarkId::new(format!("spawn_many/{name}"), workers),
                |b| {
                    with_reader(&rt, beside, || {
                        b.iter(|| common::paddock_spawn_many(&rt, spawns))
                    })
                },
            );
            group.bench_function(
                BenchmarkId::new(format!("yield_many/{name}"), workers),
                |b| {
                    with_reader(&rt, beside, || {
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
