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
use crate::task::{Header, ToCancelled};

/// Shards per worker: enough that two workers seldom pick the same lock.
const SHARDS_PER_WORKER: usize = 4;

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
        // SAFETY (both blocks): links are only touched under this lock, and
        // the listed head is alive (see `Shard`'s Send impl).
        unsafe { task.as_ref() }.owned.with_mut(|links| unsafe {
            (*links).prev = None;
            (*links).next = shard.head;
        });
        if let Some(head) = shard.head {
            unsafe { head.as_ref() }
                .owned
                .with_mut(|links| unsafe { (*links).prev = Some(task) });
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
        // SAFETY: links are only touched under this lock; the task and its
        // listed neighbours are alive.
        let (prev, next) = unsafe { task.as_ref() }
            .owned
            .with(|links| unsafe { ((*links).prev, (*links).next) });
        match prev {
            Some(prev) => unsafe { prev.as_ref() }
                .owned
                .with_mut(|links| unsafe { (*links).next = next }),
            None => shard.head = next,
        }
        if let Some(next) = next {
            unsafe { next.as_ref() }
                .owned
                .with_mut(|links| unsafe { (*links).prev = prev });
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
                    cursor = header.owned.with(|links| unsafe { (*links).next });
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
