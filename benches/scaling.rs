//! scaling: what each runtime costs per unit of work as the worker count
//! grows, in wall time, CPU time and context switches.
//!
//! Criterion measures wall time only, so this is a plain harness
//! (`harness = false`, its own `main`). For every shape, runtime and worker
//! count in `PADDOCK_BENCH_WORKERS` (default `1,2`) it runs one warm-up pass
//! and then `PADDOCK_SCALING_PASSES` (default 5) measured passes; each pass
//! reads the wall clock and `getrusage(RUSAGE_SELF)` (user + system CPU,
//! voluntary + involuntary context switches) before and after. paddock's and
//! tokio's passes alternate (paddock, tokio, tokio, paddock, ...), so that a
//! machine that drifts between fast and slow phases slows both alike. The
//! reported figure is the median over the passes of each per-unit value.
//!
//! CPU time and switches are counted until [`SETTLE`] after the work ends,
//! so that what a runtime's workers do on their way to sleep (spinning,
//! searching, waking each other) is charged to that runtime and not to the
//! next pass; the bench thread's own usage while it waits out that time is
//! subtracted. The bench thread is part of every shape (it waits for the
//! result), as it is in tokio's benches.
//!
//! The shapes are those of tokio's `benches/rt_multi_threaded.rs`
//! (tokio-rs/tokio, MIT), rewritten here for both runtimes, plus `burst`:
//!
//! - `spawn_many_local`: one task spawns 10,000 empty tasks, each clones an
//!   `Arc` counter and a `SyncSender`; the last to finish signals the bench
//!   thread. Unlike tokio's version, which spawns from `block_on` (not a
//!   worker thread, so its spawns go through the injector), the spawner is a
//!   task, so the spawns are local to a worker.
//! - `spawn_many_remote_idle`: the bench thread spawns 10,000 empty tasks
//!   and then awaits their handles in `block_on`.
//! - `chained_spawn`: each task spawns the next, 1,000 deep.
//! - `ping_pong`: 1,000 tasks each spawn a partner and exchange one message
//!   each way with it (tokio uses its `oneshot`; here both runtimes use
//!   `async_channel::bounded(1)`, paddock having no channel of its own).
//! - `yield_many`: 200 tasks spawned from the bench thread yield 1,000 times
//!   each.
//! - `burst`: one task runs 10,000 rounds of spawning 8 tasks of about 1 µs
//!   of arithmetic each and waiting for them (paddock: a `paddock::scope`
//!   inside the task; tokio: spawn + `.await`).
//!
//! Every task here is `'static` (`Runtime::spawn`, `paddock::spawn`), like
//! tokio's, except burst's scoped tasks.
//!
//! Output: a line per shape, runtime and worker count, and
//! `<target dir>/scaling/results.csv` (see [`CSV_HEADER`]), which
//! `scripts/bench-report --scaling` turns into tables and a plot.
//!
//! ```sh
//! PADDOCK_BENCH_WORKERS=1,2,4,8 cargo bench --bench scaling
//! cargo bench --bench scaling -- burst ping    # only shapes containing these
//! scripts/bench-report --scaling --svg scaling.svg
//! ```
//!
//! Under `cargo test --benches` (or `-- --test`) every shape runs once with
//! tiny sizes and no file is written.

mod common;

use std::fs;
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::full_size;

/// How long after each pass the bench waits before reading the counters.
const SETTLE: Duration = Duration::from_millis(10);

/// The columns of `results.csv`; the per-unit figures are medians over the
/// passes, and `switches` is voluntary + involuntary.
const CSV_HEADER: &str = "shape,runtime,workers,wall_ns_per_unit,cpu_ns_per_unit,\
switches_per_1000_units,passes,unit,voluntary_per_1000_units,involuntary_per_1000_units";

/// Tasks burst spawns per round.
const BURST_TASKS: usize = 8;

// ---------------------------------------------------------------------------
// getrusage, declared here rather than adding the libc crate.

#[cfg(target_os = "linux")]
mod sys {
    use std::os::raw::{c_int, c_long};

    pub const RUSAGE_SELF: c_int = 0;
    pub const RUSAGE_THREAD: c_int = 1;

    #[repr(C)]
    #[derive(Default)]
    pub struct Timeval {
        pub tv_sec: c_long,
        pub tv_usec: c_long,
    }

    /// `struct rusage` of Linux (glibc and musl, 64-bit time).
    #[repr(C)]
    #[derive(Default)]
    pub struct Rusage {
        pub ru_utime: Timeval,
        pub ru_stime: Timeval,
        /// ru_maxrss to ru_nsignals.
        pub _other: [c_long; 12],
        pub ru_nvcsw: c_long,
        pub ru_nivcsw: c_long,
    }

    extern "C" {
        pub fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
    }
}

/// CPU time and context switches so far, of the process or of this thread.
#[derive(Clone, Copy, Default)]
struct Usage {
    cpu_ns: u64,
    voluntary: u64,
    involuntary: u64,
}

impl Usage {
    #[cfg(target_os = "linux")]
    fn read(who: std::os::raw::c_int) -> Usage {
        let mut r = sys::Rusage::default();
        // SAFETY: `r` is a valid, writable `struct rusage`.
        let rc = unsafe { sys::getrusage(who, &mut r) };
        assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
        let ns = |t: &sys::Timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
        Usage {
            cpu_ns: ns(&r.ru_utime) + ns(&r.ru_stime),
            voluntary: r.ru_nvcsw as u64,
            involuntary: r.ru_nivcsw as u64,
        }
    }

    #[cfg(target_os = "linux")]
    fn process() -> Usage {
        Usage::read(sys::RUSAGE_SELF)
    }

    #[cfg(target_os = "linux")]
    fn thread() -> Usage {
        Usage::read(sys::RUSAGE_THREAD)
    }

    // Elsewhere only wall time is measured; CPU and switches read as 0.
    #[cfg(not(target_os = "linux"))]
    fn process() -> Usage {
        Usage::default()
    }

    #[cfg(not(target_os = "linux"))]
    fn thread() -> Usage {
        Usage::default()
    }

    fn minus(self, other: Usage) -> Usage {
        Usage {
            cpu_ns: self.cpu_ns.saturating_sub(other.cpu_ns),
            voluntary: self.voluntary.saturating_sub(other.voluntary),
            involuntary: self.involuntary.saturating_sub(other.involuntary),
        }
    }
}

/// One measured pass.
struct Sample {
    wall_ns: u64,
    usage: Usage,
}

fn measure(pass: impl FnOnce()) -> Sample {
    let before = Usage::process();
    let start = Instant::now();
    pass();
    let wall_ns = start.elapsed().as_nanos() as u64;
    let waiting = Usage::thread();
    thread::sleep(SETTLE);
    let waited = Usage::thread().minus(waiting);
    let usage = Usage::process().minus(before).minus(waited);
    Sample { wall_ns, usage }
}

// ---------------------------------------------------------------------------
// The shapes, once per runtime.

/// The size of one pass: `reps` repetitions of tokio's iteration of `n`
/// (and `m`: yield_many's yields per task).
#[derive(Clone, Copy)]
struct Size {
    reps: usize,
    n: usize,
    m: usize,
}

struct Shape {
    name: &'static str,
    unit: &'static str,
    size: Size,
    /// Units of work in one pass.
    units: usize,
    paddock: fn(&paddock::Runtime, Size),
    tokio: fn(&tokio::runtime::Runtime, Size),
}

fn shapes() -> Vec<Shape> {
    let full = full_size();
    let size = |reps, n, m, quick_n, quick_m| {
        if full {
            Size { reps, n, m }
        } else {
            Size {
                reps: 1,
                n: quick_n,
                m: quick_m,
            }
        }
    };
    let spawn = size(10, 10_000, 1, 100, 1);
    let chain = size(10, 1_000, 1, 50, 1);
    let ping = size(10, 1_000, 1, 50, 1);
    let yields = size(1, 200, 1_000, 10, 10);
    let burst = size(1, 10_000, 1, 50, 1);
    let units = |s: Size| s.reps * s.n * s.m;
    vec![
        Shape {
            name: "spawn_many_local",
            unit: "task",
            size: spawn,
            units: units(spawn),
            paddock: paddock_shapes::spawn_many_local,
            tokio: tokio_shapes::spawn_many_local,
        },
        Shape {
            name: "spawn_many_remote_idle",
            unit: "task",
            size: spawn,
            units: units(spawn),
            paddock: paddock_shapes::spawn_many_remote_idle,
            tokio: tokio_shapes::spawn_many_remote_idle,
        },
        Shape {
            name: "chained_spawn",
            unit: "task",
            size: chain,
            units: units(chain),
            paddock: paddock_shapes::chained_spawn,
            tokio: tokio_shapes::chained_spawn,
        },
        Shape {
            name: "ping_pong",
            unit: "ping",
            size: ping,
            units: units(ping),
            paddock: paddock_shapes::ping_pong,
            tokio: tokio_shapes::ping_pong,
        },
        Shape {
            name: "yield_many",
            unit: "yield",
            size: yields,
            units: units(yields),
            paddock: paddock_shapes::yield_many,
            tokio: tokio_shapes::yield_many,
        },
        Shape {
            name: "burst",
            unit: "round",
            size: burst,
            units: units(burst),
            paddock: paddock_shapes::burst,
            tokio: tokio_shapes::burst,
        },
    ]
}

/// Iterations of [`work`] that take about 1 µs, measured once.
static WORK_ITERATIONS: OnceLock<u64> = OnceLock::new();

/// Arithmetic the optimiser cannot remove, `iterations` steps long.
fn work(iterations: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..iterations {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
    }
    x
}

/// Calibrates [`WORK_ITERATIONS`] on the fastest of several tries, so that a
/// slow phase of the machine does not lengthen the work.
fn calibrate() -> u64 {
    *WORK_ITERATIONS.get_or_init(|| {
        if !full_size() {
            return 100;
        }
        const PROBE: u64 = 1_000_000;
        let fastest = (0..7)
            .map(|_| {
                let start = Instant::now();
                black_box(work(PROBE));
                start.elapsed().as_nanos() as u64
            })
            .min()
            .unwrap()
            .max(1);
        (PROBE * 1_000 / fastest).max(1)
    })
}

fn burst_iterations() -> u64 {
    *WORK_ITERATIONS.get().expect("calibrated in main")
}

mod paddock_shapes {
    use super::*;

    pub fn spawn_many_local(rt: &paddock::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            let rem = Arc::new(AtomicUsize::new(size.n));
            drop(rt.spawn(async move {
                for _ in 0..size.n {
                    let done_tx = done_tx.clone();
                    let rem = rem.clone();
                    drop(paddock::spawn(async move {
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).unwrap();
                        }
                    }));
                }
            }));
            done_rx.recv().unwrap();
        }
    }

    pub fn spawn_many_remote_idle(rt: &paddock::Runtime, size: Size) {
        let mut handles = Vec::with_capacity(size.n);
        for _ in 0..size.reps {
            handles.extend((0..size.n).map(|_| rt.spawn(async {})));
            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await.unwrap();
                }
            });
        }
    }

    fn chain(done_tx: SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            drop(paddock::spawn(async move { chain(done_tx, n - 1) }));
        }
    }

    pub fn chained_spawn(rt: &paddock::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            drop(rt.spawn(async move { chain(done_tx, size.n) }));
            done_rx.recv().unwrap();
        }
    }

    pub fn ping_pong(rt: &paddock::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            let rem = Arc::new(AtomicUsize::new(size.n));
            drop(rt.spawn(async move {
                for _ in 0..size.n {
                    let done_tx = done_tx.clone();
                    let rem = rem.clone();
                    drop(paddock::spawn(async move {
                        let (tx1, rx1) = async_channel::bounded(1);
                        let (tx2, rx2) = async_channel::bounded(1);
                        drop(paddock::spawn(async move {
                            rx1.recv().await.unwrap();
                            tx2.send(()).await.unwrap();
                        }));
                        tx1.send(()).await.unwrap();
                        rx2.recv().await.unwrap();
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).unwrap();
                        }
                    }));
                }
            }));
            done_rx.recv().unwrap();
        }
    }

    pub fn yield_many(rt: &paddock::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(size.n);
            for _ in 0..size.n {
                let done_tx = done_tx.clone();
                drop(rt.spawn(async move {
                    for _ in 0..size.m {
                        paddock::yield_now().await;
                    }
                    done_tx.send(()).unwrap();
                }));
            }
            for _ in 0..size.n {
                done_rx.recv().unwrap();
            }
        }
    }

    pub fn burst(rt: &paddock::Runtime, size: Size) {
        let iterations = burst_iterations();
        for _ in 0..size.reps {
            rt.spawn(async move {
                for _ in 0..size.n {
                    paddock::scope(|s| {
                        for _ in 0..BURST_TASKS {
                            s.spawn(async move {
                                black_box(work(iterations));
                            });
                        }
                    });
                }
            })
            .join()
            .unwrap();
        }
    }
}

mod tokio_shapes {
    use super::*;

    pub fn spawn_many_local(rt: &tokio::runtime::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            let rem = Arc::new(AtomicUsize::new(size.n));
            drop(rt.spawn(async move {
                for _ in 0..size.n {
                    let done_tx = done_tx.clone();
                    let rem = rem.clone();
                    drop(tokio::spawn(async move {
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).unwrap();
                        }
                    }));
                }
            }));
            done_rx.recv().unwrap();
        }
    }

    pub fn spawn_many_remote_idle(rt: &tokio::runtime::Runtime, size: Size) {
        let mut handles = Vec::with_capacity(size.n);
        for _ in 0..size.reps {
            handles.extend((0..size.n).map(|_| rt.spawn(async {})));
            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await.unwrap();
                }
            });
        }
    }

    fn chain(done_tx: SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            drop(tokio::spawn(async move { chain(done_tx, n - 1) }));
        }
    }

    pub fn chained_spawn(rt: &tokio::runtime::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            drop(rt.spawn(async move { chain(done_tx, size.n) }));
            done_rx.recv().unwrap();
        }
    }

    pub fn ping_pong(rt: &tokio::runtime::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            let rem = Arc::new(AtomicUsize::new(size.n));
            drop(rt.spawn(async move {
                for _ in 0..size.n {
                    let done_tx = done_tx.clone();
                    let rem = rem.clone();
                    drop(tokio::spawn(async move {
                        let (tx1, rx1) = async_channel::bounded(1);
                        let (tx2, rx2) = async_channel::bounded(1);
                        drop(tokio::spawn(async move {
                            rx1.recv().await.unwrap();
                            tx2.send(()).await.unwrap();
                        }));
                        tx1.send(()).await.unwrap();
                        rx2.recv().await.unwrap();
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).unwrap();
                        }
                    }));
                }
            }));
            done_rx.recv().unwrap();
        }
    }

    pub fn yield_many(rt: &tokio::runtime::Runtime, size: Size) {
        for _ in 0..size.reps {
            let (done_tx, done_rx) = mpsc::sync_channel(size.n);
            for _ in 0..size.n {
                let done_tx = done_tx.clone();
                drop(rt.spawn(async move {
                    for _ in 0..size.m {
                        tokio::task::yield_now().await;
                    }
                    done_tx.send(()).unwrap();
                }));
            }
            for _ in 0..size.n {
                done_rx.recv().unwrap();
            }
        }
    }

    pub fn burst(rt: &tokio::runtime::Runtime, size: Size) {
        let iterations = burst_iterations();
        for _ in 0..size.reps {
            let round = rt.spawn(async move {
                let mut handles = Vec::with_capacity(BURST_TASKS);
                for _ in 0..size.n {
                    handles.extend((0..BURST_TASKS).map(|_| {
                        tokio::spawn(async move {
                            black_box(work(iterations));
                        })
                    }));
                    for handle in handles.drain(..) {
                        handle.await.unwrap();
                    }
                }
            });
            rt.block_on(round).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// The harness.

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Paddock,
    Tokio,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Paddock => "paddock",
            Which::Tokio => "tokio",
        }
    }
}

/// One line of the results.
struct Row {
    shape: &'static str,
    unit: &'static str,
    runtime: &'static str,
    workers: usize,
    wall_ns: f64,
    cpu_ns: f64,
    switches: f64,
    voluntary: f64,
    involuntary: f64,
    passes: usize,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn summarise(shape: &Shape, which: Which, workers: usize, samples: &[Sample]) -> Row {
    let per_unit = |f: &dyn Fn(&Sample) -> u64, scale: f64| {
        median(
            samples
                .iter()
                .map(|s| f(s) as f64 * scale / shape.units as f64)
                .collect(),
        )
    };
    Row {
        shape: shape.name,
        unit: shape.unit,
        runtime: which.name(),
        workers,
        wall_ns: per_unit(&|s| s.wall_ns, 1.0),
        cpu_ns: per_unit(&|s| s.usage.cpu_ns, 1.0),
        switches: per_unit(&|s| s.usage.voluntary + s.usage.involuntary, 1000.0),
        voluntary: per_unit(&|s| s.usage.voluntary, 1000.0),
        involuntary: per_unit(&|s| s.usage.involuntary, 1000.0),
        passes: samples.len(),
    }
}

/// The cargo target directory: `$CARGO_TARGET_DIR`, else the nearest
/// ancestor of this executable holding cargo's `CACHEDIR.TAG`
/// (`<target>/[<triple>/]release/deps/scaling-*`), else `./target`.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.ancestors().find(|d| d.join("CACHEDIR.TAG").is_file()) {
            return dir.to_path_buf();
        }
        if let Some(dir) = exe.ancestors().nth(3) {
            return dir.to_path_buf();
        }
    }
    PathBuf::from("target")
}

fn write_csv(rows: &[Row]) -> std::io::Result<PathBuf> {
    let dir = target_dir().join("scaling");
    fs::create_dir_all(&dir)?;
    let path = dir.join("results.csv");
    let mut out = std::io::BufWriter::new(fs::File::create(&path)?);
    writeln!(out, "{CSV_HEADER}")?;
    for r in rows {
        writeln!(
            out,
            "{},{},{},{:.1},{:.1},{:.3},{},{},{:.3},{:.3}",
            r.shape,
            r.runtime,
            r.workers,
            r.wall_ns,
            r.cpu_ns,
            r.switches,
            r.passes,
            r.unit,
            r.voluntary,
            r.involuntary
        )?;
    }
    out.flush()?;
    Ok(path)
}

fn passes() -> usize {
    match std::env::var("PADDOCK_SCALING_PASSES") {
        Err(_) => 5,
        Ok(text) => match text.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("PADDOCK_SCALING_PASSES must be a positive integer (got {text:?})"),
        },
    }
}

fn main() {
    let full = full_size();
    // Arguments that are not flags select shapes by substring, as a
    // criterion filter would.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let shapes: Vec<Shape> = shapes()
        .into_iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    let workers = common::workers();
    let (warm_up, passes) = if full { (1, passes()) } else { (0, 1) };
    let iterations = calibrate();

    if full {
        let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "scaling: {} shapes × paddock, tokio × workers {:?}; {warm_up} warm-up + \
             {passes} passes each, alternating runtimes; burst work {iterations} \
             iterations ≈ 1 µs; {} CPUs, load average {}",
            shapes.len(),
            workers,
            thread::available_parallelism().map_or(0, |n| n.get()),
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        );
        println!("medians per unit; switches = voluntary + involuntary (of which involuntary)");
    }

    let mut rows = Vec::new();
    for &count in &workers {
        let paddock_rt = common::paddock(count);
        let tokio_rt = common::tokio(count);
        for shape in &shapes {
            let run = |which: Which| match which {
                Which::Paddock => (shape.paddock)(&paddock_rt, shape.size),
                Which::Tokio => (shape.tokio)(&tokio_rt, shape.size),
            };
            for _ in 0..warm_up {
                run(Which::Paddock);
                run(Which::Tokio);
            }
            let mut paddock_samples = Vec::with_capacity(passes);
            let mut tokio_samples = Vec::with_capacity(passes);
            for pass in 0..passes {
                // ABBA order: neither runtime always goes first.
                let order = if pass % 2 == 0 {
                    [Which::Paddock, Which::Tokio]
                } else {
                    [Which::Tokio, Which::Paddock]
                };
                for which in order {
                    let sample = measure(|| run(which));
                    match which {
                        Which::Paddock => paddock_samples.push(sample),
                        Which::Tokio => tokio_samples.push(sample),
                    }
                }
            }
            for (which, samples) in [
                (Which::Paddock, &paddock_samples),
                (Which::Tokio, &tokio_samples),
            ] {
                let row = summarise(shape, which, count, samples);
                if full {
                    println!(
                        "{:<23} {:<8} {:>3}w  wall {:>9.1} ns  cpu {:>9.1} ns  \
                         switches {:>9.2} ({:>8.2}) /1k  per {}",
                        row.shape,
                        row.runtime,
                        row.workers,
                        row.wall_ns,
                        row.cpu_ns,
                        row.switches,
                        row.involuntary,
                        row.unit
                    );
                }
                rows.push(row);
            }
        }
    }

    if full {
        match write_csv(&rows) {
            Ok(path) => println!(
                "wrote {}; tables and plot: scripts/bench-report --scaling {} [--svg FILE]",
                path.display(),
                path.display()
            ),
            Err(e) => eprintln!("scaling: could not write results.csv: {e}"),
        }
    } else {
        println!(
            "scaling: {} shapes × 2 runtimes × workers {:?} ran once each (test mode)",
            shapes.len(),
            workers
        );
    }
}
