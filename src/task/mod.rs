//! Tasks: one allocation per spawn, a state machine in one atomic word, and
//! wakers and a join handle built on it.
//!
//! - `state`: the bits, the reference count and every transition.
//! - `raw`: the allocation, its vtable, and polling, cancelling, completing.
//! - `waker`: the `Waker` vtable over a task header.
//! - `join`: `JoinHandle` and `JoinError`.
//! - `list`: an intrusive list of tasks, for shutdown and scope cancellation.

mod join;
mod list;
mod raw;
mod state;
mod waker;

use std::any::Any;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::scheduler::Reason;

pub use join::{JoinError, JoinHandle};
pub(crate) use list::{cancel_all, TaskList};
pub(crate) use raw::{allocate, Header, OwnedLinks};

/// A task reference that backs its `NOTIFIED` bit: an entry in a run queue.
/// Running the entry consumes it.
pub(crate) struct Notified(NonNull<Header>);

// SAFETY: tasks are only made from `Send` futures with `Send` outputs, and the
// header's shared fields are synchronised by its state word.
unsafe impl Send for Notified {}

impl Notified {
    /// # Safety
    ///
    /// The caller hands over a reference that backs the `NOTIFIED` bit.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        Notified(ptr)
    }

    /// Gives up the entry's reference as a raw pointer, for an intrusive queue.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the entry's reference keeps the header alive.
        unsafe { self.0.as_ref() }
    }

    /// Polls the task (or drops its future if it was aborted).
    pub(crate) fn run(self) {
        // SAFETY: the entry's reference is handed to `run`, which consumes it.
        unsafe { Header::run(self.into_raw()) }
    }

    /// Claims the task's stage without running it yet, so that the caller
    /// can look at the task knowing that it will not complete meanwhile.
    /// `None` if someone else owns or finished the task (the entry is spent).
    pub(crate) fn claim(self) -> Option<Claimed> {
        use state::ToRunning;
        let cancel = match self.header().state.to_running() {
            ToRunning::Poll => false,
            ToRunning::Cancel => true,
            ToRunning::Skip => {
                // SAFETY: the entry's reference, no longer needed.
                unsafe { Header::drop_refs(self.into_raw(), 1) };
                return None;
            }
        };
        Some(Claimed {
            ptr: self.into_raw(),
            cancel,
        })
    }

    /// Queues the task again on its runtime, after a wake during its poll.
    fn reschedule(self) {
        // SAFETY: rescheduling happens on a worker of the task's runtime, and
        // the worker's own `Arc` keeps the runtime alive through the call even
        // if the task is stolen and freed as soon as it is pushed.
        let shared: *const crate::scheduler::Shared = unsafe { self.header().shared() };
        // SAFETY: as above.
        unsafe { &*shared }.schedule(self, Reason::Yielded);
    }
}

impl Drop for Notified {
    /// A queue entry dropped unrun (a runtime shutting down) cancels the task
    /// if nobody else owns it, then releases the entry's reference.
    fn drop(&mut self) {
        use state::ToRunning;
        match self.header().state.to_running() {
            // SAFETY: `to_running` set RUNNING, which the entry's reference
            // now backs, as `cancel` requires.
            ToRunning::Poll | ToRunning::Cancel => unsafe { Header::cancel(self.0) },
            // SAFETY: the entry's reference, no longer needed.
            ToRunning::Skip => unsafe { Header::drop_refs(self.0, 1) },
        }
    }
}

/// A task whose stage the holder has claimed (`RUNNING` set), with the
/// reference that came with the claim. Dropping it unrun would leak the task:
/// it is run, or given back to a queue with `unclaim`.
#[must_use]
pub(crate) struct Claimed {
    ptr: NonNull<Header>,
    /// The task was aborted: running it drops its future.
    cancel: bool,
}

impl Claimed {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the claim's reference keeps the header alive.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn run(self) {
        if self.cancel {
            // SAFETY: the claim set RUNNING; its reference goes to `cancel`.
            unsafe { Header::cancel(self.ptr) }
        } else {
            // SAFETY: as above, for `poll_claimed`.
            unsafe { Header::poll_claimed(self.ptr) }
        }
    }

    /// Gives the claim back: the task is queued again, and the returned entry
    /// holds the claim's reference.
    pub(crate) fn unclaim(self) -> Notified {
        self.header().state.to_notified_unclaimed();
        // SAFETY: the claim's reference now backs the NOTIFIED bit just set.
        unsafe { Notified::from_raw(self.ptr) }
    }
}

/// A task that a thread is about to run: a queue entry, or a claimed one.
pub(crate) enum Runnable {
    Queued(Notified),
    Claimed(Claimed),
}

impl Runnable {
    pub(crate) fn header(&self) -> &Header {
        match self {
            Runnable::Queued(task) => task.header(),
            Runnable::Claimed(task) => task.header(),
        }
    }

    pub(crate) fn run(self) {
        match self {
            Runnable::Queued(task) => task.run(),
            Runnable::Claimed(task) => task.run(),
        }
    }
}

/// Drops a panic payload whose own `Drop` may panic, without letting that
/// second panic unwind into the caller (invariant 7, rust-lang/rust#157969).
pub(crate) fn drop_panic_payload(payload: Box<dyn Any + Send>) {
    if let Err(second) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        // A payload that panics again would do so again: leak it.
        std::mem::forget(second);
    }
}
