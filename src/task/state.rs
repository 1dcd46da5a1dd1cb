//! The task's state word: lifecycle bits and a reference count in one atomic.
//!
//! | bit             | set by                                 | meaning                                                         |
//! |-----------------|----------------------------------------|-----------------------------------------------------------------|
//! | `RUNNING`       | the thread that claims the stage       | one thread owns the future: polling it, or dropping it          |
//! | `COMPLETE`      | that thread, when it is done           | the future is gone; the stage holds the output or nothing       |
//! | `NOTIFIED`      | a wake, or the spawn                   | a queue holds (or is about to hold) a reference to run the task |
//! | `CANCELLED`     | `abort` or runtime shutdown            | the future is to be dropped instead of polled                   |
//! | `JOIN_INTEREST` | spawn; cleared when the handle drops   | a `JoinHandle` exists and will consume the output               |
//! | `JOIN_WAKER`    | the handle, after writing its waker; cleared by the task once it has woken it | the task may read the handle's waker; the handle may not write it |
//! | `RUNTIME_HELD`  | spawn (`'static`), or a first waker clone | the task counts a reference to its runtime, dropped when it is freed |
//!
//! The bits above `REF_SHIFT` count references. At spawn there are three: the
//! queue's (`NOTIFIED`), the handle's and the *lifecycle* reference, which the
//! task holds for itself until it completes. Because the lifecycle reference is
//! only released after the stage is emptied, whoever drops the last reference
//! frees the allocation without touching the future or the output (DESIGN.md,
//! invariant 2).
//!
//! The handle's waker is user code, so whoever drops it must be able to send
//! a panic somewhere: it is dropped by the handle, or by the completing task
//! before it counts itself done, never by the last reference (which may be a
//! waker dropped on any thread, after the scope has returned). Ownership of
//! the slot moves with the bits: the handle owns it while `JOIN_WAKER` is
//! clear; once the task completes it reads the waker, wakes it and clears
//! `JOIN_WAKER`, and whichever of the handle and the task clears its bit
//! (`JOIN_INTEREST`, `JOIN_WAKER`) second drops it (as in tokio's protocol).
//!
//! Every transition is one compare-and-swap loop that returns what the caller
//! must do next. Successful transitions are `AcqRel`: they publish what the
//! caller wrote before (a wake's writes, the output, the handle's waker) and see
//! what the previous owner published. Wakes that find nothing to do still write
//! the word, so that the next poll acquires the waker's writes (tokio#7622).

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
const JOIN_WAKER: usize = 1 << 5;
const RUNTIME_HELD: usize = 1 << 6;

const REF_SHIFT: usize = 7;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A copy of the state word at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    fn has(self, bit: usize) -> bool {
        self.0 & bit != 0
    }

    pub(crate) fn is_complete(self) -> bool {
        self.has(COMPLETE)
    }

    pub(crate) fn has_join_interest(self) -> bool {
        self.has(JOIN_INTEREST)
    }

    pub(crate) fn has_join_waker(self) -> bool {
        self.has(JOIN_WAKER)
    }

    pub(crate) fn holds_runtime(self) -> bool {
        self.has(RUNTIME_HELD)
    }

    fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.has(RUNNING))
            .field("complete", &self.has(COMPLETE))
            .field("notified", &self.has(NOTIFIED))
            .field("cancelled", &self.has(CANCELLED))
            .field("join_interest", &self.has(JOIN_INTEREST))
            .field("join_waker", &self.has(JOIN_WAKER))
            .field("runtime_held", &self.has(RUNTIME_HELD))
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What a worker holding a queued reference does next.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// The caller owns the future and polls it.
    Poll,
    /// The caller owns the future and drops it: the task was aborted.
    Cancel,
    /// Someone else owns or finished the task; the caller drops its reference.
    Skip,
}

/// What the poller does after the future returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Nothing: the poller's reference has been released with the transition.
    Idle,
    /// A wake arrived during the poll: the poller's reference now backs a new
    /// queue entry, and the poller must schedule the task.
    Reschedule,
    /// An abort arrived during the poll: the poller still owns the future and
    /// drops it.
    Cancel,
}

/// What a waker does.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Push the task to a queue; a reference for the queue was counted.
    Submit,
    /// Nothing: the task is complete, already queued, or running (the poller
    /// will see `NOTIFIED` when it finishes the poll).
    Nothing,
}

/// What `abort` does.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToCancelled {
    /// The task was idle or queued: the caller now owns the future (and one
    /// more reference) and drops it at once.
    Claimed,
    /// The task is running, complete, or already cancelled; nothing to do here.
    Nothing,
}

/// What a `JoinHandle` does as it is dropped, besides dropping an output it
/// owns.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToDetached {
    /// The interest and the handle's reference are both gone.
    Released,
    /// The interest is gone before completion, so the task consumes its
    /// output; the handle owns the waker slot and still holds its reference.
    ReleasedOwningWaker,
    /// The task had completed: the handle consumes the output, drops the
    /// slot's waker if `owns_waker`, and still holds its reference.
    Completed { owns_waker: bool },
}

pub(crate) struct State(AtomicUsize);

impl State {
    /// A new task: queued, with a handle, and the three references described in
    /// the module docs; `RUNTIME_HELD` if the spawner counted a reference to
    /// the runtime for it.
    pub(crate) fn new(runtime_held: bool) -> Self {
        let held = if runtime_held { RUNTIME_HELD } else { 0 };
        State(AtomicUsize::new(
            NOTIFIED | JOIN_INTEREST | held | (3 * REF_ONE),
        ))
    }

    pub(crate) fn load(&self) -> Snapshot {
        // Acquire: a caller that sees COMPLETE may read the output.
        Snapshot(self.0.load(Acquire))
    }

    /// Runs `f` on the current value until its compare-and-swap succeeds. `f`
    /// returns the new value (or `None` to leave the word alone) and a result.
    fn transition<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<Snapshot>, R)) -> R {
        let mut current = Snapshot(self.0.load(Acquire));
        loop {
            let (next, result) = f(current);
            let Some(next) = next else { return result };
            match self
                .0
                .compare_exchange_weak(current.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return result,
                Err(actual) => current = Snapshot(actual),
            }
        }
    }

    pub(crate) fn to_running(&self) -> ToRunning {
        self.transition(|s| {
            if s.has(RUNNING) || s.has(COMPLETE) {
                return (None, ToRunning::Skip);
            }
            let next = Snapshot((s.0 | RUNNING) & !NOTIFIED);
            let action = if s.has(CANCELLED) {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), action)
        })
    }

    /// Gives back a stage claimed with `to_running` without running it: the
    /// claimer's reference backs a queue entry again. (A waiting frame claims
    /// a task to check that it may run it; see `scheduler::wait`.)
    pub(crate) fn to_notified_unclaimed(&self) {
        self.transition(|s| {
            debug_assert!(s.has(RUNNING) && !s.has(COMPLETE), "{s:?}");
            (Some(Snapshot((s.0 & !RUNNING) | NOTIFIED)), ())
        })
    }

    pub(crate) fn to_idle(&self) -> ToIdle {
        self.transition(|s| {
            debug_assert!(s.has(RUNNING), "{s:?}");
            if s.has(CANCELLED) {
                return (None, ToIdle::Cancel);
            }
            if s.has(NOTIFIED) {
                return (Some(Snapshot(s.0 & !RUNNING)), ToIdle::Reschedule);
            }
            // The lifecycle reference is still held, so this is never the last.
            debug_assert!(s.ref_count() >= 2, "{s:?}");
            (Some(Snapshot((s.0 & !RUNNING) - REF_ONE)), ToIdle::Idle)
        })
    }

    /// Marks the future gone and the output written. Returns the new state.
    pub(crate) fn to_complete(&self) -> Snapshot {
        // AcqRel: releases the output to the handle; acquires the handle's
        // JOIN_WAKER write so the task may read the waker.
        let previous = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(
            previous.has(RUNNING) && !previous.has(COMPLETE),
            "{previous:?}"
        );
        Snapshot(previous.0 ^ (RUNNING | COMPLETE))
    }

    /// A wake that keeps the caller's reference (`wake_by_ref`).
    pub(crate) fn to_notified_by_ref(&self) -> ToNotified {
        self.transition(|s| {
            if s.has(COMPLETE) {
                return (None, ToNotified::Nothing);
            }
            if s.has(RUNNING) || s.has(NOTIFIED) {
                // Still write, to release the waker's writes to the next poll.
                return (Some(Snapshot(s.0 | NOTIFIED)), ToNotified::Nothing);
            }
            (
                Some(Snapshot((s.0 | NOTIFIED) + REF_ONE)),
                ToNotified::Submit,
            )
        })
    }

    pub(crate) fn to_cancelled(&self) -> ToCancelled {
        self.transition(|s| {
            if s.has(COMPLETE) || s.has(CANCELLED) {
                return (None, ToCancelled::Nothing);
            }
            if s.has(RUNNING) {
                return (Some(Snapshot(s.0 | CANCELLED)), ToCancelled::Nothing);
            }
            // Claim the stage even if the task is queued: the queue's entry
            // will find RUNNING or COMPLETE and only drop its reference.
            let next = Snapshot((s.0 | RUNNING | CANCELLED) + REF_ONE);
            (Some(next), ToCancelled::Claimed)
        })
    }

    /// The handle publishes its waker. Fails, returning the state, if the task
    /// completed first; the handle then reads the output instead.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.transition(|s| {
            debug_assert!(s.has(JOIN_INTEREST) && !s.has(JOIN_WAKER), "{s:?}");
            if s.has(COMPLETE) {
                return (None, Err(s));
            }
            (Some(Snapshot(s.0 | JOIN_WAKER)), Ok(()))
        })
    }

    /// The handle takes its waker back to replace it. Fails if the task
    /// completed first (the task may be reading the waker right now).
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.transition(|s| {
            debug_assert!(s.has(JOIN_INTEREST), "{s:?}");
            if s.has(COMPLETE) {
                // The task may already have handed the waker back.
                return (None, Err(s));
            }
            debug_assert!(s.has(JOIN_WAKER), "{s:?}");
            (Some(Snapshot(s.0 & !JOIN_WAKER)), Ok(()))
        })
    }

    /// The handle gives up its interest as it is dropped. `registered` says
    /// whether it ever published a waker; if not, and the task has not
    /// completed, the handle's reference goes in the same step (it cannot be
    /// the last: the lifecycle reference lives until completion).
    pub(crate) fn drop_join_interest(&self, registered: bool) -> ToDetached {
        self.transition(|s| {
            debug_assert!(s.has(JOIN_INTEREST), "{s:?}");
            if s.has(COMPLETE) {
                if !registered {
                    // The task never reads a slot it was never given.
                    return (None, ToDetached::Completed { owns_waker: false });
                }
                let owns_waker = !s.has(JOIN_WAKER);
                let next = Snapshot(s.0 & !JOIN_INTEREST);
                return (Some(next), ToDetached::Completed { owns_waker });
            }
            if s.has(JOIN_WAKER) {
                // Clearing JOIN_WAKER before completion takes the slot back
                // from the task, which will not read it now.
                let next = Snapshot(s.0 & !(JOIN_INTEREST | JOIN_WAKER));
                return (Some(next), ToDetached::ReleasedOwningWaker);
            }
            debug_assert!(s.ref_count() >= 2, "{s:?}");
            let next = Snapshot((s.0 & !JOIN_INTEREST) - REF_ONE);
            (Some(next), ToDetached::Released)
        })
    }

    /// The completing task is done with the handle's waker. Returns true if
    /// the handle is already gone, leaving the waker to the task to drop.
    pub(crate) fn release_join_waker(&self) -> bool {
        // AcqRel: the release hands the slot back to the handle; the acquire
        // sees a handle's drop that cleared JOIN_INTEREST first.
        let previous = Snapshot(self.0.fetch_and(!JOIN_WAKER, AcqRel));
        debug_assert!(
            previous.has(COMPLETE) && previous.has(JOIN_WAKER),
            "{previous:?}"
        );
        !previous.has(JOIN_INTEREST)
    }

    /// Counts one more reference; returns the state before.
    pub(crate) fn ref_inc(&self) -> Snapshot {
        // Relaxed: a new reference is made from an existing one, which already
        // keeps the task alive (as in `Arc::clone`).
        let previous = self.0.fetch_add(REF_ONE, Relaxed);
        if previous > usize::MAX / 2 {
            std::process::abort();
        }
        Snapshot(previous)
    }

    /// Sets `RUNTIME_HELD`; returns false if it was already set, by another
    /// thread that counted the runtime reference first.
    pub(crate) fn set_runtime_held(&self) -> bool {
        // Relaxed: the bit only decides which thread's runtime reference the
        // task keeps. The one who frees the task reads it after the final
        // `ref_dec`, which orders this write before that read.
        !Snapshot(self.0.fetch_or(RUNTIME_HELD, Relaxed)).has(RUNTIME_HELD)
    }

    /// Drops `count` references; returns true if they were the last.
    pub(crate) fn ref_dec(&self, count: usize) -> bool {
        // AcqRel: the last owner must see every other owner's writes before it
        // frees the allocation (as in `Arc::drop`).
        let previous = Snapshot(self.0.fetch_sub(count * REF_ONE, AcqRel));
        debug_assert!(previous.ref_count() >= count, "{previous:?}");
        previous.ref_count() == count
    }
}

#[cfg(all(test, not(paddock_loom)))]
mod tests {
    use super::*;

    /// A state as a queue would hand it to a worker, with the handle alive.
    fn spawned() -> State {
        State::new(false)
    }

    #[test]
    fn a_wake_during_a_poll_reschedules_the_task() {
        let state = spawned();
        assert_eq!(state.to_running(), ToRunning::Poll);
        assert_eq!(state.to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(state.to_idle(), ToIdle::Reschedule);
        // The poller's reference became the queue's: still three.
        assert_eq!(state.load().ref_count(), 3);
        assert_eq!(state.to_running(), ToRunning::Poll);
        assert_eq!(state.to_idle(), ToIdle::Idle);
        assert_eq!(state.load().ref_count(), 2);
    }

    #[test]
    fn a_wake_of_an_idle_task_submits_it_once() {
        let state = spawned();
        assert_eq!(state.to_running(), ToRunning::Poll);
        assert_eq!(state.to_idle(), ToIdle::Idle);
        assert_eq!(state.to_notified_by_ref(), ToNotified::Submit);
        assert_eq!(state.to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(state.load().ref_count(), 3);
    }

    #[test]
    fn a_wake_of_a_complete_task_does_nothing() {
        let state = spawned();
        assert_eq!(state.to_running(), ToRunning::Poll);
        assert!(state.to_complete().is_complete());
        assert_eq!(state.to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(state.to_running(), ToRunning::Skip);
    }

    #[test]
    fn abort_claims_a_queued_task_and_its_queue_entry_skips_it() {
        let state = spawned();
        assert_eq!(state.to_cancelled(), ToCancelled::Claimed);
        assert_eq!(state.to_running(), ToRunning::Skip);
        assert_eq!(state.to_cancelled(), ToCancelled::Nothing);
    }

    #[test]
    fn abort_of_a_running_task_is_seen_when_the_poll_ends() {
        let state = spawned();
        assert_eq!(state.to_running(), ToRunning::Poll);
        assert_eq!(state.to_cancelled(), ToCancelled::Nothing);
        assert_eq!(state.to_idle(), ToIdle::Cancel);
    }

    #[test]
    fn the_join_waker_cannot_be_set_or_taken_back_after_completion() {
        let state = spawned();
        assert!(state.set_join_waker().is_ok());
        assert!(state.unset_join_waker().is_ok());
        assert!(state.set_join_waker().is_ok());
        assert_eq!(state.to_running(), ToRunning::Poll);
        let completed = state.to_complete();
        assert!(completed.has_join_interest() && completed.has_join_waker());
        assert!(state.unset_join_waker().is_err());
        // The task has not released the waker: it will drop it itself.
        assert_eq!(
            state.drop_join_interest(true),
            ToDetached::Completed { owns_waker: false }
        );
        assert!(state.release_join_waker());
    }

    #[test]
    fn the_second_to_let_go_of_the_join_waker_drops_it() {
        let state = spawned();
        assert!(state.set_join_waker().is_ok());
        assert_eq!(state.to_running(), ToRunning::Poll);
        let _ = state.to_complete();
        // The task lets go first: the handle, still interested, drops it.
        assert!(!state.release_join_waker());
        assert_eq!(
            state.drop_join_interest(true),
            ToDetached::Completed { owns_waker: true }
        );
    }

    #[test]
    fn a_handle_dropped_with_a_waker_before_completion_takes_the_slot_back() {
        let state = spawned();
        assert!(state.set_join_waker().is_ok());
        assert_eq!(
            state.drop_join_interest(true),
            ToDetached::ReleasedOwningWaker
        );
        assert_eq!(state.to_running(), ToRunning::Poll);
        let completed = state.to_complete();
        assert!(!completed.has_join_interest() && !completed.has_join_waker());
    }

    #[test]
    fn a_handle_dropped_first_leaves_the_output_to_the_task() {
        let state = spawned();
        assert_eq!(state.drop_join_interest(false), ToDetached::Released);
        assert_eq!(state.to_running(), ToRunning::Poll);
        assert!(!state.to_complete().has_join_interest());
        // The handle's reference went with its interest: the queue's and the
        // lifecycle reference are the last two.
        assert!(!state.ref_dec(1));
        assert!(state.ref_dec(1));
    }

    #[test]
    fn only_the_first_claim_of_the_runtime_counts_it() {
        let scoped = State::new(false);
        assert!(!scoped.ref_inc().holds_runtime());
        assert!(scoped.set_runtime_held());
        assert!(!scoped.set_runtime_held());
        assert!(scoped.ref_inc().holds_runtime());

        let detached = State::new(true);
        assert!(detached.ref_inc().holds_runtime());
        assert!(!detached.set_runtime_held());
    }

    #[test]
    fn a_claim_given_back_leaves_the_task_queued() {
        let state = spawned();
        assert_eq!(state.to_running(), ToRunning::Poll);
        state.to_notified_unclaimed();
        assert_eq!(state.load().ref_count(), 3);
        // The entry runs it later, and an abort meanwhile is kept.
        assert_eq!(state.to_running(), ToRunning::Poll);
        assert_eq!(state.to_cancelled(), ToCancelled::Nothing);
        state.to_notified_unclaimed();
        assert_eq!(state.to_running(), ToRunning::Cancel);
    }

    #[test]
    fn the_last_reference_is_reported_once() {
        let state = spawned();
        assert!(!state.ref_dec(1));
        assert!(!state.ref_dec(1));
        assert!(state.ref_dec(1));
    }
}
