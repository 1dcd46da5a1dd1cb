//! The injector: the shared queue for tasks made runnable outside the pool.
//!
//! Two intrusive lists linked through the tasks' own headers, so that pushing
//! allocates nothing (a spawn is one allocation, all told):
//!
//! - `incoming`, a lock-free stack. Outside threads push with one
//!   compare-and-swap and never wait for a worker: a thread spawning a stream
//!   of tasks from outside the pool is the common producer, and with a lock it
//!   contended with every worker taking a batch.
//! - `queued`, the tasks in the order they were pushed, behind a lock that only
//!   workers take. A worker that finds it empty takes the whole stack at once
//!   (the stack has no per-entry pop, so it has no ABA problem), reverses it
//!   into spawn order and takes a fair share of it.
//!
//! `queued_len` mirrors `queued`'s length so that emptiness checks need no
//! lock.

use std::ptr::{self, NonNull};

use super::queue::LocalQueue;
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use crate::task::{Header, Notified};

/// The most tasks one worker takes from the injector at a time.
const MAX_BATCH: usize = 32;

/// `incoming` once the injector is closed: no task lives at this address.
fn closed() -> *mut Header {
    NonNull::dangling().as_ptr()
}

pub(crate) struct Injector {
    /// The newest task pushed since a worker last took the stack, linked to
    /// older ones through `queue_next`; null when empty, `closed()` for good.
    incoming: AtomicPtr<Header>,
    queued: Mutex<List>,
    queued_len: AtomicUsize,
    /// Tasks ever pushed, and ever taken off (or drained): their difference
    /// is the injector's depth, for the metrics.
    pushed: AtomicUsize,
    taken: AtomicUsize,
}

/// The tasks already taken off `incoming`, oldest first.
struct List {
    head: Option<NonNull<Header>>,
    len: usize,
    /// Set when the last worker exits: nobody takes tasks any more.
    closed: bool,
}

// SAFETY: the list owns the queue references of the tasks on it, which are
// `Send` (see `Notified`); the pointers are only followed under the lock.
unsafe impl Send for List {}

impl Injector {
    pub(crate) fn new() -> Self {
        let list = List {
            head: None,
            len: 0,
            closed: false,
        };
        Injector {
            incoming: AtomicPtr::new(ptr::null_mut()),
            queued: Mutex::new(list),
            queued_len: AtomicUsize::new(0),
            pushed: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
        }
    }

    /// Queues `task`, or gives it back if the injector is closed.
    pub(crate) fn push(&self, task: Notified) -> Result<(), Notified> {
        let task = task.into_raw();
        let mut top = self.incoming.load(Relaxed);
        loop {
            if top == closed() {
                // SAFETY: the reference taken by `into_raw` above, unpublished.
                return Err(unsafe { Notified::from_raw(task) });
            }
            // SAFETY: a task is on at most one queue at a time (its NOTIFIED
            // bit backs a single entry) and this one is not published yet, so
            // its link is ours.
            unsafe { set_next(task, NonNull::new(top)) };
            // SeqCst: this is the "push" half of the sleep protocol's
            // store-buffer pattern (see `sleep`), read by `is_empty`; its
            // release half publishes the task and its link to the worker that
            // takes the stack.
            match self
                .incoming
                .compare_exchange_weak(top, task.as_ptr(), SeqCst, Relaxed)
            {
                Ok(_) => {
                    // Relaxed: a count for the metrics, ordered by nothing.
                    self.pushed.fetch_add(1, Relaxed);
                    return Ok(());
                }
                Err(actual) => top = actual,
            }
        }
    }

    /// Tasks pushed and not yet taken: a count for the metrics, which may
    /// lag a push or a take in flight.
    pub(crate) fn depth(&self) -> usize {
        let taken = self.taken.load(Relaxed);
        self.pushed.load(Relaxed).saturating_sub(taken)
    }

    pub(crate) fn is_empty(&self) -> bool {
        let top = self.incoming.load(SeqCst);
        (top.is_null() || top == closed()) && self.queued_len.load(SeqCst) == 0
    }

    /// Takes a batch of tasks, a fair share among `workers`, and returns the
    /// oldest; the rest go to the FIFO `dest` in the order they were queued.
    /// Spawn order is what a caller expects, and it matters for speed too:
    /// tasks spawned over consecutive pieces of a buffer then walk memory
    /// forwards, which the hardware prefetcher follows from one task into the
    /// next (reversed batches made a chunked sum about 10% slower).
    ///
    /// The caller must wake another worker if `is_empty` is false afterwards:
    /// while this call moved the stack over, the injector looked empty, and a
    /// worker may have gone to sleep on that.
    pub(crate) fn steal_into(
        &self,
        dest: &LocalQueue<Notified>,
        workers: usize,
    ) -> Option<Notified> {
        if self.is_empty() {
            return None;
        }
        let mut batch = [NonNull::dangling(); MAX_BATCH];
        let mut taken = 0;
        {
            let mut list = self.queued.lock();
            if list.head.is_none() {
                self.take_incoming(&mut list);
            }
            let share = (list.len / workers + 1).min(MAX_BATCH);
            while taken < share {
                let Some(task) = list.head else { break };
                // SAFETY: the lock is held and `task` is on the list.
                list.head = unsafe { next(task) };
                batch[taken] = task;
                taken += 1;
            }
            list.len -= taken;
            // SeqCst: read by `is_empty` in the sleep protocol.
            self.queued_len.store(list.len, SeqCst);
            // Relaxed: only the lock's holder writes it; a metrics count.
            let before = self.taken.load(Relaxed);
            self.taken.store(before + taken, Relaxed);
        }
        let (&oldest, rest) = batch[..taken].split_first()?;
        for &task in rest {
            // SAFETY: `task` was taken off the list above, and the list's
            // reference to it moves to `dest`.
            dest.push(unsafe { Notified::from_raw(task) });
        }
        // SAFETY: as above; this reference moves to the caller.
        Some(unsafe { Notified::from_raw(oldest) })
    }

    /// Moves the `incoming` stack, reversed into push order, to the empty
    /// `list`.
    fn take_incoming(&self, list: &mut List) {
        debug_assert!(list.head.is_none() && list.len == 0);
        if list.closed {
            return;
        }
        // Acquire: sees every push's task and link (each push is a
        // read-modify-write, so the releases of all of them are acquired).
        let mut cursor = NonNull::new(self.incoming.swap(ptr::null_mut(), Acquire));
        while let Some(task) = cursor {
            // SAFETY: the swap took the whole stack, so its links are ours.
            cursor = unsafe { next(task) };
            // SAFETY: as above.
            unsafe { set_next(task, list.head) };
            list.head = Some(task);
            list.len += 1;
        }
    }

    /// Refuses further pushes and drops every queued entry, which cancels
    /// their tasks. Tasks woken by those drops are refused and dropped too.
    pub(crate) fn close_and_drain(&self) {
        let (queued, incoming) = {
            let mut list = self.queued.lock();
            list.closed = true;
            list.len = 0;
            self.queued_len.store(0, SeqCst);
            // Acquire: as in `take_incoming`.
            let top = self.incoming.swap(closed(), Acquire);
            let incoming = if top == closed() {
                None
            } else {
                NonNull::new(top)
            };
            (list.head.take(), incoming)
        };
        for mut cursor in [queued, incoming] {
            while let Some(task) = cursor {
                // Relaxed: a metrics count (see `depth`).
                self.taken.fetch_add(1, Relaxed);
                // SAFETY: both lists were taken whole above, so these links
                // are no longer shared; each entry's reference is now ours.
                cursor = unsafe { next(task) };
                // SAFETY: the list's reference to the task moves here.
                drop(unsafe { Notified::from_raw(task) });
            }
        }
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        self.close_and_drain();
    }
}

/// # Safety
///
/// The caller owns the list that `task` is on (holds its lock, or has taken
/// it whole), or owns the unpublished `task`.
unsafe fn next(task: NonNull<Header>) -> Option<NonNull<Header>> {
    // SAFETY: per the contract, this is the only access to the link.
    unsafe { task.as_ref() }
        .queue_next
        .with(|next| unsafe { *next })
}

/// # Safety
///
/// As for `next`.
unsafe fn set_next(task: NonNull<Header>, value: Option<NonNull<Header>>) {
    // SAFETY: per the contract, this is the only access to the link.
    unsafe { task.as_ref() }
        .queue_next
        .with_mut(|next| unsafe { *next = value })
}
