//! tokio-based APIs from paddock's scoped tasks, through async-compat.
//!
//! tokio's timers and sockets need a tokio reactor. `async_compat::Compat`
//! supplies one: while it polls the wrapped future it enters a tokio runtime
//! (the caller's, if there is one, else a global one that async-compat runs
//! on a background thread). The tasks themselves still run on paddock's
//! workers and may borrow from the caller.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use async_compat::Compat;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::{panic_message, rt, watchdog, CountDrop, LIMIT};

#[test]
fn tokio_sleep_through_compat() {
    watchdog(LIMIT, "tokio_sleep_through_compat", || {
        let rt = rt(2);
        let lengths: Vec<Duration> = (1..=20).map(|i| Duration::from_millis(5 * i)).collect();
        let mut slept = vec![Duration::ZERO; lengths.len()];
        let start = Instant::now();
        rt.scope(|s| {
            for (length, slot) in lengths.iter().zip(slept.iter_mut()) {
                s.spawn(Compat::new(async move {
                    let begin = Instant::now();
                    tokio::time::sleep(*length).await;
                    *slot = begin.elapsed();
                }));
            }
        });
        let total = start.elapsed();
        for (length, slept) in lengths.iter().zip(&slept) {
            assert!(slept >= length, "slept {slept:?}, asked for {length:?}");
        }
        // Together about the longest, 100 ms; one after another at least
        // their sum, 1.05 s.
        let in_series: Duration = lengths.iter().sum();
        assert!(total < in_series, "sleeps ran in series: {total:?}");
    });
}

#[test]
fn tokio_timeout_through_compat_drops_the_slow_future() {
    watchdog(
        LIMIT,
        "tokio_timeout_through_compat_drops_the_slow_future",
        || {
            let rt = rt(2);
            let dropped = AtomicUsize::new(0);
            let (slow, fast) = rt.scope(|s| {
                let guard = CountDrop(&dropped);
                let slow = s.spawn(Compat::new(async move {
                    let _guard = guard;
                    tokio::time::timeout(Duration::from_millis(20), std::future::pending::<()>())
                        .await
                }));
                // `tokio::time::timeout(..)` makes its timer when called, so the
                // call goes inside the async block that `Compat` polls: called
                // outside it, it would panic for want of a tokio runtime.
                let fast = s.spawn(Compat::new(async {
                    tokio::time::timeout(Duration::from_secs(5), async { 42 }).await
                }));
                (slow.join().unwrap(), fast.join().unwrap())
            });
            assert!(slow.is_err(), "a pending future beat the timeout");
            assert_eq!(fast.ok(), Some(42));
            assert_eq!(dropped.load(SeqCst), 1);
        },
    );
}

#[test]
fn tokio_tcp_echo_through_compat() {
    const CLIENTS: usize = 16;

    watchdog(LIMIT, "tokio_tcp_echo_through_compat", || {
        let rt = rt(2);
        // Binding registers the socket with a tokio reactor, so it too runs
        // inside `Compat`.
        let listener = rt
            .block_on(Compat::new(TcpListener::bind("127.0.0.1:0")))
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().unwrap();
        let greetings: Vec<String> = (0..CLIENTS).map(|i| format!("hello from {i}\n")).collect();
        let mut replies = vec![String::new(); CLIENTS];

        rt.scope(|s| {
            let listener = &listener;
            let server = s.spawn(Compat::new(async move {
                loop {
                    let (mut stream, _) = listener.accept().await?;
                    s.spawn(Compat::new(async move {
                        let (mut reader, mut writer) = stream.split();
                        tokio::io::copy(&mut reader, &mut writer).await?;
                        writer.shutdown().await
                    }));
                }
                #[allow(unreachable_code)]
                io::Result::Ok(())
            }));
            let clients: Vec<_> = greetings
                .iter()
                .zip(replies.iter_mut())
                .map(|(greeting, reply)| {
                    s.spawn(Compat::new(async move {
                        let mut stream = TcpStream::connect(addr).await?;
                        stream.write_all(greeting.as_bytes()).await?;
                        stream.shutdown().await?;
                        stream.read_to_string(reply).await?;
                        io::Result::Ok(())
                    }))
                })
                .collect();
            for client in clients {
                client.join().unwrap().expect("a client failed");
            }
            server.abort();
        });
        assert_eq!(replies, greetings);
    });
}

#[test]
fn tokio_sleep_without_compat_fails_the_task_with_a_clear_panic() {
    watchdog(
        LIMIT,
        "tokio_sleep_without_compat_fails_the_task_with_a_clear_panic",
        || {
            let rt = rt(2);
            let err = rt.scope(|s| {
                s.spawn(async { tokio::time::sleep(Duration::from_millis(1)).await })
                    .join()
                    .unwrap_err()
            });
            // The worker survives the panic; the handle reports it.
            assert!(err.is_panic());
            let payload = err.into_panic();
            let message = panic_message(&*payload);
            assert!(
                message.contains("Tokio"),
                "unexpected panic message: {message:?}"
            );
            // The runtime still works afterwards.
            assert_eq!(rt.scope(|s| s.spawn(async { 1 }).join().unwrap()), 1);
        },
    );
}
