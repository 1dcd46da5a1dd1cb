//! `Builder::stack_size` reaches the worker threads.
//!
//! On its own in this binary: if the size were ignored, the task below would
//! overflow its stack, which aborts the whole test process.

mod common;

use common::{watchdog, LIMIT};
use paddock::Runtime;

#[test]
fn custom_stack_size_is_applied() {
    watchdog(LIMIT, "custom_stack_size_is_applied", || {
        // A 64 MiB frame: more than any sensible default worker stack, so
        // this overflows unless `stack_size` is honoured.
        const FRAME: usize = 64 << 20;
        #[inline(never)]
        fn use_stack(i: usize) -> u8 {
            let mut buf = [0u8; FRAME];
            buf[i % FRAME] = 1;
            std::hint::black_box(&mut buf)[i % FRAME]
        }
        let rt = Runtime::builder()
            .worker_threads(1)
            .stack_size(FRAME * 2)
            .build()
            .unwrap();
        assert_eq!(
            rt.scope(|s| s.spawn(async { use_stack(12_345) }).join().unwrap()),
            1
        );
    });
}
