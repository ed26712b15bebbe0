//! The Socket.IO benchmark's server, in its own process: the test suite's gift app
//! (tests/support/gift_app.rs, on socketioxide) on one address, printing how many sockets
//! it holds every 5 s.
//!
//! cargo run --release --example socketio_target -- 127.0.0.1:3001 [ping-ms]

// The tests read what it records; the benchmark only counts.
#[allow(dead_code)]
#[path = "../tests/support/gift_app.rs"]
mod gift_app;

use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3001".into());
    let ping = args.next().and_then(|p| p.parse().ok()).unwrap_or(25_000);
    let (layer, seen) = gift_app::layer("/", Duration::from_millis(ping), false);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("socketio_target listening on {addr} (ping every {ping} ms)");
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let (c, d) = (
                seen.connects.load(Ordering::Relaxed),
                seen.disconnects.load(Ordering::Relaxed),
            );
            eprintln!(
                "socketio_target: {} open, {c} connects, {d} disconnects, {} emits",
                c - d.min(c),
                seen.received.load(Ordering::Relaxed)
            );
        }
    });
    axum::serve(listener, axum::Router::new().layer(layer)).await
}
