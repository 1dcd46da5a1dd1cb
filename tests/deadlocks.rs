//! Blocking waits must add no dependency that the program did not write
//! (DESIGN §2, WAITS.md): every program here completes with one OS thread per
//! task, so it must complete on paddock too, on any worker count, 1 included.
//!
//! Each test reproduces one failure of issue 10 (numbered as there), in
//! several variants: how the waiting frame waits (`scope`, `join`,
//! `block_on`), on 1, 2 and 4 workers. The variants of a test run at once,
//! each on its own thread and runtimes, under one time limit, and a failure
//! names every variant that hung or panicked. A hung variant is parked, not
//! spinning, so it costs the rest of the run no CPU.

mod common;

use std::future::{poll_fn, Future};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    child_test, join, named_rt, panic_message, rt, run_child, sleep, thread_name, unique_prefix,
    unwrap_or_resume, wait_until, watchdog, Event,
};
use paddock::{yield_now, JoinHandle, Runtime, Scope};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// One variant of a scenario: its name and its body.
type Case = (String, Box<dyn FnOnce() + Send>);

fn case(name: impl Into<String>, body: impl FnOnce() + Send + 'static) -> Case {
    (name.into(), Box::new(body))
}

/// Runs every case at once, each on a thread of its own, and fails naming
/// every case that panicked or had not finished within `secs` seconds.
fn all_finish(secs: u64, name: &str, cases: Vec<Case>) {
    common::quiet_expected_panics();
    let (tx, rx) = mpsc::channel::<(usize, Option<String>)>();
    let names: Vec<String> = cases.iter().map(|(n, _)| n.clone()).collect();
    for (i, (_, body)) in cases.into_iter().enumerate() {
        let tx = tx.clone();
        thread::Builder::new()
            .name(format!("case:{i}"))
            .spawn(move || {
                let result = panic::catch_unwind(AssertUnwindSafe(body));
                let _ = tx.send((i, result.err().map(|p| panic_message(&*p))));
            })
            .expect("spawning a case thread");
    }
    drop(tx);
    let secs = common::scaled_secs(secs);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut finished = vec![false; names.len()];
    let mut panicked = Vec::new();
    while finished.iter().any(|f| !f) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, outcome)) => {
                finished[i] = true;
                if let Some(message) = outcome {
                    panicked.push(format!("{}: {message}", names[i]));
                }
            }
            Err(_) => break,
        }
    }
    let hung: Vec<&str> = names
        .iter()
        .zip(&finished)
        .filter(|(_, f)| !**f)
        .map(|(n, _)| n.as_str())
        .collect();
    if !hung.is_empty() || !panicked.is_empty() {
        panic!(
            "{name}: {} of {} variants failed\n  hung (not done within {secs} s): {hung:?}\n  panicked: {panicked:#?}",
            hung.len() + panicked.len(),
            names.len()
        );
    }
}

/// How a task waits for a task of its own.
#[derive(Clone, Copy, Debug)]
enum Wait {
    /// A nested `paddock::scope` whose one task is the awaited work.
    Scope,
    /// `JoinHandle::join` of a sibling spawned on the enclosing scope.
    Join,
    /// `paddock::block_on` of a sibling's handle.
    BlockOn,
    /// A nested `paddock::scope` that joins its one task.
    ScopeJoin,
}

const WAITS: [Wait; 4] = [Wait::Scope, Wait::Join, Wait::BlockOn, Wait::ScopeJoin];

/// Blocks the calling task until `work` has run to completion, waiting the
/// way `how` says. `s` is the scope the calling task belongs to.
fn wait_for<'scope, 'env, F>(s: &'scope Scope<'scope, 'env>, how: Wait, work: F)
where
    F: Future<Output = ()> + Send + 'scope,
{
    match how {
        Wait::Scope => paddock::scope(|inner| drop(inner.spawn(work))),
        Wait::Join => join(s.spawn(work)),
        Wait::BlockOn => paddock::block_on(s.spawn(work)).unwrap(),
        Wait::ScopeJoin => paddock::scope(|inner| join(inner.spawn(work))),
    }
}

// ---------------------------------------------------------------------------
// 2(a): helping with a sibling nests its frame on top of the waiting one.
// ---------------------------------------------------------------------------

/// Two sibling tasks each wait (nested scope, join or block_on) for a child.
/// The first one's child only yields; the first sets `flag` once its wait is
/// over. The second one's child awaits `flag`. With a thread per task this
/// always completes. A worker that, waiting in the first sibling, helps by
/// running the second sibling on top of it can never return to the first:
/// the second waits for the flag, which the first sets only after returning.
fn siblings_with_nested_waits(rt: &Runtime, how: Wait, flag_setter_first: bool) {
    let flag = Event::new();
    rt.scope(|s| {
        let flag = &flag;
        let setter = async move {
            wait_for(s, how, async {
                for _ in 0..3 {
                    yield_now().await;
                }
            });
            flag.set();
        };
        let waiter = async move {
            wait_for(s, how, flag.wait());
        };
        if flag_setter_first {
            drop(s.spawn(setter));
            drop(s.spawn(waiter));
        } else {
            drop(s.spawn(waiter));
            drop(s.spawn(setter));
        }
    });
    assert!(flag.is_set());
}

/// Issue 10, failure 2(a): two sibling tasks that each open a nested scope (or
/// join, or block_on); the second one's child awaits a flag that the first
/// sets after its own wait returns. Deadlocked on 1 worker at 59dfdf3.
#[test]
fn sibling_waits_do_not_nest_on_each_other() {
    let mut cases = Vec::new();
    for workers in [1, 2, 4] {
        for how in WAITS {
            for setter_first in [true, false] {
                cases.push(case(
                    format!("{workers} worker(s), {how:?}, setter spawned first: {setter_first}"),
                    move || siblings_with_nested_waits(&rt(workers), how, setter_first),
                ));
            }
        }
    }
    all_finish(10, "sibling_waits_do_not_nest_on_each_other", cases);
}

/// The same, one level down: the two siblings live in a scope that a task
/// opened (the waiting frames are two deep on the worker's stack).
#[test]
fn sibling_waits_inside_a_task_do_not_nest_on_each_other() {
    let mut cases = Vec::new();
    for workers in [1, 2] {
        for how in WAITS {
            cases.push(case(format!("{workers} worker(s), {how:?}"), move || {
                let rt = rt(workers);
                let rt = &rt;
                rt.scope(|s| {
                    join(s.spawn(async move {
                        siblings_with_nested_waits(rt, how, true);
                        siblings_with_nested_waits(rt, how, false);
                    }))
                });
            }));
        }
    }
    all_finish(
        10,
        "sibling_waits_inside_a_task_do_not_nest_on_each_other",
        cases,
    );
}

/// A chain: sibling `i`'s child awaits the flag that sibling `i + 1` sets after
/// its own wait returns; the last sibling's child only yields. Spawned in
/// chain order, so a worker that helps with the newest sibling first, or with
/// the oldest first, nests waits in the wrong order either way for some link.
#[test]
fn a_chain_of_sibling_waits_completes() {
    const LINKS: usize = 16;
    let mut cases = Vec::new();
    for workers in [1, 2, 4] {
        for how in WAITS {
            for reversed in [false, true] {
                cases.push(case(
                    format!("{workers} worker(s), {how:?}, spawned in reverse: {reversed}"),
                    move || {
                        let rt = rt(workers);
                        let flags: Vec<Event> = (0..=LINKS).map(|_| Event::new()).collect();
                        rt.scope(|s| {
                            let mut order: Vec<usize> = (0..LINKS).collect();
                            if reversed {
                                order.reverse();
                            }
                            for i in order {
                                let (mine, next) = (&flags[i], &flags[i + 1]);
                                let last = i + 1 == LINKS;
                                drop(s.spawn(async move {
                                    wait_for(s, how, async move {
                                        if last {
                                            yield_now().await;
                                        } else {
                                            next.wait().await;
                                        }
                                    });
                                    mine.set();
                                }));
                            }
                        });
                        assert!(flags[..LINKS].iter().all(Event::is_set));
                    },
                ));
            }
        }
    }
    all_finish(10, "a_chain_of_sibling_waits_completes", cases);
}

/// A task queues `releaser` (which sets the gate), then the first link of
/// a chain: each link spawns the next, then blocks on the gate. A worker
/// runs the child of the task it just ran next (`core`, step 3 of the main
/// loop), so links run ahead of `releaser` and block, each handing the
/// worker to a spare thread; the LIFO slot's limit of 3 turns in a row is
/// what lets `releaser` run on the fourth thread. One worker and 3 spares
/// (`max_blocking_threads`): with that limit gone, the links fill the cap,
/// and the frame left holding the core runs only its own tasks, which wait
/// for the gate (a hang). Before that order existed, the `BlockOn` variant
/// hung here: links ran ahead of the children their `block_on`s wait for.
#[test]
fn a_chain_of_blocking_spawns_lets_an_older_task_release_it() {
    const LINKS: usize = 64;
    fn link<'scope>(s: &'scope Scope<'scope, '_>, gate: &'scope Event, how: Wait, left: usize) {
        drop(s.spawn(async move {
            if left > 1 {
                link(s, gate, how, left - 1);
            }
            wait_for(s, how, gate.wait());
        }));
    }
    let mut cases = Vec::new();
    for how in WAITS {
        cases.push(case(format!("{how:?}"), move || {
            let rt = common::capped_rt(1, 3);
            let gate = Event::new();
            rt.scope(|s| {
                let gate = &gate;
                drop(s.spawn(async move {
                    drop(s.spawn(async move { gate.set() }));
                    link(s, gate, how, LINKS);
                }));
            });
            assert!(gate.is_set());
        }));
    }
    all_finish(
        10,
        "a_chain_of_blocking_spawns_lets_an_older_task_release_it",
        cases,
    );
}

// ---------------------------------------------------------------------------
// 2(b): thousands of blocked siblings, in a child process.
// ---------------------------------------------------------------------------

/// Selects the scenario that `child_process_entry` runs.
const CHILD_ENV: &str = "PADDOCK_DEADLOCKS_CHILD";

/// Siblings that each block (`block_on`) on one gate.
const BLOCK_ON_SIBLINGS: usize = 100_000;
/// Siblings that each open a nested scope whose task awaits the gate.
const SCOPE_SIBLINGS: usize = 20_000;
/// Siblings that each join a task that awaits the gate.
const JOIN_SIBLINGS: usize = 20_000;
/// How long the outside thread keeps the gate shut.
const GATE_MS: u64 = 2000;

/// `siblings` tasks in one scope on one worker, each blocking on `gate`
/// through `how`, until an outside thread opens the gate. Prints the count.
fn blocked_siblings(siblings: usize, how: Wait) {
    let rt = rt(1);
    let gate = Event::new();
    let done = AtomicUsize::new(0);
    thread::scope(|threads| {
        threads.spawn(|| {
            thread::sleep(Duration::from_millis(GATE_MS));
            gate.set();
        });
        rt.scope(|s| {
            for _ in 0..siblings {
                let (gate, done) = (&gate, &done);
                drop(s.spawn(async move {
                    match how {
                        Wait::BlockOn => paddock::block_on(gate.wait()),
                        other => wait_for(s, other, gate.wait()),
                    }
                    done.fetch_add(1, SeqCst);
                }));
            }
        });
    });
    println!("completed {} of {siblings}", done.load(SeqCst));
}

/// The child side of `thousands_of_blocked_siblings_neither_overflow_nor_hang`:
/// runs the scenario that `PADDOCK_DEADLOCKS_CHILD` names.
#[test]
#[ignore = "run as a child process by thousands_of_blocked_siblings_neither_overflow_nor_hang"]
fn child_process_entry() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("block_on") => blocked_siblings(BLOCK_ON_SIBLINGS, Wait::BlockOn),
        Ok("scope") => blocked_siblings(SCOPE_SIBLINGS, Wait::Scope),
        Ok("join") => blocked_siblings(JOIN_SIBLINGS, Wait::Join),
        other => panic!("{CHILD_ENV} names no scenario: {other:?}"),
    }
}

/// Issue 10, failure 2(b): 100,000 sibling tasks on one worker, each blocked in
/// `paddock::block_on` on a gate that an outside thread opens 2 s later. With a
/// thread per task this completes; at 59dfdf3 each blocked task ran the next on
/// top of its own frame: `fatal runtime error: stack overflow`. Also 20,000
/// siblings each waiting in a nested scope, and 20,000 each joining a task.
/// Each scenario runs in a child process, so an overflow is a failed exit
/// status here rather than the end of this test binary.
#[test]
fn thousands_of_blocked_siblings_neither_overflow_nor_hang() {
    // The three children run at once: each mostly waits for its gate.
    let children: Vec<_> = [
        ("block_on", BLOCK_ON_SIBLINGS),
        ("scope", SCOPE_SIBLINGS),
        ("join", JOIN_SIBLINGS),
    ]
    .into_iter()
    .map(|(scenario, siblings)| {
        (
            scenario,
            siblings,
            thread::spawn(move || {
                run_child(
                    child_test("child_process_entry").env(CHILD_ENV, scenario),
                    30,
                )
            }),
        )
    })
    .collect();
    let mut failures = Vec::new();
    for (scenario, siblings, child) in children {
        let run = child.join().unwrap();
        let (stdout, stderr) = (&run.stdout, &run.stderr);
        let expected = format!("completed {siblings} of {siblings}");
        let ok = !run.killed && run.status.success() && stdout.contains(&expected);
        if !ok {
            let tail: String = {
                let lines: Vec<&str> = stderr.lines().collect();
                lines[lines.len().saturating_sub(6)..].join("\n    ")
            };
            failures.push(format!(
                "{siblings} siblings waiting by {scenario}: exit {}; stdout says {:?}; stderr ends:\n    {tail}",
                if run.killed {
                    "none (killed after 30 s: hung)".to_string()
                } else {
                    run.status.to_string()
                },
                stdout.lines().find(|l| l.starts_with("completed")).unwrap_or("nothing"),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// 3: two runtimes waiting on each other.
// ---------------------------------------------------------------------------

/// How a task of one runtime waits for work it hands to another runtime.
#[derive(Clone, Copy, Debug)]
enum Across {
    /// `rt.scope` whose one task runs the work.
    Scope,
    /// `rt.spawn(..).join()`.
    Join,
    /// `rt.block_on(rt.spawn(..))`.
    BlockOn,
}

const ACROSS: [Across; 3] = [Across::Scope, Across::Join, Across::BlockOn];

/// Runs `work` as a task of `rt` and blocks the calling thread until it is
/// done, the way `how` says.
fn run_on<T: Send + 'static>(
    rt: &Runtime,
    how: Across,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    match how {
        Across::Scope => {
            let mut out = None;
            rt.scope(|s| drop(s.spawn(async { out = Some(work()) })));
            out.expect("the scope's task ran")
        }
        Across::Join => join(rt.spawn(async move { work() })),
        Across::BlockOn => unwrap_or_resume(rt.block_on(rt.spawn(async move { work() }))),
    }
}

/// Issue 10, failure 3 (rayon's `mutual_install`, every combination of waits):
/// a task of runtime 1 waits for a task of runtime 2, which waits for a task
/// of runtime 1; one worker each. At 59dfdf3 a worker blocked on another
/// runtime's work parked, so runtime 1's only worker could not run the
/// innermost task.
#[test]
fn two_runtimes_wait_on_each_other() {
    let mut cases = Vec::new();
    for first in ACROSS {
        for second in ACROSS {
            cases.push(case(
                format!("rt1 -{first:?}-> rt2 -{second:?}-> rt1"),
                move || {
                    let rt1 = Arc::new(rt(1));
                    let rt2 = Arc::new(rt(1));
                    let (a, b) = (rt1.clone(), rt2.clone());
                    let out = run_on(&rt1, Across::Join, move || {
                        run_on(&b, first, move || run_on(&a, second, || 42))
                    });
                    assert_eq!(out, 42);
                },
            ));
        }
    }
    all_finish(10, "two_runtimes_wait_on_each_other", cases);
}

/// A longer cycle: rt1 -> rt2 -> rt3 -> rt1 -> rt2, one worker each, so
/// that the only workers of rt1 and rt2 are each blocked while their runtime
/// must run one more task.
#[test]
fn three_runtimes_wait_in_a_cycle() {
    let mut cases = Vec::new();
    for how in ACROSS {
        cases.push(case(format!("{how:?}"), move || {
            let rts: Vec<Arc<Runtime>> = (0..3).map(|_| Arc::new(rt(1))).collect();
            let (r1, r2, r3) = (rts[0].clone(), rts[1].clone(), rts[2].clone());
            let out = run_on(&rts[0], how, move || {
                run_on(&r2.clone(), how, move || {
                    run_on(&r3, how, move || {
                        run_on(&r1, how, move || run_on(&r2, how, || 7))
                    })
                })
            });
            assert_eq!(out, 7);
            // The runtimes outlive every task that holds a clone of them.
            drop(rts);
        }));
    }
    all_finish(10, "three_runtimes_wait_in_a_cycle", cases);
}

// ---------------------------------------------------------------------------
// 4: a task stranded in the LIFO slot of a worker that blocks elsewhere.
// ---------------------------------------------------------------------------

/// Issue 10, failure 4: on runtime Y, task T wakes its sibling S (which goes to
/// T's worker's LIFO slot, where no other worker can steal it), then blocks on
/// runtime X until S has run: S sets the event that X's wait needs. At
/// 59dfdf3 S was never run, even with idle workers on Y.
#[test]
fn a_woken_sibling_runs_while_its_waker_blocks_on_another_runtime() {
    let mut cases = Vec::new();
    for workers in [1, 2, 4] {
        for how in ACROSS {
            cases.push(case(
                format!("Y with {workers} worker(s), X waited by {how:?}"),
                move || {
                    let x = rt(1);
                    let y = rt(workers);
                    let s_waiting = Arc::new(Event::new());
                    let go = Arc::new(Event::new());
                    let s_ran = Arc::new(Event::new());
                    y.scope(|s| {
                        let (s_waiting, go, s_ran) = (&s_waiting, &go, &s_ran);
                        // S: waits for T's wake, then lets X's wait finish.
                        drop(s.spawn(async move {
                            s_waiting.set();
                            go.wait().await;
                            s_ran.set();
                        }));
                        // T: wakes S from a worker, then blocks on X.
                        let x = &x;
                        drop(s.spawn(async move {
                            s_waiting.wait().await;
                            go.set();
                            let s_ran = s_ran.clone();
                            match how {
                                Across::BlockOn => x.block_on(s_ran.wait()),
                                Across::Scope => x.scope(|sx| drop(sx.spawn(s_ran.wait()))),
                                Across::Join => join(x.spawn(async move { s_ran.wait().await })),
                            }
                        }));
                    });
                    assert!(s_ran.is_set());
                },
            ));
        }
    }
    all_finish(
        10,
        "a_woken_sibling_runs_while_its_waker_blocks_on_another_runtime",
        cases,
    );
}

/// A `'static` task of Y is blocked on runtime X (a gate that an outside
/// thread opens a moment later) when Y is dropped: `drop(Y)` lets the poll in
/// progress finish, so it returns only after the task's wait on X is over and
/// the code after it has run. Neither the drop nor the wait hangs.
#[test]
fn dropping_a_runtime_whose_task_waits_on_another_runtime() {
    let mut cases = Vec::new();
    for workers in [1, 2] {
        for how in ACROSS {
            cases.push(case(
                format!("Y with {workers} worker(s), X waited by {how:?}"),
                move || {
                    let x = Arc::new(rt(1));
                    let y = rt(workers);
                    let gate = Arc::new(Event::new());
                    let entered = Arc::new(AtomicBool::new(false));
                    let finished = Arc::new(AtomicBool::new(false));
                    {
                        let (x, gate) = (x.clone(), gate.clone());
                        let (entered, finished) = (entered.clone(), finished.clone());
                        drop(y.spawn(async move {
                            entered.store(true, SeqCst);
                            match how {
                                Across::BlockOn => x.block_on(gate.wait()),
                                Across::Scope => x.scope(|sx| drop(sx.spawn(gate.wait()))),
                                Across::Join => join(x.spawn(async move { gate.wait().await })),
                            }
                            finished.store(true, SeqCst);
                        }));
                    }
                    wait_until(|| entered.load(SeqCst));
                    let opener = thread::spawn(move || {
                        thread::sleep(Duration::from_millis(30));
                        gate.set();
                    });
                    drop(y);
                    assert!(
                        finished.load(SeqCst),
                        "drop(Y) returned while Y's task was still in its poll"
                    );
                    opener.join().unwrap();
                },
            ));
        }
    }
    all_finish(
        10,
        "dropping_a_runtime_whose_task_waits_on_another_runtime",
        cases,
    );
}

// ---------------------------------------------------------------------------
// 5: a task must run with its own runtime as the current one.
// ---------------------------------------------------------------------------

/// Asserts, from inside a task of the runtime whose workers are named
/// `prefix*`, that the task runs on such a thread and that the free functions
/// (`paddock::spawn`, `paddock::block_on`, `paddock::scope`) use that runtime:
/// a probe task made with each must run on a `prefix*` thread.
///
/// `helper` names a thread of another runtime that blocks waiting for this
/// task, and so may run it (and the probes it waits for) itself: a waiting
/// frame may help with the work it waits for. Such a thread is accepted too.
///
/// (Assumes that whatever thread runs a runtime's tasks without waiting for
/// them, worker or spare, is named by that runtime's `thread_name`.)
fn assert_current_runtime_is(prefix: &str, what: &str, helper: Option<&str>) {
    let fits = |name: &str| name.starts_with(prefix) || helper == Some(name);
    let here = thread_name();
    assert!(
        fits(&here),
        "{what} runs on thread {here:?}, not one of its runtime's ({prefix}*)"
    );
    let probe = paddock::spawn(async { thread_name() });
    let there = paddock::block_on(probe).expect("probe task");
    assert!(
        fits(&there),
        "{what}: `paddock::spawn` used another runtime: its task ran on {there:?}, not on {prefix}*"
    );
    let there = paddock::scope(|s| join(s.spawn(async { thread_name() })));
    assert!(
        fits(&there),
        "{what}: `paddock::scope` used another runtime: its task ran on {there:?}, not on {prefix}*"
    );
}

/// Where a task of Y waits on runtime X for a task of Y.
#[derive(Clone, Copy, Debug)]
enum ForeignFrame {
    /// `x.scope(|_| y_handle.join())`, with a task of X in that scope too.
    ScopeJoin,
    /// `x.block_on(async { y_handle.join() })`.
    BlockOnJoin,
    /// `x.block_on(y_handle)`.
    BlockOnAwait,
}

/// Issue 10, failure 5: a worker of Y, inside a frame of runtime X, waits for
/// a task of Y. That task, wherever it runs, must see Y as the current
/// runtime: `paddock::spawn` and `paddock::block_on` go to Y. At 59dfdf3 the
/// task was helped on the waiting thread with X still entered, so its spawns
/// went to X. Both a `'static` handle and a scoped one of Y are tried.
#[test]
fn a_task_runs_with_its_own_runtime_as_the_current_one() {
    let mut cases = Vec::new();
    for workers in [1, 2] {
        for frame in [
            ForeignFrame::ScopeJoin,
            ForeignFrame::BlockOnJoin,
            ForeignFrame::BlockOnAwait,
        ] {
            for scoped in [false, true] {
                cases.push(case(
                    format!("Y with {workers} worker(s), {frame:?}, scoped Y task: {scoped}"),
                    move || wrong_runtime(workers, frame, scoped),
                ));
            }
        }
    }
    all_finish(
        10,
        "a_task_runs_with_its_own_runtime_as_the_current_one",
        cases,
    );
}

/// Runs `outer_task_of_y` as a `'static` task of Y, and waits for it over a
/// std channel: a paddock wait here could run it on this (unnamed) thread.
fn wrong_runtime(y_workers: usize, frame: ForeignFrame, scoped: bool) {
    let (yp, xp) = (unique_prefix("cy"), unique_prefix("cx"));
    let y = Arc::new(named_rt(y_workers, &yp));
    let x = Arc::new(named_rt(1, &xp));
    let (tx, rx) = mpsc::channel();
    {
        let (y, x) = (y.clone(), x.clone());
        drop(y.clone().spawn(async move {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                outer_task_of_y(&y, &x, &yp, &xp, frame, scoped)
            }));
            let _ = tx.send(outcome);
        }));
    }
    if let Err(payload) = rx.recv().expect("the outer task ran") {
        panic::resume_unwind(payload);
    }
}

fn outer_task_of_y(
    y: &Runtime,
    x: &Runtime,
    yp: &str,
    xp: &str,
    frame: ForeignFrame,
    scoped: bool,
) {
    assert_current_runtime_is(yp, "the outer task of Y", None);
    let body = {
        let yp = yp.to_owned();
        async move {
            assert_current_runtime_is(&yp, "the task of Y waited for from X's frame", None);
            // Whatever it spawns and blocks on must be Y's too.
            let nested = paddock::spawn({
                let yp = yp.clone();
                async move { assert_current_runtime_is(&yp, "a task it spawned", None) }
            });
            unwrap_or_resume(paddock::block_on(nested));
        }
    };
    y.scope(|s| {
        let handle: JoinHandle<'_, ()> = if scoped { s.spawn(body) } else { y.spawn(body) };
        match frame {
            ForeignFrame::ScopeJoin => x.scope(|sx| {
                // This thread, a worker of Y, waits for the task of X below
                // and may run it itself.
                let waiter = thread_name();
                let in_x = sx.spawn(async move {
                    assert_current_runtime_is(xp, "a task of X's scope", Some(&waiter))
                });
                join(handle);
                join(in_x);
            }),
            ForeignFrame::BlockOnJoin => x.block_on(async { join(handle) }),
            ForeignFrame::BlockOnAwait => unwrap_or_resume(x.block_on(handle)),
        }
    });
    assert_current_runtime_is(yp, "the outer task of Y, after X's frame", None);
}

// ---------------------------------------------------------------------------
// 6: a wake-up lost by a blocking wait nested inside a poll.
// ---------------------------------------------------------------------------

/// The blocking wait that the future makes inside its own poll.
#[derive(Clone, Copy, Debug)]
enum Inner {
    /// `rt.spawn(..).join()` of a task that awaits the gate.
    Join,
    /// `rt.scope` whose task awaits the gate.
    Scope,
    /// `rt.block_on(gate)`.
    BlockOn,
}

/// A future whose first poll hands a clone of its waker to another thread,
/// which wakes it and then opens `gate`; still inside that poll, the future
/// blocks (`inner`) until the gate is open, then returns `Pending`. The wake
/// happened during the poll, so it must be polled again; its second poll
/// completes.
fn wakes_during_its_own_blocking_wait(rt: Arc<Runtime>, inner: Inner) -> impl Future<Output = ()> {
    let mut polled = false;
    poll_fn(move |cx| {
        if polled {
            return Poll::Ready(());
        }
        polled = true;
        let gate = Arc::new(Event::new());
        let waker = cx.waker().clone();
        let opener = gate.clone();
        thread::spawn(move || {
            waker.wake();
            opener.set();
        });
        match inner {
            Inner::Join => {
                let gate = gate.clone();
                join(rt.spawn(async move { gate.wait().await }));
            }
            Inner::Scope => rt.scope(|s| drop(s.spawn(gate.wait()))),
            Inner::BlockOn => rt.block_on(gate.wait()),
        }
        Poll::Pending
    })
}

/// The issue's own timing: the waker fires 50 ms into the poll, and the poll
/// joins a task that takes 300 ms.
fn wakes_at_50ms_during_a_300ms_join(rt: Arc<Runtime>) -> impl Future<Output = ()> {
    let mut polled = false;
    poll_fn(move |cx| {
        if polled {
            return Poll::Ready(());
        }
        polled = true;
        let waker = cx.waker().clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            waker.wake();
        });
        join(rt.spawn(sleep(300)));
        Poll::Pending
    })
}

/// Issue 10, failure 6: `rt.block_on(f)` where f's first poll is woken from
/// another thread while, inside that poll, f blocks in `join` (or a scope, or
/// a nested block_on). At 59dfdf3 the nested wait on a plain thread consumed
/// the thread's unpark, and block_on then parked for good.
#[test]
fn a_wake_during_a_nested_blocking_wait_is_not_lost() {
    let mut cases = Vec::new();
    for inner in [Inner::Join, Inner::Scope, Inner::BlockOn] {
        cases.push(case(format!("plain thread, {inner:?}"), move || {
            let rt = Arc::new(rt(1));
            rt.block_on(wakes_during_its_own_blocking_wait(rt.clone(), inner));
        }));
        for workers in [1, 2] {
            cases.push(case(
                format!("inside a task, {workers} worker(s), {inner:?}"),
                move || {
                    let rt = Arc::new(rt(workers));
                    let rt2 = rt.clone();
                    join(rt.spawn(async move {
                        rt2.block_on(wakes_during_its_own_blocking_wait(rt2.clone(), inner))
                    }));
                },
            ));
        }
    }
    cases.push(case("plain thread, the issue's 50 ms / 300 ms", || {
        let rt = Arc::new(rt(1));
        rt.block_on(wakes_at_50ms_during_a_300ms_join(rt.clone()));
    }));
    cases.push(case(
        "plain thread, paddock::block_on, 50 ms / 300 ms",
        || {
            let rt = Arc::new(rt(2));
            let rt2 = rt.clone();
            rt.scope(|_| paddock::block_on(wakes_at_50ms_during_a_300ms_join(rt2)));
        },
    ));
    all_finish(
        10,
        "a_wake_during_a_nested_blocking_wait_is_not_lost",
        cases,
    );
}

// ---------------------------------------------------------------------------
// 7: dropping a runtime while a 'static task is blocked in a scope.
// ---------------------------------------------------------------------------

const CHILDREN: usize = 64;

/// A `'static` task opens a scope of 64 children, each of which yields, sleeps
/// a few ms (woken by a timer thread) and yields again; the test drops the
/// runtime as soon as the scope's closure has spawned them. Scoped tasks are
/// never cancelled by shutdown: the blocked task finishes its scope, so every
/// child runs to completion, the code after the scope runs, and `drop(rt)`
/// returns. With `grandchildren`, each child also spawns one more task into
/// the scope after its sleep (so after the drop began), which must run too.
fn drop_runtime_while_blocked_in_a_scope(workers: usize, grandchildren: bool) {
    let completed = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    let grand = Arc::new(AtomicUsize::new(0));
    let spawned = Arc::new(AtomicBool::new(false));
    let scope_returned = Arc::new(AtomicBool::new(false));
    let rt = rt(workers);
    {
        let (completed, cancelled, grand) = (completed.clone(), cancelled.clone(), grand.clone());
        let (spawned, scope_returned) = (spawned.clone(), scope_returned.clone());
        drop(rt.spawn(async move {
            paddock::scope(|s| {
                for i in 0..CHILDREN {
                    let (completed, cancelled, grand) = (&completed, &cancelled, &grand);
                    drop(s.spawn(async move {
                        // Counts a cancellation if dropped before the end.
                        let mut guard = Cancelled(Some(cancelled));
                        for _ in 0..(i % 4) {
                            yield_now().await;
                        }
                        sleep(1 + (i % 5) as u64).await;
                        if grandchildren {
                            drop(s.spawn(async move {
                                let mut guard = Cancelled(Some(cancelled));
                                yield_now().await;
                                grand.fetch_add(1, SeqCst);
                                guard.0 = None;
                            }));
                        }
                        yield_now().await;
                        completed.fetch_add(1, SeqCst);
                        guard.0 = None;
                    }));
                }
                spawned.store(true, SeqCst);
            });
            scope_returned.store(true, SeqCst);
        }));
    }
    wait_until(|| spawned.load(SeqCst));
    drop(rt);
    let (done, lost) = (completed.load(SeqCst), cancelled.load(SeqCst));
    assert_eq!(
        (done, lost),
        (CHILDREN, 0),
        "{workers} worker(s): of {CHILDREN} scoped children, {done} completed and {lost} were cancelled by drop(rt)"
    );
    if grandchildren {
        assert_eq!(
            grand.load(SeqCst),
            CHILDREN,
            "{workers} worker(s): grandchildren run"
        );
    }
    assert!(
        scope_returned.load(SeqCst),
        "{workers} worker(s): drop(rt) returned before the blocked task's scope did"
    );
}

/// Counts one cancellation when dropped while still armed.
struct Cancelled<'a>(Option<&'a AtomicUsize>);

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            count.fetch_add(1, SeqCst);
        }
    }
}

/// Issue 10, failure 7: `drop(rt)` while a `'static` task is blocked in a scope
/// of 64 children that each take a moment. All 64 must complete and `drop`
/// must return. At 59dfdf3 a timing-dependent share was cancelled. Five
/// rounds each on 1, 2 and 4 workers.
#[test]
fn dropping_the_runtime_does_not_cancel_scoped_tasks() {
    watchdog(
        10,
        "dropping_the_runtime_does_not_cancel_scoped_tasks",
        || {
            for workers in [1, 2, 4] {
                for _ in 0..5 {
                    drop_runtime_while_blocked_in_a_scope(workers, false);
                }
            }
        },
    );
}

/// The same, with each child spawning a grandchild into the scope after the
/// drop has begun: the scope still waits for it, so it must run too.
#[test]
fn dropping_the_runtime_runs_tasks_spawned_into_a_scope_during_shutdown() {
    watchdog(
        10,
        "dropping_the_runtime_runs_tasks_spawned_into_a_scope_during_shutdown",
        || {
            for workers in [1, 2, 4] {
                for _ in 0..3 {
                    drop_runtime_while_blocked_in_a_scope(workers, true);
                }
            }
        },
    );
}
