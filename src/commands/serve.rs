//! `simulate serve`: the reference target on a port, until Ctrl-C; then its counts.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::refused;
use crate::cli::ServeArgs;
use crate::serve::{Catalogue, Ledger};
use simulate_core::diagnostic::Problem;

/// The seeded state, when a database is named; otherwise an empty ledger.
fn starting_state(args: &ServeArgs) -> anyhow::Result<(Ledger, String)> {
    let url = args.db.url();
    if url.is_none() && args.db.sqlite.is_none() {
        return Ok((Ledger::default(), "nothing (empty)".into()));
    }
    super::on_seeded(
        url.as_deref(),
        (&args.db.schema, super::Reader::Serve),
        &args.db.sqlite_path(),
        |db, rt| {
            rt.block_on(simulate_db::seeded::load(db))
                .map(Ledger::seeded)
                .map_err(refused)
        },
    )
}

/// The catalogue listed: the world's (`--scenario`) or the service's own.
fn catalogue(args: &ServeArgs) -> anyhow::Result<Catalogue> {
    let Some(scenario) = &args.scenario else {
        return Ok(Catalogue::generated(args.challenges));
    };
    let world = crate::cli::WorldArgs {
        scenario: Some(scenario.clone()),
        personas: args.personas.clone(),
        ..Default::default()
    };
    let (_, scenario) = crate::world::load_world(&world)?;
    Ok(Catalogue::of(&scenario.catalog))
}

pub fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let catalogue = catalogue(&args)?;
    let (ledger, from) = starting_state(&args)?;
    eprintln!(
        "starting from {from}: {} users with balances, {} claimed goals",
        ledger.balances.len(),
        ledger.goal_claims.len()
    );
    let stop = super::interrupt_flag();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| {
                Problem::new(format!("cannot listen on {}: {e}", args.listen), "choose a free address with --listen, e.g. --listen 127.0.0.1:3001")
            })?;
        let addr = listener.local_addr()?;
        let (app, ledger) = crate::serve::router_over(ledger, catalogue);
        if let Some(g) = &args.grpc_listen {
            let l = tokio::net::TcpListener::bind(g).await.map_err(|e| {
                Problem::new(format!("cannot listen on {g}: {e}"), "choose a free address with --grpc-listen, e.g. --grpc-listen 127.0.0.1:50052")
            })?;
            eprintln!(
                "gRPC EventService/OnMessage on http://{}",
                l.local_addr()?
            );
            tokio::spawn(crate::serve::grpc::serve(l, std::sync::Arc::clone(&ledger)));
        }
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
        outln!("{}", serde_json::to_string_pretty(&stats)?);
        Ok::<_, anyhow::Error>(0)
    })
}
