//! Models of blocking waits on a worker (`src/scheduler/wait.rs`) and of the
//! pool that takes the core a waiting frame gives up
//! (`src/scheduler/pool.rs`): WAITS.md's hand-off, racing a wake from
//! outside, runtime shutdown, and the thread cap.
//!
//! Each model runs on one worker with room for one more thread (the spare),
//! and has three loom threads: the main thread (which also fires the wake
//! from outside), the worker, and the spare. A frame that waits and has
//! nothing of its own to run gives its core to the spare and parks; the
//! spare runs the woken child; the frame wakes and takes a core back if one
//! is free or asleep, else finishes its poll without one and becomes a spare
//! itself.

mod common;

use common::{model, runtime, Event, Gate, Racy, Seen};

/// The task of every model here: where loom starts exploring, it opens a
/// scope (through `handle`) whose only child waits for `event` and then
/// writes the task's local; the task returns what it reads there after the
/// scope (1, if the scope waited for its child).
fn scope_waiting_for(
    handle: paddock::Handle,
    event: Event,
) -> impl std::future::Future<Output = usize> + Send + 'static {
    async move {
        loom::explore();
        let data = Racy::new(0);
        handle.scope(|inner| {
            let data = &data;
            drop(inner.spawn(async move {
                event.wait().await;
                data.set(1);
            }));
        });
        data.get()
    }
}

/// A `'static` task on the only worker opens a scope whose child waits for
/// an event that the main thread fires. The frame runs the child once (it
/// is its own, `D(F)`), finds nothing else to run, hands its core to a
/// spare thread and parks; the child, woken from outside, runs on the spare
/// (the frame does not look at the injector); its completion wakes the
/// frame (`Waiter::Slot`), which sees the child's write to its local and
/// finishes its task, with a core taken back or without one. Then the
/// runtime is dropped: both threads exit and nothing leaks.
///
/// Every execution must end (else loom reports a deadlock: a core given
/// away and lost, a frame never woken); the model also checks that the
/// hand-off happened in some of them.
#[test]
fn frame_hands_off_core_while_child_is_woken_from_outside() {
    static HANDED_OFF: Seen = Seen::new();
    model(|| {
        loom::stop_exploring();
        let rt = runtime(1);
        let handle = rt.handle();
        let event = Event::new();
        let task = rt.spawn(scope_waiting_for(handle, event.clone()));
        event.fire_when_waited();
        assert_eq!(task.join().expect("the task completes"), 1);
        HANDED_OFF.record(rt.metrics().worker_handoff_count(0) > 0);
        loom::stop_exploring();
        drop(rt);
    });
    assert!(HANDED_OFF.count() > 0, "no execution handed the core off");
}

/// The hand-off above, and then the frame's thread takes a core back
/// (`wait::take_core_back`): the one it gave up if the spare has not taken
/// it yet, or the spare's, asleep in `Idle`, whose thread then wakes to find
/// it gone and becomes a spare (`Woken::CoreTaken`), racing the wake of the
/// child from outside (a push onto the injector, whose `notify_work` may
/// choose that same sleeper). After its first scope the task opens a second
/// one; its child records the thread it runs on, which is the task's own
/// when the frame holds a core (it runs its scope's tasks itself, and no
/// other core exists). Every execution must end, the runtime drop included
/// (a robbed thread never woken would keep it waiting); the model also
/// checks that the core was taken back in some of them.
#[test]
fn frame_takes_a_core_back_after_its_wait() {
    static TOOK_BACK: Seen = Seen::new();
    model(|| {
        loom::stop_exploring();
        let rt = runtime(1);
        let handle = rt.handle();
        let event = Event::new();
        let first = scope_waiting_for(handle.clone(), event.clone());
        let task = rt.spawn(async move {
            let read = first.await;
            let task_thread = loom::thread::current().id();
            let ran_on = Racy::new(None);
            handle.scope(|inner| {
                let ran_on = &ran_on;
                drop(inner.spawn(async move {
                    ran_on.set(Some(loom::thread::current().id()));
                }));
            });
            (read, ran_on.get() == Some(task_thread))
        });
        event.fire_when_waited();
        let (read, took_back) = task.join().expect("the task completes");
        assert_eq!(read, 1);
        TOOK_BACK.record(took_back);
        loom::stop_exploring();
        drop(rt);
    });
    assert!(TOOK_BACK.count() > 0, "no execution took a core back");
}

/// As `frame_hands_off_core_while_child_is_woken_from_outside`, but once
/// the child waits, the main thread drops the runtime while a fourth loom
/// thread fires the child's wake: the shutdown races the hand-off (the
/// frame giving its core away, the spare starting and taking it, the frame
/// parked or waking, its thread going idle without a core) and the wake.
/// The shutdown must not end the threads while the frame waits, even with
/// every other thread idle and no work queued: the wake may come later. So
/// the scoped child still runs (shutdown never cancels a task that a frame
/// waits for), the `'static` task, running when the shutdown began,
/// completes, every thread exits (else `Runtime::drop` waits for ever and
/// loom reports a deadlock), and nothing leaks.
#[test]
fn handoff_races_runtime_drop() {
    static HANDED_OFF: Seen = Seen::new();
    model(|| {
        loom::stop_exploring();
        let rt = runtime(1);
        let handle = rt.handle();
        let event = Event::new();
        let task = rt.spawn(scope_waiting_for(handle, event.clone()));
        let metrics = rt.metrics();
        // The task runs now: the shutdown will not cancel it.
        event.wait_until_waited();
        let waker = loom::thread::spawn(move || event.fire_when_waited());
        drop(rt);
        waker.join().expect("the wake is sent");
        assert_eq!(task.join().expect("a running task completes"), 1);
        HANDED_OFF.record(metrics.worker_handoff_count(0) > 0);
    });
    assert!(HANDED_OFF.count() > 0, "no execution handed the core off");
}

/// The pool is at its thread cap (one worker and one spare, and the spare
/// is busy with a blocking job), so a frame with nothing to run cannot hand
/// its core off: it keeps it, lists itself as starved and parks
/// (`Pool::enter_starved`). Its child is woken from the blocking job's
/// thread, which holds no core, so the child goes to the injector, which
/// only a starved frame looks at while it waits; `Pool::wake_starved`,
/// called by every push onto the injector, must wake the frame. The two
/// sides are the store-buffer pattern: the frame counts itself starved,
/// fences and looks at the injector; the waker pushes, fences and reads the
/// count. Then the job is released and the runtime dropped.
///
/// The job is queued (and its thread counted) before the task is spawned,
/// and it holds its thread until the main thread releases it after the
/// task is done, so no thread can take the core meanwhile.
#[test]
fn starved_frame_is_woken_for_its_child() {
    model(|| {
        loom::stop_exploring();
        let rt = runtime(1);
        let handle = rt.handle();
        let gate = Gate::new();
        let event = Event::new();
        let job = rt.spawn_blocking({
            let (gate, event) = (gate.clone(), event.clone());
            move || {
                event.fire_when_waited();
                gate.hold();
            }
        });
        let task = rt.spawn(scope_waiting_for(handle, event));
        assert_eq!(task.join().expect("the task completes"), 1);
        assert_eq!(
            rt.metrics().worker_handoff_count(0),
            0,
            "the frame kept its core: no thread could take it"
        );
        loom::stop_exploring();
        gate.release();
        job.join().expect("the job ran");
        drop(rt);
    });
}
