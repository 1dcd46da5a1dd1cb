//! Wakers built on the task header.
//!
//! A waker's data pointer is the task's `NonNull<Header>`, and every waker
//! (except the one lent to `poll`) owns one counted reference. A waker never
//! points at executor or scope state, so it may outlive both (invariant 2):
//! waking a complete task changes nothing, and dropping the last waker frees
//! the allocation through the vtable without touching future or output.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::state::ToNotified;
use super::{Header, Notified};
use crate::scheduler::Reason;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker that borrows the caller's reference instead of owning one.
///
/// # Safety
///
/// The result must be wrapped in `ManuallyDrop` and must not outlive the
/// caller's reference to the task.
pub(super) unsafe fn borrowed(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable's contract is upheld by the functions below; the
    // reference the waker stands for is the caller's, per this function's
    // contract.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &VTABLE)) }
}

fn header(data: *const ()) -> NonNull<Header> {
    // SAFETY: `data` came from `borrowed` or `clone`, both of which make it
    // from a non-null header pointer.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    let ptr = header(data);
    // SAFETY: the waker being cloned owns (or borrows) a reference.
    let header = unsafe { ptr.as_ref() };
    if !header.state.ref_inc().holds_runtime() {
        // The first clone of a scoped task's waker: every waker starts as the
        // one lent to a poll, so this clone is made during a poll, on a worker
        // of the runtime or in a thread the poll waits for.
        //
        // SAFETY: the polling worker keeps the runtime alive.
        unsafe { header.hold_runtime() };
    }
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // Wake while this waker's reference still keeps the task, and with it the
    // runtime, alive through the call to `schedule`; then drop it.
    //
    // SAFETY: the waker owns a reference, released here exactly once.
    unsafe {
        wake_by_ref(data);
        drop_waker(data);
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    let ptr = header(data);
    // SAFETY: the waker's reference keeps the header alive.
    let header = unsafe { ptr.as_ref() };
    match header.state.to_notified_by_ref() {
        ToNotified::Submit => {
            // The task is not running, so this is not the waker lent to its
            // poll but a clone, and the first clone made the task hold its
            // runtime: see `clone`.
            //
            // SAFETY: this waker's reference keeps the task, which keeps the
            // runtime, alive through the call.
            let shared = unsafe { header.shared() };
            // SAFETY: `to_notified_by_ref` counted a reference for the queue.
            shared.schedule(unsafe { Notified::from_raw(ptr) }, Reason::Woken);
        }
        ToNotified::Nothing => {}
    }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker owns a reference, released here.
    unsafe { Header::drop_refs(header(data), 1) }
}
