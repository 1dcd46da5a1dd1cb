//! Workers' local run queues: a thin layer over crossbeam-deque.
//!
//! crossbeam-deque has no loom support, so a loom build swaps in a small
//! `Mutex<VecDeque>` model with the same interface and the same observable
//! behaviour (FIFO pops, half-batch steals). The scheduler sees only these
//! two types, and the retry loops of `Steal::Retry` live here.

#[cfg(not(paddock_loom))]
mod imp {
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
        pub(crate) fn new() -> Self {
            LocalQueue(Worker::new_fifo())
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
    }

    impl<T> Stealer<T> {
        /// Moves about half of the victim's tasks to `dest` and returns one.
        pub(crate) fn steal_into(&self, dest: &LocalQueue<T>) -> Option<T> {
            retry(|| self.0.steal_batch_and_pop(&dest.0))
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }
}

#[cfg(paddock_loom)]
mod imp {
    use crate::loom::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    pub(crate) struct LocalQueue<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);

    impl<T> LocalQueue<T> {
        pub(crate) fn new() -> Self {
            LocalQueue(Arc::new(Mutex::new(VecDeque::new())))
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }

        pub(crate) fn push(&self, item: T) {
            self.0.lock().push_back(item);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.lock().pop_front()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal_into(&self, dest: &LocalQueue<T>) -> Option<T> {
            if Arc::ptr_eq(&self.0, &dest.0) {
                return dest.pop();
            }
            let mut from = self.0.lock();
            let first = from.pop_front()?;
            let extra = from.len() / 2;
            dest.0.lock().extend(from.drain(..extra));
            Some(first)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.lock().is_empty()
        }
    }
}

pub(crate) use imp::{LocalQueue, Stealer};
