//! The runtime's list of live `'static` tasks, so that dropping the runtime
//! can cancel those that wait on wakers that may never come.
//!
//! Scoped tasks are not listed: their scope waits for them, and shutdown
//! never cancels them (see `Runtime`'s docs). A `'static` task is linked in
//! at spawn and unlinked at completion, through links in its own header: no
//! allocation. The list is split into shards by task address, each behind
//! its own lock, so that workers spawning and completing `'static` tasks
//! rarely contend; the poll path never touches it.

use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::loom::sync::Mutex;
use crate::task::{cancel_all, Header, TaskList};

/// Shards per worker: enough that two workers seldom pick the same lock.
/// Under loom, one: a shard picked by address would differ between the
/// executions of a model, which loom requires to be deterministic.
const SHARDS_PER_WORKER: usize = if cfg!(paddock_loom) { 0 } else { 4 };

pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    tasks: TaskList,
    /// Set at shutdown; a closed shard refuses new tasks.
    closed: bool,
}

impl OwnedTasks {
    pub(crate) fn new(workers: usize) -> Self {
        let shards = (workers * SHARDS_PER_WORKER).next_power_of_two();
        OwnedTasks {
            shards: (0..shards)
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard {
                        tasks: TaskList::new(),
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
        // SAFETY: the shard's lock is held; `task` is alive (being spawned)
        // and on no list.
        unsafe { shard.tasks.push_front(task) };
        true
    }

    /// Unlinks a completing task, unless shutdown already took it.
    pub(crate) fn remove(&self, task: NonNull<Header>) {
        let mut shard = self.shard(task).lock();
        if !shard.closed {
            // SAFETY: the shard's lock is held; the task is listed.
            unsafe { shard.tasks.remove(task) };
        }
    }

    /// Closes every shard and cancels every listed task that is not running.
    pub(crate) fn close_and_cancel_all(&self) {
        for shard in self.shards.iter() {
            let taken = {
                let mut shard = shard.lock();
                shard.closed = true;
                // SAFETY: the shard's lock is held.
                unsafe { shard.tasks.referenced(true) }
            };
            cancel_all(taken);
        }
    }
}
