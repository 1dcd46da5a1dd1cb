//! Scoped async tasks that borrow from `main`'s stack.
//!
//! Finds the primes in a range of large numbers. The range is split into chunks
//! and each chunk becomes a task that borrows two things from this function:
//! the shared `&Config` and its own disjoint `&mut [bool]` slice of the output.
//! No `Arc`, no `'static`, no copying: `Runtime::scope` waits for every task
//! before it returns, so the borrow checker accepts plain references.
//!
//! The same work runs on every worker, then on a one-worker runtime, and both
//! results are checked against a plain sequential loop.
//!
//! Run it with `cargo run --release --example demo`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::time::{Duration, Instant};

use paddock::Runtime;

/// Settings every task reads through a shared reference.
struct Config {
    /// The first number tested.
    start: u64,
    /// How many numbers each task tests.
    chunk_len: usize,
    /// How many numbers a task tests between two `.await` points.
    step_len: usize,
}

/// Trial division by 2, 3 and then every 6k ± 1: slow on purpose, so that
/// there is real CPU work to spread over the workers.
fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n % 2 == 0 || n % 3 == 0 {
        return false;
    }
    let mut d = 5;
    while d * d <= n {
        if n % d == 0 || n % (d + 2) == 0 {
            return false;
        }
        d += 6;
    }
    true
}

/// The name of the thread we are running on: `paddock-worker-{i}` on a worker.
fn thread_name() -> String {
    let thread = std::thread::current();
    thread.name().unwrap_or("<unnamed>").to_owned()
}

/// Marks the primes among `first..first + flags.len()` and returns the name
/// of the thread that ran each step. It yields between steps, so a long chunk
/// never holds its worker for long: other tasks get a turn, and an idle worker
/// may steal this task and run its next step.
async fn mark_primes(config: &Config, first: u64, flags: &mut [bool]) -> Vec<String> {
    let mut ran_on = Vec::new();
    for (step, block) in flags.chunks_mut(config.step_len).enumerate() {
        ran_on.push(thread_name());
        let base = first + (step * config.step_len) as u64;
        for (offset, flag) in (0u64..).zip(block.iter_mut()) {
            *flag = is_prime(base + offset);
        }
        paddock::yield_now().await;
    }
    ran_on
}

/// Spawns one task per chunk of `flags` on `rt`, waits for all of them,
/// prints what ran where, and returns the wall time.
fn run(label: &str, rt: &Runtime, config: &Config, flags: &mut [bool]) -> Duration {
    let started = Instant::now();
    let results: Vec<(usize, Vec<String>)> = rt.scope(|s| {
        // Both borrows are fine: `config` and `flags` outlive the scope, and
        // `chunks_mut` hands each task a slice no other task can touch.
        let handles: Vec<_> = flags
            .chunks_mut(config.chunk_len)
            .enumerate()
            .map(|(index, chunk)| {
                let first = config.start + (index * config.chunk_len) as u64;
                s.spawn(async move { (index, mark_primes(config, first, chunk).await) })
            })
            .collect();
        // The closure runs on the calling thread, and `join` parks it until
        // that task is done. The scope would wait for the tasks anyway;
        // joining is how we get their results.
        let joined = handles.into_iter().map(|handle| handle.join());
        joined
            .map(|result| result.expect("a task panicked"))
            .collect()
    });
    let elapsed = started.elapsed();

    // The scope is over, so `flags` is ours again.
    let primes = flags.iter().filter(|&&prime| prime).count();
    println!("{label:<10} {primes} primes in {elapsed:.2?}");

    // For each worker: how many steps it ran, and of which chunks.
    let mut by_worker: BTreeMap<String, (usize, BTreeSet<usize>)> = BTreeMap::new();
    let mut moved = 0;
    for (index, ran_on) in results {
        moved += usize::from(ran_on.iter().any(|name| *name != ran_on[0]));
        for worker in ran_on {
            let (steps, chunks) = by_worker.entry(worker).or_default();
            *steps += 1;
            chunks.insert(index);
        }
    }
    for (worker, (steps, chunks)) in &by_worker {
        println!("  {worker} ran {steps:>3} steps of chunks {chunks:?}");
    }
    println!("  {moved} chunks moved to another worker at an .await");
    elapsed
}

fn main() -> io::Result<()> {
    const LEN: usize = 1_000_000;
    let config = Config {
        start: 1_000_000_000,
        chunk_len: LEN / 32,
        step_len: 4096,
    };

    let all = Runtime::new()?;
    let one = Runtime::builder().worker_threads(1).build()?;
    println!(
        "testing {LEN} numbers from {} in {} chunks\n",
        config.start,
        LEN.div_ceil(config.chunk_len)
    );

    let mut parallel = vec![false; LEN];
    let label = format!("{} workers:", all.num_workers());
    let wide = run(&label, &all, &config, &mut parallel);

    let mut single = vec![false; LEN];
    let narrow = run("1 worker:", &one, &config, &mut single);

    // The answer must not depend on how the work was scheduled.
    let expected: Vec<bool> = (config.start..config.start + LEN as u64)
        .map(is_prime)
        .collect();
    assert!(parallel == expected && single == expected, "results differ");
    println!(
        "\nboth match the sequential loop; speed-up with {} workers: {:.2}x",
        all.num_workers(),
        narrow.as_secs_f64() / wide.as_secs_f64()
    );
    Ok(())
}
