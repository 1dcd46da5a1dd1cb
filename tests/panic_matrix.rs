//! A matrix of panics from user code (invariants 4 and 7).
//!
//! User code that paddock calls may panic: a task's `poll`, its future's
//! `Drop`, its output's `Drop` (an output nobody reads: the handle was dropped
//! before completion; an output replaced because the future's own drop
//! panicked after it returned `Ready`; an output dropped with a handle that
//! was dropped after completion), a user waker given to `JoinHandle::poll`
//! (`wake`, `clone`, `drop`), and a panic payload's own `Drop`. None of them
//! may skip a scope's join, leak the completion count, abort the process or
//! unwind a frame that waits.
//!
//! Each `matrix_*` test is one set of hooks. It runs its variants in child
//! processes (this test binary again, running only `matrix_child`), one per
//! group of variants (kind and place below), since a runtime that breaks the
//! contract often aborts the process, and one abort would otherwise take every
//! other case down with it. The variants:
//!
//! - a scoped task (`s.spawn`) or a `'static` one (`spawn`);
//! - on a plain worker (the scope, or the `'static` handle, waited on from the
//!   test thread), or "nested": a task opens `paddock::scope` inside
//!   `catch_unwind`, and the hostile task is a child of that scope, so with one
//!   worker the frame that waits is on the very worker that runs it;
//! - the handle joined, detached before the task completes, dropped after it
//!   completed, or used to abort the pending task (its future dropped on the
//!   aborting thread) and then joined;
//! - one worker or two.
//!
//! Each variant checks that the scope returns only after the hostile task's
//! future and output were dropped and a bystander task that waits for the
//! hostile future's drop has finished; that a canary borrowed from the frame
//! the scope lives in was alive at every access; that the panics go where the
//! contract sends them (the handle's `Err(JoinError)` with `is_panic()`; with
//! the handle dropped, the scope re-raises the first unobserved panic; a
//! `'static` task's unobserved panic is dropped); that no waker is leaked; and
//! that the runtime still runs every worker afterwards. The child prints
//! `matrix: start <variant>` before each variant, so a crash names its cause.
//!
//! To run one group by hand:
//! `PADDOCK_PANIC_MATRIX_COMBO='matrix_waker_drop_panics Scoped/Nested'
//! target/debug/deps/panic_matrix-* matrix_child --exact --ignored --nocapture`.

mod common;

use std::any::Any;
use std::future::Future;
use std::ops::Deref;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    child_test, describe, every_worker_runs_at_once, panic_message, rt, run_child, wait_until,
    watchdog, Bomb, Event, Payload,
};
use paddock::{JoinHandle, Scope};

// ---------------------------------------------------------------------------
// Hooks: which user code panics, and with what payload.
// ---------------------------------------------------------------------------

/// The payload a hook panics with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pay {
    /// A `Payload(id)`.
    Plain,
    /// A `Bomb` whose own `Drop` panics again.
    Bomb,
}

/// Which user code panics. Each hook panics with its own id.
#[derive(Clone, Copy, Debug)]
struct Hooks {
    poll: Option<Pay>,
    future_drop: Option<Pay>,
    output_drop: Option<Pay>,
    waker_wake: Option<Pay>,
    waker_clone: Option<Pay>,
    waker_drop: Option<Pay>,
}

const POLL_ID: u32 = 1;
const FUTURE_DROP_ID: u32 = 2;
const OUTPUT_DROP_ID: u32 = 3;
const WAKE_ID: u32 = 4;
const CLONE_ID: u32 = 5;
const WAKER_DROP_ID: u32 = 6;

const NONE: Hooks = Hooks {
    poll: None,
    future_drop: None,
    output_drop: None,
    waker_wake: None,
    waker_clone: None,
    waker_drop: None,
};

use Pay::{Bomb as B, Plain as P};

/// Every set of hooks the matrix runs; each has a `matrix_*` test below.
#[rustfmt::skip]
const COMBOS: &[(&str, Hooks)] = &[
    ("matrix_baseline_no_hooks", NONE),
    ("matrix_poll_panics", Hooks { poll: Some(P), ..NONE }),
    ("matrix_payload_drop_panics", Hooks { poll: Some(B), ..NONE }),
    ("matrix_future_drop_panics", Hooks { future_drop: Some(P), ..NONE }),
    ("matrix_output_drop_panics", Hooks { output_drop: Some(P), ..NONE }),
    ("matrix_waker_wake_panics", Hooks { waker_wake: Some(P), ..NONE }),
    ("matrix_waker_clone_panics", Hooks { waker_clone: Some(P), ..NONE }),
    ("matrix_waker_drop_panics", Hooks { waker_drop: Some(P), ..NONE }),
    (
        "matrix_future_drop_and_output_drop_panic",
        Hooks { future_drop: Some(P), output_drop: Some(P), ..NONE },
    ),
    (
        "matrix_poll_panics_with_bomb_and_future_drop_panics",
        Hooks { poll: Some(B), future_drop: Some(P), ..NONE },
    ),
    (
        "matrix_output_drop_and_waker_drop_panic",
        Hooks { output_drop: Some(P), waker_drop: Some(P), ..NONE },
    ),
    (
        "matrix_poll_and_waker_drop_panic",
        Hooks { poll: Some(P), waker_drop: Some(P), ..NONE },
    ),
    (
        "matrix_future_drop_and_waker_wake_panic",
        Hooks { future_drop: Some(P), waker_wake: Some(P), ..NONE },
    ),
    (
        "matrix_every_drop_and_wake_panics_with_bombs",
        Hooks {
            future_drop: Some(B),
            output_drop: Some(B),
            waker_wake: Some(B),
            waker_drop: Some(B),
            ..NONE
        },
    ),
];

impl Hooks {
    fn ids(&self) -> Vec<u32> {
        [
            (self.poll, POLL_ID),
            (self.future_drop, FUTURE_DROP_ID),
            (self.output_drop, OUTPUT_DROP_ID),
            (self.waker_wake, WAKE_ID),
            (self.waker_clone, CLONE_ID),
            (self.waker_drop, WAKER_DROP_ID),
        ]
        .into_iter()
        .filter_map(|(hook, id)| hook.map(|_| id))
        .collect()
    }

    fn has_waker(&self) -> bool {
        self.waker_wake.is_some() || self.waker_clone.is_some() || self.waker_drop.is_some()
    }
}

/// Panics as hook `id` does.
fn raise(log: &Log, id: u32, pay: Pay) -> ! {
    match pay {
        Pay::Plain => panic::panic_any(Payload(id)),
        Pay::Bomb => panic::panic_any(Bomb {
            id,
            drops: log.bomb_drops.clone(),
        }),
    }
}

/// The hook id of a payload that is a `Payload` or a `Bomb` (disposing of a
/// bomb without letting its second panic out), or the message of any other.
fn identify(payload: Box<dyn Any + Send>) -> Result<u32, String> {
    if let Some(bomb) = payload.downcast_ref::<Bomb>() {
        let id = bomb.id;
        if let Err(second) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
            drop(second); // the bomb's own `Payload`
        }
        return Ok(id);
    }
    if let Some(p) = payload.downcast_ref::<Payload>() {
        return Ok(p.0);
    }
    Err(panic_message(&*payload))
}

// ---------------------------------------------------------------------------
// What a variant records.
// ---------------------------------------------------------------------------

/// Shared by everything in one variant. Always in an `Arc`; scoped tasks
/// borrow it from the caller, `'static` ones hold a clone.
#[derive(Default)]
struct Log {
    /// The variant, for its problem reports.
    label: String,
    /// The hostile task waits for this before it returns or panics.
    gate: Event,
    /// Set by the hostile future's `Drop`; the bystander waits for it.
    after: Event,
    future_drops: AtomicUsize,
    outputs_made: AtomicUsize,
    output_drops: AtomicUsize,
    bystanders_done: AtomicUsize,
    canary_dead: AtomicBool,
    scope_returned: AtomicBool,
    bomb_drops: Arc<AtomicUsize>,
    at_return: Mutex<Option<Snapshot>>,
    outcome: Mutex<Option<HandleOutcome>>,
    problems: Mutex<Vec<String>>,
}

impl Log {
    fn problem(&self, what: String) {
        eprintln!("matrix: PROBLEM in {}: {what}", self.label);
        self.problems.lock().unwrap().push(what);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            future_drops: self.future_drops.load(SeqCst),
            outputs_made: self.outputs_made.load(SeqCst),
            output_drops: self.output_drops.load(SeqCst),
            bystanders_done: self.bystanders_done.load(SeqCst),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Snapshot {
    future_drops: usize,
    outputs_made: usize,
    output_drops: usize,
    bystanders_done: usize,
}

/// Records what was done when the scope returned or unwound (it is declared
/// right before the scope call, so it is dropped right after it).
struct AtReturn<'a>(&'a Log);

impl Drop for AtReturn<'_> {
    fn drop(&mut self) {
        *self.0.at_return.lock().unwrap() = Some(self.0.snapshot());
        self.0.scope_returned.store(true, SeqCst);
    }
}

const ALIVE: u64 = 0xA11C_E0F0_C0FF_EE00;
const POISON: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// A value on the stack of the frame that opens the scope. Its `Drop` poisons
/// it and says so in the log, so a task that touches it later is caught.
struct Canary {
    magic: AtomicU64,
    log: Arc<Log>,
}

impl Canary {
    fn new(log: &Arc<Log>) -> Self {
        Canary {
            magic: AtomicU64::new(ALIVE),
            log: log.clone(),
        }
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.log.canary_dead.store(true, SeqCst);
        self.magic.store(POISON, SeqCst);
    }
}

/// Checks, for a task that borrows `canary`, that the scope has not returned
/// and the canary is alive. The log is checked first, so a dead canary's
/// memory is never read.
fn check(log: &Log, canary: Option<&Canary>, what: &str) {
    let Some(canary) = canary else { return };
    if log.canary_dead.load(SeqCst) || log.scope_returned.load(SeqCst) {
        log.problem(format!(
            "{what} ran after its scope returned (a use after free)"
        ));
    } else if canary.magic.load(SeqCst) != ALIVE {
        log.problem(format!("{what} found the borrowed canary poisoned"));
    }
}

/// A log borrowed from the caller (scoped tasks) or shared (`'static` ones).
enum LogRef<'a> {
    Borrowed(&'a Log),
    Shared(Arc<Log>),
}

impl Clone for LogRef<'_> {
    fn clone(&self) -> Self {
        match self {
            LogRef::Borrowed(log) => LogRef::Borrowed(log),
            LogRef::Shared(log) => LogRef::Shared(log.clone()),
        }
    }
}

impl Deref for LogRef<'_> {
    type Target = Log;
    fn deref(&self) -> &Log {
        match self {
            LogRef::Borrowed(log) => log,
            LogRef::Shared(log) => log,
        }
    }
}

// ---------------------------------------------------------------------------
// The hostile task, its output, the bystander.
// ---------------------------------------------------------------------------

/// Waits for the gate, then panics in `poll` or returns an [`Out`]; its `Drop`
/// counts, wakes the bystander, and may panic.
struct Hostile<'a> {
    log: LogRef<'a>,
    canary: Option<&'a Canary>,
    hooks: Hooks,
}

impl<'a> Future for Hostile<'a> {
    type Output = Out<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out<'a>> {
        let this = self.get_mut();
        check(&this.log, this.canary, "the hostile task's poll");
        if pin!(this.log.gate.wait()).poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(pay) = this.hooks.poll {
            raise(&this.log, POLL_ID, pay);
        }
        this.log.outputs_made.fetch_add(1, SeqCst);
        Poll::Ready(Out {
            log: this.log.clone(),
            canary: this.canary,
            panics: this.hooks.output_drop,
        })
    }
}

impl Drop for Hostile<'_> {
    fn drop(&mut self) {
        check(&self.log, self.canary, "the hostile future's drop");
        self.log.future_drops.fetch_add(1, SeqCst);
        self.log.after.set();
        if let Some(pay) = self.hooks.future_drop {
            if !thread::panicking() {
                raise(&self.log, FUTURE_DROP_ID, pay);
            }
        }
    }
}

/// The hostile task's output; its `Drop` counts and may panic.
struct Out<'a> {
    log: LogRef<'a>,
    canary: Option<&'a Canary>,
    panics: Option<Pay>,
}

impl Drop for Out<'_> {
    fn drop(&mut self) {
        check(&self.log, self.canary, "the hostile output's drop");
        self.log.output_drops.fetch_add(1, SeqCst);
        if let Some(pay) = self.panics {
            if !thread::panicking() {
                raise(&self.log, OUTPUT_DROP_ID, pay);
            }
        }
    }
}

/// A detached sibling that finishes only after the hostile future was
/// dropped: a scope that returns early returns before it.
async fn bystander(log: &Log, canary: &Canary) {
    log.after.wait().await;
    check(log, Some(canary), "the bystander");
    log.bystanders_done.fetch_add(1, SeqCst);
}

// ---------------------------------------------------------------------------
// A user waker for `JoinHandle::poll` whose wake, clone or drop panics.
// ---------------------------------------------------------------------------

struct WakerState {
    hooks: Hooks,
    log: Arc<Log>,
    clones: AtomicUsize,
    clone_drops: AtomicUsize,
    wakes: AtomicUsize,
}

/// The test's own waker: its clones (what paddock keeps) carry the hooks;
/// dropping this one does not panic.
fn hostile_waker(state: Arc<WakerState>) -> Waker {
    let data = Arc::into_raw(state) as *const ();
    // SAFETY: `data` is an `Arc<WakerState>`, as every function of both
    // vtables expects; each keeps the count right.
    unsafe { Waker::from_raw(RawWaker::new(data, &ORIGINAL)) }
}

static ORIGINAL: RawWakerVTable =
    RawWakerVTable::new(waker_clone, wake_original, waker_wake_by_ref, drop_original);
static CLONED: RawWakerVTable =
    RawWakerVTable::new(waker_clone, wake_cloned, waker_wake_by_ref, drop_cloned);

unsafe fn state<'a>(data: *const ()) -> &'a WakerState {
    // SAFETY: `data` is a live `Arc<WakerState>`.
    unsafe { &*(data as *const WakerState) }
}

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a count.
    let state = unsafe { state(data) };
    if let Some(pay) = state.hooks.waker_clone {
        raise(&state.log, CLONE_ID, pay);
    }
    // SAFETY: as above; released by `drop_cloned`.
    unsafe { Arc::increment_strong_count(data as *const WakerState) };
    state.clones.fetch_add(1, SeqCst);
    RawWaker::new(data, &CLONED)
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds a count.
    let state = unsafe { state(data) };
    state.wakes.fetch_add(1, SeqCst);
    if let Some(pay) = state.hooks.waker_wake {
        raise(&state.log, WAKE_ID, pay);
    }
}

unsafe fn wake_original(data: *const ()) {
    // SAFETY: the waker's count, released once even if the wake panics.
    let _release = unsafe { Arc::from_raw(data as *const WakerState) };
    // SAFETY: still counted by `_release`.
    unsafe { waker_wake_by_ref(data) }
}

unsafe fn wake_cloned(data: *const ()) {
    struct DropClone(*const ());
    impl Drop for DropClone {
        fn drop(&mut self) {
            // SAFETY: the clone's count, released once.
            unsafe { drop_cloned(self.0) }
        }
    }
    let _drop = DropClone(data);
    // SAFETY: still counted by `_drop`.
    unsafe { waker_wake_by_ref(data) }
}

unsafe fn drop_cloned(data: *const ()) {
    // SAFETY: the clone's count, released here.
    let state = unsafe { Arc::from_raw(data as *const WakerState) };
    state.clone_drops.fetch_add(1, SeqCst);
    let (hook, log) = (state.hooks.waker_drop, state.log.clone());
    drop(state);
    if let Some(pay) = hook {
        if !thread::panicking() {
            raise(&log, WAKER_DROP_ID, pay);
        }
    }
}

unsafe fn drop_original(data: *const ()) {
    // SAFETY: the original's count, released here.
    drop(unsafe { Arc::from_raw(data as *const WakerState) });
}

// ---------------------------------------------------------------------------
// One variant.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Scoped,
    Static,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Waited on from the test thread; the task runs in a worker's main loop.
    Plain,
    /// Waited on by a nested `paddock::scope` inside a task.
    Nested,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The handle is joined.
    Join,
    /// The handle is dropped before the task completes.
    Detach,
    /// The handle is dropped after the task completed.
    DropFinished,
    /// The handle aborts the task while it is pending, then is joined.
    Abort,
}

/// What joining the handle gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Joined {
    Output,
    Panic(u32),
    Cancelled,
}

/// What happened to the handle.
#[derive(Default)]
struct HandleOutcome {
    /// `Join` and `Abort`: what the handle gave.
    joined: Option<Joined>,
    /// The hand-made poll's panic (a panicking `clone`).
    hand_poll_panic: Option<u32>,
    waker: Option<Arc<WakerState>>,
}

/// Does to `handle` what `mode` says, after polling it once by hand with a
/// hostile waker if the hooks have one. Lets the hostile task finish.
fn drive(
    mut handle: JoinHandle<'_, Out<'_>>,
    log: &Arc<Log>,
    hooks: Hooks,
    mode: Mode,
    on_worker: bool,
) -> HandleOutcome {
    let mut outcome = HandleOutcome::default();
    let mut registered = false;
    if hooks.has_waker() {
        let state = Arc::new(WakerState {
            hooks,
            log: log.clone(),
            clones: AtomicUsize::new(0),
            clone_drops: AtomicUsize::new(0),
            wakes: AtomicUsize::new(0),
        });
        let waker = hostile_waker(state.clone());
        let polled = catch_unwind(AssertUnwindSafe(|| {
            Pin::new(&mut handle).poll(&mut Context::from_waker(&waker))
        }));
        drop(waker);
        match polled {
            Ok(Poll::Pending) => registered = true,
            Ok(Poll::Ready(_)) => {
                log.problem("a handle was ready before its task could end".into())
            }
            Err(payload) => match identify(payload) {
                Ok(id) => outcome.hand_poll_panic = Some(id),
                Err(msg) => log.problem(format!("polling the handle panicked: {msg}")),
            },
        }
        outcome.waker = Some(state);
    }

    match mode {
        Mode::Join => {
            // Opens the gate once `join` has replaced the hostile waker, so
            // that the replacement happens while the task is still pending.
            let opener = {
                let (log, state) = (log.clone(), outcome.waker.clone());
                thread::spawn(move || {
                    if let (Some(state), true) = (state, registered) {
                        let deadline = Instant::now() + Duration::from_secs(2);
                        while state.clone_drops.load(SeqCst) == 0 && Instant::now() < deadline {
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                    log.gate.set();
                })
            };
            outcome.joined = join(handle, log);
            opener.join().unwrap();
        }
        Mode::Abort => {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handle.abort())) {
                log.problem(format!("abort() panicked: {:?}", identify(payload)));
            }
            outcome.joined = join(handle, log);
            log.gate.set();
        }
        Mode::Detach => {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(handle))) {
                log.problem(format!(
                    "dropping a pending handle panicked: {:?}",
                    identify(payload)
                ));
            }
            log.gate.set();
        }
        Mode::DropFinished => {
            log.gate.set();
            if on_worker {
                // This worker must keep running tasks while it waits.
                paddock::block_on(std::future::poll_fn(|cx| {
                    if handle.is_finished() {
                        Poll::Ready(())
                    } else {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                }));
            } else {
                wait_until(|| handle.is_finished());
            }
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(handle))) {
                log.problem(format!(
                    "dropping a finished handle panicked: {:?}",
                    identify(payload)
                ));
            }
        }
    }
    outcome
}

/// Joins `handle`, catching what a `join` that breaks the contract lets out.
fn join(handle: JoinHandle<'_, Out<'_>>, log: &Log) -> Option<Joined> {
    match catch_unwind(AssertUnwindSafe(|| handle.join())) {
        Ok(Ok(out)) => {
            // The output is the test's own now, and so is its panic.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(out))) {
                let _ = identify(payload);
            }
            Some(Joined::Output)
        }
        Ok(Err(error)) if error.is_cancelled() => Some(Joined::Cancelled),
        Ok(Err(error)) => match identify(error.into_panic()) {
            Ok(id) => Some(Joined::Panic(id)),
            Err(msg) => {
                log.problem(format!("join: a foreign panic: {msg}"));
                None
            }
        },
        Err(payload) => {
            log.problem(format!(
                "join() unwound instead of returning (payload {:?}): a waiting frame was unwound",
                identify(payload)
            ));
            None
        }
    }
}

/// The scope body of a scoped variant: a bystander, then the hostile task.
fn scoped_body<'scope, 'env>(
    s: &'scope Scope<'scope, 'env>,
    log: &'env Arc<Log>,
    canary: &'env Canary,
    hooks: Hooks,
    mode: Mode,
    on_worker: bool,
) {
    drop(s.spawn(bystander(log, canary)));
    let handle = s.spawn(Hostile {
        log: LogRef::Borrowed(log),
        canary: Some(canary),
        hooks,
    });
    let outcome = drive(handle, log, hooks, mode, on_worker);
    *log.outcome.lock().unwrap() = Some(outcome);
}

/// The nested scope body of a `'static` variant: a scoped bystander that
/// keeps the scope waiting until the `'static` hostile future is dropped.
fn static_body<'scope, 'env>(
    s: &'scope Scope<'scope, 'env>,
    log: &'env Arc<Log>,
    canary: &'env Canary,
    hooks: Hooks,
    mode: Mode,
) {
    drop(s.spawn(bystander(log, canary)));
    let handle = paddock::spawn(Hostile {
        log: LogRef::Shared(log.clone()),
        canary: None,
        hooks,
    });
    let outcome = drive(handle, log, hooks, mode, true);
    *log.outcome.lock().unwrap() = Some(outcome);
}

/// Waits (under the child's watchdog) for `cond`; notes a problem if it does
/// not hold within a few seconds.
fn eventually(log: &Log, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        if Instant::now() > deadline {
            log.problem(format!("{what} never happened"));
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs one variant; returns its problems (empty: it passed).
fn run_variant(
    label: &str,
    hooks: Hooks,
    kind: Kind,
    place: Place,
    mode: Mode,
    workers: usize,
) -> Vec<String> {
    let log = Arc::new(Log {
        label: label.to_owned(),
        ..Log::default()
    });
    let rt = rt(workers);

    // Result of the scope that waits for the hostile task (for a plain
    // `'static` task there is none).
    let scope_result: Option<Result<(), Box<dyn Any + Send>>> = match (kind, place) {
        (Kind::Scoped, Place::Plain) => Some(catch_unwind(AssertUnwindSafe(|| {
            let canary = Canary::new(&log);
            let _at_return = AtReturn(&log);
            rt.scope(|s| scoped_body(s, &log, &canary, hooks, mode, false));
        }))),
        (_, Place::Nested) => {
            let log = &log;
            let nested = rt.scope(|s| {
                s.spawn(async move {
                    catch_unwind(AssertUnwindSafe(|| {
                        let canary = Canary::new(log);
                        let _at_return = AtReturn(log);
                        paddock::scope(|s| match kind {
                            Kind::Scoped => scoped_body(s, log, &canary, hooks, mode, true),
                            Kind::Static => static_body(s, log, &canary, hooks, mode),
                        });
                    }))
                })
                .join()
            });
            match nested {
                Ok(result) => Some(result),
                Err(error) => {
                    log.problem(format!("the task around the nested scope failed: {error}"));
                    None
                }
            }
        }
        (Kind::Static, Place::Plain) => {
            let handle = rt.spawn(Hostile {
                log: LogRef::Shared(log.clone()),
                canary: None,
                hooks,
            });
            let outcome = drive(handle, &log, hooks, mode, false);
            *log.outcome.lock().unwrap() = Some(outcome);
            None
        }
    };

    let outcome = log.outcome.lock().unwrap().take().unwrap_or_default();
    let ids = hooks.ids();

    // Where the panics went: the handle.
    match mode {
        Mode::Join => match (outcome.joined, hooks.poll, hooks.future_drop) {
            // A `join` that unwound was reported already.
            (None, ..) if !log.problems.lock().unwrap().is_empty() => {}
            (None, ..) => log.problem("join gave no result".into()),
            (Some(Joined::Output), Some(_), _) => {
                log.problem("join gave an output though poll panicked".into())
            }
            (Some(Joined::Panic(id)), Some(_), fd)
                if id == POLL_ID || (fd.is_some() && id == FUTURE_DROP_ID) => {}
            (Some(Joined::Panic(FUTURE_DROP_ID)), None, Some(_)) => {}
            (Some(Joined::Output), None, _) => {}
            (Some(joined), ..) => {
                log.problem(format!("join gave {joined:?}, not the task's result"))
            }
        },
        Mode::Abort => match (outcome.joined, hooks.future_drop) {
            (Some(Joined::Cancelled), _) | (Some(Joined::Panic(FUTURE_DROP_ID)), Some(_)) => {}
            (joined, _) => log.problem(format!(
                "joining an aborted pending task gave {joined:?}, not a cancellation"
            )),
        },
        Mode::Detach | Mode::DropFinished => {}
    }
    // The scope.
    let observed = match outcome.joined {
        Some(Joined::Panic(id)) => Some(id),
        _ => None,
    };
    let must_reraise = kind == Kind::Scoped
        && matches!(mode, Mode::Detach | Mode::DropFinished)
        && hooks.poll.is_some();
    match scope_result {
        None => {}
        Some(Ok(())) if must_reraise => {
            log.problem("the scope returned normally; it must re-raise the unobserved panic".into())
        }
        Some(Ok(())) => {}
        Some(Err(payload)) => match identify(payload) {
            Err(msg) => log.problem(format!("the scope unwound with a foreign panic: {msg}")),
            Ok(id) if kind == Kind::Static => log.problem(format!(
                "the nested scope unwound with panic {id} of a 'static task, which must be dropped"
            )),
            Ok(id) if !ids.contains(&id) || observed == Some(id) => log.problem(format!(
                "the scope re-raised panic {id}, not an unobserved one"
            )),
            Ok(_) => {}
        },
    }
    // What the scope waited for.
    let at_return = *log.at_return.lock().unwrap();
    if let Some(at) = at_return {
        if at.bystanders_done != 1 {
            log.problem(format!(
                "the scope returned before its tasks finished: {at:?}"
            ));
        }
        if kind == Kind::Scoped && (at.future_drops != 1 || at.output_drops != at.outputs_made) {
            log.problem(format!(
                "the scope returned before the future and output were dropped: {at:?}"
            ));
        }
    }
    eventually(&log, "the hostile future's drop", || {
        log.future_drops.load(SeqCst) == 1
    });
    eventually(&log, "the drop of every output", || {
        log.output_drops.load(SeqCst) == log.outputs_made.load(SeqCst)
    });
    // The waker.
    if let Some(state) = &outcome.waker {
        let expected = hooks.waker_clone.map(|_| CLONE_ID);
        if outcome.hand_poll_panic != expected {
            log.problem(format!(
                "polling the handle by hand panicked with {:?}, expected {expected:?}",
                outcome.hand_poll_panic
            ));
        }
        if mode == Mode::DropFinished && hooks.waker_clone.is_none() {
            eventually(&log, "the wake of the registered waker", || {
                state.wakes.load(SeqCst) >= 1
            });
        }
        eventually(&log, "the drop of every clone of the user's waker", || {
            state.clones.load(SeqCst) == state.clone_drops.load(SeqCst)
        });
    }
    // The runtime still works, every worker of it.
    let alive = catch_unwind(AssertUnwindSafe(|| {
        every_worker_runs_at_once(&rt);
        assert_eq!(rt.spawn(async { 7 }).join().unwrap(), 7);
        assert_eq!(rt.scope(|s| s.spawn(async { 8 }).join().unwrap()), 8);
        drop(rt);
    }));
    if let Err(payload) = alive {
        log.problem(format!(
            "the runtime failed afterwards: {:?}",
            identify(payload)
        ));
    }
    let problems = std::mem::take(&mut *log.problems.lock().unwrap());
    problems
}

// ---------------------------------------------------------------------------
// Child process plumbing.
// ---------------------------------------------------------------------------

const CHILD_ENV: &str = "PADDOCK_PANIC_MATRIX_COMBO";
/// The child's own watchdog; a healthy child takes well under a second.
const CHILD_LIMIT: u64 = 10;

/// The child: runs every variant of one group of one combo, named by
/// `CHILD_ENV` as `combo group` (group: `Scoped/Plain`, `Scoped/Nested`,
/// `Static/Plain` or `Static/Nested`). Does nothing when run without it.
#[test]
#[ignore = "a child process of the matrix_* tests"]
fn matrix_child() {
    let Ok(selector) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (name, group) = selector.split_once(' ').expect("`combo group`");
    let hooks = COMBOS
        .iter()
        .find(|(combo, _)| *combo == name)
        .unwrap_or_else(|| panic!("no combo named {name:?}"))
        .1;
    let (kind, place) = GROUPS
        .iter()
        .find(|(_, _, label)| *label == group)
        .map(|&(kind, place, _)| (kind, place))
        .unwrap_or_else(|| panic!("no group named {group:?}"));
    let selector = selector.clone();
    watchdog(CHILD_LIMIT, &selector.clone(), move || {
        let mut failed = Vec::new();
        for mode in [Mode::Join, Mode::Detach, Mode::DropFinished, Mode::Abort] {
            for workers in [1, 2] {
                let label = format!("{selector}/{mode:?}/{workers}w");
                eprintln!("matrix: start {label}");
                let problems = run_variant(&label, hooks, kind, place, mode, workers);
                if problems.is_empty() {
                    eprintln!("matrix: ok {label}");
                } else {
                    eprintln!("matrix: FAILED {label}");
                    failed.push(format!("{label}: {problems:?}"));
                }
            }
        }
        assert!(failed.is_empty(), "failed variants:\n{}", failed.join("\n"));
    });
}

/// The groups of variants, each run in a child process of its own, so that
/// an abort in one does not hide the results of the others.
const GROUPS: [(Kind, Place, &str); 4] = [
    (Kind::Scoped, Place::Plain, "Scoped/Plain"),
    (Kind::Scoped, Place::Nested, "Scoped/Nested"),
    (Kind::Static, Place::Plain, "Static/Plain"),
    (Kind::Static, Place::Nested, "Static/Nested"),
];

/// Runs each group of the combo in a child process, then fails with what
/// went wrong in each, naming the variant that was running when a child died.
fn run_combo(name: &str) {
    let name = name.to_owned();
    watchdog(4 * (CHILD_LIMIT + 5), &name.clone(), move || {
        let mut failures = Vec::new();
        for (_, _, group) in GROUPS {
            let selector = format!("{name} {group}");
            let run = run_child(
                child_test("matrix_child")
                    .arg("--test-threads=1")
                    .env(CHILD_ENV, &selector)
                    .env("RUST_BACKTRACE", "0"),
                CHILD_LIMIT + 3,
            );
            let (status, output) = (run.status, run.output());
            if status.success() && output.contains("matrix: ok") {
                continue;
            }
            let last_start = output
                .lines()
                .rev()
                .find_map(|line| line.split_once("matrix: start ").map(|(_, label)| label))
                .unwrap_or("none");
            // Each problem once, then what the runtime or the watchdog said.
            let mut lines: Vec<&str> = Vec::new();
            for line in output.lines() {
                let line = line.trim_start_matches("test matrix_child ... ");
                let wanted = line.starts_with("matrix: PROBLEM")
                    || line.starts_with("paddock:")
                    || line.contains("watchdog:")
                    || line.contains("fatal runtime error");
                if wanted && !lines.contains(&line) {
                    lines.push(line);
                }
            }
            let more = lines.len().saturating_sub(12);
            lines.truncate(12);
            failures.push(format!(
                "  {group}: the child {}; last variant started: {last_start}\n    {}{}",
                describe(status),
                lines.join("\n    "),
                if more > 0 {
                    format!("\n    ... and {more} more lines")
                } else {
                    String::new()
                }
            ));
        }
        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    });
}

macro_rules! matrix_tests {
    ($($(#[doc = $doc:literal])* $name:ident;)*) => {$(
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            run_combo(stringify!($name));
        }
    )*};
}

matrix_tests! {
    /// Sanity: no hook panics; every variant of the harness itself passes.
    matrix_baseline_no_hooks;
    /// `poll` panics: the handle gets it, or the scope re-raises it.
    matrix_poll_panics;
    /// `poll` panics with a payload whose `Drop` panics (rust-lang/rust#157969):
    /// it comes back intact and never cuts a wait short.
    matrix_payload_drop_panics;
    /// The future's `Drop` panics after it returned `Ready`.
    matrix_future_drop_panics;
    /// The output's `Drop` panics: discarded by a detached task, dropped with
    /// a handle dropped after completion, or dropped by the joiner.
    matrix_output_drop_panics;
    /// The user waker registered through `JoinHandle::poll` panics in `wake`.
    matrix_waker_wake_panics;
    /// The user waker panics in `clone`: the hand-made poll gets the panic,
    /// and the handle and the task go on as if it had not been polled.
    matrix_waker_clone_panics;
    /// The user waker kept by the task panics in `drop`, wherever the runtime
    /// drops it (replaced by `join`, or when the task ends or is freed).
    matrix_waker_drop_panics;
    /// The future's `Drop` panics after `Ready` and the replaced output's
    /// `Drop` panics too (known failure 1: abort, or a nested scope that
    /// returns early while its task still borrows the frame).
    matrix_future_drop_and_output_drop_panic;
    /// `poll` panics with a bomb payload, then the future's `Drop` panics.
    matrix_poll_panics_with_bomb_and_future_drop_panics;
    /// The output's `Drop` and the user waker's `drop` both panic (known
    /// failure 2: a detached task frees its waker on the worker and aborts).
    matrix_output_drop_and_waker_drop_panic;
    /// `poll` panics and the user waker's `drop` panics.
    matrix_poll_and_waker_drop_panic;
    /// The future's `Drop` panics after `Ready` and the user waker's `wake`
    /// panics.
    matrix_future_drop_and_waker_wake_panic;
    /// Every drop and wake panics, each with a bomb payload.
    matrix_every_drop_and_wake_panics_with_bombs;
}

/// Every combo has its test, so none is silently skipped.
#[test]
fn every_combo_has_a_test() {
    let source = include_str!("panic_matrix.rs");
    for (name, _) in COMBOS {
        assert!(
            source.contains(&format!("\n    {name};\n")),
            "combo {name} has no matrix test"
        );
    }
}
