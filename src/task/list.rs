//! An intrusive, doubly linked list of tasks, threaded through the links in
//! their headers (`Header::owned`): the runtime's `'static` tasks (one list
//! per shard of `scheduler::owned`), and a scope's tasks that are waiting
//! (`ScopeState`). Listing a task allocates nothing.
//!
//! The list's owner keeps it behind a lock; every method here is called
//! with that lock held, and a listed task is alive, since a task takes
//! itself off its list before it releases its lifecycle reference.

use std::ptr::NonNull;

use super::{Header, OwnedLinks};

pub(crate) struct TaskList {
    head: Option<NonNull<Header>>,
}

// SAFETY: the pointers are only followed under the owner's lock (module
// docs), and tasks are `Send`.
unsafe impl Send for TaskList {}

impl TaskList {
    pub(crate) const fn new() -> Self {
        TaskList { head: None }
    }

    /// # Safety
    ///
    /// The caller holds the list's lock; `task` is alive and on no list.
    pub(crate) unsafe fn push_front(&mut self, task: NonNull<Header>) {
        // SAFETY: the lock is held; `task` is alive (the caller's contract).
        unsafe { set_links(task, None, self.head) };
        if let Some(head) = self.head {
            // SAFETY: the lock is held; a listed task is alive.
            unsafe { set_links(head, Some(task), links(head).next) };
        }
        self.head = Some(task);
    }

    /// # Safety
    ///
    /// The caller holds the list's lock; `task` is on this list.
    pub(crate) unsafe fn remove(&mut self, task: NonNull<Header>) {
        // SAFETY: the lock is held; `task` is listed, so alive.
        let OwnedLinks { prev, next } = unsafe { links(task) };
        match prev {
            // SAFETY: the lock is held; a listed neighbour is alive.
            Some(prev) => unsafe { set_links(prev, links(prev).prev, next) },
            None => self.head = next,
        }
        if let Some(next) = next {
            // SAFETY: the lock is held; a listed neighbour is alive.
            unsafe { set_links(next, prev, links(next).next) };
        }
    }

    /// Counts a reference to every listed task and returns them, so that
    /// the caller can cancel them after it releases the lock. With `take`,
    /// the list is left empty (the tasks then never unlink themselves).
    ///
    /// # Safety
    ///
    /// The caller holds the list's lock.
    pub(crate) unsafe fn referenced(&mut self, take: bool) -> Vec<NonNull<Header>> {
        let mut tasks = Vec::new();
        let mut cursor = if take { self.head.take() } else { self.head };
        while let Some(task) = cursor {
            // SAFETY: a listed task is alive; the new reference keeps it so
            // after the lock is released.
            let header = unsafe { task.as_ref() };
            header.state.ref_inc();
            // SAFETY: the lock is held and the task is listed.
            cursor = unsafe { links(task) }.next;
            tasks.push(task);
        }
        tasks
    }
}

/// Aborts each task, as `JoinHandle::abort` does, and releases the reference
/// that `TaskList::referenced` counted for it.
pub(crate) fn cancel_all(tasks: Vec<NonNull<Header>>) {
    for task in tasks {
        // SAFETY: the reference counted by `referenced`, kept through it.
        unsafe { Header::abort(task) };
        // SAFETY: the reference counted by `referenced`, released once.
        unsafe { Header::drop_refs(task, 1) };
    }
}

/// # Safety (of both functions below)
///
/// The caller holds the lock of the list that has `task`, which is alive:
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
