//! rayon-core's tests (`src/scope/test.rs`, `src/thread_pool/test.rs`,
//! `src/join/test.rs`, `tests/scope_join.rs`, `tests/cross-pool.rs`), ported
//! to paddock in our own code: each doc comment names its original.
//!
//! rayon's `pool.install(f)` runs `f` on a worker of the pool and blocks the
//! caller until it returns; here that is [`install`]: a task of the runtime,
//! joined from a scope. rayon's `join(a, b)` is [`pseudo_join`] (rayon's own
//! `scope_join.rs` emulation): `b` as a task, `a` in the scope's closure.
//!
//! Every test completes with one OS thread per task (rayon's guarantees are
//! weaker: its `mutual_install` passes only because rayon's install from
//! another pool does not block the worker).

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{
    assert_threads_gone, join, named_rt, panic_message, rt, unique_prefix, unwrap_or_resume,
    watchdog, LIMIT,
};
use paddock::{yield_now, Runtime, Scope};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// rayon's `pool.install(f)`: runs `f` as a task of `rt` (so on one of its
/// workers) and returns its result, resuming its panic.
fn install<T: Send>(rt: &Runtime, f: impl FnOnce() -> T + Send) -> T {
    rt.scope(|s| join(s.spawn(async move { f() })))
}

/// rayon's `join` as emulated in its `tests/scope_join.rs`: `b` runs as a
/// task of a scope on the current runtime, `a` in the scope's closure.
fn pseudo_join(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    paddock::scope(|s| {
        drop(s.spawn(async move { b() }));
        a();
    });
}

/// Runs `f`, which must panic with `Hello, world!`; returns nothing.
#[track_caller]
fn expect_hello_panic(what: &str, f: impl FnOnce()) {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => panic!("{what}: the panic was not propagated"),
        Err(payload) => assert_eq!(panic_message(&*payload), "Hello, world!", "{what}"),
    }
}

/// A small deterministic generator (xorshift64*), for the random inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 33) % n
    }
}

// ---------------------------------------------------------------------------
// Cross-pool waits (thread_pool/test.rs, tests/cross-pool.rs)
// ---------------------------------------------------------------------------

/// rayon `thread_pool::test::self_install`: on a one-worker runtime, a task
/// installs more work into its own runtime and waits for it.
#[test]
fn install_into_its_own_runtime() {
    watchdog(LIMIT, "install_into_its_own_runtime", || {
        let rt = rt(1);
        assert!(install(&rt, || install(&rt, || true)));
        assert!(install(&rt, || rt
            .block_on(rt.spawn(async { true }))
            .unwrap()));
    });
}

/// rayon `thread_pool::test::mutual_install`: two one-worker runtimes; a task
/// of the first installs into the second, whose task installs back into the
/// first. The first runtime's only worker is blocked when its second task
/// arrives.
#[test]
fn mutual_install() {
    watchdog(LIMIT, "mutual_install", || {
        let rt1 = rt(1);
        let rt2 = rt(1);
        let ok = install(&rt1, || install(&rt2, || install(&rt1, || true)));
        assert!(ok);
    });
}

/// rayon `thread_pool::test::mutual_install_sleepy`: the same, with a pause
/// at each level so that the other runtime's worker has gone to sleep when
/// the work arrives (rayon pauses 1 s; the outcome does not depend on it).
#[test]
fn mutual_install_sleepy() {
    watchdog(LIMIT, "mutual_install_sleepy", || {
        let rt1 = rt(1);
        let rt2 = rt(1);
        let ok = install(&rt1, || {
            install(&rt2, || {
                thread::sleep(Duration::from_millis(100));
                install(&rt1, || {
                    thread::sleep(Duration::from_millis(100));
                    true
                })
            })
        });
        assert!(ok);
    });
}

/// rayon `tests/cross-pool.rs::cross_pool_busy`: a one-worker runtime runs 100
/// tasks, each installing a tiny job into a second one-worker runtime and
/// waiting for it; the sum is right.
#[test]
fn cross_runtime_busy() {
    watchdog(LIMIT, "cross_runtime_busy", || {
        let rt1 = rt(1);
        let rt2 = rt(1);
        let rt2 = &rt2;
        let n: u64 = 100;
        let sum: u64 = install(&rt1, || {
            paddock::scope(|s| {
                let parts: Vec<_> = (1..=n)
                    .map(|i| s.spawn(async move { install(rt2, move || i) }))
                    .collect();
                parts.into_iter().map(join).sum()
            })
        });
        assert_eq!(sum, n * (n + 1) / 2);
    });
}

/// rayon `thread_pool::test::nested_scopes`: scopes of ten one-worker
/// runtimes nested on the test's thread; from the innermost, one task is
/// spawned on each of the ten scopes, every one borrowing the same counter.
#[test]
fn nested_scopes_of_ten_runtimes() {
    /// Opens a scope of the first runtime and recurses into it; in the
    /// innermost, calls `spawn_on_all`, which by then spawns one task on
    /// every scope opened on the way down.
    fn nest(rts: &[Runtime], counter: &AtomicUsize, spawn_on_all: &dyn Fn()) {
        match rts.split_first() {
            Some((rt, tail)) => rt.scope(|s| {
                let and_this_one = || {
                    spawn_on_all();
                    drop(s.spawn(async move {
                        counter.fetch_add(1, SeqCst);
                    }));
                };
                nest(tail, counter, &and_this_one);
            }),
            None => spawn_on_all(),
        }
    }
    watchdog(LIMIT, "nested_scopes_of_ten_runtimes", || {
        let rts: Vec<Runtime> = (0..10).map(|_| rt(1)).collect();
        let counter = AtomicUsize::new(0);
        nest(&rts, &counter, &|| {});
        assert_eq!(counter.load(SeqCst), rts.len());
    });
}

/// rayon `thread_pool::test::in_place_scope_no_deadlock`: the scope's closure
/// runs on the calling thread, so it may block that thread on a task of the
/// scope (here with a std channel) even on a one-worker runtime.
#[test]
fn scope_closure_may_block_on_its_own_task() {
    watchdog(LIMIT, "scope_closure_may_block_on_its_own_task", || {
        let rt = rt(1);
        let (tx, rx) = mpsc::channel();
        let rx = &rx;
        rt.scope(move |s| {
            drop(s.spawn(async move { tx.send(()).unwrap() }));
            rx.recv().unwrap();
        });
    });
}

/// rayon `thread_pool::test::yield_now_to_spawn`: on one worker, a task that
/// spawns another and then yields finds the other has run when it resumes.
#[test]
fn yield_now_runs_a_just_spawned_task() {
    watchdog(LIMIT, "yield_now_runs_a_just_spawned_task", || {
        let rt = rt(1);
        let ran = Arc::new(AtomicBool::new(false));
        let ran2 = ran.clone();
        unwrap_or_resume(rt.block_on(rt.spawn(async move {
            drop(paddock::spawn(async move { ran2.store(true, SeqCst) }));
            yield_now().await;
            assert!(
                ran.load(SeqCst),
                "the spawned task had not run when yield_now returned"
            );
        })));
    });
}

/// rayon `thread_pool::test::workers_stop` and `sleeper_stop`: dropping a
/// runtime, busy just before or idle for a while, ends all its threads.
#[test]
fn dropping_a_runtime_stops_its_workers() {
    fn join_a_lot(n: usize) {
        if n > 0 {
            pseudo_join(|| join_a_lot(n - 1), || join_a_lot(n - 1));
        }
    }
    watchdog(LIMIT, "dropping_a_runtime_stops_its_workers", || {
        let prefix = unique_prefix("rws");
        let rt = named_rt(22, &prefix);
        install(&rt, || join_a_lot(8));
        drop(rt);
        assert_threads_gone(&prefix);

        let prefix = unique_prefix("rss");
        let rt = named_rt(22, &prefix);
        // Let the workers fall asleep (the outcome does not depend on it).
        thread::sleep(Duration::from_millis(100));
        drop(rt);
        assert_threads_gone(&prefix);
    });
}

// ---------------------------------------------------------------------------
// Scopes (scope/test.rs)
// ---------------------------------------------------------------------------

/// rayon `scope::test::{scope_empty, scope_result, scope_two,
/// mixed_lifetime_scope}`: an empty scope, a scope's value, two tasks
/// adding to one borrowed counter, and tasks borrowing counters through a
/// slice that the scope outlives.
#[test]
fn scope_basics() {
    fn increment(counters: &[&AtomicUsize]) {
        paddock::scope(|s| {
            for &c in counters {
                drop(s.spawn(async move {
                    c.fetch_add(1, SeqCst);
                }));
            }
        });
    }
    watchdog(LIMIT, "scope_basics", || {
        for workers in [1, 2, 4] {
            let rt = rt(workers);
            rt.scope(|_| {});
            assert_eq!(rt.scope(|_| 22), 22);
            let counter = AtomicUsize::new(0);
            rt.scope(|s| {
                let counter = &counter;
                drop(s.spawn(async move { counter.fetch_add(1, SeqCst) }));
                drop(s.spawn(async move { counter.fetch_add(10, SeqCst) }));
            });
            assert_eq!(counter.load(SeqCst), 11);
            let counter = AtomicUsize::new(0);
            install(&rt, || increment(&[&counter; 100]));
            assert_eq!(counter.load(SeqCst), 100);
        }
    });
}

fn divide_and_conquer<'scope>(
    s: &'scope Scope<'scope, '_>,
    leaves: &'scope AtomicUsize,
    size: usize,
) {
    if size > 1 {
        drop(s.spawn(async move { divide_and_conquer(s, leaves, size / 2) }));
        drop(s.spawn(async move { divide_and_conquer(s, leaves, size / 2) }));
    } else {
        leaves.fetch_add(1, SeqCst);
    }
}

/// rayon `scope::test::scope_divide_and_conquer`: tasks split the work by
/// spawning two more tasks on the same scope, down to 1024 leaves.
#[test]
fn scope_divide_and_conquer() {
    watchdog(LIMIT, "scope_divide_and_conquer", || {
        for workers in [1, 2, 4] {
            let rt = rt(workers);
            let leaves = AtomicUsize::new(0);
            rt.scope(|s| {
                let leaves = &leaves;
                drop(s.spawn(async move { divide_and_conquer(s, leaves, 1024) }));
            });
            assert_eq!(leaves.load(SeqCst), 1024, "{workers} worker(s)");
        }
    });
}

struct Tree {
    value: u32,
    children: Vec<Tree>,
}

impl Tree {
    fn random(depth: usize, rng: &mut Rng) -> Tree {
        let children = if depth == 0 {
            Vec::new()
        } else {
            (0..rng.below(4))
                .map(|_| Tree::random(depth - 1, rng))
                .collect()
        };
        Tree {
            value: rng.below(1_000_000) as u32,
            children,
        }
    }

    fn values(&self, out: &mut Vec<u32>) {
        out.push(self.value);
        for child in &self.children {
            child.values(out);
        }
    }

    /// Applies `op` to every value: this node's in the caller, the
    /// children's in tasks of `s`, each with a `&mut` to its own subtree.
    fn update_in_scope<'scope>(
        &'scope mut self,
        op: &'scope (dyn Fn(&mut u32) + Sync),
        s: &'scope Scope<'scope, '_>,
    ) {
        let Tree { value, children } = self;
        drop(s.spawn(async move {
            for child in children {
                drop(s.spawn(async move { child.update_in_scope(op, s) }));
            }
        }));
        op(value);
    }
}

/// rayon `scope::test::update_tree`: a random tree ten levels deep is updated
/// in place, each subtree by a task holding a `&mut` borrow of it.
#[test]
fn update_a_tree_in_place() {
    watchdog(LIMIT, "update_a_tree_in_place", || {
        for workers in [1, 2, 4] {
            let rt = rt(workers);
            let mut tree = Tree::random(10, &mut Rng(0x5EED));
            let mut before = Vec::new();
            tree.values(&mut before);
            let op = |v: &mut u32| *v += 1;
            install(&rt, || paddock::scope(|s| tree.update_in_scope(&op, s)));
            let mut after = Vec::new();
            tree.values(&mut after);
            assert_eq!(before.len(), after.len());
            assert!(
                before.iter().zip(&after).all(|(b, a)| b + 1 == *a),
                "{workers} worker(s)"
            );
        }
    });
}

/// The address of a local of the caller's frame: a measure of stack depth.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Per thread, the spread (highest minus lowest) of the stack positions its
/// tasks were seen at.
fn max_spread_per_thread(seen: &Mutex<Vec<(thread::ThreadId, usize)>>) -> usize {
    let seen = seen.lock().unwrap();
    let mut spread = 0;
    for &(id, _) in seen.iter() {
        let on_it = seen.iter().filter(|(t, _)| *t == id).map(|(_, p)| *p);
        let (lo, hi) = on_it.fold((usize::MAX, 0), |(lo, hi), p| (lo.min(p), hi.max(p)));
        spread = spread.max(hi - lo);
    }
    spread
}

fn countdown<'scope>(
    s: &'scope Scope<'scope, '_>,
    seen: &'scope Mutex<Vec<(thread::ThreadId, usize)>>,
    n: usize,
) {
    seen.lock()
        .unwrap()
        .push((thread::current().id(), stack_position()));
    if n > 0 {
        drop(s.spawn(async move { countdown(s, seen, n - 1) }));
    }
}

/// rayon `scope::test::linear_stack_growth`: a chain of tasks, each spawning
/// the next, must not nest on the stack: on one worker, the stack depth at
/// which the tasks run is as spread out for a chain of 500 as for 5. (Measured
/// per thread, as the spread of depths at which each thread ran them.)
#[test]
fn a_chain_of_spawns_does_not_grow_the_stack() {
    watchdog(LIMIT, "a_chain_of_spawns_does_not_grow_the_stack", || {
        let rt = rt(1);
        let spread = |n| {
            let seen = Mutex::new(Vec::new());
            install(&rt, || paddock::scope(|s| countdown(s, &seen, n)));
            max_spread_per_thread(&seen)
        };
        let (short, long) = (spread(5), spread(500));
        assert!(
            long <= short + 16 * 1024,
            "tasks of a chain of 500 spawns ran across {long} bytes of one thread's stack, \
             against {short} for a chain of 5: the chain nests on the stack"
        );
    });
}

/// rayon `scope::test::{panic_propagate_scope, panic_propagate_spawn,
/// panic_propagate_nested_spawn, panic_propagate_nested_scope_spawn}`: a
/// panic in the closure, in a task, in a task three spawns deep, and in a
/// task of a scope nested in a task, comes out of the outer scope with its
/// message.
#[test]
fn panics_propagate_out_of_scopes() {
    watchdog(LIMIT, "panics_propagate_out_of_scopes", || {
        for workers in [1, 2] {
            let rt = rt(workers);
            expect_hello_panic("closure", || rt.scope(|_| panic!("Hello, world!")));
            expect_hello_panic("task", || {
                rt.scope(|s| drop(s.spawn(async { panic!("Hello, world!") })))
            });
            expect_hello_panic("task three spawns deep", || {
                rt.scope(|s| {
                    drop(s.spawn(async move {
                        drop(s.spawn(async move {
                            drop(s.spawn(async { panic!("Hello, world!") }));
                        }));
                    }))
                })
            });
            expect_hello_panic("task of a nested scope", || {
                rt.scope(|s| {
                    drop(s.spawn(async {
                        paddock::scope(|s| drop(s.spawn(async { panic!("Hello, world!") })))
                    }))
                })
            });
        }
    });
}

/// rayon `scope::test::panic_propagate_still_execute_{1,2,3,4}`: a panic, in
/// a task spawned before or after another, or in the closure after a spawn,
/// never keeps the other task (or the rest of the closure) from running.
#[test]
fn a_panic_does_not_keep_other_work_from_running() {
    watchdog(
        LIMIT,
        "a_panic_does_not_keep_other_work_from_running",
        || {
            for workers in [1, 2] {
                let rt = rt(workers);
                for panicking_first in [true, false] {
                    let mut x = false;
                    expect_hello_panic("task", || {
                        rt.scope(|s| {
                            let boom = async { panic!("Hello, world!") };
                            if panicking_first {
                                drop(s.spawn(boom));
                                drop(s.spawn(async { x = true }));
                            } else {
                                drop(s.spawn(async { x = true }));
                                drop(s.spawn(boom));
                            }
                        })
                    });
                    assert!(x, "{workers} worker(s): the other task did not run");
                }
                let mut x = false;
                expect_hello_panic("closure", || {
                    rt.scope(|s| {
                        drop(s.spawn(async { x = true }));
                        panic!("Hello, world!");
                    })
                });
                assert!(
                    x,
                    "{workers} worker(s): a task spawned before the closure's panic did not run"
                );
                let mut x = false;
                expect_hello_panic("task, then the closure goes on", || {
                    rt.scope(|s| {
                        drop(s.spawn(async { panic!("Hello, world!") }));
                        x = true;
                    })
                });
                assert!(
                    x,
                    "{workers} worker(s): a task's panic cut the closure short"
                );
            }
        },
    );
}

// ---------------------------------------------------------------------------
// join (join/test.rs, tests/scope_join.rs)
// ---------------------------------------------------------------------------

fn quick_sort<T: PartialOrd + Send>(v: &mut [T]) {
    if v.len() <= 1 {
        return;
    }
    // Lomuto partition around the last element.
    let pivot = v.len() - 1;
    let mut store = 0;
    for i in 0..pivot {
        if v[i] <= v[pivot] {
            v.swap(store, i);
            store += 1;
        }
    }
    v.swap(store, pivot);
    let (lo, hi) = v.split_at_mut(store);
    pseudo_join(|| quick_sort(lo), || quick_sort(hi));
}

/// rayon `join::test::sort_in_pool` and `tests/scope_join.rs::scope_join`:
/// a parallel quicksort, one nested scope per split, sorts 12,288 random
/// numbers (and 256 in reverse order) on 1, 2 and 4 workers.
#[test]
fn quick_sort_with_nested_scopes() {
    watchdog(30, "quick_sort_with_nested_scopes", || {
        for workers in [1, 2, 4] {
            let rt = rt(workers);
            let mut rng = Rng(0xC0FFEE + workers as u64);
            let mut data: Vec<u32> = (0..12 * 1024).map(|_| rng.next() as u32).collect();
            let mut expected = data.clone();
            expected.sort();
            install(&rt, || quick_sort(&mut data));
            assert!(data == expected, "{workers} worker(s): not sorted");
            let mut reversed: Vec<i32> = (0..256).rev().collect();
            install(&rt, || quick_sort(&mut reversed));
            assert!(reversed.windows(2).all(|w| w[0] <= w[1]));
        }
    });
}

/// rayon `join::test::{panic_propagate_a, panic_propagate_b,
/// panic_b_still_executes}`: a panic in either half of a join propagates
/// with its message, and the other half still runs.
#[test]
fn a_panic_in_either_half_of_a_join_propagates() {
    watchdog(LIMIT, "a_panic_in_either_half_of_a_join_propagates", || {
        let rt = rt(2);
        let mut b_ran = false;
        expect_hello_panic("first half", || {
            install(&rt, || {
                pseudo_join(|| panic!("Hello, world!"), || b_ran = true)
            })
        });
        assert!(b_ran, "the second half did not run");
        let mut a_ran = false;
        expect_hello_panic("second half", || {
            install(&rt, || {
                pseudo_join(|| a_ran = true, || panic!("Hello, world!"))
            })
        });
        assert!(a_ran, "the first half did not run");
    });
}
