//! `simulate replay`: flags checked, mapping and thresholds compiled before any traffic,
//! then the replay, its table, the summary file and the exit code.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::cli::{ReplayArgs, Users};
use simulate_core::diagnostic::{Problem, Problems};
use simulate_core::run_record::RunRecord;

use crate::exit;
use simulate_core::engine::{Engine, World};
use simulate_core::persona::Persona;
use simulate_core::redact::mask_url;
use simulate_core::scenario::Scenario;
use simulate_core::units::{DAY, SimDuration, SpanRecord, parse_duration};
use simulate_core::world::pools::Team;
use simulate_replay::captured::CapturedIds;
use simulate_replay::drivers::Targets;
use simulate_replay::live_metrics::LiveMetrics;
use simulate_replay::mapping::Mapping;
use simulate_replay::mapping::Protocol;
use simulate_replay::pacer::Plan;
use simulate_replay::source::{Phases, Window};
use simulate_replay::summary::{ReplayConfig, ThresholdNames, WindowConfig, WorldSource};
use simulate_replay::thresholds::{DEFAULT_THRESHOLD, Names, Threshold, preset};
use simulate_replay::tls::Tls;
use simulate_replay::{Feed, Options, Report};

use crate::console::replay::{LiveView, table};

mod seeded;
mod shard;
mod sql;
use crate::world::{load_world, world_clashes};

/// `24h:30m` (sim:wall) or `48x`, as simulated ms per wall ms.
pub(crate) fn parse_compress(s: &str) -> Result<f64, Problem> {
    let fix = "write SIM:WALL like 24h:30m (a day in half an hour) or a factor like 48x";
    let bad = |m: String| Problem::new(format!("--compress `{s}`{m}"), fix);
    let factor = if let Some(x) = s.strip_suffix(['x', '×']) {
        x.trim()
            .parse::<f64>()
            .map_err(|_| bad(" is not a factor".into()))?
    } else {
        let (a, b) = s.split_once(':').ok_or_else(|| bad(" has no `:`".into()))?;
        let d = |t: &str| {
            parse_duration(t.trim())
                .map(|d| d.ms() as f64)
                .map_err(|m| bad(format!(": {m}")))
        };
        let (sim, wall) = (d(a)?, d(b)?);
        if wall <= 0.0 {
            return Err(bad(": the wall time must be above zero".into()));
        }
        sim / wall
    };
    if !(factor.is_finite() && factor > 0.0 && factor <= 1e7) {
        return Err(bad(format!(" gives a factor of {factor}")));
    }
    Ok(factor)
}

/// `8h..10h`, `..2h`, `30d..` as timeline offsets; `end` closes an open right side.
pub(crate) fn parse_window(s: &str, end: i64) -> Result<Window, Problem> {
    let fix = "write FROM..TO as offsets from the timeline's start, like 8h..10h or 30d..31d";
    let bad = |m: String| Problem::new(format!("--window `{s}`{m}"), fix);
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| bad(" has no `..`".into()))?;
    let off = |t: &str, default: i64| -> Result<i64, Problem> {
        if t.trim().is_empty() {
            Ok(default)
        } else {
            parse_duration(t.trim())
                .map(|d| d.ms())
                .map_err(|m| bad(format!(": {m}")))
        }
    };
    let w = Window {
        from_ms: off(a, 0)?,
        to_ms: off(b, end)?,
    };
    if w.from_ms >= w.to_ms {
        return Err(bad(" is empty: it must end after it starts".into()));
    }
    Ok(w)
}

/// Bad input with its fix, as the error of a command.
fn bad(message: impl Into<String>, fix: impl Into<String>) -> anyhow::Error {
    Problem::new(message, fix).into()
}

fn wall_text(ms: f64) -> String {
    let s = (ms / 1000.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// The phases of the scenario a log was written with, from the run.json beside it, so a
/// replayed log is tagged by phase as an engine replay is. Without it (a foreign log, a
/// scenario file since moved), every event is `steady`.
fn log_phases(log: &Path) -> (Phases, Option<String>) {
    match log_world(log) {
        Some((_, s)) => (Phases::of(&s), Some(s.name)),
        None => (Phases::default(), None),
    }
}

/// The scenario a log was written with, from the run.json beside it, when it loads.
fn log_world(log: &Path) -> Option<(Vec<Persona>, Scenario)> {
    let read = || -> Option<(Vec<Persona>, Scenario)> {
        let record = log.parent()?.join("run.json");
        let run: RunRecord = serde_json::from_slice(
            &simulate_core::bounded::read(&record, simulate_core::bounded::RUN_RECORD).ok()?,
        )
        .ok()?;
        let c = run.config;
        // run.json's config records the world as run_meta's does.
        let config = simulate_db::WorldConfig {
            scenario: c.scenario,
            scenario_file: c.scenario_file,
            personas_dir: c.personas_dir,
            users: c.users,
            length: c.length,
            seed: c.seed,
            start: c.start,
        };
        let (world, _) = world_clashes(&config, &crate::cli::WorldArgs::default());
        load_world(&world).ok()
    };
    read()
}

/// The world an engine replay sends from. A window past the scenario's length makes the
/// world that long, in whole days: the days before it are the same events whatever the
/// length (docs/REPLAY.md). A world shorter than a day is its own world (its launch users
/// arrive over its span), so only a span, never a window, makes one.
pub(crate) fn replay_world(args: &ReplayArgs) -> anyhow::Result<(Vec<Persona>, Scenario)> {
    let given = &args.world;
    let loaded = load_world(given)?;
    let to = match &args.window {
        Some(w) => parse_window(w, i64::MAX)?.to_ms,
        None => return Ok(loaded),
    };
    let length_given = given.days.is_some() || given.span.is_some();
    if length_given || to == i64::MAX || loaded.1.span.ms() < DAY {
        return Ok(loaded);
    }
    let mut world = given.clone();
    world.days = Some(((to + DAY - 1) / DAY).max(1) as u32);
    load_world(&world)
}

pub fn replay(mut args: ReplayArgs) -> anyhow::Result<i32> {
    let mapping = load_mapping(&args)?;
    let pacing = super::load::pacing(&args, &mapping, &|name| profile(&args, name))?;
    Pace::from_args(&args)?;
    Destinations::resolve(&args, &mapping)?;
    tls_from(args.ca_cert.as_deref())?;
    if args.captured_ids.is_some() && mapping.teardown_over().is_empty() {
        return Err(bad(
            format!(
                "--captured-ids: no [[teardown]] request of {} repeats over captured ids",
                mapping.name
            ),
            "add for_each = \"entity.ENTITY.NAME\" to the [[teardown]] request that removes them (docs/REPLAY.md), or drop the flag",
        ));
    }
    sql::runner(&args, &mapping)?;
    shard::check_mapping(&mapping, shard::of_args(&args)?)?;
    shard::start_at(&args)?;
    if args.teardown_only {
        return teardown_only(&args, mapping);
    }
    // Sized after the mapping and targets are checked: sizing simulates a few worlds.
    let sized = match args.concurrency {
        Some(n) => {
            let found = super::concurrency::size(&args, n)?;
            args.world.users = Some(Users::Count(found.chosen.users));
            let (record, line) = super::concurrency::record(&found);
            if !args.quiet {
                eprintln!("{line}");
            }
            Some(record)
        }
        None => None,
    };
    let args = match args.from_log {
        None => super::load::sized(&args, &pacing, &mapping)?,
        Some(_) => args,
    };
    make_summary_folder(args.summary_export.as_deref(), "--summary-export")?;
    make_summary_folder(args.report.as_deref(), "--report")?;
    make_summary_folder(args.captured_ids.as_deref(), "--captured-ids")?;
    let (metrics, exporter) = live_metrics(&args, &mapping)?;
    let run = Run {
        args: &args,
        pacing: &pacing,
        mapping: Arc::new(mapping),
        only_stage: None,
        live: !args.quiet,
        concurrency: sized,
        metrics,
    };
    let (mut report, shown, seeded) = run.go(super::replay_interrupts())?;
    // Known only at the end: the users the gap left unknown to the target.
    let late = seeded.and_then(|s| s.gap_users_warning(report.gap_users));
    if let Some(w) = &late {
        report.summary.config.warnings.push(w.clone());
    }
    let code = finish(&args, &report, &shown)?;
    if let Some(w) = late {
        eprintln!("warning: {w}");
    }
    if let Some(e) = exporter {
        e.linger();
    }
    Ok(code)
}

/// `--metrics-addr`: the live figures and their server, started before any traffic.
pub(crate) fn live_metrics(
    args: &ReplayArgs,
    mapping: &Mapping,
) -> anyhow::Result<(Option<Arc<LiveMetrics>>, Option<super::exporter::Exporter>)> {
    if args.metrics.metrics_addr.is_none() {
        return Ok((None, None));
    }
    let metrics = LiveMetrics::new(&mapping.tags);
    let page = Arc::clone(&metrics);
    let exporter = super::exporter::start(&args.metrics, args.quiet, move || page.render())?;
    Ok((Some(metrics), exporter))
}

/// `--teardown-only`: the mapping's `[[teardown]]` requests alone; exit 1 when one failed.
fn teardown_only(args: &ReplayArgs, mapping: Mapping) -> anyhow::Result<i32> {
    if !mapping.has_teardown() {
        return Err(bad(
            format!(
                "--teardown-only: {} has no [[teardown]] requests",
                mapping.name
            ),
            "add [[teardown]] requests to the mapping (docs/REPLAY.md), or drop the flag",
        ));
    }
    let ids = captured_ids(args, &mapping)?;
    let sql = sql::runner(args, &mapping)?;
    let to = Destinations::resolve(args, &mapping)?;
    let tls = tls_from(args.ca_cert.as_deref())?;
    let done = simulate_replay::teardown_only(
        Arc::new(mapping),
        &to.targets,
        &tls,
        (&ids, sql.as_deref()),
    )?;
    println!("{}", crate::console::replay::hook_line("teardown", &done));
    if done.errors > 0 {
        eprintln!(
            "error: {}",
            simulate_replay::hook_failure("teardown", &done)
        );
        return Ok(crate::exit::FAILED);
    }
    Ok(crate::exit::OK)
}

/// The most a `--captured-ids` file may hold: a key and an id per entity a run created,
/// ~50 bytes each, so room for millions.
const CAPTURED_IDS_FILE: u64 = 256 << 20;

/// `--teardown-only`'s captured ids: the `--captured-ids` file a run wrote, holding every
/// variable the teardown repeats over; none needed when it repeats over none.
fn captured_ids(args: &ReplayArgs, mapping: &Mapping) -> anyhow::Result<CapturedIds> {
    let over = mapping.teardown_over();
    let Some(path) = &args.captured_ids else {
        if over.is_empty() {
            return Ok(CapturedIds::default());
        }
        return Err(bad(
            format!(
                "--teardown-only: the [[teardown]] of {} repeats over captured ids ({}), and no file gives them",
                mapping.name,
                over.join(", ")
            ),
            "pass --captured-ids FILE, the file the run wrote with the same flag",
        ));
    };
    let shown = path.display();
    let bytes = simulate_core::bounded::read(path, CAPTURED_IDS_FILE).map_err(|e| {
        bad(
            format!("--captured-ids {shown}: {e}"),
            "pass the file a run wrote with --captured-ids",
        )
    })?;
    let ids: CapturedIds = serde_json::from_slice(&bytes).map_err(|e| {
        bad(
            format!("--captured-ids {shown} is not a captured-ids file: {e}"),
            "pass the file a run wrote with --captured-ids (schema/captured-ids.v1.json)",
        )
    })?;
    let missing = ids.missing(&over);
    if !missing.is_empty() {
        return Err(bad(
            format!(
                "--captured-ids {shown} holds no {} (written for {})",
                missing.join(", "),
                ids.mapping
            ),
            format!("pass the file a run of {} wrote", mapping.name),
        ));
    }
    Ok(ids)
}

/// One replay: the flags, the pacing and the mapping, checked; `capacity` runs several.
pub(crate) struct Run<'a> {
    pub(crate) args: &'a ReplayArgs,
    pub(crate) pacing: &'a super::load::Pacing,
    pub(crate) mapping: Arc<Mapping>,
    /// Judge the thresholds on this stage only (1 + its index): `capacity` leaves each
    /// level's warm-up out.
    pub(crate) only_stage: Option<u8>,
    /// The announcement and the live view.
    pub(crate) live: bool,
    /// `--concurrency`: how the world was sized, for the summary.
    pub(crate) concurrency: Option<simulate_replay::summary::ConcurrencySizing>,
    /// `--metrics-addr`: the live figures the exporter serves.
    pub(crate) metrics: Option<Arc<LiveMetrics>>,
}

impl Run<'_> {
    /// Builds the source, thresholds and options, runs the replay, and returns its report
    /// with the target as it may be shown, and what `--seeded` found.
    pub(crate) fn go(
        &self,
        (stop, hurry): (Arc<AtomicBool>, Arc<AtomicBool>),
    ) -> anyhow::Result<(Report, String, Option<seeded::Seeded>)> {
        let (args, pacing, mapping) = (self.args, self.pacing, &self.mapping);
        let pace = Pace::from_args(args)?;
        let to = Destinations::resolve(args, mapping)?;
        let tls = tls_from(args.ca_cert.as_deref())?;
        let source = match &args.from_log {
            Some(log) => log_source(args, log)?,
            None => engine_source(args)?,
        };
        check_tokens(mapping, &source)?;
        let team = check_user_fields(mapping, &source)?;
        let stage_names = simulate_replay::pace::stage_names(pacing.target());
        let (texts, mut thresholds, names) =
            thresholds(args, mapping, &source.phases, &stage_names)?;
        let default_threshold = texts.is_empty() && !thresholds.is_empty();
        if let Some(stage) = self.only_stage {
            thresholds = thresholds
                .into_iter()
                .map(|t| t.only_stage(stage))
                .collect();
        }
        let (shard, start_at) = (shard::of_args(args)?, shard::start_at(args)?);
        if self.live {
            announce(args, &source, &to, pacing, mapping);
            shard::announce(shard, args.start_at.as_deref(), start_at);
        }
        let seeded = match &args.seeded {
            Some(db) => Some(seeded::notes(db, args, source.window)?),
            None => None,
        };
        let warnings = seeded
            .as_ref()
            .map(|s| s.warnings.clone())
            .unwrap_or_default();
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        let config = ReplayConfig {
            warnings,
            target: to.shown.clone(),
            grpc_target: to.targets.grpc.as_deref().map(mask_url),
            socketio_target: to.targets.socketio.as_deref().map(mask_url),
            websocket_target: to.targets.websocket.as_deref().map(mask_url),
            mapping: mapping.name.clone(),
            world: source.world.clone(),
            window: WindowConfig {
                from_ms: source.window.from_ms,
                to_ms: (source.window.to_ms < i64::MAX).then_some(source.window.to_ms),
                text: args.window.clone(),
            },
            compress: args.compress.clone().unwrap_or_else(|| "1x".into()),
            factor: pacing.factor().unwrap_or(0.0),
            pace: pacing.factor().is_none().then(|| pacing.text.clone()),
            max_duration: args.max_duration.clone(),
            max_in_flight: args.max_in_flight,
            connections: args.connections,
            http2: args.http2 || mapping.http2,
            thresholds: if default_threshold {
                vec![DEFAULT_THRESHOLD.to_string()]
            } else {
                texts
            },
            default_threshold,
            concurrency: self.concurrency.clone(),
            start_at: None,
            world_fingerprint: None,
            mapping_fingerprint: None,
            names: Some(names),
        };
        let mut config = config;
        shard::record(&mut config, args);
        let view = LiveView::new(!self.live);
        let opts = Options {
            plan: Plan {
                window: source.window,
                factor: pacing.factor().unwrap_or(1.0),
                max_in_flight: args.max_in_flight,
                connections: args.connections,
                drain: pace.drain,
                target: pacing.target().cloned(),
                max_wall: pacing.max_wall,
                shard,
                start_at,
            },
            http2: args.http2 || mapping.http2,
            mapping: Arc::clone(mapping),
            targets: to.targets,
            tls,
            thresholds,
            io_threads: pace.io_threads,
            watch: Some(view.watcher(source.start_epoch_ms, !self.live, start_at)),
            config,
            feed: source.feed,
            phases: source.phases,
            gap: seeded.as_ref().and_then(|s| s.gap),
            abort_on_fail: args.abort_on_fail,
            planned: pacing.planned(),
            team,
            sql: sql::runner(args, mapping)?,
            metrics: self.metrics.clone(),
        };
        let report = simulate_replay::replay(opts, stop, hurry);
        view.finish();
        Ok((report?, to.shown, seeded))
    }
}

/// How wide: the flags that bound the replay's requests, checked (how fast is
/// [`super::load::Pacing`]).
struct Pace {
    drain: Duration,
    io_threads: Option<usize>,
}

impl Pace {
    fn from_args(args: &ReplayArgs) -> anyhow::Result<Pace> {
        let drain = parse_duration(&args.drain)
            .map_err(|m| Problem::new(format!("--drain: {m}"), "write it like 5s or 500ms"))?
            .ms();
        if args.max_in_flight == 0 || args.max_in_flight > 1_000_000 {
            return Err(bad(
                format!("--max-in-flight {} is out of range", args.max_in_flight),
                "use 1 to 1000000",
            ));
        }
        if let Some(n) = args.connections
            && (n == 0 || n > args.max_in_flight)
        {
            return Err(bad(
                format!("--connections {n} is out of range"),
                format!("use 1 to --max-in-flight ({})", args.max_in_flight),
            ));
        }
        if let Some(n) = args.io_threads
            && !(1..=256).contains(&n)
        {
            return Err(bad(
                format!("--io-threads {n} is out of range"),
                "use 1 to 256",
            ));
        }
        Ok(Pace {
            drain: Duration::from_millis(drain.max(0) as u64),
            io_threads: args.io_threads,
        })
    }
}

/// `--mapping FILE` (or the old `--targets FILE`), else the shipped mapping.
pub(crate) fn load_mapping(args: &ReplayArgs) -> anyhow::Result<Mapping> {
    if args.targets.is_some() {
        eprintln!(
            "note: --targets is now --mapping (mapping files live in mappings/); --targets will go away"
        );
    }
    Ok(match args.mapping.as_ref().or(args.targets.as_ref()) {
        // Checked against the world's kinds: its world.toml's custom kinds and props too
        // (a log's: the personas its run.json names, whose kinds its lines hold).
        Some(p) => {
            let logged = match (&args.from_log, &args.world.personas) {
                (Some(log), None) => log_world(log).map(|(personas, _)| personas),
                _ => None,
            };
            let personas = match logged {
                Some(p) => p,
                None => simulate_core::persona::load_unmixed(args.world.personas.as_deref())?,
            };
            Mapping::load_in(p, simulate_core::world::kinds::KindTable::of(&personas))?
        }
        None => Mapping::shipped(),
    })
}

/// Where each protocol's requests go, checked, and the target as it may be shown.
struct Destinations {
    targets: Targets,
    /// The HTTP target with its password masked.
    shown: String,
}

impl Destinations {
    fn resolve(args: &ReplayArgs, mapping: &Mapping) -> anyhow::Result<Destinations> {
        // A mapping of gRPC requests alone (seed 001's event load on its own) sends
        // nothing to an HTTP target: its gRPC server stands for the target then.
        let given = args.target.clone().or_else(|| mapping.base_url.clone());
        let grpc_only = match given {
            None if !mapping.needs_http_target() => grpc_target(args, mapping)?,
            _ => None,
        };
        let Some(http) = given.or(grpc_only) else {
            return Err(bad(
                "no target to send to",
                "add --target http://127.0.0.1:3000, or base_url in the --mapping file",
            ));
        };
        match url::Url::parse(&http) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(bad(
                    format!(
                        "--target `{}` is not an http:// or https:// URL",
                        mask_url(&http)
                    ),
                    "write it like http://127.0.0.1:3000",
                ));
            }
        }
        let grpc = grpc_target(args, mapping)?;
        let socketio = socketio_target(args, mapping, &http)?;
        let websocket = websocket_target(args, mapping, &http)?;
        Ok(Destinations {
            shown: mask_url(&http),
            targets: Targets {
                http,
                grpc,
                socketio,
                websocket,
            },
        })
    }
}

/// `--grpc-target`, else the mapping's; required when the mapping sends gRPC.
fn grpc_target(args: &ReplayArgs, mapping: &Mapping) -> anyhow::Result<Option<String>> {
    let grpc = args
        .grpc_target
        .clone()
        .or_else(|| mapping.grpc_target.clone());
    if mapping.sends(Protocol::Grpc) && grpc.is_none() {
        return Err(bad(
            format!(
                "{} sends gRPC requests but names no gRPC server",
                mapping.name
            ),
            "add --grpc-target http://127.0.0.1:50051, or `target` under [grpc] in the mapping",
        ));
    }
    if let Some(g) = &grpc
        && !(g.starts_with("http://") || g.starts_with("https://"))
    {
        return Err(bad(
            format!(
                "--grpc-target `{}` is not an http:// or https:// URL",
                mask_url(g)
            ),
            "write it like http://127.0.0.1:50051",
        ));
    }
    Ok(grpc)
}

/// `--socketio-target`, else the mapping's `[socketio] url`, else the HTTP target; only
/// for a mapping with `[socketio]`.
fn socketio_target(
    args: &ReplayArgs,
    mapping: &Mapping,
    http: &str,
) -> anyhow::Result<Option<String>> {
    let socketio = mapping.socketio.as_ref().map(|s| {
        args.socketio_target
            .clone()
            .or_else(|| s.url.clone())
            .unwrap_or_else(|| http.to_string())
    });
    if let Some(u) = &socketio
        && !["http://", "https://", "ws://", "wss://"]
            .iter()
            .any(|p| u.starts_with(p))
    {
        return Err(bad(
            format!(
                "the Socket.IO server `{}` is not an http(s):// or ws(s):// URL",
                mask_url(u)
            ),
            "pass --socketio-target http://127.0.0.1:3001, or `url` under [socketio] in the mapping",
        ));
    }
    if args.socketio_target.is_some() && socketio.is_none() {
        return Err(bad(
            format!(
                "--socketio-target is given but {} has no [socketio] table",
                mapping.name
            ),
            "add [socketio] to the mapping (see docs/REPLAY.md), or drop the flag",
        ));
    }
    Ok(socketio)
}

/// `--websocket-target`, else the mapping's `[websocket] url`, else the HTTP target; only
/// for a mapping with `[websocket]`.
fn websocket_target(
    args: &ReplayArgs,
    mapping: &Mapping,
    http: &str,
) -> anyhow::Result<Option<String>> {
    let websocket = mapping.websocket.as_ref().map(|s| {
        args.websocket_target
            .clone()
            .or_else(|| s.url.clone())
            .unwrap_or_else(|| http.to_string())
    });
    if let Some(u) = &websocket
        && !["http://", "https://", "ws://", "wss://"]
            .iter()
            .any(|p| u.starts_with(p))
    {
        return Err(bad(
            format!(
                "the WebSocket server `{}` is not a ws(s):// or http(s):// URL",
                mask_url(u)
            ),
            "pass --websocket-target ws://127.0.0.1:3002/ws, or `url` under [websocket] in the mapping",
        ));
    }
    if args.websocket_target.is_some() && websocket.is_none() {
        return Err(bad(
            format!(
                "--websocket-target is given but {} has no [websocket] table",
                mapping.name
            ),
            "add [websocket] to the mapping (see docs/REPLAY.md), or drop the flag",
        ));
    }
    Ok(websocket)
}

/// `--ca-cert`, read and checked once here for every protocol.
fn tls_from(ca_cert: Option<&Path>) -> anyhow::Result<Tls> {
    let Some(p) = ca_cert else {
        return Ok(Tls::default());
    };
    let fix = "pass the PEM file of the CA that signed the target's certificate";
    let pem = simulate_core::bounded::read(p, simulate_core::bounded::CERT_FILE)
        .map_err(|e| Problem::new(format!("--ca-cert {}: {e}", p.display()), fix))?;
    Ok(Tls::with_ca_pem(pem)
        .map_err(|m| Problem::new(format!("--ca-cert {} {m}", p.display()), fix))?)
}

/// Where the events come from, the window sent, and how to name them.
struct Source {
    feed: Feed,
    phases: Phases,
    window: Window,
    /// Absolute time of the timeline's t = 0, for the live clock.
    start_epoch_ms: i64,
    world: WorldSource,
}

/// Users without a token, refused before any traffic when the mapping's policy says so
/// (`missing_token = "refuse"`, the default): the engine's launch users (later sign-ups
/// and invitees are not known before the run), or every user of the log's window.
fn check_tokens(mapping: &Mapping, source: &Source) -> anyhow::Result<()> {
    if !mapping.checks_tokens() {
        return Ok(());
    }
    let users: Vec<String> = match &source.feed {
        Feed::Engine(e) => (0..e.world.scenario.users)
            .map(simulate_core::ids::user_id)
            .collect(),
        Feed::Log(log) => simulate_replay::source::log_users(log, source.window)?
            .into_iter()
            .collect(),
    };
    mapping.check_tokens(users.iter().map(String::as_str))?;
    Ok(())
}

/// The `user.<name>` fields the mapping reads and the pools its `lookup(…)`s name,
/// against the world's (its `[ids]`, `[pools]` and `user.signed_up`'s props): the
/// engine's, or a log's from the run.json beside it. A log without one (a foreign log) is
/// not checked: a name its lines lack renders as null, as does a lookup. The world's ids
/// and pools come back when a template looks them up or the world names sessions or
/// entities (`[ids] session`, `[ids] gift`: `{session_id}`, `{props.gift_id}` in the
/// team's format).
fn check_user_fields(mapping: &Mapping, source: &Source) -> anyhow::Result<Option<Arc<Team>>> {
    let team = |s: &Scenario| Team {
        seed: s.seed,
        users: s.users,
        pools: s.pools.clone(),
    };
    let world = match &source.feed {
        Feed::Engine(e) => Some((
            user_names(&e.world.personas, &e.world.scenario),
            team(&e.world.scenario),
        )),
        Feed::Log(log) => log_world(log).map(|(p, s)| (user_names(&p, &s), team(&s))),
    };
    let Some((names, team)) = world else {
        return Ok(None);
    };
    if mapping.reads_user() || mapping.looks_up() {
        let pools: Vec<String> = team.pools.pools.iter().map(|p| p.name.clone()).collect();
        mapping.check_names(&names, &pools)?;
    }
    let wanted =
        mapping.looks_up() || team.pools.sessions.is_some() || !team.pools.entities.is_empty();
    Ok(wanted.then(|| Arc::new(team)))
}

/// The `user.<name>` a world's users have: its ids and pools, `user.signed_up`'s own
/// props, and the personas' attributes it carries (`tz`).
fn user_names(personas: &[Persona], scenario: &Scenario) -> Vec<String> {
    let mut names = scenario.pools.user_names();
    names.extend(
        simulate_core::persona::signed_up_attributes(personas)
            .into_iter()
            .map(|a| a.name),
    );
    names
}

/// `--from-log`: the log as written, its phases from the run.json beside it.
fn log_source(args: &ReplayArgs, log: &Path) -> anyhow::Result<Source> {
    let w = &args.world;
    if w.users.is_some()
        || w.days.is_some()
        || w.span.is_some()
        || w.seed.is_some()
        || w.scenario.is_some()
        || w.personas.is_some()
    {
        return Err(bad(
            "--from-log replays the log as written: --users, --days, --span, --seed, --scenario and --personas do not apply",
            "drop them, or drop --from-log to replay from the engine",
        ));
    }
    if !log.exists() {
        return Err(bad(
            format!("the log {} does not exist", log.display()),
            "pass the events.jsonl that `simulate run` wrote",
        ));
    }
    let window = match &args.window {
        Some(s) => parse_window(s, i64::MAX)?,
        None => Window {
            from_ms: 0,
            to_ms: i64::MAX,
        },
    };
    let (phases, scenario) = log_phases(log);
    Ok(Source {
        feed: Feed::Log(log.to_path_buf()),
        phases,
        window,
        start_epoch_ms: first_epoch(log).unwrap_or(0),
        world: WorldSource::Log {
            log: log.display().to_string(),
            scenario,
        },
    })
}

/// The engine, simulating the world of the flags (see [`replay_world`]).
fn engine_source(args: &ReplayArgs) -> anyhow::Result<Source> {
    let (personas, scenario) = replay_world(args)?;
    let end = scenario.end_ms();
    let window = match &args.window {
        Some(s) => parse_window(s, end)?,
        None => Window {
            from_ms: 0,
            to_ms: end,
        },
    };
    if window.to_ms > end {
        let to = SimDuration(window.to_ms);
        let fix = match args.world.days {
            Some(_) => format!("use --days {} (or more)", (window.to_ms + DAY - 1) / DAY),
            None => format!("use --span {to} (or more)"),
        };
        return Err(bad(
            format!(
                "--window ends at {to} but the world is {} long",
                scenario.span
            ),
            fix,
        ));
    }
    let threads = super::threads(Some(args.threads.unwrap_or(1)))?;
    let world = WorldSource::Engine {
        scenario: scenario.name.clone(),
        users: scenario.users,
        length: SpanRecord::of(scenario.span),
        seed: scenario.seed,
        start: scenario.start_text.clone(),
        personas: personas.iter().map(|p| p.name.clone()).collect(),
    };
    Ok(Source {
        phases: Phases::of(&scenario),
        window,
        start_epoch_ms: scenario.start_ms,
        world,
        feed: Feed::Engine(Box::new(Engine::new(
            World::new(personas, scenario, true)?,
            threads,
        ))),
    })
}

/// `--threshold` and `--threshold-preset`, as written (the preset's expanded) and
/// compiled against the names this run has (request tags, phases, listened broadcasts,
/// request classes); every bad one reported at once. With neither, the default
/// threshold (its text not among those written) unless `--no-default-threshold`.
fn thresholds(
    args: &ReplayArgs,
    mapping: &Mapping,
    phases: &Phases,
    stages: &[String],
) -> anyhow::Result<(Vec<String>, Vec<Threshold>, ThresholdNames)> {
    let listens: Vec<String> = mapping
        .socketio
        .as_ref()
        .map(|s| s.listen.iter().map(|l| l.event.clone()).collect())
        .unwrap_or_default();
    let classes = Names::classes_of(mapping);
    let names = Names {
        events: mapping.kinds().all(),
        tags: &mapping.tags,
        phases: &phases.names,
        listens: &listens,
        classes: &classes,
        stages,
        probes: mapping.probes(),
        outcomes: mapping.counts_outcomes(),
    };
    let recorded = shard::names(&names, mapping.kinds());
    let mut problems = Vec::new();
    let mut thresholds = match Threshold::parse_all(&args.judging.thresholds, &names) {
        Ok(t) => t,
        Err(p) => {
            problems.extend(p.0);
            Vec::new()
        }
    };
    let mut texts = args.judging.thresholds.clone();
    if let Some(name) = &args.judging.threshold_preset {
        let compiled =
            preset(name, mapping).and_then(|t| Ok((Threshold::parse_all(&t, &names)?, t)));
        match compiled {
            Ok((compiled, t)) => {
                thresholds.extend(compiled.into_iter().map(|c| c.from_preset(name)));
                texts.extend(t);
            }
            Err(p) => problems.extend(p.0),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems).into());
    }
    if texts.is_empty() && !args.judging.no_default_threshold {
        let default = Threshold::parse(DEFAULT_THRESHOLD, &names)?.as_default();
        return Ok((texts, vec![default], recorded));
    }
    Ok((texts, thresholds, recorded))
}

/// The folder of `--summary-export` or `--report`, made before any traffic so the end
/// cannot fail on it.
pub(crate) fn make_summary_folder(file: Option<&Path>, flag: &str) -> anyhow::Result<()> {
    if let Some(dir) = file.filter(|f| f.is_dir()) {
        return Err(Problem::new(
            format!("{flag} {} is a folder; nothing was sent", dir.display()),
            format!(
                "name a file for {flag}, e.g. {}",
                dir.join(match flag {
                    "--report" => "replay.html",
                    "--captured-ids" => "ids.json",
                    _ => "summary.json",
                })
                .display()
            ),
        )
        .into());
    }
    if let Some(dir) = file
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            Problem::new(
                format!("cannot create {}: {e}", dir.display()),
                format!("choose a {flag} path in a folder you may write"),
            )
        })?;
    }
    Ok(())
}

/// The line that says what is about to happen, and how long it will take.
fn announce(
    args: &ReplayArgs,
    source: &Source,
    to: &Destinations,
    pacing: &super::load::Pacing,
    mapping: &Mapping,
) {
    let window = source.window;
    let span = window.to_ms.saturating_sub(window.from_ms);
    let mut line = format!(
        "replaying {} → {} (",
        args.window.as_deref().unwrap_or("the whole timeline"),
        to.shown,
    );
    match pacing.factor() {
        Some(f) => {
            line.push_str(&format!("{f:.1}× compression"));
            if span < i64::MAX / 2 {
                let wall = wall_text(span as f64 / f);
                line.push_str(&format!(", about {wall} of wall time"));
            }
        }
        None => {
            line.push_str(&pacing.text);
            if let Some(s) = pacing.stages() {
                line.push_str(&format!(
                    ", {} of wall time",
                    wall_text(s.total_ms() as f64)
                ));
            }
        }
    }
    if let Some(m) = &args.max_duration {
        line.push_str(&format!(", at most {m}"));
    }
    line.push_str(&format!(
        "), mapping {}, at most {} in flight",
        mapping.name, args.max_in_flight
    ));
    eprintln!("{line}");
    // With --seeded, the warnings say what the database holds.
    if window.from_ms > 0 && args.from_log.is_none() && args.seeded.is_none() {
        eprintln!("{}", seeded::skipped_note(window.from_ms));
    }
}

/// `--profile NAME`: the named stages of the scenario file.
pub(crate) fn profile(
    args: &ReplayArgs,
    name: &str,
) -> anyhow::Result<simulate_core::units::load::Profile> {
    let mut world = args.world.clone();
    world.users = None;
    let (_, scenario) = load_world(&world)?;
    Ok(scenario.profile(name)?)
}

/// The table, the summary file, and the exit code.
fn finish(args: &ReplayArgs, report: &Report, shown_target: &str) -> anyhow::Result<i32> {
    out!("{}", table(&report.summary, shown_target));
    shard::late_note(&report.summary);
    if let Some(p) = &args.summary_export {
        super::export(p, "the summary", &report.summary)?;
        outln!("summary: {}", p.display());
    }
    if let Some(p) = &args.report {
        let html = crate::report::replay::render(&report.summary);
        super::write_whole(p, "the report", &html)?;
        outln!("report: {}", p.display());
    }
    if let (Some(p), Some(ids)) = (&args.captured_ids, &report.captured) {
        super::export(p, "the captured ids", ids)?;
        outln!("captured ids: {}", p.display());
    }
    Ok(if let Some(why) = &report.aborted {
        eprintln!("aborted: {} (--abort-on-fail)", why.text());
        exit::THRESHOLD_FAILED
    } else if report.interrupted {
        eprintln!("interrupted: the figures cover what was sent before Ctrl-C");
        exit::INTERRUPTED
    } else if report.failed_thresholds > 0 {
        eprintln!("{} threshold(s) failed", report.failed_thresholds);
        exit::THRESHOLD_FAILED
    } else {
        exit::OK
    })
}

/// The absolute time of t = 0 in a log, from its first line's `ts` and `t_ms`.
fn first_epoch(log: &Path) -> Option<i64> {
    use simulate_core::bounded::{LOG_LINE, Line, read_line};
    let f = std::fs::File::open(log).ok()?;
    let mut line = Vec::new();
    let read = if log.extension().is_some_and(|x| x == "zst") {
        read_line(
            &mut std::io::BufReader::new(zstd::Decoder::new(f).ok()?),
            &mut line,
            LOG_LINE,
        )
    } else {
        read_line(&mut std::io::BufReader::new(f), &mut line, LOG_LINE)
    };
    if read.ok()? != Line::Read {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&line).ok()?;
    let ts = v.get("ts")?.as_str()?;
    let t_ms = v.get("t_ms")?.as_i64()?;
    let day = simulate_core::units::parse_date(ts.get(..10)?).ok()?;
    let h: i64 = ts.get(11..13)?.parse().ok()?;
    let m: i64 = ts.get(14..16)?.parse().ok()?;
    let s: f64 = ts.get(17..23)?.parse().ok()?;
    Some(day + h * 3_600_000 + m * 60_000 + (s * 1000.0).round() as i64 - t_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_and_window_parse() {
        assert_eq!(parse_compress("24h:30m").unwrap(), 48.0);
        assert_eq!(parse_compress("48x").unwrap(), 48.0);
        assert_eq!(parse_compress("1h:1h").unwrap(), 1.0);
        assert!(!parse_compress("24h").unwrap_err().fix.is_empty());
        assert!(parse_compress("1h:0s").is_err());
        let w = parse_window("8h..10h", 0).unwrap();
        assert_eq!((w.from_ms, w.to_ms), (8 * 3_600_000, 10 * 3_600_000));
        let w = parse_window("30d..", 31 * DAY).unwrap();
        assert_eq!((w.from_ms, w.to_ms), (30 * DAY, 31 * DAY));
        assert!(
            parse_window("10h..8h", DAY)
                .unwrap_err()
                .message
                .contains("empty")
        );
    }
}
