//! The runtime's list of live `'static` tasks, so that dropping the runtime
//! can cancel those that wait on wakers that may never come.
//!
//! Scoped tasks are not listed: their scope borrows the runtime, so it cannot
//! be dropped before they complete. A `'static` task is linked in at spawn and
//! unlinked at completion, through links in its own header: no allocation. The
//! list is split into shards by task address, each behind its own lock, so
//! that workers spawning and completing `'static` tasks rarely contend; the
//! poll path never touches it.

use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::loom::sync::Mutex;
use crate::task::{Header, OwnedLinks, ToCancelled};

/// Shards per worker: enough that two workers seldom pick the same lock.
/// Under loom, one: a shard picked by address would differ between the
/// executions of a model, which loom requires to be deterministic.
const SHARDS_PER_WORKER: usize = if cfg!(paddock_loom) { 0 } else { 4 };

pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    /// Set at shutdown; a closed shard refuses new tasks.
    closed: bool,
}

// SAFETY: the pointers are only followed under the shard's lock, and a listed
// task is alive (its lifecycle reference is released only after `remove`).
unsafe impl Send for Shard {}

impl OwnedTasks {
    pub(crate) fn new(workers: usize) -> Self {
        let shards = (workers * SHARDS_PER_WORKER).next_power_of_two();
        OwnedTasks {
            shards: (0..shards)
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard {
                        head: None,
                        closed: false,
                    }))
                })
                .collect(),
        }
    }

    fn shard(&self, task: NonNull<Header>) -> &Mutex<Shard> {
        // Allocations are at least 64-byte apart in practice; skip the bits
        // that every task shares.
        let index = (task.as_ptr() as usize >> 6) & (self.shards.len() - 1);
        &self.shards[index]
    }

    /// Lists a new task. Returns false, listing nothing, once the runtime has
    /// shut down.
    pub(crate) fn insert(&self, task: NonNull<Header>) -> bool {
        let mut shard = self.shard(task).lock();
        if shard.closed {
            return false;
        }
        // SAFETY: the shard's lock is held; `task` is alive (being spawned).
        unsafe { set_links(task, None, shard.head) };
        if let Some(head) = shard.head {
            // SAFETY: the shard's lock is held; a listed task is alive.
            unsafe { set_prev(head, Some(task)) };
        }
        shard.head = Some(task);
        true
    }

    /// Unlinks a completing task, unless shutdown already took it.
    pub(crate) fn remove(&self, task: NonNull<Header>) {
        let mut shard = self.shard(task).lock();
        if shard.closed {
            return;
        }
        // SAFETY: the shard's lock is held; `task` is listed, so alive.
        let OwnedLinks { prev, next } = unsafe { links(task) };
        match prev {
            // SAFETY: the shard's lock is held; a listed neighbour is alive.
            Some(prev) => unsafe { set_next(prev, next) },
            None => shard.head = next,
        }
        if let Some(next) = next {
            // SAFETY: the shard's lock is held; a listed neighbour is alive.
            unsafe { set_prev(next, prev) };
        }
    }

    /// Closes every shard and cancels every listed task that is not running.
    pub(crate) fn close_and_cancel_all(&self) {
        for shard in self.shards.iter() {
            let mut taken = Vec::new();
            {
                let mut shard = shard.lock();
                shard.closed = true;
                let mut cursor = shard.head.take();
                while let Some(task) = cursor {
                    // SAFETY: a listed task is alive; the new reference keeps
                    // it so after the lock is released.
                    let header = unsafe { task.as_ref() };
                    header.state.ref_inc();
                    // SAFETY: the lock is held and the task is listed.
                    cursor = unsafe { links(task) }.next;
                    taken.push(task);
                }
            }
            for task in taken {
                // SAFETY: the reference counted above.
                let header = unsafe { task.as_ref() };
                if header.state.to_cancelled() == ToCancelled::Claimed {
                    // SAFETY: `to_cancelled` claimed the stage and a reference.
                    unsafe { Header::cancel(task) };
                }
                // SAFETY: the reference counted above, released once.
                unsafe { Header::drop_refs(task, 1) };
            }
        }
    }
}

/// # Safety (of the four functions below)
///
/// The caller holds the lock of the shard that lists `task`, which is alive:
/// that lock makes this the only access to the links.
unsafe fn links(task: NonNull<Header>) -> OwnedLinks {
    // SAFETY: see above.
    unsafe { task.as_ref() }
        .owned
        .with(|links| unsafe { *links })
}

unsafe fn set_links(
    task: NonNull<Header>,
    prev: Option<NonNull<Header>>,
    next: Option<NonNull<Header>>,
) {
    // SAFETY: see `links`.
    unsafe { task.as_ref() }
        .owned
        .with_mut(|links| unsafe { *links = OwnedLinks { prev, next } })
}

unsafe fn set_prev(task: NonNull<Header>, prev: Option<NonNull<Header>>) {
    // SAFETY: see `links`.
    unsafe { set_links(task, prev, links(task).next) }
}

unsafe fn set_next(task: NonNull<Header>, next: Option<NonNull<Header>>) {
    // SAFETY: see `links`.
    unsafe { set_links(task, links(task).prev, next) }
}
