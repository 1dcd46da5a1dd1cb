//! ping_pong: two tasks exchange 100,000 messages over a pair of capacity-1
//! channels; each send wakes the other task, so this measures the wake and
//! reschedule path, and what a runtime does when a worker runs dry.
//!
//! Every runtime runs it over async-channel (`bounded(1)`); tokio also over
//! its own `mpsc::channel(1)` (`tokio_mpsc`). The channels are made per
//! iteration: paddock and bevy_tasks tasks borrow them, the others own them.

mod common;

use common::{criterion, size, Executor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// The first player: sends, then waits for the reply.
async fn ping(tx: &async_channel::Sender<u64>, rx: &async_channel::Receiver<u64>, rounds: usize) {
    for i in 0..rounds as u64 {
        tx.send(i).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), i);
    }
}

/// The second player: echoes every message back.
async fn pong(tx: &async_channel::Sender<u64>, rx: &async_channel::Receiver<u64>, rounds: usize) {
    for _ in 0..rounds {
        let message = rx.recv().await.unwrap();
        tx.send(message).await.unwrap();
    }
}

type Channels = (
    (async_channel::Sender<u64>, async_channel::Receiver<u64>),
    (async_channel::Sender<u64>, async_channel::Receiver<u64>),
);

fn channels() -> Channels {
    (async_channel::bounded(1), async_channel::bounded(1))
}

fn ping_pong(c: &mut Criterion) {
    let rounds = size(100_000, 1_000);
    let mut group = c.benchmark_group("ping_pong");
    for workers in common::workers() {
        let rt = common::paddock(workers);
        group.bench_function(BenchmarkId::new("paddock", workers), |b| {
            b.iter(|| {
                let ((tx1, rx1), (tx2, rx2)) = channels();
                rt.scope(|s| {
                    s.spawn(ping(&tx1, &rx2, rounds));
                    s.spawn(pong(&tx2, &rx1, rounds));
                })
            })
        });
        drop(rt);

        let rt = common::tokio(workers);
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| {
                let ((tx1, rx1), (tx2, rx2)) = channels();
                rt.block_on(async {
                    let a = tokio::spawn(async move { ping(&tx1, &rx2, rounds).await });
                    let b = tokio::spawn(async move { pong(&tx2, &rx1, rounds).await });
                    a.await.unwrap();
                    b.await.unwrap();
                })
            })
        });
        group.bench_function(BenchmarkId::new("tokio_mpsc", workers), |b| {
            b.iter(|| {
                let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u64>(1);
                let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u64>(1);
                rt.block_on(async {
                    let a = tokio::spawn(async move {
                        for i in 0..rounds as u64 {
                            tx1.send(i).await.unwrap();
                            assert_eq!(rx2.recv().await.unwrap(), i);
                        }
                    });
                    let b = tokio::spawn(async move {
                        for _ in 0..rounds {
                            let message = rx1.recv().await.unwrap();
                            tx2.send(message).await.unwrap();
                        }
                    });
                    a.await.unwrap();
                    b.await.unwrap();
                })
            })
        });
        drop(rt);

        let exec = Executor::new(workers);
        let ex = exec.ex;
        group.bench_function(BenchmarkId::new("async_executor", workers), |b| {
            b.iter(|| {
                let ((tx1, rx1), (tx2, rx2)) = channels();
                exec.block_on(async {
                    let a = ex.spawn(async move { ping(&tx1, &rx2, rounds).await });
                    let b = ex.spawn(async move { pong(&tx2, &rx1, rounds).await });
                    a.await;
                    b.await;
                })
            })
        });
        drop(exec);

        let pool = common::bevy(workers);
        group.bench_function(BenchmarkId::new("bevy_tasks", workers), |b| {
            b.iter(|| {
                let ((tx1, rx1), (tx2, rx2)) = channels();
                pool.scope_with_executor(false, None, |s| {
                    s.spawn(ping(&tx1, &rx2, rounds));
                    s.spawn(pong(&tx2, &rx1, rounds));
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = ping_pong
}
criterion_main!(benches);
