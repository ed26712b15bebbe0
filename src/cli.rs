//! The command line (clap derive). Flags shared by run, seed, replay and verify live in
//! [`WorldArgs`] so they keep one name and one default everywhere.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "simulate",
    version,
    about = "Synthetic users that behave like real ones: one deterministic timeline for analysts, databases and load tests."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Simulate the users and write the behaviour log and business metrics.
    Run(RunArgs),
    /// Load the timeline into PostgreSQL (COPY) or, by default, an SQLite file.
    Seed(SeedArgs),
    /// Check a seeded database against the timeline recorded in its run_meta.
    Verify(VerifyArgs),
    /// Delete exactly the rows `seed --into` wrote into your tables (children first).
    Clean(CleanArgs),
    /// Send the timeline live to a target over HTTP, time-compressed, with latency figures.
    Replay(Box<ReplayArgs>),
    /// Find the highest rate a target holds: levels stepped up, then refined, until the
    /// thresholds break (the upper-limit preset unless given).
    // Replay's pacing flags are flattened in but set by capacity itself: left out of its
    // help, still parsed, so that capacity refuses them by name.
    #[command(
        mut_arg("compress", |a| a.hide(true)),
        mut_arg("rate", |a| a.hide(true)),
        mut_arg("stages", |a| a.hide(true)),
        mut_arg("profile", |a| a.hide(true)),
        mut_arg("max_duration", |a| a.hide(true))
    )]
    Capacity(Box<CapacityArgs>),
    /// The reference target: a small HTTP service that applies the default mapping's events.
    Serve(ServeArgs),
    /// Print the JSON Schema of the timeline these personas and this scenario produce.
    Schema(SchemaArgs),
    /// Show two runs' headline figures side by side, with their differences and noise.
    Compare(CompareArgs),
    /// Inspect, check and draw personas.
    Personas {
        #[command(subcommand)]
        command: PersonasCommand,
    },
    /// Work with replay summaries: `report merge` adds the shards of one run.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

/// `simulate report …`.
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Add the summaries of a run's shards (`replay --shard I/N`) into one summary,
    /// judge the thresholds over the whole (exit 0, or 99 when one fails)
    Merge(MergeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// The shards' summaries (`replay --summary-export`), every shard of the run once
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the merged summary as JSON (schema/replay-summary.v1.json)
    #[arg(long, value_name = "FILE")]
    pub summary_export: Option<PathBuf>,
    /// Write the HTML report of the merged summary
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub judging: Judging,
    /// Merge even when a shard was interrupted (Ctrl-C) or aborted; the merged summary is
    /// marked interrupted [default: refuse, exit 2]
    #[arg(long)]
    pub allow_partial: bool,
}

/// How a run is judged: `replay`'s and `capacity`'s thresholds, and `report merge`'s over
/// the shards' whole.
#[derive(Args, Debug, Clone, Default)]
pub struct Judging {
    /// Pass/fail rule, repeatable: p95{kind:read}<1200ms, errors<1%, service_p99<2s,
    /// rps>100, on_time{within:5ms}>=99%; exit 99 when one fails [default: errors<5%;
    /// report merge: the thresholds the shards recorded]
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// A named set of thresholds: upper-limit (errors ≤ 1 %, API p95 ≤ 2 s, event p95 ≤ 500 ms,
    /// by each request's `class` in the mapping)
    #[arg(long, value_name = "NAME")]
    pub threshold_preset: Option<String>,
    /// Apply no threshold when none is given (by default errors<5%, so a run whose requests
    /// failed does not exit 0)
    #[arg(long)]
    pub no_default_threshold: bool,
}

/// What defines the simulated world: the same values give the same timeline.
#[derive(Args, Debug, Clone, Default)]
pub struct WorldArgs {
    /// Users who exist at t = 0 (ids 0..N-1) [default: the scenario's, 10000]; `replay`
    /// with --stages or --profile also takes `auto`: the smallest world the stages fit in
    #[arg(long, value_name = "N|auto")]
    pub users: Option<Users>,
    /// Simulated days; the same as --span Nd [default: the scenario's, 7]
    #[arg(long)]
    pub days: Option<u32>,
    /// Simulated length of the world: 2h, 36h, 3d, 1d12h (1m to 3650d); a world shorter
    /// than a day has its launch users arrive over the span [default: the scenario's, 7d]
    #[arg(long, value_name = "DURATION")]
    pub span: Option<String>,
    /// Seed of every random stream [default: the scenario's, 42]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder of persona .toml files, replacing the shipped personas
    #[arg(long, value_name = "DIR")]
    pub personas: Option<PathBuf>,
    /// Scenario .toml file, replacing the shipped default scenario
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// t = 0 of the timeline, UTC: a date (YYYY-MM-DD, midnight) or a date and time
    /// ending in Z (2026-01-05T18:00Z) [default: the scenario's, 2026-01-05]
    #[arg(long, value_name = "DATE|DATETIME")]
    pub start: Option<String>,
}

/// `--users`: a count, or `auto` (replay sizes the world for its stages).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Users {
    Count(u32),
    Auto,
}

impl Users {
    pub fn count(self) -> Option<u32> {
        match self {
            Users::Count(n) => Some(n),
            Users::Auto => None,
        }
    }
}

impl std::str::FromStr for Users {
    type Err = String;
    fn from_str(s: &str) -> Result<Users, String> {
        match s.trim() {
            "auto" => Ok(Users::Auto),
            n => n
                .parse()
                .map(Users::Count)
                .map_err(|_| format!("`{n}` is not a number of users (or `auto`)")),
        }
    }
}

impl std::fmt::Display for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Users::Count(n) => write!(f, "{n}"),
            Users::Auto => f.write_str("auto"),
        }
    }
}

/// `simulate schema`: only what decides the timeline's shape.
#[derive(Args, Debug, Clone)]
pub struct SchemaArgs {
    /// Folder of persona .toml files, replacing the shipped personas
    #[arg(long, value_name = "DIR")]
    pub personas: Option<PathBuf>,
    /// Scenario .toml file, replacing the shipped default scenario
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Write the schema to this file (whole or not at all) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Preset {
    /// 1,000 users for two days, paced to about 12 s, with analytics every two simulated hours.
    Quick,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub world: WorldArgs,
    /// Worker threads; the output is identical for any value [default: CPU count]
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output folder [default: output/<run-id>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Event log format: jsonl, jsonl.zst, or none (engine only; the checksum is still
    /// computed) [default: jsonl; with --replicates, none: name a format to keep each
    /// replicate's log]
    #[arg(long)]
    pub format: Option<String>,
    /// Stream the event lines to standard output instead of a file (metrics.json and
    /// run.json still go to the output folder; the summary goes to stderr)
    #[arg(long)]
    pub stdout: bool,
    /// A named configuration
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Print an analytics line every this much simulated time (e.g. 10m, 1h, 1d; 0 = never)
    #[arg(long, value_name = "DURATION")]
    pub report_every: Option<String>,
    /// Width of each bucket of metrics.json's `series` (e.g. 10m, 1h, 1d; 1s or more, at
    /// most 100,000 buckets) [default: 10m up to a 6h span, 1h up to 3d, 1d beyond]
    #[arg(long, value_name = "DURATION")]
    pub resolution: Option<String>,
    /// Overwrite files in an existing --out folder, and run even when the disk looks too small
    #[arg(long)]
    pub force: bool,
    /// No progress bar or periodic report
    #[arg(long, short)]
    pub quiet: bool,
    /// Run the world N times, with seeds seed, seed+1, … seed+N−1, in parallel; each
    /// replicate's metrics.json and run.json go in replicates/<seed>/, and summary.json
    /// holds every figure's mean and 95 % interval
    #[arg(long, value_name = "N", conflicts_with_all = ["stdout", "preset", "report_every", "metrics_addr"])]
    pub replicates: Option<u32>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// `--metrics-addr`: Prometheus metrics while a run or replay goes (docs/METRICS.md).
#[derive(Args, Debug, Clone, Default)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://HOST:PORT/metrics while it runs (127.0.0.1:9464;
    /// 0.0.0.0:9464 to be scraped from other hosts, as in a pod)
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// How long /metrics stays up after the end, so a scraper reads the final counts: at
    /// least the scrape interval [default: 5s]
    #[arg(long, value_name = "DURATION", requires = "metrics_addr")]
    pub metrics_linger: Option<String>,
}

/// `simulate compare A B`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// The first run's folder (or its metrics.json or summary.json)
    pub a: PathBuf,
    /// The second run's folder, compared against the first
    pub b: PathBuf,
    /// Exit 99 when a rule holds: `<figure> decreased|increased [by more than X%]`,
    /// comma-separated or repeated, figures named as printed (D7, revenue, hunter D1)
    #[arg(long, value_name = "RULES")]
    pub fail_if: Vec<String>,
    /// Print the comparison as JSON (simulate.compare.v1) instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    #[command(flatten)]
    pub world: WorldArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// Drop and re-create what simulate owns (the schema, or the SQLite file)
    #[arg(long)]
    pub reset: bool,
    /// PostgreSQL: create the tables UNLOGGED (like pgbench's --unlogged-tables): no WAL,
    /// faster, but a server crash empties them and replicas do not get them
    #[arg(long)]
    pub unlogged: bool,
    /// Worker threads for the engine [default: CPU count]
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar or step timings
    #[arg(long, short)]
    pub quiet: bool,
    /// Seed your own tables as this mapping file says (seed.toml, docs/SEEDING.md)
    /// instead of simulate's schema; needs --database-url (or DATABASE_URL)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["schema", "reset", "unlogged"])]
    pub into: Option<PathBuf>,
    /// With --into: show what goes where, row counts and checked sample rows; write nothing
    #[arg(long, requires = "into")]
    pub plan: bool,
    /// With --plan: print the plan as JSON (schema/seed-plan.v1.json)
    #[arg(long, requires = "plan")]
    pub json: bool,
    /// With --into: add to tables that already hold rows (the mapping's ids must avoid
    /// theirs: an offset in the id template, or leave the id column to its sequence)
    #[arg(long, requires = "into", conflicts_with = "truncate")]
    pub append: bool,
    /// With --into: empty the mapped tables first (only those; named before it happens)
    #[arg(long, requires = "into")]
    pub truncate: bool,
    /// With --into (PostgreSQL): drop the mapped tables' plain indexes before the rows and
    /// build them again after, in the load's transaction (named before it happens; never
    /// a constraint's or a unique index). Faster with many rows; readers of those tables
    /// wait for the load's end
    #[arg(long, requires = "into")]
    pub rebuild_indexes: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CleanArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The mapping file the seed used (seed.toml)
    #[arg(long, value_name = "FILE")]
    pub into: PathBuf,
    /// The personas folder the seed used, when the mapping names kinds its world.toml
    /// declares [default: the shipped personas]
    #[arg(long, value_name = "DIR")]
    pub personas: Option<PathBuf>,
    /// Also delete rows your app wrote since the seed that reference seeded rows
    /// (without it, clean refuses and lists them)
    #[arg(long)]
    pub with_app_rows: bool,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// World flags, if given, must agree with the database's run_meta
    #[command(flatten)]
    pub world: WorldArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// Also write the report (each table's rows and digests, each named check) as JSON to
    /// this file, for CI and dashboards
    #[arg(long, value_name = "FILE")]
    pub summary_export: Option<PathBuf>,
    /// No progress display
    #[arg(short, long)]
    pub quiet: bool,
    /// Check your own tables seeded with this mapping (seed.toml): row counts, digests
    /// of the mapped columns, the mapping's invariants
    #[arg(long, value_name = "FILE", conflicts_with = "schema")]
    pub into: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub world: WorldArgs,
    /// Base URL of the target, e.g. http://127.0.0.1:3000 (replaces the mapping's base_url)
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// gRPC server for the mapping's gRPC requests, e.g. http://127.0.0.1:50051 (replaces
    /// the mapping's [grpc] target)
    #[arg(long, value_name = "URL")]
    pub grpc_target: Option<String>,
    /// The database the target was seeded from (a SQLite file or a postgres:// URL): warns
    /// when the window replays days it already holds, or when it holds another world
    #[arg(long, value_name = "FILE|URL")]
    pub seeded: Option<String>,
    /// PostgreSQL schema of --seeded
    #[arg(
        long,
        value_name = "NAME",
        default_value = "simulate",
        requires = "seeded"
    )]
    pub seeded_schema: String,
    /// Socket.IO server for the mapping's [socketio] connections, e.g.
    /// http://127.0.0.1:3001 (replaces the mapping's [socketio] url; default: --target)
    #[arg(long, value_name = "URL")]
    pub socketio_target: Option<String>,
    /// Plain WebSocket server for the mapping's [websocket] connections, e.g.
    /// ws://127.0.0.1:3002/ws (replaces the mapping's [websocket] url; default: --target)
    #[arg(long, value_name = "URL")]
    pub websocket_target: Option<String>,
    /// Send only the mapping's [[teardown]] requests (to remove what an earlier run's
    /// set-up created), then stop: no replay
    #[arg(long)]
    pub teardown_only: bool,
    /// The ids the [[teardown]]'s for_each repeats over (entity.gift.id): written to this
    /// file at the end of a run, read from it with --teardown-only
    #[arg(long, value_name = "FILE")]
    pub captured_ids: Option<PathBuf>,
    /// PostgreSQL URL the mapping's [[setup]] and [[teardown]] `sql` runs against [env:
    /// DATABASE_URL]; its password is never printed
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Mapping file: which request each event kind becomes [default: the shipped
    /// mapping, POST {target}/v1/events/{event}]
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// The old name of --mapping: still read, with a note.
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "mapping")]
    pub targets: Option<PathBuf>,
    /// Replay events from this JSONL log (written by `simulate run`) instead of the engine
    #[arg(long, value_name = "FILE")]
    pub from_log: Option<PathBuf>,
    /// Part of the timeline to send, as offsets from its start: 8h..10h, 30d..31d, ..2h
    /// [default: the whole --days]
    #[arg(long, value_name = "FROM..TO")]
    pub window: Option<String>,
    /// Simulated time per wall time: 24h:30m plays a day in half an hour (48×); also 48x
    /// [default: 1x]. One pacing mode per run: --compress, --rate, --stages or --profile
    #[arg(long, value_name = "SIM:WALL")]
    pub compress: Option<String>,
    /// Mapped requests per second (1000/s), one event kind's (points.earned=1000/s) or one
    /// class's requests (class:api=500/s), the others following at the factor it sets; the
    /// run ends at the window's end
    #[arg(long, value_name = "[KIND=|class:CLASS=]RATE")]
    pub rate: Option<String>,
    /// Stages that ramp or hold, like k6's ramping-arrival-rate: '2m:0..500/s, 5m:500/s,
    /// 2m:500..0/s' (KIND=… or class:CLASS=… leading them paces by one kind or class, as
    /// --rate); the run ends with the last stage
    #[arg(long, value_name = "STAGES")]
    pub stages: Option<String>,
    /// Named stages from the scenario file's [profiles.NAME] (smoke, baseline, stress)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Cap on the run's wall time, whatever the pacing mode (e.g. 10m)
    #[arg(long, value_name = "DURATION")]
    pub max_duration: Option<String>,
    /// Stop at the first threshold that has failed for good (like k6's abortOnFail), or
    /// when the target is down; the summary is still written, the exit code is 99
    #[arg(long)]
    pub abort_on_fail: bool,
    /// Requests out at once; an event due while all slots are busy waits and counts as late
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub max_in_flight: usize,
    /// HTTP requests on the wire at once [default: --max-in-flight]; with HTTP/1.1 the most
    /// connections opened. A request that finds them all busy waits for one and counts as late
    #[arg(long, value_name = "N")]
    pub connections: Option<usize>,
    /// Send the requests of shard I of N only (1-based): each user's requests on one
    /// shard, N shards together sending what one process would; `report merge` adds their
    /// summaries (docs/REPLAY.md "Shards")
    #[arg(
        long,
        value_name = "I/N",
        env = "SIMULATE_SHARD",
        conflicts_with = "shard_count"
    )]
    pub shard: Option<String>,
    /// Shards in all, this one's index from JOB_COMPLETION_INDEX (0-based, as a
    /// Kubernetes Indexed Job sets it): shard index+1 of N
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u32>,
    /// Start the run's clock at this wall instant (RFC 3339, 2026-12-06T09:00:00Z): every
    /// shard's window starts together; a shard that starts late sends what is already due
    /// at once, counted late
    #[arg(long, value_name = "RFC3339")]
    pub start_at: Option<String>,
    #[command(flatten)]
    pub judging: Judging,
    /// Write the summary (figures, mergeable histograms, thresholds) as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub summary_export: Option<PathBuf>,
    /// Write a single-file HTML report (rates, latency over time, failures, thresholds)
    /// to this file; it opens offline
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also trust this CA certificate (PEM) for https:// targets, HTTP, gRPC and Socket.IO: a staging
    /// server with a private or self-signed certificate
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Speak HTTP/2 from the first byte to http:// targets (https negotiates it)
    #[arg(long)]
    pub http2: bool,
    /// After Ctrl-C, how long in-flight requests may still finish
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub drain: String,
    /// Worker threads for the engine [default: 1; the engine runs far ahead of wall time]
    #[arg(long)]
    pub threads: Option<usize>,
    /// Threads for the network I/O [default: CPU count − 1, at least 1; the pacer has its own]
    #[arg(long, value_name = "N")]
    pub io_threads: Option<usize>,
    /// Size the world so that N sessions are open at once at the window's busiest instant
    /// (replaces --users; docs/REPLAY.md "Concurrency")
    #[arg(long, value_name = "N", conflicts_with_all = ["users", "from_log"])]
    pub concurrency: Option<u64>,
    /// No live view
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Args, Debug, Clone)]
pub struct CapacityArgs {
    /// The replay's flags: world, target, mapping, thresholds, --summary-export (the
    /// capacity report) and the rest; the pacing flags do not apply
    #[command(flatten)]
    pub replay: ReplayArgs,
    /// The first level, in mapped requests per second (100/s), or led as --rate is by what
    /// counts: one event kind's (points.earned=100/s) or one class's requests (class:api=50/s)
    #[arg(long, value_name = "[KIND=|class:CLASS=]RATE", default_value = "100/s")]
    pub from: String,
    /// How each level grows until one fails (2x doubles); then the gap is halved
    #[arg(long, value_name = "FACTOR", default_value = "2x")]
    pub step: String,
    /// The highest level ever tried (bare, or led as --from is)
    #[arg(long, value_name = "RATE")]
    pub max_rate: Option<String>,
    /// How long each level is measured, after its warm-up
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub step_duration: String,
    /// The start of each level left out of its figures [default: a fifth of
    /// --step-duration, at least 1s]
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<String>,
    /// Refine until the lowest failed level is within this of the highest held
    #[arg(long, value_name = "PERCENT", default_value = "5%")]
    pub precision: String,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:3000", value_name = "ADDR")]
    pub listen: String,
    /// Also serve seed 001's gRPC EventService/OnMessage on this address (same ledger)
    #[arg(long, value_name = "ADDR")]
    pub grpc_listen: Option<String>,
    /// Challenges in the catalogue the service lists (challenge-0 …)
    #[arg(long, default_value_t = 10)]
    pub challenges: u16,
    /// List the challenges and goals of this scenario's catalog (the team's `[catalog]`)
    /// and refuse claims of goals it does not have, instead of --challenges
    #[arg(long, value_name = "FILE", conflicts_with = "challenges")]
    pub scenario: Option<PathBuf>,
    /// The personas folder of that world (its world.toml), if not the shipped personas
    #[arg(long, value_name = "DIR", requires = "scenario")]
    pub personas: Option<PathBuf>,
    /// Start from a seeded database's state (--database-url or --sqlite); without either,
    /// the service starts empty
    #[command(flatten)]
    pub db: DbArgs,
}

/// Which database `seed` writes and `verify` reads.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// PostgreSQL URL [env: DATABASE_URL]; without either, the SQLite file (see --sqlite) is used
    #[arg(long, value_name = "URL", conflicts_with = "sqlite")]
    pub database_url: Option<String>,
    /// PostgreSQL schema simulate owns (its tables and migrations live there)
    #[arg(long, default_value = "simulate")]
    pub schema: String,
    /// SQLite file, used when no database URL is given; naming it wins over DATABASE_URL
    /// [default: output/seed.sqlite]
    #[arg(long, value_name = "FILE")]
    pub sqlite: Option<std::path::PathBuf>,
}

impl DbArgs {
    /// The PostgreSQL URL, if one was given and is not blank: --database-url, else
    /// DATABASE_URL unless --sqlite names a file. Read by hand rather than with clap's
    /// `env`, so that a DATABASE_URL exported for another tool does not override an
    /// explicit --sqlite (clap would count it as given and refuse the pair).
    pub fn url(&self) -> Option<String> {
        let env = || {
            self.sqlite
                .is_none()
                .then(|| std::env::var("DATABASE_URL").ok())
                .flatten()
        };
        self.database_url
            .clone()
            .or_else(env)
            .filter(|u| !u.trim().is_empty())
    }

    pub(crate) fn sqlite_path(&self) -> std::path::PathBuf {
        self.sqlite
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("output/seed.sqlite"))
    }
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Subcommand, Debug)]
pub enum PersonasCommand {
    /// List the personas with their shares and sizes.
    List {
        #[arg(long, value_name = "DIR")]
        personas: Option<PathBuf>,
    },
    /// Show one persona in full, with the notes on where its numbers come from.
    Show {
        name: String,
        #[arg(long, value_name = "DIR")]
        personas: Option<PathBuf>,
    },
    /// Check a folder of persona files; exit 2 with every problem when any is off.
    Validate { dir: PathBuf },
    /// Draw a persona's state machine.
    Graph {
        name: String,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: GraphFormat,
        #[arg(long, value_name = "DIR")]
        personas: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The flags a subcommand's help lists, as their lines begin (`--rate <RATE>`).
    fn listed(cmd: &mut clap::Command, sub: &str, flag: &str) -> bool {
        let help = cmd
            .find_subcommand_mut(sub)
            .expect("a subcommand")
            .render_long_help()
            .to_string();
        help.lines()
            .any(|l| l.trim_start().starts_with(&format!("{flag} <")))
    }

    #[test]
    fn capacity_help_leaves_out_the_pacing_it_sets_itself_and_still_parses_it_to_refuse_it() {
        let mut cmd = Cli::command();
        for flag in [
            "--compress",
            "--rate",
            "--stages",
            "--profile",
            "--max-duration",
        ] {
            assert!(listed(&mut cmd, "replay", flag), "replay lists {flag}");
            assert!(!listed(&mut cmd, "capacity", flag), "capacity hides {flag}");
        }
        for flag in ["--from", "--max-rate", "--target", "--mapping"] {
            assert!(listed(&mut cmd, "capacity", flag), "capacity lists {flag}");
        }
        // Still parsed: `simulate capacity` refuses them by name, with what to do.
        assert!(Cli::try_parse_from(["simulate", "capacity", "--rate", "5/s"]).is_ok());
    }
}
