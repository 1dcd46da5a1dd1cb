//! async-net TCP on loopback from scoped tasks: an echo server and many
//! clients in one scope, clients that borrow their payloads and result slots
//! from the caller, a read timeout, and a server task blocked in `accept`
//! that is aborted (which must close its listener).

mod common;

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use async_io::Timer;
use async_net::{TcpListener, TcpStream};
use futures_lite::{future, io as lite_io, AsyncReadExt, AsyncWriteExt};

use paddock::Scope;

use common::{rt, watchdog, LIMIT};

const CLIENTS: usize = 64;

/// Accepts connections forever and echoes each one on its own scoped task.
/// Both the listener and the scope are borrowed.
async fn echo_server<'scope>(s: &'scope Scope<'scope, '_>, listener: &'scope TcpListener) {
    loop {
        let (stream, _) = listener.accept().await.expect("accept");
        s.spawn(async move {
            // async-net streams are cheap handles to one socket.
            let reader = stream.clone();
            let mut writer = stream;
            lite_io::copy(reader, &mut writer).await.expect("echo");
            writer.close().await.expect("close");
        });
    }
}

/// Sends `payload` and reads the echo back at the same time, so that a
/// payload larger than the socket buffers cannot stall both sides.
async fn round_trip(addr: SocketAddr, payload: &[u8]) -> io::Result<Vec<u8>> {
    let stream = TcpStream::connect(addr).await?;
    let mut writer = stream.clone();
    let mut reader = stream;
    let send = async move {
        writer.write_all(payload).await?;
        writer.flush().await?;
        writer.shutdown(Shutdown::Write)
    };
    let receive = async move {
        let mut echoed = Vec::with_capacity(payload.len());
        reader.read_to_end(&mut echoed).await?;
        Ok(echoed)
    };
    let (sent, echoed) = future::zip(send, receive).await;
    sent?;
    echoed
}

#[test]
fn echo_server_and_64_clients_in_one_scope() {
    watchdog(LIMIT, "echo_server_and_64_clients_in_one_scope", || {
        let rt = rt(2);
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().unwrap();

        // The payloads live in one array on this thread's stack; client `i`
        // borrows a window of it, of a different length for each client (up
        // to 24 KiB, more than one read or write for the larger ones).
        let mut stack_bytes = [0u8; 32 * 1024];
        for (i, byte) in stack_bytes.iter_mut().enumerate() {
            *byte = (i * 31 % 251) as u8;
        }
        let payload = |i: usize| &stack_bytes[i * 128..i * 128 + 1 + i * 383];
        // Each client writes its echo into its own slot of this vector.
        let mut echoed: Vec<Vec<u8>> = vec![Vec::new(); CLIENTS];

        rt.scope(|s| {
            let server = s.spawn(echo_server(s, &listener));
            let clients: Vec<_> = echoed
                .iter_mut()
                .enumerate()
                .map(|(i, slot)| {
                    let payload = payload(i);
                    s.spawn(async move {
                        *slot = round_trip(addr, payload).await.expect("round trip");
                    })
                })
                .collect();
            for client in clients {
                client.join().expect("a client failed");
            }
            // The server never ends by itself: cancel it. Its per-connection
            // tasks end with their connections.
            server.abort();
        });

        for (i, echoed) in echoed.iter().enumerate() {
            assert_eq!(echoed.len(), payload(i).len(), "client {i}: wrong length");
            assert!(echoed[..] == payload(i)[..], "client {i}: wrong bytes");
        }
    });
}

#[test]
fn aborting_a_server_blocked_in_accept_closes_its_listener() {
    watchdog(
        LIMIT,
        "aborting_a_server_blocked_in_accept_closes_its_listener",
        || {
            let rt = rt(2);
            let addr = rt.scope(|s| {
                let (addr_tx, addr_rx) = async_channel::bounded(1);
                let server = s.spawn(async move {
                    // The listener is owned by the task's future.
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    addr_tx.send(listener.local_addr().unwrap()).await.unwrap();
                    loop {
                        // Accepts the probe below, then waits for good.
                        let _ = listener.accept().await;
                    }
                });
                let addr: SocketAddr = addr_rx.recv_blocking().unwrap();
                // While the server runs, the port accepts connections.
                let probe = std::net::TcpStream::connect(addr).expect("server is listening");
                drop(probe);
                server.abort();
                assert!(server.join().unwrap_err().is_cancelled());
                addr
            });
            // `abort` dropped the future, and with it the listener: the port
            // is closed once the scope has returned.
            let err = std::net::TcpStream::connect(addr).expect_err("listener still open");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        },
    );
}

#[test]
fn a_read_with_a_timeout_gives_up_on_a_silent_peer() {
    watchdog(
        LIMIT,
        "a_read_with_a_timeout_gives_up_on_a_silent_peer",
        || {
            let rt = rt(2);
            let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
            let addr = listener.local_addr().unwrap();
            let (outcome, waited) = rt.scope(|s| {
                // A peer that accepts, then says nothing until the client is done.
                let (done_tx, done_rx) = async_channel::bounded::<()>(1);
                let listener = &listener;
                s.spawn(async move {
                    let (_stream, _) = listener.accept().await.unwrap();
                    let _ = done_rx.recv().await;
                });
                let client = s.spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let mut buf = [0u8; 16];
                    let start = Instant::now();
                    let read = async { Some(stream.read(&mut buf).await) };
                    let timeout = async {
                        Timer::after(Duration::from_millis(50)).await;
                        None
                    };
                    let outcome = future::or(read, timeout).await;
                    drop(done_tx);
                    (outcome.map(|r| r.map_err(|e| e.kind())), start.elapsed())
                });
                client.join().unwrap()
            });
            assert_eq!(outcome, None, "a silent peer produced data");
            assert!(waited >= Duration::from_millis(50));
            assert!(waited < Duration::from_secs(5));
        },
    );
}
