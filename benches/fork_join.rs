//! fork_join: recursive fib(n), each node forking two children and joining
//! them; no sequential cut-off, so every one of fib(25)'s 242,785 nodes is a
//! task (or a `rayon::join`).
//!
//! - `paddock_scope`: a nested `paddock::scope` per node; the children write
//!   into the parent's stack.
//! - `paddock_spawn`: `paddock::spawn` + `.await` per child.
//! - `tokio`, `async_executor`: spawn + `.await` per child.
//! - `rayon_join`: `rayon::join`, the synchronous reference.
//!
//! Every paddock runtime here has the default worker stack (16 MiB): a
//! worker blocked in a nested scope runs other tasks on top of its own frame,
//! but it pops its `ready` queue newest first, so it picks up the deepest
//! work and its stack grows with the depth of the recursion (25 levels), as
//! rayon's does, not with the number of nodes. (`tests/nesting.rs` checks
//! fib(25) on 1 and 2 workers with the default stack.)
//!
//! The spawn + await versions box each recursive future (a recursive async
//! function must), which costs every runtime the same extra allocation.
//!
//! bevy_tasks' nested `TaskPool::scope` makes a queue per node, blocks in
//! `block_on` while ticking the whole pool, and overflows a default 2 MiB
//! thread stack even at fib(18); it runs fib(18) with 512 MiB stacks
//! (reserved, not committed) in its own group (`fork_join_n18`), beside
//! paddock's nested scopes, on default stacks, on the same n.

mod common;

use std::future::Future;
use std::pin::Pin;

use common::{criterion, fib_scope, size, Executor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn fib_paddock_spawn(n: u64) -> BoxFuture<u64> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        let a = paddock::spawn(fib_paddock_spawn(n - 1));
        let b = paddock::spawn(fib_paddock_spawn(n - 2));
        a.await.unwrap() + b.await.unwrap()
    })
}

fn fib_tokio(n: u64) -> BoxFuture<u64> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        let a = tokio::spawn(fib_tokio(n - 1));
        let b = tokio::spawn(fib_tokio(n - 2));
        a.await.unwrap() + b.await.unwrap()
    })
}

fn fib_executor(ex: &'static async_executor::Executor<'static>, n: u64) -> BoxFuture<u64> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        let a = ex.spawn(fib_executor(ex, n - 1));
        let b = ex.spawn(fib_executor(ex, n - 2));
        a.await + b.await
    })
}

fn fib_rayon(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib_rayon(n - 1), || fib_rayon(n - 2));
    a + b
}

fn fib_bevy(pool: &bevy_tasks::TaskPool, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    pool.scope(|s| {
        s.spawn(async move { fib_bevy(pool, n - 1) });
        s.spawn(async move { fib_bevy(pool, n - 2) });
    })
    .into_iter()
    .sum()
}

fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

/// fib(n) through nested paddock scopes, started from the bench thread.
fn paddock_scope(rt: &paddock::Runtime, n: u64) -> u64 {
    let mut out = 0;
    rt.scope(|s| {
        s.spawn(async { out = fib_scope(n) });
    });
    out
}

fn fork_join(c: &mut Criterion) {
    let n = size(25, 10) as u64;
    let expected = fib(n);
    let mut group = c.benchmark_group("fork_join");
    group.sampling_mode(criterion::SamplingMode::Flat);
    for workers in common::workers() {
        let rt = common::paddock(workers);
        group.bench_function(BenchmarkId::new("paddock_scope", workers), |b| {
            b.iter(|| assert_eq!(paddock_scope(&rt, n), expected))
        });
        group.bench_function(BenchmarkId::new("paddock_spawn", workers), |b| {
            b.iter(|| assert_eq!(rt.spawn(fib_paddock_spawn(n)).join().unwrap(), expected))
        });
        drop(rt);

        let rt = common::tokio(workers);
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| assert_eq!(rt.block_on(rt.spawn(fib_tokio(n))).unwrap(), expected))
        });
        drop(rt);

        let exec = Executor::new(workers);
        let ex = exec.ex;
        group.bench_function(BenchmarkId::new("async_executor", workers), |b| {
            b.iter(|| assert_eq!(exec.block_on(ex.spawn(fib_executor(ex, n))), expected))
        });
        drop(exec);

        let pool = common::rayon(workers);
        group.bench_function(BenchmarkId::new("rayon_join", workers), |b| {
            b.iter(|| assert_eq!(pool.install(|| fib_rayon(n)), expected))
        });
    }
    group.finish();
}

fn fork_join_small(c: &mut Criterion) {
    let n = size(18, 8) as u64;
    let expected = fib(n);
    let mut group = c.benchmark_group(format!("fork_join_n{}", size(18, 8)));
    group.sampling_mode(criterion::SamplingMode::Flat);
    for workers in common::workers() {
        let rt = common::paddock(workers);
        group.bench_function(BenchmarkId::new("paddock_scope", workers), |b| {
            b.iter(|| assert_eq!(paddock_scope(&rt, n), expected))
        });
        drop(rt);

        let pool = bevy_tasks::TaskPoolBuilder::new()
            .num_threads(workers)
            .stack_size(512 << 20)
            .build();
        group.bench_function(BenchmarkId::new("bevy_tasks", workers), |b| {
            b.iter(|| {
                let out = pool.scope_with_executor(false, None, |s| {
                    let pool = &pool;
                    s.spawn(async move { fib_bevy(pool, n) });
                });
                assert_eq!(out, [expected]);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = fork_join, fork_join_small
}
criterion_main!(benches);
