//! One heap allocation per spawned task.
//!
//! A counting global allocator counts the allocation calls made by the current
//! thread while counting is switched on for it, so allocations of the test
//! harness, of other tests and of the runtime's other threads (worker start-up,
//! idle lists, epoch garbage) never reach the count.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{rt, watchdog, LIMIT};
use paddock::yield_now;

struct Counting;

thread_local! {
    // `const` and free of destructors: using them allocates nothing.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            COUNT.with(|count| count.set(count.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's obligations are passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's obligations are passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's obligations are passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's obligations are passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns how many allocations this thread made meanwhile.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|count| count.set(0));
    COUNTING.with(|on| on.set(true));
    let result = f();
    COUNTING.with(|on| on.set(false));
    (result, COUNT.with(Cell::get))
}

#[test]
fn the_counter_counts() {
    let (boxed, n) = allocations_in(|| Box::new(1u64));
    assert_eq!(n, 1);
    drop(boxed);
    assert_eq!(allocations_in(|| ()).1, 0);
    let (v, n) = allocations_in(|| std::thread::spawn(|| Box::new(2)).join().unwrap());
    assert!(n >= 1, "spawning a thread allocates on the calling thread");
    drop(v);
}

const BATCH: usize = 16;
const ROUNDS: usize = 64;

/// Calls `spawn` `ROUNDS * BATCH` times from inside a task and returns the
/// allocations those calls made.
///
/// Run on a one-worker runtime: spawns made on a worker go to its LIFO slot
/// and local queue, and between batches the task yields, so the worker runs
/// the batch and its local queue never has to grow. What is left to count is
/// the task allocation itself.
async fn count_spawn_allocations(spawn: impl Fn() + Send) -> usize {
    // Warm up anything a worker sets up on first use.
    (0..BATCH).for_each(|_| spawn());
    yield_now().await;
    let mut total = 0;
    for _ in 0..ROUNDS {
        let ((), n) = allocations_in(|| (0..BATCH).for_each(|_| spawn()));
        total += n;
        yield_now().await;
    }
    total
}

#[test]
fn one_allocation_per_scoped_task() {
    watchdog(LIMIT, "one_allocation_per_scoped_task", || {
        let rt = rt(1);
        let total = rt.scope(|s| {
            let spawn = move || drop(s.spawn(async {}));
            s.spawn(count_spawn_allocations(spawn)).join().unwrap()
        });
        assert_eq!(
            total,
            ROUNDS * BATCH,
            "allocations for {} spawns",
            ROUNDS * BATCH
        );

        // A task with a larger future and output is still one allocation.
        let data = [7u8; 512];
        let data = &data;
        let total = rt.scope(|s| {
            let spawn = move || {
                drop(s.spawn(async move {
                    let copy = *data;
                    yield_now().await;
                    copy
                }))
            };
            s.spawn(count_spawn_allocations(spawn)).join().unwrap()
        });
        assert_eq!(total, ROUNDS * BATCH, "allocations for 512-byte tasks");
    });
}

#[test]
fn one_allocation_per_static_task() {
    watchdog(LIMIT, "one_allocation_per_static_task", || {
        let rt = rt(1);
        let rt = &rt;
        let total = rt.scope(|s| {
            let spawn = move || drop(rt.spawn(async {}));
            s.spawn(count_spawn_allocations(spawn)).join().unwrap()
        });
        assert_eq!(total, ROUNDS * BATCH, "Runtime::spawn on a worker");
        let total = rt.scope(|s| {
            let spawn = || drop(paddock::spawn(async { 1u64 }));
            s.spawn(count_spawn_allocations(spawn)).join().unwrap()
        });
        assert_eq!(total, ROUNDS * BATCH, "paddock::spawn on a worker");
    });
}

#[test]
fn spawns_from_outside_allocate_once_per_task() {
    watchdog(LIMIT, "spawns_from_outside_allocate_once_per_task", || {
        const N: usize = 1000;
        let rt = rt(1);
        // Warm up, then measure a scope with no tasks as the baseline.
        rt.scope(|s| drop(s.spawn(async {})));
        let ((), empty) = allocations_in(|| rt.scope(|_| {}));
        let ((), full) = allocations_in(|| {
            rt.scope(|s| {
                for _ in 0..N {
                    drop(s.spawn(async {}));
                }
            })
        });
        // The injector links tasks through their own headers, so a spawn
        // from outside the pool is one allocation too.
        assert_eq!(
            full - empty,
            N,
            "allocations for {N} spawns from outside the pool"
        );
    });
}
