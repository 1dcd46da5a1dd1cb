//! Programs that must not compile.
//!
//! Scoped tasks are sound only because the borrow checker rejects every program
//! in which a task could touch memory that is gone. This module adds nothing to
//! the library; its doc tests pin that rule down. Each `compile_fail` example
//! differs from one of the compiling controls below only in the point it makes,
//! and fails for the reason given above it and for no other. The error codes
//! after `compile_fail` are checked by nightly rustdoc (stable rustdoc checks
//! only that compilation fails; `RUSTC_BOOTSTRAP=1 cargo test --doc` checks
//! the codes too). Two of the errors have no code: "lifetime may not live long
//! enough" and "future cannot be sent between threads safely".
//!
//! # The controls
//!
//! A task may borrow anything declared outside the scope, because `scope`
//! returns only after every task is done:
//!
//! ```
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! let name = String::from("paddock");
//! rt.scope(|s| {
//!     let handle = s.spawn(async { name.len() });
//!     assert_eq!(handle.join().unwrap(), 7);
//! });
//! ```
//!
//! A task may spawn siblings on the same scope. A sibling may take the task's
//! own locals by value, and borrow what outlives the scope:
//!
//! ```
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! let name = String::from("paddock");
//! rt.scope(|s| {
//!     let name = &name; // a copy of this reference moves into each task
//!     s.spawn(async move {
//!         let x = 1;
//!         s.spawn(async move { assert_eq!(x, 1) });
//!         s.spawn(async move { assert_eq!(name.len(), 7) });
//!     });
//! });
//! ```
//!
//! A task may hold an `Rc` as long as it is gone before the next `.await`,
//! since a task can move to another worker only while it is suspended:
//!
//! ```
//! use std::rc::Rc;
//!
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! rt.scope(|s| {
//!     let handle = s.spawn(async {
//!         let len = {
//!             let shared = Rc::new(7);
//!             *shared
//!         };
//!         paddock::yield_now().await;
//!         len
//!     });
//!     assert_eq!(handle.join().unwrap(), 7);
//! });
//! ```
//!
//! A `'static` task from `Runtime::spawn` must own what it uses:
//!
//! ```
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! let name = String::from("paddock");
//! let handle = rt.spawn(async move { name.len() });
//! assert_eq!(handle.join().unwrap(), 7);
//! ```
//!
//! # A task borrows a local of the scope closure
//!
//! `name` is dropped when the closure returns, but the task may run until the
//! whole scope ends, which is later. Joining the handle inside the closure does
//! not help: the compiler does not see that the join waits for the task. The
//! error depends on `Scope` being invariant in `'scope`; were it covariant,
//! `s` could be shortened to the closure's body and this would compile.
//!
//! ```compile_fail,E0373
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! rt.scope(|s| {
//!     let name = String::from("paddock");
//!     let handle = s.spawn(async { name.len() });
//!     assert_eq!(handle.join().unwrap(), 7);
//! });
//! ```
//!
//! # A join handle escapes its scope
//!
//! A `JoinHandle<'scope, T>` names the scope's lifetime, so it cannot be
//! returned from the closure, even for a task that borrows nothing. Otherwise
//! it could be joined after `scope` has returned, when the borrows its task
//! was allowed to hold have ended.
//!
//! ```compile_fail
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! let handle = rt.scope(|s| s.spawn(async { 7 }));
//! assert_eq!(handle.join().unwrap(), 7);
//! ```
//!
//! Nor can it be stored in a variable that outlives the closure:
//!
//! ```compile_fail,E0521
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! let mut escaped = None;
//! rt.scope(|s| {
//!     escaped = Some(s.spawn(async { 7 }));
//! });
//! assert_eq!(escaped.unwrap().join().unwrap(), 7);
//! ```
//!
//! # A task that is not `Send`
//!
//! Workers steal tasks from one another, so a task may be resumed on another
//! thread after any `.await`. An `Rc` held across one would then be shared by
//! two threads with a non-atomic count.
//!
//! ```compile_fail
//! use std::rc::Rc;
//!
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! rt.scope(|s| {
//!     let handle = s.spawn(async {
//!         let shared = Rc::new(7);
//!         paddock::yield_now().await;
//!         *shared
//!     });
//!     assert_eq!(handle.join().unwrap(), 7);
//! });
//! ```
//!
//! # A task lends its own local to a sibling
//!
//! The scope waits for the sibling, but the task that spawned it may finish
//! first and drop `x` while the sibling still reads it. This is rejected
//! because `Scope` is invariant in `'scope`: `s` cannot be shortened to a
//! lifetime that ends inside the task.
//!
//! ```compile_fail,E0373
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! rt.scope(|s| {
//!     s.spawn(async move {
//!         let x = 1;
//!         s.spawn(async { assert_eq!(x, 1) });
//!     });
//! });
//! ```
//!
//! # A `'static` task borrows a local
//!
//! `Runtime::spawn` tasks belong to no scope and may outlive the caller, so
//! they cannot borrow from its stack at all.
//!
//! ```compile_fail,E0373
//! use paddock::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! let name = String::from("paddock");
//! let handle = rt.spawn(async { name.len() });
//! assert_eq!(handle.join().unwrap(), 7);
//! ```

// The README's examples are doc tests too, so that they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
