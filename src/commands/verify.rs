//! `simulate verify`: regenerate the timeline recorded in run_meta and check the database.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::refused;
use crate::cli::{VerifyArgs, WorldArgs};
use crate::console::progress::Progress;
use crate::world::{load_world, world_clashes};
use simulate_core::diagnostic::Problem;
use simulate_core::engine::{Engine, World};
use simulate_core::sinks::jsonl::{Format, JsonlSink};
use simulate_core::sinks::tee::Tee;
use simulate_core::world::kinds::KindTable;
use simulate_db::DbError;
use simulate_db::conn::Db;
use simulate_db::projection::{Projection, Table};
use simulate_db::verify::{CheckReport, DigestSink, TableDigest, TableReport, VerifyReport};

/// What verify found.
pub struct Report {
    pub tables: Vec<(Table, TableDigest, TableDigest)>,
    pub checks: Vec<(String, i64, String)>,
    pub(crate) checksum_ok: bool,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.checksum_ok
            && self.tables.iter().all(|(_, e, a)| e == a)
            && self.checks.iter().all(|c| c.1 == 0)
    }

    /// The report for machines: what the console table says, with the full digests.
    pub(crate) fn document(&self, place: &str) -> VerifyReport {
        let tables = self
            .tables
            .iter()
            .map(|(t, e, a)| TableReport {
                table: t.name().to_string(),
                ok: e == a,
                rows_expected: e.rows,
                rows_found: a.rows,
                digest_expected: e.hex(),
                digest_found: a.hex(),
            })
            .collect();
        let checks = self
            .checks
            .iter()
            .map(|(name, n, what)| CheckReport {
                check: name.clone(),
                ok: *n == 0,
                failures: *n,
                what: what.clone(),
            })
            .collect();
        VerifyReport {
            verified: place.to_string(),
            ok: self.ok(),
            timeline_same_as_seeded: self.checksum_ok,
            tables,
            checks,
        }
    }
}

/// The world flags recorded at seed time; flags given to verify must agree with them.
fn world_from_meta(
    config: &simulate_db::WorldConfig,
    given: &WorldArgs,
) -> Result<WorldArgs, Problem> {
    let (meta, clash) = world_clashes(config, given);
    if clash.is_empty() {
        Ok(meta)
    } else {
        Err(Problem::new(
            format!(
                "flags disagree with the run_meta of this database: {}",
                clash.join("; ")
            ),
            "drop those flags (verify reads them from run_meta) or seed again with them",
        ))
    }
}

/// Verifies one database: the library entry point the CLI and the tests share.
pub(crate) fn verify_db(
    db: &mut Db<'_>,
    rt: &tokio::runtime::Runtime,
    given: &WorldArgs,
    quiet: bool,
) -> anyhow::Result<Report> {
    let (config, seeded_sha, _) = rt.block_on(db.run_meta()).map_err(refused)?;
    let missing = rt.block_on(db.missing()).map_err(refused)?;
    if !missing.is_empty() {
        return Err(Problem::new(
            format!(
                "the database lacks what `simulate seed` wrote: {}",
                missing.join(", ")
            ),
            "seed again with --reset (verify checks the tables as seed wrote them)",
        )
        .into());
    }
    let world_args = world_from_meta(&config, given)?;
    let (personas, scenario) = load_world(&world_args)?;
    let world = World::new(personas.clone(), scenario.clone(), true)?;

    let bars = MultiProgress::with_draw_target(if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let mut progress = Progress::new(scenario.end_ms(), quiet, 0.0);
    bars.add(progress.bar.clone());
    let reading = bars.add(ProgressBar::new_spinner());
    reading.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let (table_no, rows, done) = (
        AtomicUsize::new(0),
        AtomicU64::new(0),
        AtomicBool::new(false),
    );
    // Set when reading the database fails: the timeline need not be finished then.
    let stop = AtomicBool::new(false);

    // The expected side (the timeline regenerated and projected into digests) and the
    // stored side (each table read back) are independent, so they run side by side.
    let (expected, actual) = std::thread::scope(|s| {
        let expected = s.spawn(|| -> anyhow::Result<_> {
            let mut engine = Engine::new(
                world,
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            );
            let mut projection = Projection::new(DigestSink::default(), &personas, &scenario);
            let mut checksum = JsonlSink::create(None, Format::None)?;
            {
                let mut sinks = Tee(vec![&mut projection, &mut checksum, &mut progress]);
                engine.run(&mut sinks, &stop)?;
            }
            Ok((projection.into_inner().tables, checksum.checksum()))
        });
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let i = table_no.load(Ordering::Relaxed).min(Table::ALL.len() - 1);
                reading.set_message(format!(
                    "reading table {}/{} {}: {} rows",
                    i + 1,
                    Table::ALL.len(),
                    Table::ALL[i].name(),
                    rows.load(Ordering::Relaxed)
                ));
                reading.tick();
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let mut actual = Vec::new();
        let mut read = || -> Result<(), DbError> {
            for (i, t) in Table::ALL.into_iter().enumerate() {
                table_no.store(i, Ordering::Relaxed);
                actual.push((t, rt.block_on(db.digest(t, &rows))?));
            }
            Ok(())
        };
        let read = read();
        done.store(true, Ordering::Relaxed);
        stop.store(read.is_err(), Ordering::Relaxed);
        reading.finish_and_clear();
        let expected = expected
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the timeline thread stopped abruptly")));
        (expected, read.map(|_| actual))
    });
    bars.clear().ok();
    let actual = actual.map_err(refused)?;
    let (expected, checksum) = expected?;
    let tables = actual
        .into_iter()
        .map(|(t, a)| (t, expected.get(&t).copied().unwrap_or_default(), a))
        .collect();
    // Props are checked against this world's kinds (custom kinds, the team's ids and
    // pools in sign-ups, a team's catalog), not only the built-in schema.
    let schema = serde_json::to_value(KindTable::of_world(&personas, &scenario).json_schema())?;
    let checks = rt.block_on(db.checks(&schema)).map_err(refused)?;
    Ok(Report {
        tables,
        checks,
        checksum_ok: checksum == seeded_sha,
    })
}

pub(crate) fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let (report, place) = super::on_seeded(
        args.db.url().as_deref(),
        (&args.db.schema, super::Reader::Verify),
        &args.db.sqlite_path(),
        |db, rt| verify_db(db, rt, &args.world, args.quiet),
    )?;
    outln!("verify {place}");
    outln!(
        "  {:<44} {}",
        "timeline regenerated from run_meta",
        if report.checksum_ok {
            "ok (same SHA-256 as seeded)"
        } else {
            "DIFFERS: personas or scenario changed since the seed"
        }
    );
    for (t, e, a) in &report.tables {
        let status = if e == a {
            format!("ok ({} rows, digest {})", a.rows, &a.hex()[..12])
        } else {
            format!(
                "MISMATCH: {} rows expected, {} found; digest {} vs {}",
                e.rows,
                a.rows,
                &e.hex()[..12],
                &a.hex()[..12]
            )
        };
        outln!("  {:<44} {status}", format!("table {}", t.name()));
    }
    for (name, n, what) in &report.checks {
        let status = if *n == 0 {
            "ok".to_string()
        } else {
            format!("FAILED: {n} {what}")
        };
        outln!("  {name:<44} {status}");
    }
    if let Some(p) = &args.summary_export {
        super::export(p, "the report", &report.document(&place))?;
    }
    if report.ok() {
        outln!("all checks passed");
        Ok(0)
    } else {
        outln!("verification FAILED");
        Ok(crate::exit::VERIFY_MISMATCH)
    }
}
