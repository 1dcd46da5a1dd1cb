//! The dependency suite (issue 10, "Proof"; WAITS.md, "What to prove"):
//! random trees of nested scopes, joins and `block_on`s with cross-task
//! signals, each of which has a valid schedule with one OS thread per task,
//! must complete on 1, 2 and 4 workers. The peak thread count and the peak
//! stack depth are reported, and bounded.
//!
//! # The programs
//!
//! A program is a tree of tasks. Each task (a *node*) runs a short list of
//! operations, in order:
//!
//! - `y`: `yield_now().await`;
//! - `set k`: sets signal `k` (a one-shot async [`Event`] shared by the tree);
//! - `await k` / `block_on k`: waits for signal `k`, asynchronously or with
//!   `paddock::block_on` (a blocking wait);
//! - `scope(..)`: opens a nested `paddock::scope` and spawns its children
//!   into it; each child writes its result into a slot of the opener's local
//!   array (a `&mut` borrow of the frame), and the closure may `join()` or
//!   `block_on` some of the handles before the scope's own (blocking) wait;
//! - `spawn.join(..)` / `spawn.await(..)` / `spawn.block_on(..)`: spawns a
//!   child into the scope the node itself belongs to (a captured outer scope)
//!   and waits for its handle in one of three ways;
//! - `detach(..)`: spawns a child into that outer scope and drops the handle.
//!
//! Tasks of a scope that were not spawned by its closure (the last two kinds)
//! write their results into an atomic array that the scope's opener owns.
//! Right after each scope returns, its opener checks every slot: a scope that
//! returned before one of its tasks completed would find a slot still zero.
//!
//! # Why a generated program never deadlocks on OS threads
//!
//! Model each operation as an *event* and draw an edge `a -> b` when `b`
//! cannot happen before `a`: program order inside a node; a spawn before the
//! child's start; a child's end before a join of it and before the end of the
//! scope it belongs to (every task of the scope); a signal's `set` before
//! every wait on it. With one thread per task (a scope's closure runs on its
//! opener's thread, as in paddock), an event waits for nothing but its
//! in-edges. If that graph is acyclic, some event not yet done has all of its
//! in-edges done; its thread has done the one before it in program order, so
//! it stands at that event and can do it: the program runs to its end. The
//! generator builds the graph without signal edges (the tree alone is
//! acyclic: every edge goes forward in one task, from a spawn to the child's
//! start, or from a task's end to a wait of one of its ancestors), then gives each wait a signal only if the wait does not
//! already reach that signal's `set` (which would close a cycle), and turns
//! it into a `yield` when no signal qualifies. [`check_schedule`] rebuilds the
//! graph from the finished program and topologically sorts it (a test shows
//! that it rejects a deadlock); [`run_on_threads`] runs programs on plain
//! `std::thread::scope` threads, one per task, as an independent check.
//! Programs stay far below the runtime's thread cap (workers + 512): a
//! program of `n` tasks never needs more than `n` threads.
//!
//! # Replay, sizes, soak
//!
//! The base seed is random per process, or `PADDOCK_STRESS_SEED` (decimal or
//! `0x` hex); program `i` uses `base + i * 0x9e37_79b9_7f4a_7c15`, so the seed
//! printed for a failing program, given as the base, replays it first. A hang
//! fails through the progress watchdog with the seed and the program's shape,
//! or says that the program had completed and the runtime's drop is what
//! hangs. By default each worker count runs 250 programs of up to 32 tasks
//! (the file takes 1 to 3 s in a debug build on two cores); the number of
//! programs scales with `PADDOCK_STRESS_SCALE`. The ignored
//! `soak` runs bigger programs on 1 to 4 workers for `PADDOCK_SOAK_SECS`:
//!
//! ```text
//! cargo test --test dependency_stress -- --nocapture
//! PADDOCK_SOAK_SECS=600 cargo test --release --test dependency_stress soak -- --ignored --nocapture
//! ```

mod common;

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    assert_threads_gone, named_rt, progress_watchdog, scaled, soak_secs, stress_scale,
    threads_named, unique_prefix, watchdog, Event, Progress,
};
use paddock::{yield_now, Scope};

/// How long a run may go without finishing a program before its watchdog
/// calls it stuck. A program takes milliseconds in a debug build.
const STALL_SECS: u64 = 30;

/// The environment variable that fixes the base seed, to replay a failure.
const SEED_ENV: &str = "PADDOCK_STRESS_SEED";

/// The step between the seeds of consecutive programs.
const SEED_STEP: u64 = 0x9e37_79b9_7f4a_7c15;

/// The documented cap on threads beyond the workers.
const THREAD_CAP_BEYOND_WORKERS: usize = 512;

/// The most stack a waiting frame and the tasks run on top of it may use:
/// well under the 16 MiB default worker stack.
const STACK_LIMIT: usize = 4 << 20;

// ---------------------------------------------------------------------------
// A tiny seeded PRNG (splitmix64).
// ---------------------------------------------------------------------------

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(SEED_STEP);
        splitmix(self.0)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// The base seed of this process: `PADDOCK_STRESS_SEED`, else the clock.
fn base_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var(SEED_ENV) {
        Ok(value) => {
            let value = value.trim();
            let parsed = match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
                None => value.replace('_', "").parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{SEED_ENV} must be a u64, got {value:?}"))
        }
        Err(_) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            splitmix(now.as_nanos() as u64 ^ u64::from(std::process::id()))
        }
    })
}

fn program_seed(base: u64, index: usize) -> u64 {
    base.wrapping_add((index as u64).wrapping_mul(SEED_STEP))
}

// ---------------------------------------------------------------------------
// Programs.
// ---------------------------------------------------------------------------

/// How a handle is waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// `JoinHandle::join`: blocking.
    Join,
    /// `.await`: asynchronous.
    Await,
    /// `paddock::block_on(handle)`: blocking.
    BlockOn,
}

#[derive(Clone, Debug)]
enum Op {
    Yield,
    Set(usize),
    AwaitSignal(usize),
    BlockOnSignal(usize),
    /// A wait that has no signal yet; only while generating.
    Unassigned {
        blocking: bool,
    },
    /// A nested scope `scope` whose closure spawns `children`, then waits for
    /// those with a `Wait` (`Join` or `BlockOn`) in order.
    Scope {
        scope: usize,
        children: Vec<(usize, Option<Wait>)>,
    },
    /// Spawns `child` into the node's own scope and waits for it.
    Spawn {
        child: usize,
        wait: Wait,
    },
    /// Spawns `child` into the node's own scope and drops the handle.
    Detach {
        child: usize,
    },
}

/// Where a task writes its result: a slot of the scope it belongs to.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Spawned by the scope's closure: `&mut` into the opener's array.
    Direct(usize),
    /// Spawned by a task of the scope: the opener's atomic array.
    Extra(usize),
}

#[derive(Clone, Debug)]
struct Node {
    ops: Vec<Op>,
    /// The scope this task belongs to (0: the outermost, opened by the test).
    scope: usize,
    slot: Slot,
}

#[derive(Clone, Debug, Default)]
struct ScopeTasks {
    direct: Vec<usize>,
    extra: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Program {
    seed: u64,
    nodes: Vec<Node>,
    scopes: Vec<ScopeTasks>,
    signals: usize,
    /// How the test's thread waits for the root task (`Join` or `BlockOn`).
    outer_wait: Wait,
}

/// The result that node `id` of `p` writes and returns: never zero.
fn value(p: &Program, id: usize) -> u64 {
    splitmix(p.seed ^ (id as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)) | 1
}

/// The size of a program to generate.
#[derive(Clone, Copy, Debug)]
struct Size {
    max_nodes: usize,
    max_depth: usize,
    max_ops: usize,
    max_signals: usize,
}

const DEFAULT_SIZE: Size = Size {
    max_nodes: 32,
    max_depth: 6,
    max_ops: 5,
    max_signals: 6,
};

const SOAK_SIZE: Size = Size {
    max_nodes: 96,
    max_depth: 10,
    max_ops: 6,
    max_signals: 12,
};

struct Generator {
    rng: Rng,
    nodes: Vec<Node>,
    scopes: Vec<ScopeTasks>,
    target: usize,
    size: Size,
}

impl Generator {
    fn room(&self, depth: usize) -> bool {
        self.nodes.len() < self.target && depth < self.size.max_depth
    }

    /// A new task of `scope`, at `depth`, with its operations and subtree.
    fn node(&mut self, scope: usize, depth: usize, direct: bool) -> usize {
        let id = self.nodes.len();
        let list = &mut self.scopes[scope];
        let slot = if direct {
            list.direct.push(id);
            Slot::Direct(list.direct.len() - 1)
        } else {
            list.extra.push(id);
            Slot::Extra(list.extra.len() - 1)
        };
        self.nodes.push(Node {
            ops: Vec::new(),
            scope,
            slot,
        });
        let count = 1 + self.rng.below(self.size.max_ops);
        for _ in 0..count {
            let kinds = if self.room(depth) { 12 } else { 4 };
            let op = match self.rng.below(kinds) {
                0 => Op::Yield,
                1 | 2 => Op::Unassigned { blocking: false },
                3 => Op::Unassigned { blocking: true },
                4..=6 => {
                    let nested = self.scopes.len();
                    self.scopes.push(ScopeTasks::default());
                    let wanted = 1 + self.rng.below(3);
                    let mut children = Vec::new();
                    for _ in 0..wanted {
                        if !children.is_empty() && !self.room(depth) {
                            break;
                        }
                        let child = self.node(nested, depth + 1, true);
                        let wait = match self.rng.below(4) {
                            0 => Some(Wait::Join),
                            1 => Some(Wait::BlockOn),
                            _ => None,
                        };
                        children.push((child, wait));
                    }
                    Op::Scope {
                        scope: nested,
                        children,
                    }
                }
                7..=9 => {
                    let child = self.node(scope, depth + 1, false);
                    let wait = [Wait::Join, Wait::Await, Wait::BlockOn][self.rng.below(3)];
                    Op::Spawn { child, wait }
                }
                _ => Op::Detach {
                    child: self.node(scope, depth + 1, false),
                },
            };
            self.nodes[id].ops.push(op);
        }
        id
    }
}

/// Generates the program of `seed`: a tree, its signals' `set`s at random
/// places, and a signal for each wait that keeps the event graph acyclic.
fn generate(seed: u64, size: Size) -> Program {
    let mut rng = Rng(seed);
    let target = 1 + rng.below(size.max_nodes);
    let mut g = Generator {
        rng,
        nodes: Vec::new(),
        scopes: vec![ScopeTasks::default()],
        target,
        size,
    };
    let root = g.node(0, 0, true);
    assert_eq!(root, 0);
    let Generator {
        mut rng,
        mut nodes,
        scopes,
        ..
    } = g;

    // Each signal is set once, at a random place in a random node.
    let signals = 1 + rng.below(size.max_signals);
    for k in 0..signals {
        let which = rng.below(nodes.len());
        let node = &mut nodes[which];
        let at = rng.below(node.ops.len() + 1);
        node.ops.insert(at, Op::Set(k));
    }
    let outer_wait = if rng.below(2) == 0 {
        Wait::Join
    } else {
        Wait::BlockOn
    };
    let mut p = Program {
        seed,
        nodes,
        scopes,
        signals,
        outer_wait,
    };

    // Give each wait a signal whose `set` it does not reach, in random order.
    let mut graph = Graph::of(&p);
    let mut waits: Vec<(usize, usize)> = (0..p.nodes.len())
        .flat_map(|v| (0..p.nodes[v].ops.len()).map(move |i| (v, i)))
        .filter(|&(v, i)| matches!(p.nodes[v].ops[i], Op::Unassigned { .. }))
        .collect();
    rng.shuffle(&mut waits);
    for (v, i) in waits {
        let Op::Unassigned { blocking } = p.nodes[v].ops[i] else {
            unreachable!()
        };
        let at = graph.op_event[v][i];
        let mut candidates: Vec<usize> = (0..signals).collect();
        rng.shuffle(&mut candidates);
        let chosen = candidates.into_iter().find(|&k| {
            let set = graph.set_event[k].expect("every signal is set");
            !graph.reaches(at, set)
        });
        p.nodes[v].ops[i] = match chosen {
            Some(k) => {
                graph.edge(graph.set_event[k].unwrap(), at);
                if blocking {
                    Op::BlockOnSignal(k)
                } else {
                    Op::AwaitSignal(k)
                }
            }
            None => Op::Yield,
        };
    }
    if let Err(why) = check_schedule(&p) {
        panic!("generator bug, program seed {seed:#x}: {why}\n{p}");
    }
    p
}

/// The event graph of a program (see the module's comment).
struct Graph {
    succ: Vec<Vec<usize>>,
    /// The event of each node's operation `i` (for a scope: its end).
    op_event: Vec<Vec<usize>>,
    set_event: Vec<Option<usize>>,
}

impl Graph {
    fn event(&mut self) -> usize {
        self.succ.push(Vec::new());
        self.succ.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize) {
        self.succ[from].push(to);
    }

    /// Builds the graph of `p`; waits with a signal get their edge, and
    /// unassigned ones none.
    fn of(p: &Program) -> Graph {
        let mut g = Graph {
            succ: Vec::new(),
            op_event: Vec::new(),
            set_event: vec![None; p.signals],
        };
        let start: Vec<usize> = p.nodes.iter().map(|_| g.event()).collect();
        let end: Vec<usize> = p.nodes.iter().map(|_| g.event()).collect();
        let scope_end: Vec<usize> = p.scopes.iter().map(|_| g.event()).collect();
        // The test's thread: opens scope 0, spawns the root, waits for it.
        let outer = g.event();
        g.edge(outer, start[0]);
        g.edge(end[0], scope_end[0]);
        let mut waits = Vec::new();
        for (v, node) in p.nodes.iter().enumerate() {
            // Every task of a scope ends before the scope does.
            g.edge(end[v], scope_end[node.scope]);
            let mut prev = start[v];
            let mut events = Vec::new();
            for op in &node.ops {
                let at = match *op {
                    Op::Yield | Op::Unassigned { .. } => g.event(),
                    Op::Set(k) => {
                        let at = g.event();
                        g.set_event[k] = Some(at);
                        at
                    }
                    Op::AwaitSignal(k) | Op::BlockOnSignal(k) => {
                        let at = g.event();
                        waits.push((k, at));
                        at
                    }
                    Op::Scope {
                        scope,
                        ref children,
                    } => {
                        let begin = g.event();
                        g.edge(prev, begin);
                        prev = begin;
                        for &(child, _) in children {
                            g.edge(begin, start[child]);
                        }
                        for &(child, wait) in children {
                            if wait.is_some() {
                                let join = g.event();
                                g.edge(prev, join);
                                g.edge(end[child], join);
                                prev = join;
                            }
                        }
                        scope_end[scope]
                    }
                    Op::Spawn { child, .. } => {
                        let spawn = g.event();
                        g.edge(prev, spawn);
                        g.edge(spawn, start[child]);
                        prev = spawn;
                        let join = g.event();
                        g.edge(end[child], join);
                        join
                    }
                    Op::Detach { child } => {
                        let spawn = g.event();
                        g.edge(spawn, start[child]);
                        spawn
                    }
                };
                g.edge(prev, at);
                prev = at;
                events.push(at);
            }
            g.edge(prev, end[v]);
            g.op_event.push(events);
        }
        for (k, at) in waits {
            if let Some(set) = g.set_event[k] {
                g.edge(set, at);
            }
        }
        g
    }

    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut seen = vec![false; self.succ.len()];
        let mut stack = vec![from];
        while let Some(e) = stack.pop() {
            if e == to {
                return true;
            }
            if !std::mem::replace(&mut seen[e], true) {
                stack.extend(&self.succ[e]);
            }
        }
        false
    }

    /// Whether every event can be ordered after its in-edges (Kahn).
    fn is_acyclic(&self) -> bool {
        let mut indegree = vec![0usize; self.succ.len()];
        for to in self.succ.iter().flatten() {
            indegree[*to] += 1;
        }
        let mut ready: Vec<usize> = (0..self.succ.len()).filter(|&e| indegree[e] == 0).collect();
        let mut done = 0;
        while let Some(e) = ready.pop() {
            done += 1;
            for &to in &self.succ[e] {
                indegree[to] -= 1;
                if indegree[to] == 0 {
                    ready.push(to);
                }
            }
        }
        done == self.succ.len()
    }
}

/// Checks that `p` has a valid schedule with one thread per task: every
/// waited signal is set exactly once and the event graph is acyclic.
fn check_schedule(p: &Program) -> Result<(), String> {
    let mut sets = vec![0usize; p.signals];
    for node in &p.nodes {
        for op in &node.ops {
            match *op {
                Op::Set(k) => sets[k] += 1,
                Op::Unassigned { .. } => return Err("a wait without a signal".into()),
                _ => {}
            }
        }
    }
    if let Some(k) = (0..p.signals).find(|&k| sets[k] != 1) {
        return Err(format!("signal {k} is set {} times", sets[k]));
    }
    if Graph::of(p).is_acyclic() {
        Ok(())
    } else {
        Err("the event graph has a cycle: a deadlock with a thread per task".into())
    }
}

/// Counts of what a program does, for the summary.
#[derive(Clone, Copy, Debug, Default)]
struct Census {
    tasks: usize,
    blocking_waits: usize,
    async_waits: usize,
}

impl Census {
    fn of(p: &Program) -> Census {
        let mut c = Census {
            tasks: p.nodes.len(),
            ..Census::default()
        };
        for op in p.nodes.iter().flat_map(|n| &n.ops) {
            match op {
                Op::AwaitSignal(_)
                | Op::Spawn {
                    wait: Wait::Await, ..
                } => c.async_waits += 1,
                Op::BlockOnSignal(_) | Op::Spawn { .. } => c.blocking_waits += 1,
                Op::Scope { children, .. } => {
                    c.blocking_waits += 1 + children.iter().filter(|(_, w)| w.is_some()).count()
                }
                _ => {}
            }
        }
        c
    }

    fn add(&mut self, other: Census) {
        self.tasks += other.tasks;
        self.blocking_waits += other.blocking_waits;
        self.async_waits += other.async_waits;
    }
}

/// The program's shape, e.g. `n0[y set1 scope(join n1[await1] n2[y])]`.
impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn node(p: &Program, id: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "n{id}[")?;
            for (i, op) in p.nodes[id].ops.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                match *op {
                    Op::Yield => f.write_str("y")?,
                    Op::Set(k) => write!(f, "set{k}")?,
                    Op::AwaitSignal(k) => write!(f, "await{k}")?,
                    Op::BlockOnSignal(k) => write!(f, "block_on{k}")?,
                    Op::Unassigned { blocking } => write!(f, "wait?{blocking}")?,
                    Op::Scope { ref children, .. } => {
                        f.write_str("scope(")?;
                        for (j, &(child, wait)) in children.iter().enumerate() {
                            if j > 0 {
                                f.write_str(" ")?;
                            }
                            match wait {
                                Some(Wait::Join) => f.write_str("join ")?,
                                Some(Wait::BlockOn) => f.write_str("block_on ")?,
                                Some(Wait::Await) => f.write_str("await?! ")?,
                                None => {}
                            }
                            node(p, child, f)?;
                        }
                        f.write_str(")")?;
                    }
                    Op::Spawn { child, wait } => {
                        let how = match wait {
                            Wait::Join => "join",
                            Wait::Await => "await",
                            Wait::BlockOn => "block_on",
                        };
                        write!(f, "spawn.{how}(")?;
                        node(p, child, f)?;
                        f.write_str(")")?;
                    }
                    Op::Detach { child } => {
                        f.write_str("detach(")?;
                        node(p, child, f)?;
                        f.write_str(")")?;
                    }
                }
            }
            f.write_str("]")
        }
        write!(
            f,
            "seed {:#x}, {} tasks, {} signals, outer {:?}: ",
            self.seed,
            self.nodes.len(),
            self.signals,
            self.outer_wait
        )?;
        node(self, 0, f)
    }
}

// ---------------------------------------------------------------------------
// Measuring: peak stack depth (from inside tasks) and peak thread count (from
// a monitor thread reading /proc).
// ---------------------------------------------------------------------------

struct Stats {
    id: usize,
    /// The largest distance between the shallowest and the deepest probe on
    /// one thread, in bytes.
    peak_stack: AtomicUsize,
}

impl Stats {
    fn new() -> Stats {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        Stats {
            id: NEXT.fetch_add(1, SeqCst),
            peak_stack: AtomicUsize::new(0),
        }
    }
}

thread_local! {
    /// This thread's `(stats id, highest, lowest)` probe addresses.
    static PROBES: Cell<(usize, usize, usize)> = const { Cell::new((0, 0, 0)) };
}

/// Records how deep the stack is here: called at the top of a task and after
/// each of its operations. Stacks grow down, so a frame run on top of a
/// waiting one has a lower address than a task polled from the run loop.
#[inline(never)]
fn probe_stack(stats: &Stats) {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    PROBES.with(|probes| {
        let (id, high, low) = probes.get();
        let (high, low) = if id == stats.id {
            (high.max(here), low.min(here))
        } else {
            (here, here)
        };
        probes.set((stats.id, high, low));
        stats.peak_stack.fetch_max(high - low, SeqCst);
    });
}

/// Samples the number of threads named with the current runtime's prefix.
#[derive(Default)]
struct Monitor {
    prefix: Mutex<Option<String>>,
    peak: AtomicUsize,
    stop: AtomicBool,
}

impl Monitor {
    fn sample(&self) {
        let prefix = self.prefix.lock().unwrap().clone();
        if let Some(count) = prefix.and_then(|p| threads_named(&p)).map(|t| t.len()) {
            self.peak.fetch_max(count, SeqCst);
        }
    }

    fn watch(&self, prefix: Option<String>) {
        *self.prefix.lock().unwrap() = prefix;
    }
}

/// Stops the monitor when dropped, also on a panic.
struct StopMonitor<'a>(&'a Monitor);

impl Drop for StopMonitor<'_> {
    fn drop(&mut self) {
        self.0.stop.store(true, SeqCst);
    }
}

/// Prints which program failed when dropped during a panic.
struct Blame<'a>(&'a Program, usize);

impl Drop for Blame<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "dependency_stress: FAILED on {} workers; replay with {SEED_ENV}={:#x}\n  {}",
                self.1, self.0.seed, self.0
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Running a program on paddock.
// ---------------------------------------------------------------------------

struct Env<'a> {
    p: &'a Program,
    signals: Vec<Event>,
    stats: &'a Stats,
    workers: usize,
}

impl Env<'_> {
    fn check(&self, what: &str, got: u64, node: usize) {
        let want = value(self.p, node);
        assert_eq!(
            got, want,
            "{what} of n{node} on {} workers (program seed {:#x}): a scope or join \
             returned before its task completed, or a result went astray",
            self.workers, self.p.seed
        );
    }
}

type Task<'a> = Pin<Box<dyn Future<Output = u64> + Send + 'a>>;

/// Node `id` as a task of `s`, whose tasks not spawned by its closure write
/// their results into `extra`.
fn run_node<'scope, 'env>(
    env: &'env Env<'env>,
    id: usize,
    s: &'scope Scope<'scope, 'env>,
    extra: &'env [AtomicU64],
) -> Task<'scope> {
    Box::pin(async move {
        probe_stack(env.stats);
        for op in &env.p.nodes[id].ops {
            match *op {
                Op::Yield => yield_now().await,
                Op::Set(k) => env.signals[k].set(),
                Op::AwaitSignal(k) => env.signals[k].wait().await,
                Op::BlockOnSignal(k) => paddock::block_on(env.signals[k].wait()),
                Op::Unassigned { .. } => unreachable!("an unassigned wait"),
                Op::Scope {
                    scope,
                    ref children,
                } => run_nested_scope(env, scope, children),
                Op::Spawn { child, wait } => {
                    let handle = s.spawn(extra_task(env, child, s, extra));
                    let got = match wait {
                        Wait::Join => handle.join(),
                        Wait::Await => handle.await,
                        Wait::BlockOn => paddock::block_on(handle),
                    };
                    env.check("the joined output", got.unwrap(), child);
                }
                Op::Detach { child } => drop(s.spawn(extra_task(env, child, s, extra))),
            }
            probe_stack(env.stats);
        }
        value(env.p, id)
    })
}

/// Node `child` as a task of `s` spawned by another task of `s`: it writes
/// its result into its slot of `extra`.
fn extra_task<'scope, 'env>(
    env: &'env Env<'env>,
    child: usize,
    s: &'scope Scope<'scope, 'env>,
    extra: &'env [AtomicU64],
) -> Task<'scope> {
    let Slot::Extra(slot) = env.p.nodes[child].slot else {
        unreachable!("n{child} is spawned by a task")
    };
    Box::pin(async move {
        let result = run_node(env, child, s, extra).await;
        extra[slot].store(result, SeqCst);
        result
    })
}

/// Opens scope `scope` for `children`, then checks every slot of it.
fn run_nested_scope(env: &Env<'_>, scope: usize, children: &[(usize, Option<Wait>)]) {
    let tasks = &env.p.scopes[scope];
    let mut direct = vec![0u64; children.len()];
    let extra: Vec<AtomicU64> = tasks.extra.iter().map(|_| AtomicU64::new(0)).collect();
    let joined: Vec<Option<u64>> = paddock::scope(|s| {
        let extra = &extra[..];
        let handles: Vec<_> = children
            .iter()
            .zip(direct.iter_mut())
            .map(|(&(child, _), slot)| {
                s.spawn(async move {
                    let result = run_node(env, child, s, extra).await;
                    *slot = result;
                    result
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(children)
            .map(|(handle, &(_, wait))| match wait {
                None => {
                    drop(handle);
                    None
                }
                Some(Wait::Join) => Some(handle.join().unwrap()),
                Some(Wait::BlockOn) => Some(paddock::block_on(handle).unwrap()),
                Some(Wait::Await) => unreachable!("a scope's closure cannot await"),
            })
            .collect()
    });
    check_scope(env, scope, &direct, &extra, &joined, children);
}

fn check_scope(
    env: &Env<'_>,
    scope: usize,
    direct: &[u64],
    extra: &[AtomicU64],
    joined: &[Option<u64>],
    children: &[(usize, Option<Wait>)],
) {
    let tasks = &env.p.scopes[scope];
    assert_eq!(tasks.direct.len(), direct.len());
    for ((&child, &got), &joined) in tasks.direct.iter().zip(direct).zip(joined) {
        env.check("the slot after its scope returned", got, child);
        if let Some(joined) = joined {
            env.check("the output joined in the scope's closure", joined, child);
        }
    }
    debug_assert!(children
        .iter()
        .map(|c| c.0)
        .eq(tasks.direct.iter().copied()));
    debug_assert!(tasks
        .direct
        .iter()
        .enumerate()
        .all(|(i, &task)| matches!(env.p.nodes[task].slot, Slot::Direct(j) if j == i)));
    for (&task, got) in tasks.extra.iter().zip(extra) {
        env.check(
            "the outer-scope slot after its scope returned",
            got.load(SeqCst),
            task,
        );
    }
}

/// Runs `p` on a fresh runtime of `workers` workers, under the monitor.
fn run_on_paddock(
    p: &Program,
    workers: usize,
    stats: &Stats,
    monitor: &Monitor,
    progress: &Progress,
) {
    let _blame = Blame(p, workers);
    let prefix = unique_prefix("dep");
    let rt = named_rt(workers, &prefix);
    monitor.watch(Some(prefix.clone()));
    let env = Env {
        p,
        signals: (0..p.signals).map(|_| Event::new()).collect(),
        stats,
        workers,
    };
    let env = &env;
    let mut direct = [0u64];
    let extra: Vec<AtomicU64> = p.scopes[0]
        .extra
        .iter()
        .map(|_| AtomicU64::new(0))
        .collect();
    let joined = rt.scope(|s| {
        let extra = &extra[..];
        let slot = &mut direct[0];
        let root = s.spawn(async move {
            let result = run_node(env, 0, s, extra).await;
            *slot = result;
            result
        });
        match p.outer_wait {
            Wait::Join => root.join(),
            _ => rt.block_on(root),
        }
        .unwrap()
    });
    check_scope(env, 0, &direct, &extra, &[Some(joined)], &[(0, None)]);
    assert!(
        env.signals.iter().all(Event::is_set),
        "every signal was set"
    );
    // Idle spares live on for seconds, so the count now is close to the peak.
    monitor.sample();
    monitor.watch(None);
    // A hang from here on is the runtime's shutdown, not the program.
    progress.step_at(format!(
        "{workers} worker(s), program seed {:#x} completed; dropping its runtime \
         (threads {prefix}*)",
        p.seed
    ));
    drop(rt);
    assert_threads_gone(&prefix);
}

// ---------------------------------------------------------------------------
// Running a program on OS threads, one per task: the reference.
// ---------------------------------------------------------------------------

/// Polls `future` to its end on this thread, parking between polls.
fn park_on<F: Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

fn thread_node<'scope, 'env>(
    env: &'env Env<'env>,
    id: usize,
    s: &'scope thread::Scope<'scope, 'env>,
    extra: &'env [AtomicU64],
) -> u64 {
    for op in &env.p.nodes[id].ops {
        match *op {
            Op::Yield => thread::yield_now(),
            Op::Set(k) => env.signals[k].set(),
            Op::AwaitSignal(k) | Op::BlockOnSignal(k) => park_on(env.signals[k].wait()),
            Op::Unassigned { .. } => unreachable!("an unassigned wait"),
            Op::Scope {
                scope,
                ref children,
            } => {
                let tasks = &env.p.scopes[scope];
                let mut direct = vec![0u64; children.len()];
                let extra: Vec<AtomicU64> = tasks.extra.iter().map(|_| AtomicU64::new(0)).collect();
                let joined: Vec<Option<u64>> = thread::scope(|s| {
                    let extra = &extra[..];
                    let handles: Vec<_> = children
                        .iter()
                        .zip(direct.iter_mut())
                        .map(|(&(child, _), slot)| {
                            s.spawn(move || {
                                *slot = thread_node(env, child, s, extra);
                                *slot
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .zip(children)
                        .map(|(h, &(_, wait))| wait.map(|_| h.join().unwrap()))
                        .collect()
                });
                check_scope(env, scope, &direct, &extra, &joined, children);
            }
            Op::Spawn { child, .. } | Op::Detach { child } => {
                let Slot::Extra(slot) = env.p.nodes[child].slot else {
                    unreachable!()
                };
                let handle = s.spawn(move || {
                    let result = thread_node(env, child, s, extra);
                    extra[slot].store(result, SeqCst);
                    result
                });
                if matches!(op, Op::Spawn { .. }) {
                    env.check("the joined output", handle.join().unwrap(), child);
                }
            }
        }
    }
    value(env.p, id)
}

fn run_on_threads(p: &Program, stats: &Stats) {
    let env = Env {
        p,
        signals: (0..p.signals).map(|_| Event::new()).collect(),
        stats,
        workers: 0,
    };
    let env = &env;
    let mut direct = [0u64];
    let extra: Vec<AtomicU64> = p.scopes[0]
        .extra
        .iter()
        .map(|_| AtomicU64::new(0))
        .collect();
    let joined = thread::scope(|s| {
        let extra = &extra[..];
        let slot = &mut direct[0];
        s.spawn(move || {
            *slot = thread_node(env, 0, s, extra);
            *slot
        })
        .join()
        .unwrap()
    });
    check_scope(env, 0, &direct, &extra, &[Some(joined)], &[(0, None)]);
}

// ---------------------------------------------------------------------------
// The runs.
// ---------------------------------------------------------------------------

struct Report {
    programs: usize,
    census: Census,
    peak_threads: usize,
    peak_stack: usize,
    elapsed: Duration,
}

/// Runs programs `first..` on fresh runtimes of `workers` workers while
/// `more(done)` says so, with a thread monitor, and checks the bounds.
fn run_programs(
    workers: usize,
    size: Size,
    first: usize,
    progress: &Progress,
    mut more: impl FnMut(usize) -> bool,
) -> Report {
    let base = base_seed();
    let stats = Stats::new();
    let monitor = Monitor::default();
    let started = Instant::now();
    let mut census = Census::default();
    let mut programs = 0;
    thread::scope(|ts| {
        ts.spawn(|| {
            while !monitor.stop.load(SeqCst) {
                monitor.sample();
                thread::sleep(Duration::from_millis(2));
            }
        });
        let _stop = StopMonitor(&monitor);
        while more(programs) {
            let p = generate(program_seed(base, first + programs), size);
            progress.step_at(format!(
                "{workers} worker(s), program {} (replay: {SEED_ENV}={:#x}): {p}",
                first + programs,
                p.seed
            ));
            run_on_paddock(&p, workers, &stats, &monitor, progress);
            census.add(Census::of(&p));
            programs += 1;
        }
    });
    let report = Report {
        programs,
        census,
        peak_threads: monitor.peak.load(SeqCst),
        peak_stack: stats.peak_stack.load(SeqCst),
        elapsed: started.elapsed(),
    };
    println!(
        "dependency_stress: {workers} worker{}: {} programs ({} tasks, {} blocking and {} async \
         waits), peak {} threads, peak stack {} KiB, {:.1} s (base seed {base:#x})",
        if workers == 1 { "" } else { "s" },
        report.programs,
        report.census.tasks,
        report.census.blocking_waits,
        report.census.async_waits,
        report.peak_threads,
        report.peak_stack / 1024,
        report.elapsed.as_secs_f64(),
    );
    assert!(
        report.peak_threads <= workers + THREAD_CAP_BEYOND_WORKERS,
        "{workers} workers: {} threads at the peak, over the cap of workers + \
         {THREAD_CAP_BEYOND_WORKERS} (base seed {base:#x})",
        report.peak_threads
    );
    assert!(
        report.peak_stack < STACK_LIMIT,
        "{workers} workers: {} KiB of stack at the peak, over {} KiB (base seed {base:#x})",
        report.peak_stack / 1024,
        STACK_LIMIT / 1024
    );
    report
}

/// The default run: `scaled(PROGRAMS)` programs on `workers` workers.
fn dependency_trees_on(workers: usize) {
    const PROGRAMS: usize = 250;
    let programs = scaled(PROGRAMS, stress_scale());
    let name = format!(
        "dependency_trees_complete_on_{workers}_worker{}",
        if workers == 1 { "" } else { "s" }
    );
    progress_watchdog(STALL_SECS, &name, move |progress| {
        let report = run_programs(workers, DEFAULT_SIZE, 0, progress, |done| done < programs);
        assert_eq!(report.programs, programs);
    });
}

#[test]
fn dependency_trees_complete_on_1_worker() {
    dependency_trees_on(1);
}

#[test]
fn dependency_trees_complete_on_2_workers() {
    dependency_trees_on(2);
}

#[test]
fn dependency_trees_complete_on_4_workers() {
    dependency_trees_on(4);
}

/// The generator's claim, checked without paddock: every program completes
/// with one OS thread per task.
#[test]
fn generated_programs_complete_on_os_threads() {
    const PROGRAMS: usize = 100;
    let programs = scaled(PROGRAMS, stress_scale());
    progress_watchdog(
        STALL_SECS,
        "generated_programs_complete_on_os_threads",
        move |progress| {
            let base = base_seed();
            let stats = Stats::new();
            for i in 0..programs {
                let p = generate(program_seed(base, i), DEFAULT_SIZE);
                progress.step_at(format!("on OS threads, program {i}: {p}"));
                let _blame = Blame(&p, 0);
                run_on_threads(&p, &stats);
            }
        },
    );
}

/// The generator is a function of the seed, so a printed seed replays.
#[test]
fn a_seed_replays_its_program() {
    for i in 0..20 {
        let seed = program_seed(0x5eed, i);
        assert_eq!(
            generate(seed, DEFAULT_SIZE).to_string(),
            generate(seed, DEFAULT_SIZE).to_string()
        );
    }
    // Programs of all kinds come out: every operation, every way to wait.
    let mut seen = [false; 11];
    for i in 0..200 {
        let p = generate(program_seed(0x5eed, i), DEFAULT_SIZE);
        for op in p.nodes.iter().flat_map(|n| &n.ops) {
            let kind = match op {
                Op::Yield => 0,
                Op::Set(_) => 1,
                Op::AwaitSignal(_) => 2,
                Op::BlockOnSignal(_) => 3,
                Op::Scope { children, .. } => {
                    for (_, wait) in children {
                        seen[4 + wait.map_or(0, |w| if w == Wait::Join { 1 } else { 2 })] = true;
                    }
                    continue;
                }
                Op::Spawn { wait, .. } => {
                    7 + match wait {
                        Wait::Join => 0,
                        Wait::Await => 1,
                        Wait::BlockOn => 2,
                    }
                }
                Op::Detach { .. } => 10,
                Op::Unassigned { .. } => unreachable!(),
            };
            seen[kind] = true;
        }
        assert!(p.nodes.iter().any(|n| !n.ops.is_empty()));
    }
    assert!(seen.iter().all(|&s| s), "operations seen: {seen:?}");
}

/// The validity check is not vacuous: it rejects programs that deadlock with
/// a thread per task, and accepts the same programs reordered.
#[test]
fn the_schedule_check_rejects_deadlocks() {
    let node = |ops: Vec<Op>, scope: usize, slot: Slot| Node { ops, scope, slot };
    let program = |nodes: Vec<Node>, scopes: Vec<ScopeTasks>| Program {
        seed: 1,
        nodes,
        scopes,
        signals: 1,
        outer_wait: Wait::Join,
    };
    // n0 waits for signal 0, which its child sets, before spawning it.
    let own_child = |wait_first: bool| {
        let mut ops = vec![
            Op::AwaitSignal(0),
            Op::Scope {
                scope: 1,
                children: vec![(1, None)],
            },
        ];
        if !wait_first {
            ops.reverse();
        }
        program(
            vec![
                node(ops, 0, Slot::Direct(0)),
                node(vec![Op::Set(0)], 1, Slot::Direct(0)),
            ],
            vec![
                ScopeTasks {
                    direct: vec![0],
                    extra: vec![],
                },
                ScopeTasks {
                    direct: vec![1],
                    extra: vec![],
                },
            ],
        )
    };
    assert!(check_schedule(&own_child(true)).is_err());
    assert!(check_schedule(&own_child(false)).is_ok());
    // Two siblings: n1 blocks on signal 0 before setting it; n2 sets 0 only
    // after joining n3, which is spawned into the outer scope and waits for a
    // signal that only n1 sets... after its wait. Ordered the other way round
    // in n1, it is fine.
    let siblings = |wait_first: bool| {
        let mut n1 = vec![Op::BlockOnSignal(0), Op::Set(1)];
        if !wait_first {
            n1.reverse();
        }
        let mut p = program(
            vec![
                node(
                    vec![Op::Scope {
                        scope: 1,
                        children: vec![(1, Some(Wait::Join)), (2, None)],
                    }],
                    0,
                    Slot::Direct(0),
                ),
                node(n1, 1, Slot::Direct(0)),
                node(
                    vec![
                        Op::Spawn {
                            child: 3,
                            wait: Wait::Await,
                        },
                        Op::Set(0),
                    ],
                    1,
                    Slot::Direct(1),
                ),
                node(vec![Op::AwaitSignal(1)], 1, Slot::Extra(0)),
            ],
            vec![
                ScopeTasks {
                    direct: vec![0],
                    extra: vec![],
                },
                ScopeTasks {
                    direct: vec![1, 2],
                    extra: vec![3],
                },
            ],
        );
        p.signals = 2;
        p
    };
    assert!(check_schedule(&siblings(true)).is_err());
    assert!(check_schedule(&siblings(false)).is_ok());
    // And the accepted ones run, on threads and on one worker.
    let accepted = [own_child(false), siblings(false)];
    watchdog(
        common::LIMIT,
        "the_schedule_check_rejects_deadlocks",
        move || {
            let stats = Stats::new();
            let monitor = Monitor::default();
            let progress = Progress::default();
            for p in &accepted {
                run_on_threads(p, &stats);
                run_on_paddock(p, 1, &stats, &monitor, &progress);
            }
        },
    );
}

/// The soak: bigger programs on 1 to 4 workers, for `PADDOCK_SOAK_SECS`.
#[test]
#[ignore = "a long soak: cargo test --release --test dependency_stress soak -- --ignored"]
fn soak() {
    let secs = soak_secs();
    let scale = stress_scale();
    let size = Size {
        max_nodes: scaled(SOAK_SIZE.max_nodes, scale),
        ..SOAK_SIZE
    };
    eprintln!(
        "dependency soak: {secs} s, up to {} tasks a program",
        size.max_nodes
    );
    progress_watchdog(STALL_SECS, "dependency soak", move |progress| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut first = 0;
        let mut round = 0;
        while Instant::now() < deadline {
            let workers = 1 + round % 4;
            let batch_end = Instant::now()
                + Duration::from_secs(10).min(deadline.saturating_duration_since(Instant::now()));
            let report = run_programs(workers, size, first, progress, |_| {
                Instant::now() < batch_end
            });
            first += report.programs;
            round += 1;
        }
        eprintln!("dependency soak: {first} programs in {round} batches, no failure");
    });
}
