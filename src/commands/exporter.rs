//! `--metrics-addr`: serves `/metrics` (Prometheus' text format) on a thread of its own
//! while a run or replay goes, and keeps it up `--metrics-linger` after the end so a
//! scraper reads the final counts. What the page holds comes from the library's
//! renderer (`RunGauges::render`, `LiveMetrics::render`); this only serves it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use simulate_core::diagnostic::Problem;
use simulate_core::exposition::CONTENT_TYPE;
use simulate_core::units::parse_duration;

use crate::cli::MetricsArgs;

/// Renders the page at each scrape.
pub(crate) type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// How long the page stays up after the end when `--metrics-linger` is not given.
const DEFAULT_LINGER: Duration = Duration::from_secs(5);

/// The server while it runs; dropped, it stops at once (an error ended the command).
pub(crate) struct Exporter {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    linger: Duration,
}

/// `--metrics-linger`, checked before any work starts.
pub(crate) fn linger(args: &MetricsArgs) -> Result<Duration, Problem> {
    let Some(text) = &args.metrics_linger else {
        return Ok(DEFAULT_LINGER);
    };
    parse_duration(text)
        .map(|d| Duration::from_millis(d.ms().max(0) as u64))
        .map_err(|m| {
            Problem::new(
                format!("--metrics-linger `{text}`: {m}"),
                "write a duration like 5s, 30s or 1m (0s to stop at once)",
            )
        })
}

/// Starts serving `render` at `--metrics-addr`, when it is given; says where on stderr
/// unless `quiet`.
pub(crate) fn start(
    args: &MetricsArgs,
    quiet: bool,
    render: impl Fn() -> String + Send + Sync + 'static,
) -> anyhow::Result<Option<Exporter>> {
    let Some(addr) = &args.metrics_addr else {
        return Ok(None);
    };
    let linger = linger(args)?;
    let listener = bind(addr)?;
    let local = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let render: Render = Arc::new(render);
    let thread = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || serve(listener, render, rx))
        .context("cannot start the metrics thread")?;
    if !quiet {
        eprintln!("metrics: http://{local}/metrics");
    }
    Ok(Some(Exporter {
        shutdown: Some(tx),
        thread: Some(thread),
        linger,
    }))
}

/// Binds now, so a taken port or a bad address is an error before any traffic.
fn bind(addr: &str) -> anyhow::Result<std::net::TcpListener> {
    let parsed: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .map_err(|e| {
            Problem::new(
                format!("--metrics-addr `{addr}` is not HOST:PORT: {e}"),
                "write an address and port like 127.0.0.1:9464 (0.0.0.0:9464 to listen on every interface)",
            )
        })?
        .collect();
    let listener = std::net::TcpListener::bind(&parsed[..]).map_err(|e| {
        anyhow::Error::new(Problem::new(
            format!("{e}"),
            "choose a free port, or stop what listens there",
        ))
        .context(format!("cannot listen on --metrics-addr {addr}"))
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The server's thread: a one-thread runtime serving `/metrics` until `stop` fires.
fn serve(
    listener: std::net::TcpListener,
    render: Render,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        let page = move || {
            let render = Arc::clone(&render);
            async move { ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], render()) }
        };
        let app = axum::Router::new().route("/metrics", axum::routing::get(page));
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await;
    });
}

impl Exporter {
    /// The command is done: the page stays up `--metrics-linger`, then stops.
    pub(crate) fn linger(mut self) {
        std::thread::sleep(self.linger);
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop();
    }
}
