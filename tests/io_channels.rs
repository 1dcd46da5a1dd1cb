//! async-channel between scoped tasks: fan-out to workers, fan-in to one
//! collector, pipelines, and the caller's thread talking to tasks with the
//! blocking calls. Bounded channels are kept small so that senders really
//! wait for room and receivers really wait for items.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use async_channel::{bounded, unbounded};

use common::{rt, watchdog, LIMIT};

#[test]
fn fan_out_spreads_every_job_to_exactly_one_worker() {
    const JOBS: u64 = 10_000;
    const WORKERS: usize = 8;

    watchdog(
        LIMIT,
        "fan_out_spreads_every_job_to_exactly_one_worker",
        || {
            let rt = rt(2);
            let weights: Vec<u64> = (0..JOBS).map(|n| n % 7 + 1).collect();
            // Each worker task owns one slot: (jobs taken, weighted sum).
            let mut tallies = [(0u64, 0u64); WORKERS];
            rt.scope(|s| {
                let (tx, rx) = bounded::<u64>(4);
                let weights = &weights;
                for tally in tallies.iter_mut() {
                    let rx = rx.clone();
                    s.spawn(async move {
                        // `recv` fails once every sender is gone and the channel
                        // is empty: that is how a worker learns to stop.
                        while let Ok(job) = rx.recv().await {
                            tally.0 += 1;
                            tally.1 += job * weights[job as usize];
                        }
                    });
                }
                drop(rx);
                s.spawn(async move {
                    for job in 0..JOBS {
                        tx.send(job).await.expect("the workers hang up early");
                    }
                    // `tx` is dropped here, which closes the channel.
                });
            });
            let taken: u64 = tallies.iter().map(|t| t.0).sum();
            let sum: u64 = tallies.iter().map(|t| t.1).sum();
            let expected: u64 = (0..JOBS).map(|n| n * weights[n as usize]).sum();
            assert_eq!(taken, JOBS, "a job was lost or taken twice");
            assert_eq!(sum, expected);
        },
    );
}

#[test]
fn fan_in_collects_from_every_producer() {
    const PRODUCERS: usize = 16;

    watchdog(LIMIT, "fan_in_collects_from_every_producer", || {
        let rt = rt(2);
        let data: Vec<u32> = (0..4096).collect();
        let collected = rt.scope(|s| {
            let (tx, rx) = bounded::<(usize, &u32)>(2);
            for (id, chunk) in data.chunks(data.len() / PRODUCERS).enumerate() {
                let tx = tx.clone();
                // Each producer borrows its own chunk and sends borrows of
                // its items: the channel carries `&u32`, not copies.
                s.spawn(async move {
                    for item in chunk {
                        tx.send((id, item)).await.unwrap();
                    }
                });
            }
            drop(tx);
            let collector = s.spawn(async move {
                let mut seen = Vec::new();
                while let Ok((id, item)) = rx.recv().await {
                    seen.push((id, *item));
                }
                seen
            });
            collector.join().unwrap()
        });

        assert_eq!(collected.len(), data.len());
        let values: BTreeSet<u32> = collected.iter().map(|&(_, v)| v).collect();
        assert_eq!(values.len(), data.len(), "an item arrived twice");
        let producers: BTreeSet<usize> = collected.iter().map(|&(id, _)| id).collect();
        assert_eq!(producers.len(), PRODUCERS);
        // Each producer's items arrive in the order it sent them.
        for id in 0..PRODUCERS {
            let from_one: Vec<u32> = collected
                .iter()
                .filter(|&&(p, _)| p == id)
                .map(|&(_, v)| v)
                .collect();
            assert!(from_one.windows(2).all(|w| w[0] < w[1]));
        }
    });
}

#[test]
fn pipeline_of_scoped_stages_borrowing_their_settings() {
    struct Settings {
        offset: u64,
        factor: u64,
    }

    watchdog(
        LIMIT,
        "pipeline_of_scoped_stages_borrowing_their_settings",
        || {
            let rt = rt(2);
            let settings = Settings {
                offset: 3,
                factor: 5,
            };
            let mut out = Vec::new();
            rt.scope(|s| {
                let settings = &settings;
                let out = &mut out;
                let (tx1, rx1) = bounded::<u64>(1);
                let (tx2, rx2) = bounded::<u64>(1);
                s.spawn(async move {
                    for n in 0..1000 {
                        tx1.send(n).await.unwrap();
                    }
                });
                s.spawn(async move {
                    while let Ok(n) = rx1.recv().await {
                        tx2.send(n + settings.offset).await.unwrap();
                    }
                });
                s.spawn(async move {
                    while let Ok(n) = rx2.recv().await {
                        out.push(n * settings.factor);
                    }
                });
            });
            let expected: Vec<u64> = (0..1000).map(|n| (n + 3) * 5).collect();
            assert_eq!(out, expected, "a single-consumer pipeline keeps order");
        },
    );
}

#[test]
fn the_scope_closure_feeds_tasks_with_blocking_calls() {
    watchdog(
        LIMIT,
        "the_scope_closure_feeds_tasks_with_blocking_calls",
        || {
            let rt = rt(2);
            let words = ["scoped", "tasks", "borrow", "from", "the", "stack"];
            let lengths = rt.scope(|s| {
                // Capacity 1 in both directions: the closure and the task must
                // take turns, so the closure's blocking calls may not stall the
                // workers (the closure runs on the caller's thread, not on one).
                let (job_tx, job_rx) = bounded::<&str>(1);
                let (len_tx, len_rx) = bounded::<usize>(1);
                s.spawn(async move {
                    while let Ok(word) = job_rx.recv().await {
                        len_tx.send(word.len()).await.unwrap();
                    }
                });
                let mut lengths = Vec::new();
                for word in words {
                    job_tx.send_blocking(word).unwrap();
                    lengths.push(len_rx.recv_blocking().unwrap());
                }
                lengths
                // `job_tx` is dropped here; the task sees the channel close and
                // ends, and only then does `scope` return.
            });
            assert_eq!(lengths, [6, 5, 6, 4, 3, 5]);
        },
    );
}

#[test]
fn receivers_see_the_channel_close_when_the_last_sender_task_ends() {
    watchdog(
        LIMIT,
        "receivers_see_the_channel_close_when_the_last_sender_task_ends",
        || {
            let rt = rt(2);
            let (tx, rx) = unbounded::<u32>();
            let mut received = [0usize; 4];
            rt.scope(|s| {
                for slot in received.iter_mut() {
                    let rx = rx.clone();
                    s.spawn(async move {
                        while rx.recv().await.is_ok() {
                            *slot += 1;
                        }
                        // The loop ended because the channel closed, not
                        // because a message went missing.
                        assert!(rx.is_closed());
                    });
                }
                s.spawn(async move {
                    for n in 0..100 {
                        tx.send(n).await.unwrap();
                        if n % 10 == 0 {
                            async_io::Timer::after(Duration::from_millis(1)).await;
                        }
                    }
                });
            });
            assert_eq!(received.iter().sum::<usize>(), 100);
            assert!(rx.is_closed() && rx.is_empty());
        },
    );
}
