//! async-io timers inside scoped tasks: sleeps never end early, many timers
//! run at once, timeouts cancel the slow side, and a task parked on a timer
//! can be aborted without waiting for it.
//!
//! async-io drives its timers from whichever thread is idle in its reactor,
//! or from its own "async-io" thread, so they work on paddock's workers with
//! no setup.

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::{future, StreamExt};

use common::{rt, watchdog, CountDrop, LIMIT};

/// A tiny xorshift64 generator: deterministic, good enough to spread timer
/// lengths, and no `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[test]
fn timer_sleeps_at_least_its_duration() {
    watchdog(LIMIT, "timer_sleeps_at_least_its_duration", || {
        let rt = rt(2);
        let lengths = [1, 5, 20, 50].map(Duration::from_millis);
        let mut slept = [Duration::ZERO; 4];
        rt.scope(|s| {
            for (length, slept) in lengths.iter().zip(slept.iter_mut()) {
                s.spawn(async move {
                    let start = Instant::now();
                    let fired_at = Timer::after(*length).await;
                    *slept = start.elapsed();
                    assert!(fired_at >= start + *length, "the timer fired early");
                });
            }
        });
        for (length, slept) in lengths.iter().zip(&slept) {
            assert!(slept >= length, "slept {slept:?}, asked for {length:?}");
        }
    });
}

#[test]
fn a_thousand_random_timers_all_fire_and_none_early() {
    const TIMERS: usize = 1000;
    const MAX_MS: u64 = 200;

    watchdog(
        LIMIT,
        "a_thousand_random_timers_all_fire_and_none_early",
        || {
            let rt = rt(2);
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let lengths: Vec<Duration> = (0..TIMERS)
                .map(|_| Duration::from_micros(rng.next() % (MAX_MS * 1000)))
                .collect();
            // One slot per task, written by that task: `None` means it never ran.
            let mut slept: Vec<Option<Duration>> = vec![None; TIMERS];

            let start = Instant::now();
            rt.scope(|s| {
                for (length, slot) in lengths.iter().zip(slept.iter_mut()) {
                    s.spawn(async move {
                        let begin = Instant::now();
                        Timer::after(*length).await;
                        *slot = Some(begin.elapsed());
                    });
                }
            });
            let total = start.elapsed();

            for (i, (length, slept)) in lengths.iter().zip(&slept).enumerate() {
                let slept = slept.unwrap_or_else(|| panic!("timer {i} never fired"));
                assert!(
                    slept >= *length,
                    "timer {i} fired early: {slept:?} < {length:?}"
                );
            }
            // One after another they would take about 100 s; together, about
            // the longest one. The bound is loose for a loaded CI machine.
            assert!(
                total < Duration::from_millis(MAX_MS) + Duration::from_secs(3),
                "the timers did not run concurrently: {total:?}"
            );
        },
    );
}

#[test]
fn interval_ticks_in_a_task() {
    watchdog(LIMIT, "interval_ticks_in_a_task", || {
        let rt = rt(2);
        let period = Duration::from_millis(10);
        let mut ticks = Vec::new();
        let start = Instant::now();
        rt.scope(|s| {
            let ticks = &mut ticks;
            s.spawn(async move {
                let mut interval = Timer::interval(period);
                while ticks.len() < 5 {
                    ticks.push(interval.next().await.expect("an interval never ends"));
                }
            });
        });
        assert_eq!(ticks.len(), 5);
        for (n, tick) in ticks.iter().enumerate() {
            // The k-th tick is due k periods after the interval was made.
            let due = start + period * (n as u32 + 1);
            assert!(*tick >= due, "tick {n} came early");
        }
        assert!(ticks.windows(2).all(|w| w[0] < w[1]));
    });
}

#[test]
fn timeout_drops_the_slow_future_and_keeps_the_fast_one() {
    watchdog(
        LIMIT,
        "timeout_drops_the_slow_future_and_keeps_the_fast_one",
        || {
            let rt = rt(2);
            let dropped = AtomicUsize::new(0);
            let (slow, fast) = rt.scope(|s| {
                let dropped = &dropped;
                // A future that never finishes loses to a 20 ms timer.
                let slow = s.spawn(async move {
                    let guard = CountDrop(dropped);
                    let work = async move {
                        let _guard = guard;
                        pending::<u32>().await
                    };
                    let start = Instant::now();
                    let result = future::or(async { Some(work.await) }, async {
                        Timer::after(Duration::from_millis(20)).await;
                        None
                    })
                    .await;
                    (result, start.elapsed())
                });
                // A future that is done in 1 ms beats a 5 s timer.
                let fast = s.spawn(async {
                    let start = Instant::now();
                    let result = future::or(
                        async {
                            Timer::after(Duration::from_millis(1)).await;
                            Some(7)
                        },
                        async {
                            Timer::after(Duration::from_secs(5)).await;
                            None
                        },
                    )
                    .await;
                    (result, start.elapsed())
                });
                (slow.join().unwrap(), fast.join().unwrap())
            });

            assert_eq!(slow.0, None, "the pending future cannot win");
            assert!(slow.1 >= Duration::from_millis(20), "timed out early");
            assert_eq!(dropped.load(SeqCst), 1, "the losing future was not dropped");
            assert_eq!(fast.0, Some(7));
            assert!(
                fast.1 < Duration::from_secs(5),
                "waited for the losing timer"
            );
        },
    );
}

#[test]
fn aborting_a_task_parked_on_a_long_timer_returns_at_once() {
    watchdog(
        LIMIT,
        "aborting_a_task_parked_on_a_long_timer_returns_at_once",
        || {
            let rt = rt(2);
            let dropped = AtomicUsize::new(0);
            let start = Instant::now();
            rt.scope(|s| {
                let guard = CountDrop(&dropped);
                let sleeper = s.spawn(async move {
                    let _guard = guard;
                    Timer::after(Duration::from_secs(60)).await;
                });
                // Let it reach the timer and register with the reactor.
                std::thread::sleep(Duration::from_millis(20));
                assert!(!sleeper.is_finished());
                sleeper.abort();
                assert!(sleeper.join().unwrap_err().is_cancelled());
            });
            assert_eq!(dropped.load(SeqCst), 1);
            assert!(start.elapsed() < Duration::from_secs(5));
        },
    );
}

#[test]
fn timers_wake_a_one_worker_runtime_whose_worker_waits_in_a_nested_scope() {
    watchdog(
        LIMIT,
        "timers_wake_a_one_worker_runtime_whose_worker_waits_in_a_nested_scope",
        || {
            let rt = rt(1);
            let order = Mutex::new(Vec::new());
            rt.scope(|s| {
                let order = &order;
                s.spawn(async move {
                    // The only worker blocks in this scope; it must keep
                    // running the timer tasks it is waiting for.
                    paddock::scope(|inner| {
                        inner.spawn(async {
                            Timer::after(Duration::from_millis(30)).await;
                            order.lock().unwrap().push("late");
                        });
                        inner.spawn(async {
                            Timer::after(Duration::from_millis(5)).await;
                            order.lock().unwrap().push("early");
                        });
                    });
                    order.lock().unwrap().push("scope");
                });
            });
            assert_eq!(order.into_inner().unwrap(), ["early", "late", "scope"]);
        },
    );
}
