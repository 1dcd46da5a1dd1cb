//! The task allocation and the type-erased functions that act on it.
//!
//! One spawn is one heap allocation, a [`Cell`]: the non-generic [`Header`]
//! first (so a pointer to the cell is a pointer to the header), then the stage.
//! Everything outside this file sees only `NonNull<Header>` and calls through
//! the header's static [`Vtable`], which knows the concrete future type.
//!
//! Who may touch what:
//! - `stage`: only the thread that set `RUNNING` (to poll or drop the future,
//!   then write the output), then after `COMPLETE` only the output's consumer:
//!   the `JoinHandle` if `JOIN_INTEREST` was set at completion, else the
//!   completing thread itself.
//! - `join_waker`: owned by the handle while `JOIN_WAKER` is clear; read by
//!   the completing thread if it is set; dropped by whichever of the two lets
//!   go of it second (see `state`), so it is empty when the task is freed.
//! - `owned`: the runtime's list of `'static` tasks, under that list's lock;
//!   for a scoped task, its scope's list of waiting tasks, under the scope's
//!   lock. `listed`: the thread that holds `RUNNING`, under the scope's lock.
//! - `queue_next`: the injector's lists: the pushing thread until its push
//!   publishes the task, then the worker that takes the stack whole or holds
//!   the list's lock (see `scheduler::inject`).
//!
//! # Every call into user code, and its panic boundary
//!
//! Invariants 4 and 7: a panic from user code never skips the completion
//! count, never aborts the process and never unwinds into a worker or a
//! waiting frame. Each call that paddock makes into user code:
//!
//! | user code | called from | boundary, and where the panic goes |
//! |---|---|---|
//! | `Future::poll` | `poll` | `catch_unwind`: the output becomes `Err(JoinError)` for the handle, or the scope's first unobserved panic |
//! | the future's `Drop` | `Cell::clear_stage` (completion, abort, shutdown) | `catch_unwind`: replaces an `Ok` output as above; a second panic's payload is dropped |
//! | an output's `Drop`, replaced by that panic | `Cell::complete` | `Header::contain`: the scope's first unobserved panic, or dropped for a `'static` task |
//! | an output's `Drop`, nobody to read it | `Cell::complete` via `Header::discard_output` | the same |
//! | an output's `Drop`, dropped with its handle | `JoinHandle::drop` via `Header::discard_output` | the same |
//! | the handle's waker: `wake_by_ref` | `Cell::complete` | `Header::contain` |
//! | the handle's waker: `drop` | `Header::drop_join_waker` (by the handle, or by the completing task before it counts itself done), and `JoinHandle::poll` when it replaces one | `Header::contain` |
//! | the handle's waker: `clone` | `JoinHandle::poll`, before it changes anything | none needed: it unwinds into the poll that called it, the user's own |
//! | a panic payload's `Drop` | `drop_panic_payload` (every payload paddock drops) | `catch_unwind`; the second payload is leaked (rust-lang/rust#157969) |
//! | the scope closure | `scope::run_scope` | `catch_unwind`: resumed after every task is done |
//!
//! The join waker is never dropped with the allocation: `dealloc` may run on
//! any thread that drops the last reference, after the scope has returned,
//! where a panic would have nowhere to go.

use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::join::JoinError;
use super::state::{State, ToCancelled, ToIdle, ToRunning};
use super::waker;
use super::{drop_panic_payload, Notified};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::Arc;
use crate::scheduler::Shared;
use crate::scope::ScopeState;

pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    /// The runtime the task is scheduled on; see `Header::shared` for when it
    /// is alive. The task counts a reference to it (`RUNTIME_HELD`) only where
    /// it could outlive everything else that keeps the runtime: a `'static`
    /// task from its spawn, and a scoped task from the first clone of its
    /// waker, since a waker can wake it from any thread, after its scope has
    /// returned and its runtime was dropped by everyone else. Most scoped
    /// tasks never clone their waker, and skip two atomic operations on one
    /// counter that every worker would share.
    shared: NonNull<Shared>,
    /// The scope that waits for the task; null for a `'static` task.
    scope: *const ScopeState,
    join_waker: UnsafeCell<Option<Waker>>,
    /// Links of the runtime's list of `'static` tasks, or, for a scoped
    /// task, of its scope's list of tasks that are waiting (see
    /// `ScopeState::cancel`); `listed` says whether a scoped task is on it.
    pub(crate) owned: UnsafeCell<OwnedLinks>,
    pub(crate) listed: UnsafeCell<bool>,
    /// The next task on the injector (see the module docs).
    pub(crate) queue_next: UnsafeCell<Option<NonNull<Header>>>,
}

/// Links of the intrusive list of a runtime's `'static` tasks.
#[derive(Clone, Copy)]
pub(crate) struct OwnedLinks {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
}

struct Vtable {
    poll: unsafe fn(NonNull<Header>),
    cancel: unsafe fn(NonNull<Header>),
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    dealloc: unsafe fn(NonNull<Header>),
}

#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// Allocates a task. The returned pointer carries the three references that
/// `State::new` counts: the caller hands them to a queue (`Notified`), to a
/// `JoinHandle`, and leaves the lifecycle reference to the task itself.
///
/// # Safety
///
/// If `scope` is not null, it must stay valid until the task completes: the
/// scope must not return before the task's completion decrements its counter.
/// Everything the future and its output borrow must stay valid as long, and
/// so must `shared` (the scope borrows the runtime).
pub(crate) unsafe fn allocate<F>(
    future: F,
    shared: &Arc<Shared>,
    scope: *const ScopeState,
) -> NonNull<Header>
where
    F: Future + Send,
    F::Output: Send,
{
    // A `'static` task may outlive every handle to its runtime.
    let runtime_held = scope.is_null();
    let shared = if runtime_held {
        Arc::into_raw(Arc::clone(shared))
    } else {
        Arc::as_ptr(shared)
    };
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(runtime_held),
            vtable: &Vtable {
                poll: poll::<F>,
                cancel: cancel::<F>,
                read_output: read_output::<F>,
                dealloc: dealloc::<F>,
            },
            shared: NonNull::new(shared.cast_mut()).expect("an Arc is never null"),
            scope,
            join_waker: UnsafeCell::new(None),
            owned: UnsafeCell::new(OwnedLinks {
                prev: None,
                next: None,
            }),
            listed: UnsafeCell::new(false),
            queue_next: UnsafeCell::new(None),
        },
        stage: UnsafeCell::new(Stage::Running(future)),
    });
    NonNull::from(Box::leak(cell)).cast()
}

impl Header {
    /// Runs the task, consuming the queue reference `ptr` stands for: polls
    /// it, drops its future if it was aborted, or does nothing if someone
    /// else owns or finished it.
    ///
    /// # Safety
    ///
    /// The caller owns one reference that backed the task's `NOTIFIED` bit.
    pub(crate) unsafe fn run(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        match header.state.to_running() {
            // SAFETY: `to_running` set RUNNING for us; the reference is ours.
            ToRunning::Poll => unsafe { (header.vtable.poll)(ptr) },
            // SAFETY: as above.
            ToRunning::Cancel => unsafe { (header.vtable.cancel)(ptr) },
            // SAFETY: the caller's queue reference, no longer needed.
            ToRunning::Skip => unsafe { Header::drop_refs(ptr, 1) },
        }
    }

    /// Polls a task whose stage the caller claimed with `to_running`
    /// (`ToRunning::Poll`), consuming the reference that came with it.
    ///
    /// # Safety
    ///
    /// As described.
    pub(crate) unsafe fn poll_claimed(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the header alive.
        let vtable = unsafe { ptr.as_ref() }.vtable;
        // SAFETY: forwarded from the caller.
        unsafe { (vtable.poll)(ptr) }
    }

    /// Drops the future of a task whose stage the caller claimed with
    /// `ToCancelled::Claimed`, consuming the reference that came with it.
    ///
    /// # Safety
    ///
    /// The caller set `RUNNING` (through `to_cancelled` or `to_running`) and
    /// owns the reference that came with it.
    pub(crate) unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the header alive.
        let vtable = unsafe { ptr.as_ref() }.vtable;
        // SAFETY: forwarded from the caller.
        unsafe { (vtable.cancel)(ptr) }
    }

    /// Aborts the task (`JoinHandle::abort`): drops its future now, on this
    /// thread, if it is idle or queued, or marks it to be dropped when its
    /// running poll returns; nothing if it is complete.
    ///
    /// # Safety
    ///
    /// The caller owns a reference to the task, which it keeps.
    pub(crate) unsafe fn abort(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        if header.state.to_cancelled() == ToCancelled::Claimed {
            // SAFETY: `to_cancelled` claimed the stage and a reference.
            unsafe { Header::cancel(ptr) };
        }
    }

    /// Moves the output into `dst`, a `*mut Poll<Result<T, JoinError>>`.
    ///
    /// # Safety
    ///
    /// `T` is the task's output type; the task is complete and the caller is
    /// its output's consumer (it holds the handle that had `JOIN_INTEREST`).
    pub(crate) unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: the caller's reference keeps the header alive.
        let vtable = unsafe { ptr.as_ref() }.vtable;
        // SAFETY: forwarded from the caller.
        unsafe { (vtable.read_output)(ptr, dst) }
    }

    /// Drops `count` references, freeing the task if they were the last.
    ///
    /// # Safety
    ///
    /// The caller owns `count` references and does not use `ptr` afterwards.
    pub(crate) unsafe fn drop_refs(ptr: NonNull<Header>, count: usize) {
        // SAFETY: the caller's references keep the header alive.
        let header = unsafe { ptr.as_ref() };
        if header.state.ref_dec(count) {
            // SAFETY: that was the last reference.
            unsafe { (header.vtable.dealloc)(ptr) }
        }
    }

    pub(crate) fn is_scoped(&self) -> bool {
        !self.scope.is_null()
    }

    /// The scope that waits for the task, or null for a `'static` task. The
    /// scope is alive while the task is not complete.
    pub(crate) fn scope_ptr(&self) -> *const ScopeState {
        self.scope
    }

    /// The task's runtime, not dereferenced (see `shared` for when it is
    /// alive).
    pub(crate) fn runtime_ptr(&self) -> *const Shared {
        self.shared.as_ptr()
    }

    /// The task's runtime.
    ///
    /// # Safety
    ///
    /// The runtime is alive as long as the result is used: the caller is one
    /// of its workers (which hold it), or runs inside the task's scope (a
    /// scope borrows its runtime, and code that can reach a scoped task, a
    /// handle or a lent waker, runs before the scope returns), or holds a
    /// reference to a task that holds the runtime (`RUNTIME_HELD`).
    pub(crate) unsafe fn shared(&self) -> &Shared {
        // SAFETY: per the contract.
        unsafe { self.shared.as_ref() }
    }

    /// After a poll that returned `Pending`, lists a scoped task with its
    /// scope, once, so that cancelling the scope can reach it while it
    /// waits. Returns false if the scope has been cancelled instead.
    #[inline]
    fn list_in_scope(&self) -> bool {
        // SAFETY: a scoped task is not complete here, so its scope is alive.
        let Some(scope) = (unsafe { self.scope.as_ref() }) else {
            return true;
        };
        // SAFETY: the caller holds RUNNING, which owns `listed`.
        if self.listed.with(|listed| unsafe { *listed }) {
            return true;
        }
        // SAFETY: as above; the header stays alive while listed, since it
        // unlists itself before it completes.
        unsafe { scope.list(NonNull::from(self)) }
    }

    /// Takes a completing scoped task off its scope's list, if it is on it.
    #[inline]
    fn unlist_from_scope(&self) {
        // SAFETY: the caller holds RUNNING, which owns `listed`.
        if self.listed.with(|listed| unsafe { *listed }) {
            // SAFETY: not yet counted done, so the scope is alive.
            let scope = unsafe { &*self.scope };
            // SAFETY: the task is on the scope's list.
            unsafe { scope.unlist(NonNull::from(self)) };
        }
    }

    /// Makes the task count a reference to its runtime, unless it already
    /// does: called as a waker is cloned, since the clone may outlive the
    /// task's scope.
    ///
    /// # Safety
    ///
    /// As for `shared`.
    pub(crate) unsafe fn hold_runtime(&self) {
        if self.state.set_runtime_held() {
            // SAFETY: the runtime is alive (the caller's contract), and the
            // pointer is its `Arc`'s. `dealloc` releases this reference.
            unsafe { Arc::increment_strong_count(self.shared.as_ptr().cast_const()) };
        }
    }

    /// The handle's waker, if it is the same as `waker`.
    ///
    /// # Safety
    ///
    /// The caller is the handle, and `JOIN_WAKER` is set: nobody writes the
    /// slot, so shared reads (the task may be waking it) are fine.
    pub(crate) unsafe fn join_waker_will_wake(&self, waker: &Waker) -> bool {
        self.join_waker.with(|slot| {
            // SAFETY: see the function's contract.
            unsafe { &*slot }
                .as_ref()
                .is_some_and(|w| w.will_wake(waker))
        })
    }

    /// Puts `waker` in the slot and returns what was there.
    ///
    /// # Safety
    ///
    /// The caller owns the slot: it is the handle and `JOIN_WAKER` is clear,
    /// so the task does not read it.
    pub(crate) unsafe fn replace_join_waker(&self, waker: Option<Waker>) -> Option<Waker> {
        // SAFETY: see the function's contract.
        self.join_waker
            .with_mut(|slot| unsafe { std::mem::replace(&mut *slot, waker) })
    }

    /// Drops the handle's waker, which is user code: a panic from its `drop`
    /// goes where an unobserved task panic goes.
    ///
    /// # Safety
    ///
    /// The caller owns the slot (see `replace_join_waker`, and `state` for
    /// how the task hands it back), and the task's scope, if it has one, is
    /// alive: the caller is the handle, or the task before it counts itself
    /// done.
    pub(crate) unsafe fn drop_join_waker(&self) {
        // SAFETY: per the contract.
        let waker = unsafe { self.replace_join_waker(None) };
        if let Some(waker) = waker {
            self.contain(|| drop(waker));
        }
    }

    /// Runs user code that must not unwind into paddock: a panic goes where an
    /// unobserved task panic goes.
    pub(crate) fn contain(&self, user_code: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(user_code)) {
            self.discard_unobserved_panic(payload);
        }
    }

    /// Handles a panic payload that no handle will ever see: a scope keeps the
    /// first one to re-raise it; a `'static` task's is dropped.
    fn discard_unobserved_panic(&self, payload: Box<dyn Any + Send>) {
        // SAFETY: a scoped task is not complete yet (the caller is completing
        // it or holds its handle), so its scope is alive (`allocate`'s contract).
        match unsafe { self.scope.as_ref() } {
            Some(scope) => scope.record_panic(payload),
            None => drop_panic_payload(payload),
        }
    }

    /// Drops an output that nobody will read (a detached task's, or one left
    /// in a dropped handle): a panic it carries, or one its drop raises, goes
    /// where an unobserved panic goes, never out of this call.
    pub(crate) fn discard_output<T>(&self, output: Result<T, JoinError>) {
        match output {
            Ok(value) => self.contain(|| drop(value)),
            Err(error) => {
                if let Ok(payload) = error.try_into_panic() {
                    self.discard_unobserved_panic(payload);
                }
            }
        }
    }
}

impl<F: Future> Cell<F> {
    /// # Safety
    ///
    /// `ptr` points to a live `Cell<F>`.
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Self {
        // SAFETY: `Cell` is `repr(C)` with the header first.
        unsafe { ptr.cast::<Self>().as_ref() }
    }

    /// Drops whatever the stage holds, in place (the future is pinned there),
    /// and catches a panic from that drop. The stage is `Consumed` afterwards
    /// either way.
    ///
    /// # Safety
    ///
    /// The caller owns the stage (see the module docs).
    unsafe fn clear_stage(&self) -> Result<(), Box<dyn Any + Send>> {
        self.stage.with_mut(|stage| {
            // SAFETY: the caller owns the stage, which holds a valid value.
            let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
                std::ptr::drop_in_place(stage)
            }));
            // SAFETY: the old value is dropped (a panicking drop still drops
            // the remaining fields while it unwinds), so it is overwritten
            // without being dropped again.
            unsafe { std::ptr::write(stage, Stage::Consumed) };
            dropped
        })
    }

    /// Drops the future, stores `result`, completes the task, and releases the
    /// running and lifecycle references.
    ///
    /// # Safety
    ///
    /// The caller set `RUNNING` and owns the reference that came with it.
    unsafe fn complete(&self, mut result: Result<F::Output, JoinError>) {
        let header = &self.header;
        // Invariant 1: the future (and below, a detached task's output) is
        // dropped before the scope's counter counts the task done.
        //
        // SAFETY: the caller owns the stage.
        if let Err(payload) = unsafe { self.clear_stage() } {
            match &result {
                Err(error) if error.is_panic() => drop_panic_payload(payload),
                // The drop's panic replaces the output, whose own drop is
                // user code too.
                _ => header.discard_output(std::mem::replace(
                    &mut result,
                    Err(JoinError::panic(payload)),
                )),
            }
        }
        // SAFETY: the caller owns the stage until `to_complete` below.
        self.stage
            .with_mut(|stage| unsafe { *stage = Stage::Finished(result) });
        // Counted before the handle can see the task complete, so that a
        // `num_alive_tasks` read after a join does not count it.
        //
        // SAFETY: see `shared` below.
        unsafe { header.shared() }.count_completion();
        let completed = header.state.to_complete();

        if !completed.has_join_interest() {
            // Nobody will read the output: this thread is its consumer.
            // SAFETY: without JOIN_INTEREST no handle touches the stage.
            let output = self
                .stage
                .with_mut(|stage| unsafe { std::ptr::replace(stage, Stage::Consumed) });
            if let Stage::Finished(output) = output {
                header.discard_output(output);
            }
        } else if completed.has_join_waker() {
            header.join_waker.with(|slot| {
                // SAFETY: JOIN_WAKER was set when the task completed, so the
                // handle no longer writes the slot. A panicking waker must
                // not stop this task from being counted done (invariant 4).
                if let Some(waker) = unsafe { &*slot } {
                    header.contain(|| waker.wake_by_ref());
                }
            });
            if header.state.release_join_waker() {
                // The handle let go of the slot first: the waker is ours.
                //
                // SAFETY: see `release_join_waker`; the task is not counted
                // done yet, so its scope is alive.
                unsafe { header.drop_join_waker() };
            }
        }

        // SAFETY: a task completes on a worker of its runtime (polled, or its
        // queue entry dropped by the last worker); aborted, on the thread that
        // holds its handle; or, its entry refused by a runtime that has shut
        // down, on the thread that woke it. A scoped task's handle is only
        // used inside its scope; a task woken from outside a poll was woken
        // by a cloned waker, so it holds its runtime, as a `'static` one does.
        let shared = unsafe { header.shared() };
        if header.is_scoped() {
            header.unlist_from_scope();
            // Invariant 6: this decrement is the task's last access to the
            // scope; afterwards only the task's own allocation and the runtime
            // are touched. The runtime outlives the call as argued above: a
            // worker holds it, and an abort's caller is inside the scope (the
            // closure, or a task that the counter still counts).
            //
            // SAFETY: the task is not yet counted done, so the scope is alive.
            unsafe { ScopeState::task_done(header.scope, shared) };
        } else {
            shared.owned.remove(NonNull::from(header));
        }
        // SAFETY: the running reference and the lifecycle reference.
        unsafe { Header::drop_refs(NonNull::from(header), 2) };
    }
}

/// # Safety
///
/// See `Header::poll_claimed`.
unsafe fn poll<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { Cell::<F>::from_header(ptr) };
    // SAFETY: the task is not complete, so its scope is alive.
    if let Some(scope) = unsafe { cell.header.scope.as_ref() } {
        if scope.is_cancelled() {
            // SAFETY: this thread holds RUNNING.
            return unsafe { cell.complete(Err(JoinError::cancelled())) };
        }
    }

    // The poll borrows the queue reference for its waker rather than counting
    // one more; a waker the future keeps is cloned, and counted, by the future.
    //
    // SAFETY: the queue reference outlives this borrowed waker.
    let waker = ManuallyDrop::new(unsafe { waker::borrowed(ptr) });
    let mut cx = Context::from_waker(&waker);
    let polled = panic::catch_unwind(AssertUnwindSafe(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives this thread the stage; the future is never
            // moved out of the heap allocation, so pinning it there is sound.
            match unsafe { &mut *stage } {
                // SAFETY: as above; the future stays where it is until dropped.
                Stage::Running(future) => unsafe { Pin::new_unchecked(future) }.poll(&mut cx),
                _ => unreachable!("a task was polled after its future was dropped"),
            }
        })
    }));

    match polled {
        // SAFETY: this thread still holds RUNNING.
        Ok(Poll::Ready(output)) => unsafe { cell.complete(Ok(output)) },
        // SAFETY: this thread still holds RUNNING.
        Err(payload) => unsafe { cell.complete(Err(JoinError::panic(payload))) },
        Ok(Poll::Pending) if !cell.header.list_in_scope() => {
            // The scope was cancelled: the future is dropped now, not left
            // to wait for a wake-up that may never come.
            //
            // SAFETY: this thread still holds RUNNING.
            unsafe { cell.complete(Err(JoinError::cancelled())) }
        }
        Ok(Poll::Pending) => match cell.header.state.to_idle() {
            ToIdle::Idle => {}
            // SAFETY: `to_idle` turned our reference into a queue reference.
            ToIdle::Reschedule => unsafe { Notified::from_raw(ptr) }.reschedule(),
            // SAFETY: `to_idle` left RUNNING set for us to drop the future.
            ToIdle::Cancel => unsafe { cell.complete(Err(JoinError::cancelled())) },
        },
    }
}

/// # Safety
///
/// See `Header::cancel`.
unsafe fn cancel<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the caller claimed the stage and a reference.
    unsafe { Cell::<F>::from_header(ptr).complete(Err(JoinError::cancelled())) }
}

/// # Safety
///
/// See `Header::read_output`.
unsafe fn read_output<F: Future>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { Cell::<F>::from_header(ptr) };
    // SAFETY: the caller is the output's consumer, and the task is complete.
    let stage = cell
        .stage
        .with_mut(|stage| unsafe { std::ptr::replace(stage, Stage::Consumed) });
    let Stage::Finished(output) = stage else {
        panic!("a JoinHandle was polled after it returned its output");
    };
    // SAFETY: the caller promises `dst` is a `Poll<Result<F::Output, _>>`.
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(output) };
}

/// # Safety
///
/// The last reference to the task was just dropped.
unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: no other reference exists, so nothing else can touch the cell;
    // it was made by `Box::new` in `allocate`. The stage is `Consumed` here
    // (the lifecycle reference is only dropped after the output is consumed
    // or handed to the handle, which consumes it before its reference goes),
    // so this drops no future and no output, and the join waker's slot is
    // empty (see `state`): no user code runs here.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F>>().as_ptr()) };
    debug_assert!(cell.header.join_waker.with(|slot| {
        // SAFETY: nothing else can touch the cell, as above.
        unsafe { &*slot }.is_none()
    }));
    let runtime = cell
        .header
        .state
        .load()
        .holds_runtime()
        .then_some(cell.header.shared);
    drop(cell);
    if let Some(shared) = runtime {
        // SAFETY: the reference counted for `RUNTIME_HELD`, released once.
        unsafe { Arc::decrement_strong_count(shared.as_ptr().cast_const()) };
    }
}
