//! Fetch many URLs concurrently with a real HTTP client, from scoped tasks
//! that borrow `&client` and `&url`: no `Arc`, no `'static`.
//!
//! With `tokio::spawn`, `do_expensive_work(&client, &url)` does not compile:
//! the spawned future must own everything it uses, so `client` and `urls`
//! become `Arc`s. In a paddock scope the tasks borrow them, because the scope
//! does not return until every task has finished.
//!
//! The example starts its own small HTTP/1.1 server on 127.0.0.1 (async-net,
//! one request per connection, each answered after a simulated delay of
//! `SERVER_DELAY`), then fetches `ITEMS` URLs from it with reqwest, first
//! all at once and then one after another, and compares the times. reqwest
//! is a tokio-based crate, so its futures run inside `async_compat::Compat`,
//! which supplies a tokio reactor.
//!
//! Run it with `cargo run --release --example fetch`.

use std::error::Error;
use std::io;
use std::time::{Duration, Instant};

use async_compat::Compat;
use async_io::Timer;
use async_net::{TcpListener, TcpStream};
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncWriteExt};
use paddock::{Runtime, Scope};

/// How many URLs are fetched.
const ITEMS: usize = 32;

/// How long the server takes to answer each request.
const SERVER_DELAY: Duration = Duration::from_millis(50);

/// The client's work for one URL: fetch it and return the body.
async fn do_expensive_work(client: &reqwest::Client, url: &str) -> Result<String, reqwest::Error> {
    let response = client.get(url).send().await?.error_for_status()?;
    response.text().await
}

fn main() -> Result<(), Box<dyn Error>> {
    let rt = Runtime::new()?;
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let urls: Vec<String> = (0..ITEMS).map(|i| format!("{base}/items/{i}")).collect();
    let client = reqwest::Client::new();
    println!(
        "server on {base}, {} workers, {ITEMS} URLs, {SERVER_DELAY:?} per request",
        rt.num_workers()
    );

    rt.scope(|s| {
        // The server is a task of this scope too; it borrows `listener`.
        let server = s.spawn(serve(s, &listener));
        let result = fetch_and_compare(&rt, &client, &urls);
        server.abort();
        result
    })
}

fn fetch_and_compare(
    rt: &Runtime,
    client: &reqwest::Client,
    urls: &[String],
) -> Result<(), Box<dyn Error>> {
    // All at once: one scoped task per URL, each borrowing `client` and its
    // `url`. The caller keeps working while the requests are in flight.
    let start = Instant::now();
    let (bodies, primes, primes_done) = rt.scope(|s| {
        let tasks: Vec<_> = urls
            .iter()
            .map(|url| s.spawn(Compat::new(do_expensive_work(client, url))))
            .collect();
        let primes = count_primes_below(200_000);
        let primes_done = start.elapsed();
        // `join` gives a `JoinError` if a task panicked, and the task's own
        // output, here a `Result` from reqwest, otherwise.
        let bodies: Result<Vec<String>, Box<dyn Error>> =
            tasks.into_iter().map(|task| Ok(task.join()??)).collect();
        (bodies, primes, primes_done)
    });
    let concurrent = start.elapsed();
    let bodies = bodies?;

    for (url, body) in urls.iter().zip(&bodies).take(3) {
        println!("GET {url} -> {}", body.trim_end());
    }
    println!("... and {} more", bodies.len() - 3);
    let total_bytes: usize = bodies.iter().map(String::len).sum();
    println!(
        "concurrent: {} responses, {total_bytes} bytes, in {} ms",
        bodies.len(),
        concurrent.as_millis()
    );
    println!(
        "  meanwhile the caller counted {primes} primes below 200000, done after {} ms",
        primes_done.as_millis()
    );

    // One after another, for comparison: a single future that awaits each
    // response before it sends the next request.
    let start = Instant::now();
    let one_by_one = rt.block_on(Compat::new(async {
        let mut bodies = Vec::new();
        for url in urls {
            bodies.push(do_expensive_work(client, url).await?);
        }
        Ok::<_, reqwest::Error>(bodies)
    }))?;
    let sequential = start.elapsed();
    println!(
        "one by one: {} responses in {} ms ({:.1}x slower)",
        one_by_one.len(),
        sequential.as_millis(),
        sequential.as_secs_f64() / concurrent.as_secs_f64()
    );

    if one_by_one != bodies {
        return Err("the two runs got different bodies".into());
    }
    Ok(())
}

/// A tiny HTTP/1.1 server: accepts connections forever and answers each on a
/// task of the scope `s`.
async fn serve<'scope>(s: &'scope Scope<'scope, '_>, listener: &'scope TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                s.spawn(async move {
                    if let Err(e) = respond(stream).await {
                        eprintln!("server: {e}");
                    }
                });
            }
            Err(e) => eprintln!("server: accept failed: {e}"),
        }
    }
}

/// Reads one request and answers `GET /items/N` with a line of text after
/// `SERVER_DELAY`, anything else with 404; then closes the connection.
async fn respond(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.clone());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    // Skip the headers, up to the blank line.
    let mut header = String::new();
    loop {
        header.clear();
        if reader.read_line(&mut header).await? == 0 || header.trim().is_empty() {
            break;
        }
    }

    Timer::after(SERVER_DELAY).await; // stands in for a slow backend
    let mut parts = request_line.split_whitespace();
    let item = match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) => path
            .strip_prefix("/items/")
            .and_then(|n| n.parse::<u64>().ok()),
        _ => None,
    };
    let (status, body) = match item {
        Some(n) => ("200 OK", format!("item {n}: {n} squared is {}\n", n * n)),
        None => ("404 Not Found", "no such item\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = stream;
    stream.write_all(response.as_bytes()).await?;
    stream.close().await
}

/// Some work for the caller to do while the requests are in flight.
fn count_primes_below(n: u64) -> usize {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count()
}
