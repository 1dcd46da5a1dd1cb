//! Workers' local run queues: a thin layer over crossbeam-deque.
//!
//! A queue pops in LIFO or FIFO order for its owner; thieves always take the
//! oldest tasks. crossbeam-deque has no loom support, so a loom build swaps in
//! a small `Mutex<VecDeque>` model with the same interface and the same
//! observable behaviour (owner pops in either order, half-batch steals from
//! the front). The scheduler sees only these types, and the retry loops of
//! `Steal::Retry` live here.

/// The order in which a queue's owner pops its tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Newest first.
    Lifo,
    /// Oldest first.
    Fifo,
}

#[cfg(not(paddock_loom))]
mod imp {
    use super::Order;
    use crossbeam_deque::{Steal, Stealer as CbStealer, Worker};

    fn retry<T>(mut attempt: impl FnMut() -> Steal<T>) -> Option<T> {
        loop {
            match attempt() {
                Steal::Success(item) => return Some(item),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// A worker's own queue: pushed and popped by its worker only.
    pub(crate) struct LocalQueue<T>(Worker<T>);

    /// The handle other workers steal through.
    pub(crate) struct Stealer<T>(CbStealer<T>);

    impl<T> LocalQueue<T> {
        pub(crate) fn new(order: Order) -> Self {
            LocalQueue(match order {
                Order::Lifo => Worker::new_lifo(),
                Order::Fifo => Worker::new_fifo(),
            })
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.stealer())
        }

        pub(crate) fn push(&self, item: T) {
            self.0.push(item);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.pop()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }

        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl<T> Stealer<T> {
        /// Moves about half of the victim's tasks, oldest first, to `dest`
        /// and returns the oldest.
        pub(crate) fn steal_into(&self, dest: &LocalQueue<T>) -> Option<T> {
            retry(|| self.0.steal_batch_and_pop(&dest.0))
        }

        /// Takes the victim's oldest task.
        pub(crate) fn steal_one(&self) -> Option<T> {
            retry(|| self.0.steal())
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }

        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }
}

#[cfg(paddock_loom)]
mod imp {
    use super::Order;
    use crate::loom::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    pub(crate) struct LocalQueue<T> {
        tasks: Arc<Mutex<VecDeque<T>>>,
        order: Order,
    }

    pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);

    impl<T> LocalQueue<T> {
        pub(crate) fn new(order: Order) -> Self {
            LocalQueue {
                tasks: Arc::new(Mutex::new(VecDeque::new())),
                order,
            }
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.tasks.clone())
        }

        pub(crate) fn push(&self, item: T) {
            self.tasks.lock().push_back(item);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            let mut tasks = self.tasks.lock();
            match self.order {
                Order::Lifo => tasks.pop_back(),
                Order::Fifo => tasks.pop_front(),
            }
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.tasks.lock().is_empty()
        }

        pub(crate) fn len(&self) -> usize {
            self.tasks.lock().len()
        }
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal_one(&self) -> Option<T> {
            self.0.lock().pop_front()
        }

        pub(crate) fn len(&self) -> usize {
            self.0.lock().len()
        }

        pub(crate) fn steal_into(&self, dest: &LocalQueue<T>) -> Option<T> {
            if Arc::ptr_eq(&self.0, &dest.tasks) {
                return dest.pop();
            }
            let mut from = self.0.lock();
            let first = from.pop_front()?;
            let extra = from.len() / 2;
            dest.tasks.lock().extend(from.drain(..extra));
            Some(first)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
    }
}

pub(crate) use imp::{LocalQueue, Stealer};

/// A core's three queues, or the handles to steal from them.
pub(crate) struct Queues<Q> {
    /// Tasks spawned on the core. LIFO for the owner, so that a frame waiting
    /// for a scope finds the tasks it just spawned on top; the main loop takes
    /// the oldest, in batches, through the core's own stealer (see `core`).
    pub(crate) spawned: Q,
    /// The main loop's run queue, FIFO: woken tasks displaced from the LIFO
    /// slot, batches from the injector and from other cores, and tasks a
    /// waiting frame set aside.
    pub(crate) runnable: Q,
    /// Tasks that yielded: FIFO, behind everything else ready on the core.
    pub(crate) yielded: Q,
}

impl<T> Queues<LocalQueue<T>> {
    pub(crate) fn new() -> Self {
        Queues {
            spawned: LocalQueue::new(Order::Lifo),
            runnable: LocalQueue::new(Order::Fifo),
            yielded: LocalQueue::new(Order::Fifo),
        }
    }

    pub(crate) fn stealers(&self) -> Queues<Stealer<T>> {
        Queues {
            spawned: self.spawned.stealer(),
            runnable: self.runnable.stealer(),
            yielded: self.yielded.stealer(),
        }
    }
}

impl<T> Queues<Stealer<T>> {
    pub(crate) fn is_empty(&self) -> bool {
        self.spawned.is_empty() && self.runnable.is_empty() && self.yielded.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.spawned.len() + self.runnable.len() + self.yielded.len()
    }
}
