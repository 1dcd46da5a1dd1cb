//! The one seam between paddock's concurrent core and the primitives it runs on.
//!
//! Every atomic, cell, `Arc`, lock, condition variable and thread in the core is
//! imported from here. A normal build re-exports std, parking_lot and
//! crossbeam-utils. A build with `RUSTFLAGS="--cfg paddock_loom"` swaps in loom's
//! models of the same types, so the models in `loom-tests/` explore the real
//! code's interleavings rather than a copy of it. The cfg name is ours alone: a
//! bare `--cfg loom` would also flip code paths inside our dependencies.

#[cfg(not(paddock_loom))]
pub(crate) use std_impl::*;

#[cfg(paddock_loom)]
pub(crate) use loom_impl::*;

#[cfg(not(paddock_loom))]
mod std_impl {
    pub(crate) mod sync {
        pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
        pub(crate) use std::sync::Arc;

        /// Waits on `condvar` for at most `timeout`; true if it timed out.
        pub(crate) fn wait_for<T>(
            condvar: &Condvar,
            guard: &mut MutexGuard<'_, T>,
            timeout: std::time::Duration,
        ) -> bool {
            condvar.wait_for(guard, timeout).timed_out()
        }

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
            };
        }
    }

    pub(crate) mod cell {
        /// `std::cell::UnsafeCell` behind loom's closure-based access API, so
        /// that every access site is visible to loom's checker in a loom build.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(value: T) -> Self {
                Self(std::cell::UnsafeCell::new(value))
            }

            pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }

    pub(crate) mod thread {
        pub(crate) use std::thread::{Builder, JoinHandle};
        pub(crate) use std::thread_local;
    }

    pub(crate) use crossbeam_utils::Backoff;
}

#[cfg(paddock_loom)]
mod loom_impl {
    pub(crate) mod sync {
        pub(crate) use loom::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
            };
        }

        /// loom's mutex behind parking_lot's API (no poisoning, guard by `&mut`
        /// in `Condvar::wait`), so the core is written once for both.
        #[derive(Debug)]
        pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

        pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Self(loom::sync::Mutex::new(value))
            }

            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                MutexGuard(Some(self.0.lock().unwrap()))
            }
        }

        impl<T> std::ops::Deref for MutexGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                self.0.as_ref().unwrap()
            }
        }

        impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                self.0.as_mut().unwrap()
            }
        }

        /// loom never times out a wait: a model explores the wake-ups.
        pub(crate) fn wait_for<T>(
            condvar: &Condvar,
            guard: &mut MutexGuard<'_, T>,
            _timeout: std::time::Duration,
        ) -> bool {
            condvar.wait(guard);
            false
        }

        #[derive(Debug)]
        pub(crate) struct Condvar(loom::sync::Condvar);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Self(loom::sync::Condvar::new())
            }

            pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
                let inner = guard.0.take().unwrap();
                guard.0 = Some(self.0.wait(inner).unwrap());
            }

            pub(crate) fn notify_one(&self) {
                self.0.notify_one();
            }

            pub(crate) fn notify_all(&self) {
                self.0.notify_all();
            }
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::{Builder, JoinHandle};
        pub(crate) use loom::thread_local;
    }

    /// Under loom a spin does nothing. Every spin in paddock is bounded, so
    /// loom needs no yield to see it end, and a yield would hide bugs: loom
    /// lets a thread that yielded read only the newest value of each atomic,
    /// so a worker that spun just before it parks could never read the stale
    /// queue that the sleep protocol's fences exist for (`idle`).
    #[derive(Debug, Default)]
    pub(crate) struct Backoff;

    impl Backoff {
        pub(crate) fn new() -> Self {
            Self
        }

        pub(crate) fn spin(&self) {}
    }
}
