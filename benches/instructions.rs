//! instructions: fixed workloads whose instructions `scripts/instructions`
//! counts with `valgrind --tool=callgrind`, at two or more commits. On the
//! 2-vCPU machines we measure on, wall time moves by 10–50% between runs of
//! the same build, and instruction counts repeat to the last few thousand:
//! they are the measure for a change of a few percent on the hot path.
//!
//! Each workload runs on one worker, twice, in one process, so the counts
//! include the runtime's start, the same in every build. tokio runs the
//! shapes that fit it as a control: its counts must not move between two
//! commits of paddock, and where they do, the difference is noise of the
//! measure itself (allocator, thread start).
//!
//! ```sh
//! scripts/instructions HEAD~1 HEAD          # a table, with deltas
//! cargo bench --bench instructions -- paddock/fib   # run one, uncounted
//! ```
//!
//! Under `cargo test --benches` (or `-- --test`) each runs once, tiny.

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The workloads, by the name the script passes.
const WORKLOADS: &[&str] = &[
    "paddock/spawn_from_caller",
    "paddock/spawn_in_task",
    "paddock/fib",
    "paddock/yield_many",
    "paddock/ping_pong",
    "paddock/spawn_pairs",
    "tokio/spawn_from_caller",
    "tokio/spawn_in_task",
    "tokio/yield_many",
    "tokio/spawn_pairs",
];

/// Sizes: tasks spawned, fib's n, yields per task, ping-pong rounds, pairs.
struct Size {
    spawns: usize,
    fib: u64,
    yields: usize,
    pings: usize,
    pairs: usize,
}

const FULL: Size = Size {
    spawns: 20_000,
    fib: 18,
    yields: 100,
    pings: 100,
    pairs: 10_000,
};

const TINY: Size = Size {
    spawns: 10,
    fib: 5,
    yields: 2,
    pings: 2,
    pairs: 10,
};

/// The scaling bench's ping_pong shape: each of `pairs` tasks spawns its
/// partner and exchanges one message each way with it.
async fn spawn_pairs<S, H>(pairs: usize, spawn: S)
where
    S: Fn(Task) -> H + Clone + Send + 'static,
{
    let (done_tx, done_rx) = async_channel::bounded(1);
    let left = Arc::new(AtomicUsize::new(pairs));
    for _ in 0..pairs {
        let (done_tx, left, spawn_partner) = (done_tx.clone(), left.clone(), spawn.clone());
        drop(spawn(Box::pin(async move {
            let (ping_tx, ping_rx) = async_channel::bounded(1);
            let (pong_tx, pong_rx) = async_channel::bounded(1);
            drop(spawn_partner(Box::pin(async move {
                ping_rx.recv().await.unwrap();
                pong_tx.send(()).await.unwrap();
            })));
            ping_tx.send(()).await.unwrap();
            pong_rx.recv().await.unwrap();
            if left.fetch_sub(1, Relaxed) == 1 {
                done_tx.send(()).await.unwrap();
            }
        })));
    }
    done_rx.recv().await.unwrap();
}

fn run_paddock(name: &str, size: &Size) {
    let rt = common::paddock(1);
    match name {
        "spawn_from_caller" => common::paddock_spawn_many(&rt, size.spawns),
        "spawn_in_task" => rt.block_on(async {
            let spawns = size.spawns;
            paddock::spawn(async move {
                paddock::scope(|s| {
                    for _ in 0..spawns {
                        drop(s.spawn(async {}));
                    }
                })
            })
            .await
            .unwrap()
        }),
        "fib" => {
            let mut out = 0;
            rt.scope(|s| drop(s.spawn(async { out = common::fib_scope(size.fib) })));
            black_box(out);
        }
        "yield_many" => common::paddock_yield_many(&rt, 200, size.yields),
        "ping_pong" => rt.scope(|s| {
            for _ in 0..100 {
                let (tx1, rx1) = async_channel::bounded::<usize>(1);
                let (tx2, rx2) = async_channel::bounded::<usize>(1);
                drop(s.spawn(async move {
                    for i in 0..size.pings {
                        tx1.send(i).await.unwrap();
                        rx2.recv().await.unwrap();
                    }
                }));
                drop(s.spawn(async move {
                    for _ in 0..size.pings {
                        let v = rx1.recv().await.unwrap();
                        tx2.send(v).await.unwrap();
                    }
                }));
            }
        }),
        "spawn_pairs" => rt.block_on(spawn_pairs(size.pairs, paddock::spawn::<Task>)),
        _ => panic!("no paddock workload named {name:?}"),
    }
}

fn run_tokio(name: &str, size: &Size) {
    let rt = common::tokio(1);
    match name {
        "spawn_from_caller" => rt.block_on(common::tokio_spawn_many(size.spawns)),
        "spawn_in_task" => rt.block_on(async {
            let (done_tx, done_rx) = async_channel::bounded(1);
            let spawns = size.spawns;
            drop(tokio::spawn(async move {
                let left = Arc::new(AtomicUsize::new(spawns));
                for _ in 0..spawns {
                    let (left, done_tx) = (left.clone(), done_tx.clone());
                    drop(tokio::spawn(async move {
                        if left.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).await.unwrap();
                        }
                    }));
                }
            }));
            done_rx.recv().await.unwrap();
        }),
        "yield_many" => rt.block_on(common::tokio_yield_many(200, size.yields)),
        "spawn_pairs" => rt.block_on(spawn_pairs(size.pairs, tokio::spawn::<Task>)),
        _ => panic!("no tokio workload named {name:?}"),
    }
}

fn run(workload: &str, size: &Size) {
    let (runtime, name) = workload
        .split_once('/')
        .unwrap_or_else(|| panic!("a workload is runtime/name, not {workload:?}"));
    for _ in 0..2 {
        match runtime {
            "paddock" => run_paddock(name, size),
            "tokio" => run_tokio(name, size),
            _ => panic!("no runtime named {runtime:?}"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        for workload in WORKLOADS {
            println!("{workload}");
        }
        return;
    }
    let size = if common::full_size() { &FULL } else { &TINY };
    // Arguments that are not flags name workloads.
    let chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    for workload in WORKLOADS {
        if chosen.is_empty() || chosen.contains(workload) {
            run(workload, size);
        }
    }
}
