//! `simulate serve`: the reference target on a port, until Ctrl-C; then its counts.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::BadInput;
use crate::cli::ServeArgs;

pub fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let stop = super::interrupt_flag();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| {
                BadInput(format!(
                    "cannot listen on {}: {e}\n    fix: choose a free address with --listen, e.g. --listen 127.0.0.1:3001",
                    args.listen
                ))
            })?;
        let addr = listener.local_addr()?;
        let (app, ledger) = crate::target::router(args.challenges);
        eprintln!(
            "reference target on http://{addr} — POST /v1/events/{{event}}, GET /v1/challenges, GET /v1/stats; Ctrl-C stops"
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await?;
        let stats = ledger.lock().expect("ledger lock").to_json();
        println!("{}", serde_json::to_string_pretty(&stats)?);
        Ok::<_, anyhow::Error>(0)
    })
}
