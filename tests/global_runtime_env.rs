//! A `PADDOCK_WORKER_THREADS` that is not a positive integer is a clear error
//! that names the variable, not a silent default or a hang.
//!
//! The global runtime is built once per process, so each bad value is tried in
//! a child process: this test binary again, running only the ignored helper
//! test below.

use std::process::Command;

/// Run only as a child of `bad_worker_count_is_reported_by_name`.
#[test]
#[ignore = "a child process of bad_worker_count_is_reported_by_name"]
fn child_touches_the_global_runtime() {
    paddock::block_on(async {});
}

#[test]
fn bad_worker_count_is_reported_by_name() {
    for value in ["0", "-2", "many", ""] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_touches_the_global_runtime",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env("PADDOCK_WORKER_THREADS", value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{value:?} was accepted");
        assert!(
            stderr.contains("PADDOCK_WORKER_THREADS must be a positive integer"),
            "{value:?}: the error does not name the variable:\n{stderr}"
        );
    }
}
