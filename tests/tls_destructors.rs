//! paddock's free functions called from a thread-local's destructor, and two
//! small API checks of `JoinHandle` and `JoinError`.
//!
//! A user's thread-local created before paddock's own is destroyed after
//! them (the platform runs a thread's destructors in reverse order), so its
//! destructor may call `paddock::scope`, `paddock::block_on`, `paddock::spawn`
//! or `JoinHandle::join` when paddock's thread-locals are already gone. Those
//! calls must work, or panic with a clear message of paddock's own; they must
//! never abort the process. (A panic that leaves a thread-local destructor
//! aborts the process by std's rule, so the destructor here catches it and
//! reports it; the `tls_*` tests then check what it saw.)
//!
//! Each case runs in a child process (this test binary again, running only
//! `tls_child` with `PADDOCK_TLS_CASE` naming the case), since a failure is
//! likely to be an abort.

mod common;

use std::cell::RefCell;
use std::panic::{self, catch_unwind, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::sync::{Mutex, Once};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use common::{child_test, describe, panic_message, rt, run_child, watchdog, LIMIT};
use paddock::{JoinError, JoinHandle};

// ---------------------------------------------------------------------------
// The child: a thread-local whose destructor calls into paddock.
// ---------------------------------------------------------------------------

const CASE_ENV: &str = "PADDOCK_TLS_CASE";

/// The paddock call the destructor makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Scope,
    BlockOn,
    Spawn,
    Join,
}

/// What the destructor saw, for the child's main thread to check: printing
/// from a destructor is itself not safe once std's thread-locals are gone.
static OUTCOMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The user's thread-local value. Its destructor makes `call`.
struct CallsPaddockOnDrop {
    call: Call,
    /// For `Call::Join`: a handle made while the thread was alive.
    handle: Option<JoinHandle<'static, u32>>,
}

impl Drop for CallsPaddockOnDrop {
    fn drop(&mut self) {
        let (call, handle) = (self.call, self.handle.take());
        let outcome = catch_unwind(AssertUnwindSafe(move || match call {
            Call::Scope => paddock::scope(|s| s.spawn(async { 10 }).join()),
            Call::BlockOn => Ok(paddock::block_on(async { 20 })),
            Call::Spawn => paddock::spawn(async { 30 }).join(),
            Call::Join => handle.expect("a handle made before").join(),
        }));
        let text = match outcome {
            Ok(Ok(value)) => format!("returned {value}"),
            Ok(Err(error)) if error.is_cancelled() => "returned cancelled".to_owned(),
            Ok(Err(error)) => format!("returned an error: {error}"),
            Err(payload) => format!("panicked: {}", panic_message(&*payload)),
        };
        OUTCOMES.lock().unwrap().push(text);
    }
}

thread_local! {
    static USER: RefCell<Option<CallsPaddockOnDrop>> = const { RefCell::new(None) };
}

/// Creates the user's thread-local: before paddock's, so destroyed after.
fn create_user_thread_local(call: Call) {
    USER.with(|user| *user.borrow_mut() = Some(CallsPaddockOnDrop { call, handle: None }));
}

/// For `Call::Join`: a handle, on the current runtime, for the destructor.
fn give_the_destructor_a_handle(call: Call) {
    if call == Call::Join {
        let handle = paddock::spawn(async { 40 });
        USER.with(|user| user.borrow_mut().as_mut().unwrap().handle = Some(handle));
    }
}

/// Uses the free functions, so that paddock's thread-locals exist on this
/// thread, created after the user's.
fn use_paddock() {
    assert_eq!(paddock::block_on(async { 1 }), 1);
    assert_eq!(paddock::spawn(async { 2 }).join().unwrap(), 2);
    assert_eq!(paddock::scope(|s| s.spawn(async { 3 }).join().unwrap()), 3);
}

/// A plain thread: the free functions use the global runtime.
fn on_a_plain_thread(call: Call) {
    thread::spawn(move || {
        create_user_thread_local(call);
        use_paddock();
        give_the_destructor_a_handle(call);
    })
    .join()
    .expect("the plain thread");
}

/// A worker thread: the user's thread-local is created by a task, and is
/// destroyed when the worker exits as its runtime is dropped.
fn on_a_worker_thread(call: Call) {
    let rt = rt(1);
    // A runtime this worker does not belong to: waiting on it from the
    // worker makes paddock use the thread's own signal and entered runtime,
    // as on a plain thread.
    let other = common::rt(1);
    rt.scope(|s| {
        s.spawn(async {
            create_user_thread_local(call);
            use_paddock();
            assert_eq!(other.block_on(async { 4 }), 4);
            assert_eq!(other.spawn(async { 5 }).join().unwrap(), 5);
            give_the_destructor_a_handle(call);
        })
        .join()
        .expect("the task on the worker");
    });
    drop(rt); // the worker exits, and its thread-locals are destroyed
    drop(other);
}

/// The child: runs the case named by `PADDOCK_TLS_CASE` (`plain scope`,
/// `worker join`, ...), then checks what the destructor saw. Does nothing
/// when run without it.
#[test]
#[ignore = "a child process of the tls_* tests"]
fn tls_child() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    watchdog(LIMIT, &case.clone(), move || {
        let (place, call) = case.split_once(' ').expect("`place call`");
        let call = match call {
            "scope" => Call::Scope,
            "block_on" => Call::BlockOn,
            "spawn" => Call::Spawn,
            "join" => Call::Join,
            other => panic!("no call named {other:?}"),
        };
        match place {
            "plain" => on_a_plain_thread(call),
            "worker" => on_a_worker_thread(call),
            other => panic!("no place named {other:?}"),
        }
        // The thread has exited (joined, or its runtime dropped); allow a
        // runtime that lets a thread exit on its own a moment to finish.
        let deadline = Instant::now() + Duration::from_secs(5);
        while OUTCOMES.lock().unwrap().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let outcomes = OUTCOMES.lock().unwrap().clone();
        println!("tls: outcomes {outcomes:?}");
        let [outcome] = &outcomes[..] else {
            panic!("{case}: expected the destructor to run once, got {outcomes:?}");
        };
        let expected: &[&str] = match call {
            Call::Scope => &["returned 10"],
            Call::BlockOn => &["returned 20"],
            Call::Spawn => &["returned 30"],
            // The worker's runtime may cancel the task as it shuts down.
            Call::Join => &["returned 40", "returned cancelled"],
        };
        let clear_panic = outcome.starts_with("panicked: ")
            && !outcome.contains("cannot access a Thread Local Storage value")
            && !outcome.contains("AccessError");
        assert!(
            expected.contains(&outcome.as_str()) || clear_panic,
            "{case}: from the thread-local destructor, the call {outcome:?}; expected {expected:?} \
             or a panic with paddock's own message"
        );
    });
}

// ---------------------------------------------------------------------------
// The parent: one test per case.
// ---------------------------------------------------------------------------

/// Runs `case` in a child and requires it to exit normally, having checked
/// what the destructor saw.
fn run_case(case: &'static str) {
    watchdog(LIMIT + 10, case, move || {
        let run = run_child(
            child_test("tls_child")
                .arg("--test-threads=1")
                .envs([(CASE_ENV, case), ("PADDOCK_WORKER_THREADS", "2")])
                .env("RUST_BACKTRACE", "0"),
            LIMIT + 5,
        );
        let (status, output) = (run.status, run.output());
        assert!(
            status.success() && output.contains("tls: outcomes"),
            "{case}: the child {}:\n{output}",
            describe(status)
        );
    });
}

/// `paddock::scope` from the destructor of a plain thread's thread-local.
#[test]
fn tls_plain_thread_scope() {
    run_case("plain scope");
}

/// `paddock::block_on` from the destructor of a plain thread's thread-local.
#[test]
fn tls_plain_thread_block_on() {
    run_case("plain block_on");
}

/// `paddock::spawn` (and joining it) from the destructor of a plain thread's
/// thread-local.
#[test]
fn tls_plain_thread_spawn() {
    run_case("plain spawn");
}

/// `JoinHandle::join`, of a handle made earlier, from the destructor of a
/// plain thread's thread-local.
#[test]
fn tls_plain_thread_join() {
    run_case("plain join");
}

/// `paddock::scope` from the destructor of a worker's thread-local, run as
/// the worker exits when its runtime is dropped.
#[test]
fn tls_worker_thread_scope() {
    run_case("worker scope");
}

/// `paddock::block_on` from the destructor of a worker's thread-local.
#[test]
fn tls_worker_thread_block_on() {
    run_case("worker block_on");
}

/// `paddock::spawn` (and joining it) from the destructor of a worker's
/// thread-local.
#[test]
fn tls_worker_thread_spawn() {
    run_case("worker spawn");
}

/// `JoinHandle::join` of a task of the worker's own (shut down) runtime, from
/// the destructor of a worker's thread-local: the task's output, or
/// cancelled.
#[test]
fn tls_worker_thread_join() {
    run_case("worker join");
}

// ---------------------------------------------------------------------------
// API checks.
// ---------------------------------------------------------------------------

/// The location of every panic on the thread that `RECORDING` names; that
/// thread's panics are not printed.
static LOCATIONS: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());
static RECORDING: Mutex<Option<ThreadId>> = Mutex::new(None);

fn record_panic_locations_of_this_thread() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        common::quiet_expected_panics();
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let recording = *RECORDING.lock().unwrap() == Some(thread::current().id());
            if !recording {
                return previous(info);
            }
            if let Some(location) = info.location() {
                let mut locations = LOCATIONS.lock().unwrap();
                locations.push((location.file().to_owned(), location.line()));
            }
        }));
    });
    *RECORDING.lock().unwrap() = Some(thread::current().id());
}

/// `JoinError::into_panic` on a cancelled error panics at the caller's line,
/// not inside paddock (`#[track_caller]`, as tokio's does).
#[test]
fn into_panic_of_a_cancelled_error_reports_the_callers_location() {
    watchdog(
        LIMIT,
        "into_panic_of_a_cancelled_error_reports_the_callers_location",
        || {
            let rt = rt(1);
            let handle = rt.spawn(std::future::pending::<()>());
            handle.abort();
            let error = handle.join().unwrap_err();
            assert!(error.is_cancelled());

            record_panic_locations_of_this_thread();
            let before = line!();
            let caught = catch_unwind(AssertUnwindSafe(|| error.into_panic()));
            let after = line!();
            *RECORDING.lock().unwrap() = None;

            assert!(caught.is_err(), "into_panic on a cancelled error returned");
            let locations = std::mem::take(&mut *LOCATIONS.lock().unwrap());
            let [(file, line)] = &locations[..] else {
                panic!("expected one panic, got {locations:?}");
            };
            assert!(
                file == file!() && (before..after).contains(line),
                "into_panic panicked at {file}:{line}, not at its caller in {}:{before}..{after}",
                file!()
            );
        },
    );
}

fn assert_traits<T: Send + Sync + UnwindSafe + RefUnwindSafe>() {}

/// `JoinHandle` (scoped and `'static`) and `JoinError` are `Send`, `Sync`,
/// `UnwindSafe` and `RefUnwindSafe`, like tokio's: a handle can be used
/// inside `catch_unwind` without `AssertUnwindSafe`. A compile-time check:
/// this file does not build where they are not.
#[test]
fn join_handle_and_join_error_are_send_sync_and_unwind_safe() {
    fn scoped<'scope>(_: &'scope ()) {
        assert_traits::<JoinHandle<'scope, u32>>();
    }
    scoped(&());
    assert_traits::<JoinHandle<'static, u32>>();
    assert_traits::<JoinError>();
}
