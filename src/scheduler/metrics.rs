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

/// One core's counters, read at one time.
pub(crate) struct CoreSnapshot {
    pub(crate) polls: u64,
    pub(crate) steals: u64,
    pub(crate) parks: u64,
    pub(crate) handoffs: u64,
    pub(crate) busy_nanos: u64,
}

#[derive(Default)]
struct CoreCounters {
    polls: AtomicU64,
    steals: AtomicU64,
    parks: AtomicU64,
    handoffs: AtomicU64,
    busy_nanos: AtomicU64,
    /// Tasks spawned, and tasks completed, by the core's holder.
    spawned: AtomicU64,
    completed: AtomicU64,
}

pub(crate) struct Metrics {
    cores: Box<[CachePadded<CoreCounters>]>,
    /// Tasks spawned, and completed, by threads that hold no core (a
    /// read-modify-write each, since many threads may write them).
    outside: CachePadded<(AtomicU64, AtomicU64)>,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

impl Metrics {
    pub(crate) fn new(cores: usize) -> Self {
        Metrics {
            cores: (0..cores).map(|_| CachePadded::default()).collect(),
            outside: CachePadded::default(),
        }
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

    #[inline]
    pub(crate) fn count_poll(&self, core: usize) {
        bump(&self.cores[core].polls, 1);
    }

    pub(crate) fn count_steal(&self, core: usize) {
        bump(&self.cores[core].steals, 1);
    }

    pub(crate) fn count_park(&self, core: usize) {
        bump(&self.cores[core].parks, 1);
    }

    pub(crate) fn count_handoff(&self, core: usize) {
        bump(&self.cores[core].handoffs, 1);
    }

    /// A task spawned (`core` is the spawning thread's core, if any).
    #[inline]
    pub(crate) fn count_spawn(&self, core: Option<usize>) {
        match core {
            Some(core) => bump(&self.cores[core].spawned, 1),
            None => {
                self.outside.0.fetch_add(1, Relaxed);
            }
        }
    }

    /// A task completed (`core` is the completing thread's core, if any).
    #[inline]
    pub(crate) fn count_completion(&self, core: Option<usize>) {
        match core {
            Some(core) => bump(&self.cores[core].completed, 1),
            None => {
                self.outside.1.fetch_add(1, Relaxed);
            }
        }
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

    pub(crate) fn count_busy(&self, core: usize, busy: Duration) {
        bump(
            &self.cores[core].busy_nanos,
            u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX),
        );
    }
}
