//! Per-core counters behind `RuntimeMetrics`.
//!
//! Each core's counters are written only by the thread that holds the core,
//! with a plain load and store rather than a read-modify-write, and read
//! `Relaxed` by anyone: no shared write is added to the path of a poll. A
//! core moves between threads through the pool's lock, which orders one
//! holder's writes before the next's.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::loom::sync::atomic::{AtomicU64, Ordering::Relaxed};
use crate::loom::sync::Arc;

/// One core's counters, read at one time.
pub(crate) struct CoreSnapshot {
    pub(crate) polls: u64,
    pub(crate) steals: u64,
    pub(crate) parks: u64,
    pub(crate) handoffs: u64,
    pub(crate) busy_nanos: u64,
}

/// One core's counters. The core keeps a handle to them for its hot path
/// (`Core::counters`); the runtime keeps one for the readers.
#[derive(Default)]
pub(crate) struct CoreCounters {
    polls: AtomicU64,
    steals: AtomicU64,
    parks: AtomicU64,
    handoffs: AtomicU64,
    busy_nanos: AtomicU64,
    /// Tasks spawned, and tasks completed, by the core's holder.
    spawned: AtomicU64,
    completed: AtomicU64,
}

/// Adds to a counter that only its core's holder writes. `#[inline]`, like
/// the hot counts below, so that a count is a load and a store in the
/// caller (and in the user's crate, where the task code is monomorphised)
/// rather than a call.
#[inline]
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

/// The counts: each is called only by the thread holding the core.
impl CoreCounters {
    #[inline]
    pub(crate) fn count_poll(&self) {
        bump(&self.polls, 1);
    }

    pub(crate) fn count_steal(&self) {
        bump(&self.steals, 1);
    }

    pub(crate) fn count_park(&self) {
        bump(&self.parks, 1);
    }

    pub(crate) fn count_handoff(&self) {
        bump(&self.handoffs, 1);
    }

    pub(crate) fn count_busy(&self, busy: Duration) {
        bump(
            &self.busy_nanos,
            u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX),
        );
    }

    #[inline]
    pub(crate) fn count_spawn(&self) {
        bump(&self.spawned, 1);
    }

    #[inline]
    pub(crate) fn count_completion(&self) {
        bump(&self.completed, 1);
    }
}

pub(crate) struct Metrics {
    cores: Box<[Arc<CachePadded<CoreCounters>>]>,
    /// Tasks spawned, and completed, by threads that hold no core (a
    /// read-modify-write each, since many threads may write them).
    outside: CachePadded<(AtomicU64, AtomicU64)>,
}

impl Metrics {
    pub(crate) fn new(cores: usize) -> Self {
        Metrics {
            cores: (0..cores)
                .map(|_| Arc::new(CachePadded::default()))
                .collect(),
            outside: CachePadded::default(),
        }
    }

    /// The counters of core `index`, to be written by its holder.
    pub(crate) fn core(&self, index: usize) -> &Arc<CachePadded<CoreCounters>> {
        &self.cores[index]
    }

    /// The counters of core `index`, as they are now.
    #[track_caller]
    pub(crate) fn snapshot(&self, index: usize) -> CoreSnapshot {
        let Some(core) = self.cores.get(index) else {
            panic!(
                "worker index {index} is out of range: the runtime has {} workers",
                self.cores.len()
            );
        };
        CoreSnapshot {
            polls: core.polls.load(Relaxed),
            steals: core.steals.load(Relaxed),
            parks: core.parks.load(Relaxed),
            handoffs: core.handoffs.load(Relaxed),
            busy_nanos: core.busy_nanos.load(Relaxed),
        }
    }

    /// A task spawned by a thread that holds no core of this runtime.
    pub(crate) fn count_outside_spawn(&self) {
        self.outside.0.fetch_add(1, Relaxed);
    }

    /// A task completed by a thread that holds no core of this runtime.
    pub(crate) fn count_outside_completion(&self) {
        self.outside.1.fetch_add(1, Relaxed);
    }

    /// Tasks spawned and not yet completed, counted from all the counters.
    pub(crate) fn alive(&self) -> u64 {
        let (mut spawned, mut completed) =
            (self.outside.0.load(Relaxed), self.outside.1.load(Relaxed));
        for core in self.cores.iter() {
            spawned = spawned.wrapping_add(core.spawned.load(Relaxed));
            completed = completed.wrapping_add(core.completed.load(Relaxed));
        }
        // Read one after the other, the counts may cross: never below zero.
        spawned.saturating_sub(completed)
    }
}
