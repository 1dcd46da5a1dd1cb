//! What a runtime's workers did: `Runtime::metrics` after a mixed workload.
//!
//! The workload, all in one scope that borrows from `main`:
//!
//! - a fan-out: one task per chunk of a vector, summing it;
//! - a ping-pong: two tasks passing a counter back and forth over
//!   `async-channel`, each message a wake-up;
//! - tasks that `yield_now` in a loop;
//! - a few blocking jobs (`Scope::spawn_blocking`) reading a file;
//! - a task that opens a nested scope whose child waits on a timer: with
//!   nothing of its own to run, its thread hands the worker role on.
//!
//! Then a table per worker, and the runtime-wide figures.
//!
//! Run it with `cargo run --example metrics`.

use std::time::Duration;

use paddock::{Runtime, RuntimeMetrics};

fn main() -> std::io::Result<()> {
    let rt = Runtime::builder().worker_threads(4).build()?;
    let numbers: Vec<u64> = (1..=100_000).collect();
    let this_file = concat!(env!("CARGO_MANIFEST_DIR"), "/", file!());

    let (sum, rally, bytes) = rt.scope(|s| {
        let sums: Vec<_> = numbers
            .chunks(1_000)
            .map(|chunk| s.spawn(async move { chunk.iter().sum::<u64>() }))
            .collect();

        let (ping_tx, ping_rx) = async_channel::bounded::<u32>(1);
        let (pong_tx, pong_rx) = async_channel::bounded::<u32>(1);
        s.spawn(async move {
            while let Ok(n) = ping_rx.recv().await {
                let _ = pong_tx.send(n + 1).await;
            }
        });
        let rally = s.spawn(async move {
            let mut n = 0;
            for _ in 0..1_000 {
                ping_tx.send(n).await.unwrap();
                n = pong_rx.recv().await.unwrap();
            }
            n
        });

        for _ in 0..8 {
            s.spawn(async {
                for _ in 0..100 {
                    paddock::yield_now().await;
                }
            });
        }

        let reads: Vec<_> = (0..4)
            .map(|_| s.spawn_blocking(move || std::fs::read(this_file).map_or(0, |b| b.len())))
            .collect();

        s.spawn(async {
            paddock::scope(|inner| {
                inner.spawn(async_io::Timer::after(Duration::from_millis(20)));
            });
        });

        let sum: u64 = sums.into_iter().map(|h| h.join().unwrap()).sum();
        let bytes: usize = reads.into_iter().map(|h| h.join().unwrap()).sum();
        (sum, rally.join().unwrap(), bytes)
    });
    println!("sum {sum}, ping-pong count {rally}, {bytes} bytes read\n");

    // Busy time is added up when a worker goes to sleep: let them.
    std::thread::sleep(Duration::from_millis(20));
    print_table(&rt.metrics());
    Ok(())
}

fn print_table(m: &RuntimeMetrics) {
    println!(
        "{:>6} {:>7} {:>6} {:>6} {:>8} {:>11} {:>8}",
        "worker", "polls", "steals", "parks", "handoffs", "local depth", "busy ms"
    );
    for i in 0..m.num_workers() {
        println!(
            "{:>6} {:>7} {:>6} {:>6} {:>8} {:>11} {:>8.1}",
            i,
            m.worker_poll_count(i),
            m.worker_steal_count(i),
            m.worker_park_count(i),
            m.worker_handoff_count(i),
            m.worker_local_queue_depth(i),
            m.worker_total_busy_duration(i).as_secs_f64() * 1e3,
        );
    }
    println!();
    println!("alive tasks            {}", m.num_alive_tasks());
    println!("global queue depth     {}", m.global_queue_depth());
    println!("blocking threads       {}", m.num_blocking_threads());
    println!("  of which idle        {}", m.num_idle_blocking_threads());
    println!("blocking queue depth   {}", m.blocking_queue_depth());
}
