//! `JoinHandle`, the owner of a task's output, and `JoinError`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::state::ToDetached;
use super::Header;

/// An owned permission to await a task's output, to abort the task, or to
/// detach it by dropping the handle.
///
/// `'scope` is the scope the task belongs to (`'static` for
/// [`Runtime::spawn`](crate::Runtime::spawn)): the handle cannot leave it.
/// Dropping the handle detaches the task; it still runs, and its scope still
/// waits for it.
///
/// # Examples
///
/// ```
/// let rt = paddock::Runtime::builder().worker_threads(2).build()?;
/// let words = ["ab", "cde"];
/// let total = rt.scope(|s| {
///     let handles: Vec<_> = words.iter().map(|w| s.spawn(async move { w.len() })).collect();
///     handles.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
/// });
/// assert_eq!(total, 5);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinHandle<'scope, T> {
    raw: NonNull<Header>,
    /// Set once the output has been moved out through `poll`.
    output_taken: bool,
    /// Set once the handle has published a waker to the task.
    waker_registered: bool,
    _marker: PhantomData<(&'scope (), T)>,
}

// SAFETY: the handle only hands out `T` by value, on whichever thread it is;
// the header is synchronised by its state word.
unsafe impl<T: Send> Send for JoinHandle<'_, T> {}
// SAFETY: `&JoinHandle` only allows `abort` and `is_finished`, which touch
// nothing but the atomic state word.
unsafe impl<T: Send> Sync for JoinHandle<'_, T> {}

impl<T> Unpin for JoinHandle<'_, T> {}

// A handle shares no state that a panic could leave half-updated: every
// transition of the task is one atomic step, and the output is moved out
// whole. tokio's `JoinHandle` makes the same promise.
impl<T> UnwindSafe for JoinHandle<'_, T> {}
impl<T> RefUnwindSafe for JoinHandle<'_, T> {}

impl<T> JoinHandle<'_, T> {
    /// # Safety
    ///
    /// `raw` carries the handle's reference to a task whose output is `T`.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> Self {
        JoinHandle {
            raw,
            output_taken: false,
            waker_registered: false,
            _marker: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the header alive.
        unsafe { self.raw.as_ref() }
    }

    /// Blocks until the task completes and returns its output.
    ///
    /// On a thread of the task's runtime this runs the task itself if it is
    /// queued there, and otherwise hands the worker's role to another
    /// thread while it waits, so it never deadlocks the pool; on any other
    /// thread it parks.
    ///
    /// # Errors
    ///
    /// Returns a [`JoinError`] if the task panicked or was aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.spawn(async { 6 * 7 });
    /// assert_eq!(handle.join().unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join(mut self) -> Result<T, JoinError> {
        let raw = self.raw;
        // SAFETY: the handle's reference keeps the header alive until `self`
        // is dropped, after the wait.
        let header = unsafe { raw.as_ref() };
        let mut early = None;
        // Polling once registers the waker with the task, or finds it done.
        let arm = |waker: &Waker| {
            if let Poll::Ready(output) = Pin::new(&mut self).poll(&mut Context::from_waker(waker)) {
                early = Some(output);
            }
        };
        // SAFETY: a scoped handle is used inside its scope, which borrows the
        // runtime; a `'static` task holds its runtime, and the handle the task.
        let shared = unsafe { header.shared() };
        crate::scheduler::wait_task(shared, raw, arm, || header.state.load().is_complete());
        match early {
            Some(output) => output,
            None => self.take_output(),
        }
    }

    /// Aborts the task.
    ///
    /// A task that is not running has its future dropped at once, on this
    /// thread; a running task has it dropped at its next suspension point, on
    /// its worker. Either way the handle then reports
    /// [`is_cancelled`](JoinError::is_cancelled) — unless the task completed
    /// first, in which case aborting does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.scope(|s| {
    ///     let handle = s.spawn(std::future::pending::<()>());
    ///     handle.abort();
    ///     assert!(handle.join().unwrap_err().is_cancelled());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn abort(&self) {
        // SAFETY: the handle's reference, which it keeps.
        unsafe { Header::abort(self.raw) }
    }

    /// Returns true if the task has completed: returned, panicked or been
    /// cancelled. Awaiting or joining the handle then does not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// rt.scope(|s| {
    ///     let handle = s.spawn(async { 1 });
    ///     while !handle.is_finished() {
    ///         std::thread::yield_now();
    ///     }
    ///     assert_eq!(handle.join().unwrap(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// Moves the output out of a complete task.
    fn take_output(&mut self) -> Result<T, JoinError> {
        let mut output: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: the task is complete, this handle had JOIN_INTEREST when it
        // completed (it never gives it up before dropping), so the handle is
        // the output's consumer; `output` has the type `read_output` writes.
        unsafe { Header::read_output(self.raw, &mut output as *mut _ as *mut ()) };
        self.output_taken = true;
        match output {
            Poll::Ready(output) => output,
            Poll::Pending => unreachable!("read_output always writes the output"),
        }
    }
}

impl<T> Future for JoinHandle<'_, T> {
    type Output = Result<T, JoinError>;

    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(
            !self.output_taken,
            "a JoinHandle was polled after it returned its output"
        );
        let snapshot = self.header().state.load();
        if snapshot.is_complete() {
            return Poll::Ready(self.take_output());
        }
        let waker = cx.waker();
        if snapshot.has_join_waker() {
            // SAFETY: JOIN_WAKER is set, so the slot is only read.
            if unsafe { self.header().join_waker_will_wake(waker) } {
                return Poll::Pending;
            }
        }
        // Cloned before anything changes: a panicking `clone` (user code,
        // unwinding into the caller's poll) leaves the handle as it was.
        let waker = waker.clone();
        let header = self.header();
        // Take the slot back to replace the waker, unless the task completed.
        if snapshot.has_join_waker() && header.state.unset_join_waker().is_err() {
            header.contain(|| drop(waker));
            return Poll::Ready(self.take_output());
        }
        // SAFETY: JOIN_WAKER is clear, so the handle owns the slot.
        let previous = unsafe { header.replace_join_waker(Some(waker)) };
        let published = header.state.set_join_waker().is_ok();
        if !published {
            // The task completed first and never saw the new waker: the slot
            // is still the handle's.
            //
            // SAFETY: JOIN_WAKER is clear; the handle is inside its scope.
            unsafe { header.drop_join_waker() };
        }
        if let Some(previous) = previous {
            header.contain(|| drop(previous));
        }
        if published {
            self.waker_registered = true;
            Poll::Pending
        } else {
            Poll::Ready(self.take_output())
        }
    }
}

impl<T> Drop for JoinHandle<'_, T> {
    fn drop(&mut self) {
        let header = self.header();
        match header.state.drop_join_interest(self.waker_registered) {
            // The task consumes its own output, and our reference is gone.
            ToDetached::Released => return,
            // SAFETY: the slot is the handle's again, and the handle is
            // inside its scope.
            ToDetached::ReleasedOwningWaker => unsafe { header.drop_join_waker() },
            ToDetached::Completed { owns_waker } => {
                if !self.output_taken {
                    // The handle consumes the output. It lives inside its
                    // scope, so this happens before the scope returns
                    // (invariant 1), and a panic the output carries or raises
                    // goes to the scope, as a detached task's would.
                    let output = self.take_output();
                    self.header().discard_output(output);
                }
                if owns_waker {
                    // SAFETY: the task let go of the slot before we did.
                    unsafe { self.header().drop_join_waker() };
                }
            }
        }
        // SAFETY: the handle's reference, released once.
        unsafe { Header::drop_refs(self.raw, 1) };
    }
}

impl<T> fmt::Debug for JoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.raw)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task produced no output: it panicked, or it was cancelled.
///
/// # Examples
///
/// ```
/// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
/// let error = rt.scope(|s| s.spawn(async { panic!("boom") }).join().unwrap_err());
/// assert!(error.is_panic());
/// assert_eq!(error.to_string(), "task panicked: boom");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic {
        payload: Payload,
        message: Option<String>,
    },
}

/// A panic payload that is only ever moved, never shared.
struct Payload(Box<dyn Any + Send>);

// SAFETY: no `&Payload` method exposes the box; it can only be moved out of an
// owned `JoinError`, so sharing `&JoinError` shares no access to it.
unsafe impl Sync for Payload {}

// For the same reason a panic cannot observe a payload half-changed through
// a `JoinError`: it is only ever moved whole.
impl UnwindSafe for Payload {}
impl RefUnwindSafe for Payload {}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send>) -> Self {
        // The message is read now, while this thread owns the payload, so that
        // `Display` needs no shared access to it.
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        JoinError {
            repr: Repr::Panic {
                payload: Payload(payload),
                message,
            },
        }
    }

    /// Returns true if the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.spawn(async { panic!("boom") });
    /// assert!(handle.join().unwrap_err().is_panic());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic { .. })
    }

    /// Returns true if the task was cancelled, by
    /// [`JoinHandle::abort`] or by dropping its runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(handle.join().unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Returns the panic payload, to inspect it or to resume the panic with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// Panics if the task was cancelled rather than panicking; see
    /// [`try_into_panic`](Self::try_into_panic).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let error = rt.spawn(async { panic!("boom") }).join().unwrap_err();
    /// assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "boom");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            // Not in a closure: `#[track_caller]` reaches only this frame.
            Err(_) => panic!("`JoinError::into_panic` called on a cancelled task"),
        }
    }

    /// Returns the panic payload, or gives the error back if the task was
    /// cancelled.
    ///
    /// # Errors
    ///
    /// Returns `self` if the task did not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = paddock::Runtime::builder().worker_threads(1).build()?;
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(handle.join().unwrap_err().try_into_panic().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic { payload, .. } => Ok(payload.0),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic {
                message: Some(message),
                ..
            } => write!(f, "task panicked: {message}"),
            Repr::Panic { message: None, .. } => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic { message, .. } => {
                f.debug_tuple("JoinError::Panic").field(message).finish()
            }
        }
    }
}

impl std::error::Error for JoinError {}
