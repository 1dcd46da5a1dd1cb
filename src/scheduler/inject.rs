//! The injector: the shared queue for tasks made runnable outside the pool.
//!
//! An intrusive FIFO list linked through the tasks' own headers, behind one
//! lock. Pushing allocates nothing (a spawn is one allocation, all told), and
//! workers take tasks in batches, so the lock is taken once per batch on the
//! consuming side. `len` mirrors the list's length so that the emptiness
//! checks of the scheduling loop and of the sleep protocol need no lock.

use std::ptr::NonNull;

use super::queue::LocalQueue;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use crate::task::{Header, Notified};

/// The most tasks one worker takes from the injector at a time.
const MAX_BATCH: usize = 32;

pub(crate) struct Injector {
    len: AtomicUsize,
    list: Mutex<List>,
}

struct List {
    head: Option<NonNull<Header>>,
    tail: Option<NonNull<Header>>,
    /// Set when the last worker exits: nobody pops the list any more.
    closed: bool,
}

// SAFETY: the list owns the queue references of the tasks on it, which are
// `Send` (see `Notified`); the pointers are only followed under the lock.
unsafe impl Send for List {}

impl Injector {
    pub(crate) fn new() -> Self {
        let list = List {
            head: None,
            tail: None,
            closed: false,
        };
        Injector {
            len: AtomicUsize::new(0),
            list: Mutex::new(list),
        }
    }

    /// Queues `task`, or gives it back if the injector is closed.
    pub(crate) fn push(&self, task: Notified) -> Result<(), Notified> {
        let mut list = self.list.lock();
        if list.closed {
            return Err(task);
        }
        let task = task.into_raw();
        // SAFETY: the list's lock is held, and a task is on at most one queue
        // at a time (its NOTIFIED bit backs a single entry), so its link is
        // ours; the tail is alive because the list holds its reference.
        unsafe { set_next(task, None) };
        match list.tail {
            // SAFETY: as above.
            Some(tail) => unsafe { set_next(tail, Some(task)) },
            None => list.head = Some(task),
        }
        list.tail = Some(task);
        // SeqCst: this store is the "push" half of the sleep protocol's
        // store-buffer pattern (see `sleep`), read by `is_empty`.
        self.len.store(self.len.load(Relaxed) + 1, SeqCst);
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(SeqCst) == 0
    }

    /// Takes a batch of tasks, a fair share among `workers`, and returns the
    /// oldest; the rest go to `dest`, pushed so that its owner, popping the
    /// newest first, runs them in the order they were queued. Spawn order is
    /// what a caller expects, and it matters for speed too: tasks spawned over
    /// consecutive pieces of a buffer then walk memory forwards, which the
    /// hardware prefetcher follows from one task into the next (reversed
    /// batches made a chunked sum about 10% slower).
    pub(crate) fn steal_into(
        &self,
        dest: &LocalQueue<Notified>,
        workers: usize,
    ) -> Option<Notified> {
        if self.is_empty() {
            return None;
        }
        let share = (self.len.load(Relaxed) / workers + 1).min(MAX_BATCH);
        let mut batch = [NonNull::dangling(); MAX_BATCH];
        let mut taken = 0;
        {
            let mut list = self.list.lock();
            while taken < share {
                let Some(task) = list.head else { break };
                // SAFETY: the lock is held and `task` is on the list.
                list.head = unsafe { next(task) };
                batch[taken] = task;
                taken += 1;
            }
            if list.head.is_none() {
                list.tail = None;
            }
            // Written under the lock, so a plain read-modify-write is exact.
            self.len.store(self.len.load(Relaxed) - taken, SeqCst);
        }
        let (&oldest, rest) = batch[..taken].split_first()?;
        for &task in rest.iter().rev() {
            // SAFETY: `task` was taken off the list above, and the list's
            // reference to it moves to `dest`.
            dest.push(unsafe { Notified::from_raw(task) });
        }
        // SAFETY: as above; this reference moves to the caller.
        Some(unsafe { Notified::from_raw(oldest) })
    }

    /// Refuses further pushes and drops every queued entry, which cancels
    /// their tasks. Tasks woken by those drops are refused and dropped too.
    pub(crate) fn close_and_drain(&self) {
        let mut cursor = {
            let mut list = self.list.lock();
            list.closed = true;
            list.tail = None;
            self.len.store(0, SeqCst);
            list.head.take()
        };
        while let Some(task) = cursor {
            // SAFETY: the list was emptied under the lock, so these links are
            // no longer shared; each entry's reference is now ours.
            cursor = unsafe { next(task) };
            // SAFETY: the list's reference to the task moves here.
            drop(unsafe { Notified::from_raw(task) });
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
/// The caller holds the lock of the list that `task` is on, or has taken the
/// task off every list.
unsafe fn next(task: NonNull<Header>) -> Option<NonNull<Header>> {
    // SAFETY: the lock makes this the only access to the link.
    unsafe { task.as_ref() }
        .queue_next
        .with(|next| unsafe { *next })
}

/// # Safety
///
/// As for `next`, or `task` is being pushed under the lock.
unsafe fn set_next(task: NonNull<Header>, value: Option<NonNull<Header>>) {
    // SAFETY: the lock makes this the only access to the link.
    unsafe { task.as_ref() }
        .queue_next
        .with_mut(|next| unsafe { *next = value })
}
