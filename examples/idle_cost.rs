//! What a runtime costs when it has nothing to do, and what one spawn costs
//! the heap: for paddock and its peers, each in turn with the same number of
//! workers (default 2; `cargo run --release --example idle_cost -- 4`).
//!
//! - Idle CPU: the process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`, all
//!   threads, nanosecond resolution) over 2 s of sleep, starting the moment
//!   a burst of work has finished, so any spinning before the workers park
//!   counts.
//! - Allocations per task: a counting global allocator; the allocations of a
//!   run of 10,000 trivial spawns, less those of the same run with no spawns,
//!   divided by 10,000. Handles are kept in a vector allocated beforehand.
//!
//! Prints a markdown table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// The global allocator: `System`, counting every allocation (`alloc`,
/// `alloc_zeroed` and `realloc` each count one).
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments,
// which meet `System`'s requirements because they meet `GlobalAlloc`'s.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The CPU time of the whole process, all threads, so far.
#[cfg(target_os = "linux")]
fn process_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut time = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid, writable `struct timespec` (two 64-bit
    // fields on the 64-bit Linux targets), and the clock id is Linux's.
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut time) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

#[cfg(not(target_os = "linux"))]
fn process_cpu_time() -> Duration {
    panic!("idle_cost reads the process CPU clock of Linux only")
}

const TASKS: usize = 10_000;
const IDLE: Duration = Duration::from_secs(2);

struct Row {
    runtime: &'static str,
    idle_cpu: Duration,
    allocations_per_task: f64,
}

/// Measures one runtime. `run(n)` spawns `n` trivial tasks and waits for
/// them.
fn measure(runtime: &'static str, mut run: impl FnMut(usize)) -> Row {
    // Warm up: threads started, queues and caches grown to size.
    run(TASKS);
    run(0);
    let before = ALLOCATIONS.load(Relaxed);
    run(0);
    let fixed = ALLOCATIONS.load(Relaxed) - before;
    let before = ALLOCATIONS.load(Relaxed);
    run(TASKS);
    let with_tasks = ALLOCATIONS.load(Relaxed) - before;
    let allocations_per_task = with_tasks.saturating_sub(fixed) as f64 / TASKS as f64;

    // A burst of work, then idleness: the clock starts as the burst ends.
    run(TASKS);
    let start = process_cpu_time();
    std::thread::sleep(IDLE);
    let idle_cpu = process_cpu_time() - start;
    Row {
        runtime,
        idle_cpu,
        allocations_per_task,
    }
}

fn main() {
    let workers: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("the argument is a number of workers"),
        None => 2,
    };
    let mut rows = Vec::new();

    {
        let rt = paddock::Runtime::builder()
            .worker_threads(workers)
            .build()
            .unwrap();
        rows.push(measure("paddock (scope)", |n| {
            rt.scope(|s| {
                for _ in 0..n {
                    s.spawn(async {});
                }
            })
        }));
        let mut handles = Vec::with_capacity(TASKS);
        rows.push(measure("paddock (spawn + await)", |n| {
            rt.block_on(async {
                handles.extend((0..n).map(|_| paddock::spawn(async {})));
                for handle in handles.drain(..) {
                    handle.await.unwrap();
                }
            })
        }));
        // `join` is a `block_on` of its own on this thread.
        rows.push(measure("paddock (spawn + join)", |n| {
            handles.extend((0..n).map(|_| rt.spawn(async {})));
            for handle in handles.drain(..) {
                handle.join().unwrap();
            }
        }));
    }

    {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap();
        let mut handles = Vec::with_capacity(TASKS);
        rows.push(measure("tokio (spawn + await)", |n| {
            rt.block_on(async {
                handles.extend((0..n).map(|_| tokio::spawn(async {})));
                for handle in handles.drain(..) {
                    handle.await.unwrap();
                }
            })
        }));
        rt.shutdown_timeout(Duration::from_secs(1));
    }

    {
        let ex: &'static async_executor::Executor<'static> =
            Box::leak(Box::new(async_executor::Executor::new()));
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads: Vec<_> = (0..workers)
            .map(|_| {
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    let _ = futures_lite::future::block_on(ex.run(stopped.recv()));
                })
            })
            .collect();
        let mut tasks = Vec::with_capacity(TASKS);
        rows.push(measure("async-executor (spawn + await)", |n| {
            futures_lite::future::block_on(async {
                tasks.extend((0..n).map(|_| ex.spawn(async {})));
                for task in tasks.drain(..) {
                    task.await;
                }
            })
        }));
        drop(stop);
        threads.into_iter().for_each(|t| t.join().unwrap());
    }

    {
        let pool = bevy_tasks::TaskPoolBuilder::new()
            .num_threads(workers)
            .build();
        rows.push(measure("bevy_tasks (scope)", |n| {
            pool.scope_with_executor(false, None, |s| {
                for _ in 0..n {
                    s.spawn(async {});
                }
            });
        }));
    }

    {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap();
        rows.push(measure("rayon (scope)", |n| {
            pool.scope(|s| {
                for _ in 0..n {
                    s.spawn(|_| {});
                }
            })
        }));
    }

    println!("| runtime ({workers} workers) | idle CPU in {IDLE:?} | allocations per task |");
    println!("|---|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.3} ms | {:.3} |",
            row.runtime,
            row.idle_cpu.as_secs_f64() * 1e3,
            row.allocations_per_task
        );
    }
}
