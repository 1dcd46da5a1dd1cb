//! Fair scheduling (DESIGN §2): every runnable task runs within a bounded
//! number of scheduling steps, however busy its worker and whoever keeps
//! waking whom; `yield_now` lets every other ready task on the worker run
//! first.
//!
//! Issue 10, failure 1, and the tokio `rt_common` / `rt_threaded` fairness
//! tests that translate (ported in our own code; each names its original).
//! The busy tasks here spin until told to stop, so each case runs in turn,
//! alone, and a case that overruns its limit is told to stop (so that it
//! does not steal the CPU from the next) and reported with what it had done.

mod common;

use std::future::{poll_fn, Future};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{join, panic_message, rt, Event};
use paddock::{yield_now, JoinHandle, Runtime};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// What a running case shares with the runner: a flag telling its busy tasks
/// to stop, and a note on how far it got, for the failure message.
#[derive(Default)]
struct Ctl {
    stop: AtomicBool,
    note: Mutex<String>,
}

impl Ctl {
    fn stopped(&self) -> bool {
        self.stop.load(SeqCst)
    }

    fn note(&self, note: impl Into<String>) {
        *self.note.lock().unwrap() = note.into();
    }
}

type Case = (String, Box<dyn FnOnce(Arc<Ctl>) + Send>);

fn case(name: impl Into<String>, body: impl FnOnce(Arc<Ctl>) + Send + 'static) -> Case {
    (name.into(), Box::new(body))
}

/// Runs the cases one after another, each on a fresh thread with `secs`
/// seconds to finish. A case past its limit is told to stop and given two
/// more seconds to wind down; the test fails at the end naming every case
/// that overran (with its note) or panicked.
fn each_in_turn(name: &str, secs: u64, cases: Vec<Case>) {
    common::quiet_expected_panics();
    let mut failures = Vec::new();
    for (case_name, body) in cases {
        let ctl = Arc::new(Ctl::default());
        let (tx, rx) = mpsc::channel();
        {
            let ctl = ctl.clone();
            thread::Builder::new()
                .name(format!("case:{case_name}"))
                .spawn(move || {
                    let result = panic::catch_unwind(AssertUnwindSafe(|| body(ctl)));
                    let _ = tx.send(result.err().map(|p| panic_message(&*p)));
                })
                .expect("spawning a case thread");
        }
        let secs = common::scaled_secs(secs);
        match rx.recv_timeout(Duration::from_secs(secs)) {
            Ok(None) => {}
            Ok(Some(message)) => failures.push(format!("{case_name}: panicked: {message}")),
            Err(_) => {
                let note = ctl.note.lock().unwrap().clone();
                ctl.stop.store(true, SeqCst);
                let wound_down = rx.recv_timeout(Duration::from_secs(2)).is_ok();
                failures.push(format!(
                    "{case_name}: not done within {secs} s ({note}){}",
                    if wound_down {
                        ""
                    } else {
                        "; still stuck after being told to stop"
                    }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{name}:\n  {}", failures.join("\n  "));
}

/// A wake-up with a permit (like tokio's `Notify::notify_one`): `notify`
/// wakes the waiter, or lets its next `wait` return at once.
#[derive(Default)]
struct Notify {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Notify {
    fn notify(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether a task is waiting (its waker is stored).
    fn has_waiter(&self) -> bool {
        self.state.lock().unwrap().1.is_some()
    }

    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        poll_fn(move |cx| {
            let mut state = self.state.lock().unwrap();
            if std::mem::take(&mut state.0) {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// tokio's `yield_once`: wakes itself and returns `Pending` once. Not
/// `paddock::yield_now`, so it goes through the plain waker path.
async fn yield_once() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

// ---------------------------------------------------------------------------
// Issue 10, failure 1: ping-pong saturation.
// ---------------------------------------------------------------------------

const PAIRS: usize = 100;

/// Where the ping-pong driver runs, and so where its spawns go.
#[derive(Clone, Copy, Debug)]
enum Driver {
    /// `rt.block_on` on the test's thread: spawns go through the injector.
    BlockOn,
    /// A task on a worker: spawns go to that worker's own queue.
    Task,
}

/// The body of tokio's `ping_pong_saturation`, with `paddock::spawn`.
async fn ping_pong_saturation(ctl: Arc<Ctl>) {
    let started = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let (spawned_tx, spawned_rx) = async_channel::unbounded::<()>();
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        let (tx1, rx1) = async_channel::unbounded::<()>();
        let (tx2, rx2) = async_channel::unbounded::<()>();
        let (spawned_tx, started, running, ctl) = (
            spawned_tx.clone(),
            started.clone(),
            running.clone(),
            ctl.clone(),
        );
        pairs.push(paddock::spawn(async move {
            let n = started.fetch_add(1, SeqCst) + 1;
            ctl.note(format!("{n} of {PAIRS} pairs started"));
            spawned_tx.send(()).await.unwrap();
            while running.load(SeqCst) && !ctl.stopped() {
                tx1.send(()).await.unwrap();
                rx2.recv().await.unwrap();
            }
            // Close the channel; the partner then exits, closing ours.
            drop(tx1);
            assert!(rx2.recv().await.is_err());
        }));
        pairs.push(paddock::spawn(async move {
            while rx1.recv().await.is_ok() {
                tx2.send(()).await.unwrap();
            }
        }));
    }
    drop(spawned_tx);
    for _ in 0..PAIRS {
        spawned_rx.recv().await.unwrap();
    }
    ctl.note(format!(
        "all {PAIRS} pairs started; the yielding task has not finished"
    ));
    let yielder = paddock::spawn(async {
        for _ in 0..5 {
            yield_now().await;
        }
    });
    yielder.await.unwrap();
    ctl.note("the yielding task finished; the pairs have not all stopped");
    running.store(false, SeqCst);
    for pair in pairs {
        pair.await.unwrap();
    }
}

/// Issue 10, failure 1 (tokio `rt_common::ping_pong_saturation`): 100 pairs of
/// tasks ping-pong over unbounded channels; all pairs must start, and one
/// more task that yields 5 times must finish while they run. At 59dfdf3 only
/// a few pairs ever started. Driven from `block_on` (as tokio's) and from a
/// task, on 1, 2 and 4 workers.
#[test]
fn ping_pong_saturation_starves_no_task() {
    let mut cases = Vec::new();
    for driver in [Driver::BlockOn, Driver::Task] {
        for workers in [1, 2, 4] {
            cases.push(case(
                format!("{workers} worker(s), driven by {driver:?}"),
                move |ctl| {
                    let rt = rt(workers);
                    match driver {
                        Driver::BlockOn => rt.block_on(ping_pong_saturation(ctl)),
                        Driver::Task => rt.block_on(rt.spawn(ping_pong_saturation(ctl))).unwrap(),
                    }
                },
            ));
        }
    }
    each_in_turn("ping_pong_saturation_starves_no_task", 5, cases);
}

// ---------------------------------------------------------------------------
// A task displaced again and again by tasks that wake each other.
// ---------------------------------------------------------------------------

/// Rounds of the churning tasks within which, on one worker, the victim must
/// have taken its five steps. Generous: a fair scheduler needs a handful.
const ROUND_BOUND: usize = 1000;

/// Task A wakes the victim V, then B (and, with `third`, C); B wakes A back;
/// C just waits again. Every wake from a running task goes to its worker's
/// LIFO slot, pushing out the task there: V is displaced each time it is
/// woken. V needs five turns; the churn stops only once V has had them.
/// Everything is spawned from one task, so on one worker the run is the
/// same every time; there V must be done within `ROUND_BOUND` rounds.
fn displaced_victim(workers: usize, third: bool, ctl: Arc<Ctl>) {
    let rt = rt(workers);
    let (a, b, c, v) = (
        Notify::default(),
        Notify::default(),
        Notify::default(),
        Notify::default(),
    );
    let victim_done = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    let rounds_at_done = AtomicUsize::new(usize::MAX);
    let steps = AtomicUsize::new(0);
    let ctl = &*ctl;
    let stop = || victim_done.load(SeqCst) || ctl.stopped();
    rt.scope(|s| {
        let (a, b, c, v, stop) = (&a, &b, &c, &v, &stop);
        let (victim_done, rounds, rounds_at_done, steps) =
            (&victim_done, &rounds, &rounds_at_done, &steps);
        join(s.spawn(async move {
            // B: wakes A back.
            drop(s.spawn(async move {
                loop {
                    b.wait().await;
                    // Read before the wake (see `start_load`).
                    let stopping = stop();
                    a.notify();
                    if stopping {
                        break;
                    }
                }
            }));
            // C: only waits to be woken again.
            if third {
                drop(s.spawn(async move {
                    loop {
                        c.wait().await;
                        if stop() {
                            break;
                        }
                    }
                }));
            }
            // V, the victim: five turns, each after a wake from A.
            drop(s.spawn(async move {
                for step in 1..=5 {
                    v.wait().await;
                    if ctl.stopped() {
                        return;
                    }
                    steps.store(step, SeqCst);
                }
                rounds_at_done.store(rounds.load(SeqCst), SeqCst);
                victim_done.store(true, SeqCst);
            }));
            // A: wakes V, then B (and C), then waits for B.
            drop(s.spawn(async move {
                loop {
                    if stop() {
                        b.notify();
                        c.notify();
                        v.notify();
                        break;
                    }
                    v.notify();
                    b.notify();
                    if third {
                        c.notify();
                    }
                    let r = rounds.fetch_add(1, SeqCst) + 1;
                    if r % 256 == 0 {
                        ctl.note(format!(
                            "{r} rounds, victim at step {} of 5",
                            steps.load(SeqCst)
                        ));
                    }
                    a.wait().await;
                }
            }));
        }))
    });
    assert!(victim_done.load(SeqCst));
    if workers == 1 {
        let at = rounds_at_done.load(SeqCst);
        assert!(
            at <= ROUND_BOUND,
            "the victim took {at} rounds of the churning tasks to get five turns (bound {ROUND_BOUND})"
        );
    }
}

/// A task that a pair of tasks waking each other (A wakes B, B wakes A) keeps
/// displacing from the LIFO slot must still get its turns while they run: the
/// pair stops only after it has. On 1, 2 and 4 workers.
#[test]
fn a_task_displaced_by_a_ping_pong_pair_still_runs() {
    let cases = [1, 2, 4]
        .map(|workers| {
            case(format!("{workers} worker(s)"), move |ctl| {
                displaced_victim(workers, false, ctl)
            })
        })
        .into();
    each_in_turn("a_task_displaced_by_a_ping_pong_pair_still_runs", 5, cases);
}

/// The same with a third task that A wakes each round after B: the victim is
/// displaced into the worker's queue, and B on top of it after every round.
/// At 59dfdf3 the worker's queue was LIFO for its owner, so on one worker the
/// victim never ran again.
#[test]
fn a_task_displaced_by_three_churning_tasks_still_runs() {
    let cases = [1, 2, 4]
        .map(|workers| {
            case(format!("{workers} worker(s)"), move |ctl| {
                displaced_victim(workers, true, ctl)
            })
        })
        .into();
    each_in_turn(
        "a_task_displaced_by_three_churning_tasks_still_runs",
        5,
        cases,
    );
}

/// An endless chain of tasks, each spawning the next from a worker, must not
/// keep a task spawned before the chain from running; the chain ends only
/// once that task has run. (At 59dfdf3 each link went on top of the older
/// task in the worker's LIFO queue.) Scoped links and `'static` ones.
#[test]
fn an_endless_spawn_chain_does_not_starve_an_older_task() {
    fn scoped_link<'scope>(
        s: &'scope paddock::Scope<'scope, '_>,
        done: &'scope AtomicBool,
        links: &'scope AtomicUsize,
    ) {
        drop(s.spawn(async move {
            let n = links.fetch_add(1, SeqCst);
            if !done.load(SeqCst) && n < 50_000_000 {
                scoped_link(s, done, links);
            }
        }));
    }
    fn static_link(done: Arc<AtomicBool>, links: Arc<AtomicUsize>) {
        drop(paddock::spawn(async move {
            let n = links.fetch_add(1, SeqCst);
            if !done.load(SeqCst) && n < 50_000_000 {
                static_link(done, links);
            }
        }));
    }
    let mut cases = Vec::new();
    for workers in [1, 2] {
        for scoped in [true, false] {
            cases.push(case(
                format!("{workers} worker(s), scoped links: {scoped}"),
                move |ctl| {
                    let rt = rt(workers);
                    let done = Arc::new(AtomicBool::new(false));
                    let links = Arc::new(AtomicUsize::new(0));
                    let (d, l) = (&done, &links);
                    let ctl2 = ctl.clone();
                    rt.scope(|s| {
                        join(s.spawn(async move {
                            // The older task, queued before the chain starts.
                            drop(s.spawn(async move { d.store(true, SeqCst) }));
                            if scoped {
                                scoped_link(s, d, l);
                            } else {
                                static_link(d.clone(), l.clone());
                            }
                        }));
                        while !d.load(SeqCst) && !ctl2.stopped() {
                            thread::sleep(Duration::from_millis(5));
                            ctl2.note(format!("{} links so far", l.load(SeqCst)));
                        }
                        d.store(true, SeqCst);
                    });
                },
            ));
        }
    }
    each_in_turn(
        "an_endless_spawn_chain_does_not_starve_an_older_task",
        5,
        cases,
    );
}

/// On one worker, a task that spawns a child and waits for it has the child
/// run next, before a task queued earlier (tokio puts a spawn in its LIFO
/// slot for the same reason): the pair's data is still in cache. The
/// earlier task `later` is queued behind `parent` while a busy task holds
/// the worker, so both come off the global queue in one batch.
#[test]
fn a_child_spawned_by_the_running_task_runs_next() {
    let cases = vec![case("1 worker", |_ctl| {
        let rt = rt(1);
        let order = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(AtomicBool::new(false));
        let busy = rt.spawn({
            let release = release.clone();
            async move {
                while !release.load(SeqCst) {
                    std::hint::spin_loop();
                }
            }
        });
        let parent = rt.spawn({
            let order = order.clone();
            async move {
                order.lock().unwrap().push("parent");
                let child = paddock::spawn({
                    let order = order.clone();
                    async move { order.lock().unwrap().push("child") }
                });
                child.await.unwrap();
                order.lock().unwrap().push("parent again");
            }
        });
        let later = rt.spawn({
            let order = order.clone();
            async move { order.lock().unwrap().push("later") }
        });
        release.store(true, SeqCst);
        for task in [busy, parent, later] {
            task.join().unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["parent", "child", "parent again", "later"]
        );
    })];
    each_in_turn("a_child_spawned_by_the_running_task_runs_next", 5, cases);
}

/// A task spawned by the task a worker just ran runs next there, while its
/// data is hot, but it shares the LIFO slot's limit on turns in a row: an
/// endless chain of such spawns must not keep a woken task waiting in the
/// worker's `runnable` queue. Link 10 wakes `woken`, then `displacer`, whose
/// wake takes the LIFO slot and pushes `woken` to `runnable`; the chain ends
/// only once `woken` has run. One worker: a second would steal `woken`.
#[test]
fn an_endless_spawn_chain_does_not_starve_a_woken_task() {
    struct Chain {
        woken_ran: AtomicBool,
        links: AtomicUsize,
        woken: Notify,
        displacer: Notify,
    }
    fn link(chain: Arc<Chain>) {
        drop(paddock::spawn(async move {
            let n = chain.links.fetch_add(1, SeqCst);
            if n == 10 {
                chain.woken.notify();
                chain.displacer.notify();
            }
            if !chain.woken_ran.load(SeqCst) && n < 50_000_000 {
                link(chain);
            }
        }));
    }
    let cases = vec![case("1 worker", |ctl| {
        let rt = rt(1);
        let chain = Arc::new(Chain {
            woken_ran: AtomicBool::new(false),
            links: AtomicUsize::new(0),
            woken: Notify::default(),
            displacer: Notify::default(),
        });
        let woken = rt.spawn({
            let chain = chain.clone();
            async move {
                chain.woken.wait().await;
                chain.woken_ran.store(true, SeqCst);
            }
        });
        let displacer = rt.spawn({
            let chain = chain.clone();
            async move { chain.displacer.wait().await }
        });
        while !(chain.woken.has_waiter() && chain.displacer.has_waiter()) {
            thread::yield_now();
        }
        drop(rt.spawn({
            let chain = chain.clone();
            async move { link(chain) }
        }));
        while !chain.woken_ran.load(SeqCst) && !ctl.stopped() {
            thread::sleep(Duration::from_millis(5));
            ctl.note(format!("{} links so far", chain.links.load(SeqCst)));
        }
        chain.woken_ran.store(true, SeqCst);
        woken.join().unwrap();
        displacer.join().unwrap();
    })];
    each_in_turn(
        "an_endless_spawn_chain_does_not_starve_a_woken_task",
        5,
        cases,
    );
}

// ---------------------------------------------------------------------------
// yield_now ordering.
// ---------------------------------------------------------------------------

/// After tokio `rt_common::yield_defers_until_park`, in paddock's terms: on
/// one worker, a task that calls `yield_now` resumes only after every other
/// task ready on the worker has run: ten it spawned (the worker's queue) and
/// one it woke (the LIFO slot).
#[test]
fn yield_now_lets_every_ready_task_run_first() {
    let cases = vec![case("1 worker", |_ctl| {
        let rt = rt(1);
        let spawned_ran = AtomicUsize::new(0);
        let woken_ran = AtomicBool::new(false);
        let wake_me = Notify::default();
        rt.scope(|s| {
            let (spawned_ran, woken_ran, wake_me) = (&spawned_ran, &woken_ran, &wake_me);
            join(s.spawn(async move {
                drop(s.spawn(async move {
                    wake_me.wait().await;
                    woken_ran.store(true, SeqCst);
                }));
                // Let the waiter run up to its wait (bounded: it is ready).
                for _ in 0..100 {
                    if wake_me.has_waiter() {
                        break;
                    }
                    yield_now().await;
                }
                if !wake_me.has_waiter() {
                    wake_me.notify();
                    panic!("a spawned task never ran across 100 yields");
                }
                for _ in 0..10 {
                    drop(s.spawn(async move {
                        spawned_ran.fetch_add(1, SeqCst);
                    }));
                }
                wake_me.notify();
                yield_now().await;
                assert_eq!(
                    (spawned_ran.load(SeqCst), woken_ran.load(SeqCst)),
                    (10, true),
                    "(spawned tasks run, woken task run) when yield_now returned"
                );
            }))
        });
    })];
    each_in_turn("yield_now_lets_every_ready_task_run_first", 5, cases);
}

// ---------------------------------------------------------------------------
// Progress under load (tokio rt_common / rt_threaded).
// ---------------------------------------------------------------------------

/// What keeps every worker busy.
#[derive(Clone, Copy, Debug)]
enum Load {
    /// Tasks that wake themselves and return `Pending`, forever.
    SelfWake,
    /// Pairs of tasks that wake each other, forever.
    PingPong,
}

/// Starts one unit of `load` per worker; each counts its turns in `turns`
/// and stops once `stop` is set. Returns their handles.
///
/// A task of a pair reads `stop` before it wakes its partner and leaves only
/// after that wake: the partner, woken after the read, then sees the stop
/// too. (Reading it after the wake lets the partner finish a whole turn in
/// between and wait for a wake that never comes.)
fn start_load(
    rt: &Runtime,
    load: Load,
    stop: &Arc<AtomicBool>,
    turns: &Arc<AtomicUsize>,
) -> Vec<JoinHandle<'static, ()>> {
    let mut handles = Vec::new();
    for _ in 0..rt.num_workers() {
        let (stop, turns) = (stop.clone(), turns.clone());
        match load {
            Load::SelfWake => handles.push(rt.spawn(async move {
                while !stop.load(SeqCst) {
                    turns.fetch_add(1, SeqCst);
                    yield_once().await;
                }
            })),
            Load::PingPong => {
                let (ping, pong) = (Arc::new(Notify::default()), Arc::new(Notify::default()));
                let (ping2, pong2, stop2) = (ping.clone(), pong.clone(), stop.clone());
                handles.push(rt.spawn(async move {
                    loop {
                        // Read before the wake: the partner, woken by it,
                        // then sees the stop too, and does not wait again.
                        let stopping = stop.load(SeqCst);
                        turns.fetch_add(1, SeqCst);
                        pong.notify();
                        if stopping {
                            break;
                        }
                        ping.wait().await;
                    }
                }));
                handles.push(rt.spawn(async move {
                    loop {
                        pong2.wait().await;
                        let stopping = stop2.load(SeqCst);
                        ping2.notify();
                        if stopping {
                            break;
                        }
                    }
                }));
            }
        }
    }
    handles
}

/// Stops the load and waits for it.
fn stop_load(rt: &Runtime, stop: &AtomicBool, handles: Vec<JoinHandle<'static, ()>>) {
    stop.store(true, SeqCst);
    for handle in handles {
        rt.block_on(handle).unwrap();
    }
}

/// tokio `rt_common::complete_task_under_load`: while every worker is busy, a
/// task woken from another thread runs and completes (here it forwards a
/// message to the test's thread). Also `spawn_from_other_thread_under_load`:
/// a task spawned from another thread runs.
#[test]
fn tasks_woken_or_spawned_from_outside_run_under_load() {
    let mut cases = Vec::new();
    for load in [Load::SelfWake, Load::PingPong] {
        for workers in [1, 2, 4] {
            cases.push(case(
                format!("{workers} worker(s), {load:?} load"),
                move |ctl| {
                    let rt = Arc::new(rt(workers));
                    let stop = Arc::new(AtomicBool::new(false));
                    let turns = Arc::new(AtomicUsize::new(0));
                    let handles = start_load(&rt, load, &stop, &turns);
                    common::wait_until(|| turns.load(SeqCst) > 100 || ctl.stopped());

                    // Woken from outside.
                    let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
                    let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
                    let forward = rt.spawn(async move {
                        rx1.await.unwrap();
                        tx2.send(()).unwrap();
                    });
                    thread::spawn(move || tx1.send(()).unwrap());
                    ctl.note("waiting for a task woken from another thread");
                    rt.block_on(rx2).unwrap();
                    rt.block_on(forward).unwrap();

                    // Spawned from outside.
                    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                    let rt2 = rt.clone();
                    thread::spawn(move || drop(rt2.spawn(async move { tx.send(()).unwrap() })));
                    ctl.note("waiting for a task spawned from another thread");
                    rt.block_on(rx).unwrap();

                    stop_load(&rt, &stop, handles);
                },
            ));
        }
    }
    each_in_turn(
        "tasks_woken_or_spawned_from_outside_run_under_load",
        5,
        cases,
    );
}

/// tokio `rt_common::complete_block_on_under_load`, from inside a task: a
/// task of a busy runtime blocks (`rt.block_on`) on a message from another
/// thread; the wait completes although every worker has load to run.
#[test]
fn block_on_inside_a_task_completes_under_load() {
    let mut cases = Vec::new();
    for load in [Load::SelfWake, Load::PingPong] {
        for workers in [1, 2] {
            cases.push(case(
                format!("{workers} worker(s), {load:?} load"),
                move |_ctl| {
                    let rt = Arc::new(rt(workers));
                    let stop = Arc::new(AtomicBool::new(false));
                    let turns = Arc::new(AtomicUsize::new(0));
                    let handles = start_load(&rt, load, &stop, &turns);
                    let rt2 = rt.clone();
                    let blocker = rt.spawn(async move {
                        let (tx, rx) = tokio::sync::oneshot::channel::<&str>();
                        thread::spawn(move || tx.send("ZOMG").unwrap());
                        rt2.block_on(rx).unwrap()
                    });
                    assert_eq!(rt.block_on(blocker).unwrap(), "ZOMG");
                    stop_load(&rt, &stop, handles);
                },
            ));
        }
    }
    each_in_turn("block_on_inside_a_task_completes_under_load", 5, cases);
}

/// tokio `rt_threaded::lifo_slot_budget`: a task starts an endless chain of
/// tasks, each spawning the next, then sends a message; `block_on` of that
/// message completes, and dropping the runtime ends the chain.
#[test]
fn an_endless_spawn_chain_lets_block_on_finish_and_the_runtime_drop() {
    fn spawn_another() {
        drop(paddock::spawn(async { spawn_another() }));
    }
    let cases = [1, 2]
        .map(|workers| {
            case(format!("{workers} worker(s)"), move |ctl| {
                let rt = rt(workers);
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                drop(rt.spawn(async move {
                    drop(paddock::spawn(async { spawn_another() }));
                    let _ = tx.send(());
                }));
                ctl.note("block_on has not returned");
                let _ = rt.block_on(rx);
                ctl.note("drop(rt) has not returned");
                drop(rt);
            })
        })
        .into();
    each_in_turn(
        "an_endless_spawn_chain_lets_block_on_finish_and_the_runtime_drop",
        5,
        cases,
    );
}

/// A task woken by an [`Event`] from outside, on a runtime whose every
/// worker runs pairs waking each other, completes (the injector gets turns).
#[test]
fn an_event_set_from_outside_reaches_a_task_under_ping_pong_load() {
    let cases = [1, 2]
        .map(|workers| {
            case(format!("{workers} worker(s)"), move |_ctl| {
                let rt = rt(workers);
                let stop = Arc::new(AtomicBool::new(false));
                let turns = Arc::new(AtomicUsize::new(0));
                let handles = start_load(&rt, Load::PingPong, &stop, &turns);
                let event = Arc::new(Event::new());
                let waiter = {
                    let event = event.clone();
                    rt.spawn(async move { event.wait().await })
                };
                common::wait_until(|| turns.load(SeqCst) > 100);
                event.set();
                rt.block_on(waiter).unwrap();
                stop_load(&rt, &stop, handles);
            })
        })
        .into();
    each_in_turn(
        "an_event_set_from_outside_reaches_a_task_under_ping_pong_load",
        5,
        cases,
    );
}
