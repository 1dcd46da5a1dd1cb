//! How idle workers sleep, how many are woken for new work, and why no
//! wake-up is lost.
//!
//! A *worker* here is a thread that holds a core (see `core`). One atomic
//! word counts the workers that are `unparked` (not asleep) and, of those,
//! the ones `searching` other workers' queues and the injector for work.
//!
//! # Waking only the workers a burst needs
//!
//! Whoever makes a task runnable where another worker could take it calls
//! `notify_work`. It wakes one sleeping worker, as a searcher, only if no
//! worker is searching already and some worker is asleep: one spawn wakes at
//! most one worker, and a burst of spawns wakes one, not one per task. A
//! searcher that finds work stops searching; if it was the last searcher and
//! it left work queued (a stolen batch holds more than it can run at once, or
//! the injector is not empty), it wakes the next searcher, so a burst fans
//! out one worker at a time, as far as it has work for. At most half the
//! workers search at once (`try_start_searching`): the others sleep, and the
//! searchers cover for them. (tokio's scheduler counts searchers the same
//! way; it wakes the next one whenever the last searcher finds work.)
//!
//! # Bounded idle work
//!
//! A worker that runs out of local work searches: one pass over the injector
//! and the other workers' queues (`Core::steal`), then a second after a short
//! spin, and then it parks. That is two passes, however many workers there
//! are, and no `sched_yield`.
//!
//! # No lost wake-up
//!
//! The danger is a task pushed just as a worker goes to sleep: the pusher
//! sees the worker awake and wakes nobody, and the worker parks without
//! seeing the task. So a worker that parks lists itself as asleep first,
//! then looks at every queue once more (`Shared::has_work`), and the pusher
//! reads the counts after its push. Each side writes, then fences
//! (`SeqCst`), then reads what the other wrote (the store-buffer pattern):
//! either the pusher sees the worker asleep, or the worker sees the task. A
//! worker that sees work in that last look calls `notify_work` itself, which
//! wakes a sleeper (perhaps itself) unless a searcher will find the work.
//! (tokio makes that last look only for the last searcher; here a worker
//! that was not searching, because half the workers were, looks too: the
//! last searcher may have found work and given up searching before it
//! counted itself asleep, and its wake-up would then find nobody asleep.)
//!
//! A parked worker waits on its thread's parker. Other unparks of that parker
//! (a stale wake from an earlier wait of the same thread) find it still on
//! the sleepers list, and it parks again.
//!
//! # Cores asleep, and a frame taking one back
//!
//! A worker leaves its core here while it sleeps, and takes it back when it
//! wakes. So a thread that gave its core up in a wait (`wait`) can take a
//! sleeping worker's core once the wait is over (`take_sleeping_core`),
//! instead of running the rest of its poll without one: the sleeper is
//! taken off the list and counted awake, as if it had woken itself, and its
//! thread, woken, finds its core gone and becomes a spare (`pool`). Nothing
//! in the protocol above changes: the core's new holder is an unparked
//! worker in the middle of a poll, which looks at every queue before it
//! parks, like any other, and a notifier that finds no sleeper left has
//! nothing to wake.

use crate::loom::sync::atomic::{fence, AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;

use super::core::Core;
use super::park::Parker;

/// The low `UNPARKED_SHIFT` bits count searching workers; the rest, unparked
/// ones.
const UNPARKED_SHIFT: usize = 16;
const ONE_SEARCHING: usize = 1;
const ONE_UNPARKED: usize = 1 << UNPARKED_SHIFT;
const SEARCHING_MASK: usize = ONE_UNPARKED - 1;

#[derive(Clone, Copy, Debug)]
struct Counts(usize);

impl Counts {
    fn searching(self) -> usize {
        self.0 & SEARCHING_MASK
    }

    fn unparked(self) -> usize {
        self.0 >> UNPARKED_SHIFT
    }
}

pub(crate) struct Idle {
    counts: AtomicUsize,
    sleepers: Mutex<Sleepers>,
    num_cores: usize,
}

struct Sleepers {
    /// The parker slots of the workers asleep, the last to park last.
    slots: Vec<usize>,
    /// The core of each worker asleep, or woken and not yet back, by slot.
    // Boxed: a core moves between a thread's context and here by pointer.
    #[allow(clippy::vec_box)]
    cores: Vec<(usize, Box<Core>)>,
}

impl Sleepers {
    fn take_core(&mut self, slot: usize) -> Option<Box<Core>> {
        let position = self.cores.iter().position(|&(s, _)| s == slot)?;
        Some(self.cores.swap_remove(position).1)
    }
}

/// What a parked worker finds when its parker wakes it.
pub(crate) enum Woken {
    /// It is still on the sleepers list: not a wake-up of `notify_work`'s.
    StillAsleep,
    /// `notify_work` chose it: it is counted as searching.
    AsSearcher(Box<Core>),
    /// It took itself off the sleepers list: it is counted as unparked, not
    /// searching.
    Itself(Box<Core>),
    /// A frame took its core (`take_sleeping_core`): the thread is a spare.
    CoreTaken,
}

impl Idle {
    pub(crate) fn new(num_cores: usize) -> Self {
        assert!(num_cores < SEARCHING_MASK, "too many workers");
        Idle {
            counts: AtomicUsize::new(num_cores * ONE_UNPARKED),
            sleepers: Mutex::new(Sleepers {
                slots: Vec::with_capacity(num_cores),
                cores: Vec::with_capacity(num_cores),
            }),
            num_cores,
        }
    }

    fn load(&self) -> Counts {
        Counts(self.counts.load(SeqCst))
    }

    fn should_wake(&self, counts: Counts) -> bool {
        counts.searching() == 0 && counts.unparked() < self.num_cores
    }

    /// Wakes a sleeping worker, as a searcher, for a task just made runnable,
    /// unless a worker is searching or none is asleep.
    pub(crate) fn notify_work(&self, parkers: &[Parker]) {
        // Pairs with the fence in `before_park` (module docs).
        fence(SeqCst);
        if !self.should_wake(self.load()) {
            return;
        }
        let slot = {
            let mut sleepers = self.sleepers.lock();
            // Another notifier may have woken one meanwhile.
            if !self.should_wake(self.load()) {
                return;
            }
            let Some(slot) = sleepers.slots.pop() else {
                return;
            };
            self.counts.fetch_add(ONE_UNPARKED + ONE_SEARCHING, SeqCst);
            slot
        };
        parkers[slot].unpark();
    }

    /// A worker out of local work asks to search; fewer than half the
    /// workers may search at once (at least one may).
    pub(crate) fn try_start_searching(&self) -> bool {
        if 2 * self.load().searching() >= self.num_cores.max(2) {
            return false;
        }
        self.counts.fetch_add(ONE_SEARCHING, SeqCst);
        true
    }

    /// A searcher found work. Returns true if it was the last searcher: it
    /// then looks for work left over and, if there is some, calls
    /// `notify_work` (module docs).
    pub(crate) fn stop_searching(&self) -> bool {
        let last = Counts(self.counts.fetch_sub(ONE_SEARCHING, SeqCst)).searching() == 1;
        if last {
            // The store-buffer fence between this write and the caller's
            // look at the queues, against a pusher's push, fence, and read
            // of the counts (module docs). The fence, not the SeqCst
            // operations alone, is what loom checks.
            fence(SeqCst);
        }
        last
    }

    /// Lists worker `slot` as asleep, leaving its core here. The caller then
    /// looks for work once more (module docs) before it parks.
    pub(crate) fn before_park(&self, slot: usize, core: Box<Core>) {
        let leaving = ONE_UNPARKED
            + if core.searching.replace(false) {
                ONE_SEARCHING
            } else {
                0
            };
        let mut sleepers = self.sleepers.lock();
        self.counts.fetch_sub(leaving, SeqCst);
        sleepers.slots.push(slot);
        sleepers.cores.push((slot, core));
        drop(sleepers);
        // Pairs with the fence in `notify_work` (module docs).
        fence(SeqCst);
    }

    /// What worker `slot`, woken, finds; `leave` takes it off the sleepers
    /// list if it is still on it (shutdown), instead of `StillAsleep`.
    pub(crate) fn wake(&self, slot: usize, leave: bool) -> Woken {
        let mut sleepers = self.sleepers.lock();
        if let Some(position) = sleepers.slots.iter().position(|&s| s == slot) {
            if !leave {
                return Woken::StillAsleep;
            }
            sleepers.slots.swap_remove(position);
            self.counts.fetch_add(ONE_UNPARKED, SeqCst);
            let core = sleepers.take_core(slot).expect("a sleeper's core is here");
            return Woken::Itself(core);
        }
        match sleepers.take_core(slot) {
            Some(core) => {
                core.searching.set(true);
                Woken::AsSearcher(core)
            }
            None => Woken::CoreTaken,
        }
    }

    /// Takes the core of a sleeping worker, for a thread that gave its core
    /// up in a wait (module docs), and returns it with the slot of the
    /// sleeper, which the caller wakes.
    pub(crate) fn take_sleeping_core(&self) -> Option<(usize, Box<Core>)> {
        let mut sleepers = self.sleepers.lock();
        let slot = sleepers.slots.pop()?;
        self.counts.fetch_add(ONE_UNPARKED, SeqCst);
        let core = sleepers.take_core(slot).expect("a sleeper's core is here");
        Some((slot, core))
    }

    /// The number of workers asleep, for the shutdown check.
    pub(crate) fn num_asleep(&self) -> usize {
        self.num_cores - self.load().unparked()
    }

    /// Every sleeper's slot, to wake them all at shutdown.
    pub(crate) fn sleeper_slots(&self) -> Vec<usize> {
        self.sleepers.lock().slots.clone()
    }
}
