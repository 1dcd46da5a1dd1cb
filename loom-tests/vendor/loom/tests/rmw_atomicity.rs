//! Regression tests for `rmw-atomicity.patch` (see PATCHED.md): each fails
//! on loom 0.7.3 as published and passes with the patch.

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;

/// tokio-rs/loom#254.
#[test]
fn issue_254() {
    loom::model(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let th = thread::spawn({
            let flag = flag.clone();
            move || flag.swap(false, Relaxed)
        });
        flag.store(true, Relaxed);
        let pre = th.join().unwrap();
        let fin = flag.load(Relaxed);
        assert!(pre || fin);
    });
}

/// tokio-rs/loom#389.
#[test]
fn issue_389() {
    loom::model(|| {
        let a: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        let t = thread::spawn(move || a.store(true, Relaxed));
        let b1 = a.swap(false, Relaxed);
        t.join().unwrap();
        let b2 = a.load(Relaxed);
        assert!(b2 != b1);
    });
}

/// If a swap read `false`, a concurrent store of `true` came after it, and
/// the storing thread's own load must see that store.
#[test]
fn store_after_concurrent_swap_is_seen_by_its_thread() {
    loom::model(|| {
        let flag = Arc::new(AtomicBool::new(true));
        assert!(flag.swap(false, AcqRel));
        let f2 = flag.clone();
        let t = thread::spawn(move || {
            f2.store(true, Release);
            f2.load(Relaxed)
        });
        let second = flag.swap(false, AcqRel);
        let seen_by_storer = t.join().unwrap();
        assert!(second || seen_by_storer, "the store was lost inside the swap");
    });
}

/// paddock's `block_on` (src/scheduler/wait.rs): the flag is set, taken
/// before a poll, taken again (reading `false`) after the poll handed the
/// waker to a thread that was already running, which sets it concurrently.
#[test]
fn paddock_block_on_shape() {
    loom::model(|| {
        let flag = Arc::new(AtomicBool::new(true));
        let registered = Arc::new(AtomicUsize::new(0));
        let (f2, r2) = (flag.clone(), registered.clone());
        let t = thread::spawn(move || {
            while r2.load(Acquire) == 0 {
                thread::yield_now();
            }
            f2.store(true, Release);
            f2.load(Relaxed)
        });
        flag.store(true, Relaxed);
        assert!(flag.swap(false, AcqRel));
        registered.fetch_add(1, AcqRel);
        let second = flag.swap(false, AcqRel);
        let seen_by_storer = t.join().unwrap();
        assert!(second || seen_by_storer, "the store was lost inside the swap");
    });
}

/// The patch removes no real outcome: with a swap racing a store, every
/// outcome C++ allows is still explored, and the forbidden one is not.
#[test]
fn outcomes_kept() {
    use std::collections::HashSet;
    use std::sync::Mutex;
    let seen = std::sync::Arc::new(Mutex::new(HashSet::new()));
    let recorded = seen.clone();
    loom::model(move || {
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let t = thread::spawn(move || f2.store(true, Relaxed));
        let pre = flag.swap(false, Relaxed);
        let fin = flag.load(Relaxed);
        t.join().unwrap();
        recorded.lock().unwrap().insert((pre, fin));
    });
    let seen = seen.lock().unwrap();
    // The swap first, then the store seen or not yet; the store first.
    for outcome in [(false, false), (false, true), (true, false)] {
        assert!(seen.contains(&outcome), "{outcome:?} missing from {seen:?}");
    }
    // The swap read the store and then read it again: impossible.
    assert!(!seen.contains(&(true, true)), "{seen:?}");
}
