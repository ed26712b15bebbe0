//! `simulate seed` and `simulate verify` against a real PostgreSQL (throwaway databases)
//! and the embedded SQLite file.

use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};

use crate::common::bin;

/// The server CI starts (`.ci/run`); override with SIMULATE_TEST_PG.
fn server() -> String {
    std::env::var("SIMULATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs statements on the server's `postgres` database. Set-up (`strict`) fails the test
/// on any error; clean-up carries on past them.
fn on_server(stmts: &[String], strict: bool) {
    rt().block_on(async {
        let c = PgConnection::connect(&format!("{}/postgres", server())).await;
        let mut c = match c {
            Ok(c) => c,
            Err(e) if strict => {
                panic!("PostgreSQL on 127.0.0.1:5432 (bash .ci/run starts it): {e}")
            }
            Err(_) => return,
        };
        for s in stmts {
            let r = c.execute(AssertSqlSafe(s.as_str())).await;
            if strict {
                r.unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    });
}

/// A database of its own for one test, dropped at the end.
pub(crate) struct TestDb {
    name: String,
}

impl TestDb {
    pub(crate) fn new() -> TestDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "simulate_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        on_server(
            &[
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("CREATE DATABASE {name}"),
            ],
            true,
        );
        TestDb { name }
    }

    pub(crate) fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    /// Runs SQL statements against the database.
    pub(crate) fn sql(&self, stmts: &[&str]) {
        rt().block_on(async {
            let mut c = PgConnection::connect(&self.url()).await.unwrap();
            for s in stmts {
                sqlx::raw_sql(AssertSqlSafe(s.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        });
    }

    pub(crate) fn count(&self, sql: &str) -> i64 {
        rt().block_on(async {
            let mut c = PgConnection::connect(&self.url()).await.unwrap();
            sqlx::query(AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut c)
                .await
                .unwrap()
                .get::<i64, _>(0)
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        on_server(
            &[format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )],
            false,
        );
    }
}

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("runs")
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `table <name> ok (<rows> rows, digest <hex>)` lines of a verify report.
fn digests(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| l.trim_start().starts_with("table "))
        .map(|l| l.trim().to_string())
        .collect()
}

const WORLD: [&str; 6] = ["--users", "300", "--days", "3", "--seed", "11"];

#[test]
fn postgres_and_sqlite_hold_the_same_data_and_verify() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed.sqlite");
    let file = file.to_str().unwrap();
    let o = run(&[&["seed", "-q", "--database-url", &db.url()][..], &WORLD].concat());
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[&["seed", "-q", "--sqlite", file][..], &WORLD].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("sqlite3"),
        "tells how to query it: {}",
        text(&o)
    );

    let pg = run(&["verify", "--database-url", &db.url()]);
    let lite = run(&["verify", "--sqlite", file]);
    assert_eq!(pg.status.code(), Some(0), "{}", text(&pg));
    assert_eq!(lite.status.code(), Some(0), "{}", text(&lite));
    let (a, b) = (digests(&text(&pg)), digests(&text(&lite)));
    assert_eq!(a.len(), 12);
    assert_eq!(a, b, "same config, same digests in both backends");
    // The behaviour log is exactly the event stream `simulate run` writes.
    let out = dir.path().join("run");
    let o = run(&[
        &[
            "run",
            "-q",
            "--format",
            "none",
            "--out",
            out.to_str().unwrap(),
        ][..],
        &WORLD,
    ]
    .concat());
    assert!(o.status.success());
    let events: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM simulate.behavior_logs"),
        events["counts"]["events"].as_i64().unwrap()
    );
    assert_eq!(
        db.count("SELECT count(*) FROM simulate.run_meta WHERE complete"),
        1
    );
    // Keys arrived after the data.
    assert_eq!(db.count("SELECT count(*) FROM pg_constraint WHERE conrelid = 'simulate.users'::regclass AND contype = 'p'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM pg_constraint WHERE conrelid = 'simulate.behavior_logs'::regclass AND contype = 'p'"), 1);
    // Every table was filled by COPY … FREEZE: its pages are all-visible (as the seed's
    // ANALYZE recorded), so neither the index builds nor the first VACUUM write them again.
    assert_eq!(
        db.count("SELECT count(*) FROM pg_class WHERE relnamespace = 'simulate'::regnamespace AND relkind = 'r' AND relpages > 0 AND relallvisible < relpages AND relname NOT IN ('run_meta', '_sqlx_migrations')"),
        0,
        "a table not all-visible"
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'simulate.behavior_logs'::regclass"
        ),
        3,
        "one partition per COPY stream"
    );
    // Never another schema: public stays empty.
    assert_eq!(
        db.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );

    // --unlogged: the same data, in tables PostgreSQL keeps no WAL for.
    let o = run(&[
        &[
            "seed",
            "-q",
            "--unlogged",
            "--schema",
            "fast",
            "--database-url",
            &db.url(),
        ][..],
        &WORLD,
    ]
    .concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("UNLOGGED"), "{}", text(&o));
    let fast = run(&["verify", "--schema", "fast", "--database-url", &db.url()]);
    assert_eq!(fast.status.code(), Some(0), "{}", text(&fast));
    assert_eq!(digests(&text(&fast)), a);
    let tables = "SELECT count(*) FROM pg_class WHERE relnamespace = 'fast'::regnamespace AND relkind = 'r' AND relname <> '_sqlx_migrations'";
    assert!(db.count(tables) >= 13);
    assert_eq!(
        db.count(&format!("{tables} AND relpersistence = 'u'")),
        db.count(tables),
        "every table that holds rows but the migrations' bookkeeping"
    );
    let o = run(&[&["seed", "-q", "--unlogged", "--sqlite", file][..], &WORLD].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn verify_catches_each_corruption() {
    let db = TestDb::new();
    let o = run(&[&["seed", "-q", "--database-url", &db.url()][..], &WORLD].concat());
    assert!(o.status.success(), "{}", text(&o));
    let report_file = tempfile::NamedTempFile::new().unwrap();
    let report_path = report_file.path().to_str().unwrap().to_string();
    let verify = || {
        run(&[
            "verify",
            "--database-url",
            &db.url(),
            "--summary-export",
            &report_path,
        ])
    };
    let exported = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap()
    };
    assert_eq!(verify().status.code(), Some(0));
    assert_eq!(exported()["ok"], true);
    assert_eq!(exported()["tables"].as_array().unwrap().len(), 12);
    crate::common::conforms::<simulate_db::verify::VerifyReport>(
        &exported(),
        "verify-report.v1.json",
    );

    let steps: [(&[&str], &str); 5] = [
        (
            &[
                "UPDATE simulate.behavior_logs SET props = jsonb_set(props, '{amount}', '99999') \
               WHERE (user_id, seq) = (SELECT user_id, seq FROM simulate.behavior_logs WHERE event = 'points.earned' ORDER BY 1, 2 LIMIT 1)",
            ],
            "table behavior_logs",
        ),
        (
            &[
                "DELETE FROM simulate.points_ledger WHERE (user_id, seq) = (SELECT user_id, seq FROM simulate.points_ledger ORDER BY 1, 2 LIMIT 1)",
            ],
            "points balance = sum of the ledger",
        ),
        (
            &[
                "ALTER TABLE simulate.gift_claims DROP CONSTRAINT gift_claims_pkey CASCADE",
                "INSERT INTO simulate.gift_claims SELECT * FROM simulate.gift_claims ORDER BY gift_id, user_id LIMIT 1",
            ],
            "at most one claim per (gift, user)",
        ),
        (
            &[
                "INSERT INTO simulate.gift_claims (gift_id, user_id, claimed_at, share) \
               SELECT g.id, u.id, g.created_at, g.shares + u.id FROM (SELECT * FROM simulate.gifts ORDER BY id LIMIT 1) g \
               CROSS JOIN (SELECT id FROM simulate.users ORDER BY id LIMIT 40) u",
            ],
            "no gift over-claimed",
        ),
        (
            &[
                "UPDATE simulate.user_goal_progress SET claimed_at = completed_at \
               WHERE (user_id, goal_id) = (SELECT user_id, goal_id FROM simulate.user_goal_progress WHERE status = 'completed' ORDER BY 1, 2 LIMIT 1)",
            ],
            "no claim without completion",
        ),
    ];
    for (sql, failing) in steps {
        db.sql(sql);
        let o = verify();
        let report = text(&o);
        assert_eq!(o.status.code(), Some(3), "{report}");
        let line = report
            .lines()
            .find(|l| l.trim_start().starts_with(failing))
            .unwrap_or_else(|| panic!("no line for {failing}: {report}"));
        assert!(
            line.contains("MISMATCH") || line.contains("FAILED"),
            "{failing} not caught: {report}"
        );
        // The JSON report says the same.
        let json = exported();
        assert_eq!(json["ok"], false);
        let entries = json["tables"]
            .as_array()
            .unwrap()
            .iter()
            .chain(json["checks"].as_array().unwrap());
        let entry = entries
            .into_iter()
            .find(|e| {
                e["check"].as_str() == Some(failing)
                    || e["table"].as_str().map(|t| format!("table {t}")).as_deref() == Some(failing)
            })
            .unwrap_or_else(|| panic!("{failing} missing from {json}"));
        assert_eq!(entry["ok"], false, "{failing}: {entry}");
    }
    let row = |event: &str| {
        format!(
            "(user_id, seq) = (SELECT user_id, seq FROM simulate.behavior_logs WHERE event = '{event}' ORDER BY 1, 2 LIMIT 1)"
        )
    };
    let corruptions = props_corruptions(
        "simulate.behavior_logs",
        row,
        "props || '{\"bogus\": 1}'",
        "props - 'goal_id'",
    );
    each_props_corruption_is_counted(&corruptions, |sql| db.sql(&[sql]), verify);
}

/// Four props corruptions, each making one more behaviour row invalid: an unknown key, a
/// missing required key, an unknown event kind, props that are not an object. `row`
/// picks the first row of an event kind; the two expressions add a key and drop
/// goal_id in the backend's JSON dialect.
fn props_corruptions(
    table: &str,
    row: impl Fn(&str) -> String,
    add_key: &str,
    drop_goal_id: &str,
) -> [String; 4] {
    [
        format!(
            "UPDATE {table} SET props = {add_key} WHERE {}",
            row("user.logged_in")
        ),
        format!(
            "UPDATE {table} SET props = {drop_goal_id} WHERE {}",
            row("goal.claimed")
        ),
        format!(
            "UPDATE {table} SET event = 'made.up' WHERE {}",
            row("stat.updated")
        ),
        format!(
            "UPDATE {table} SET props = '[1]' WHERE {}",
            row("session.started")
        ),
    ]
}

/// Applies the corruptions one by one; after each, verify must fail and count one more
/// invalid props row.
fn each_props_corruption_is_counted(
    corruptions: &[String],
    mut apply: impl FnMut(&str),
    verify: impl Fn() -> Output,
) {
    for (n, sql) in corruptions.iter().enumerate() {
        apply(sql);
        let o = verify();
        let report = text(&o);
        assert_eq!(o.status.code(), Some(3), "{report}");
        let line = report
            .lines()
            .find(|l| l.trim_start().starts_with("every props valid"))
            .unwrap_or_else(|| panic!("no props line: {report}"));
        assert!(
            line.contains(&format!("FAILED: {} ", n + 1)),
            "{sql}: {line}"
        );
    }
}

/// A login role of its own for one test on one database, dropped at the end with the
/// rights it was granted there.
struct Role {
    name: String,
    database: String,
}

impl Role {
    fn new(database: &str) -> Role {
        let name = format!("simulate_weak_{}", std::process::id());
        on_server(
            &[
                format!("DROP ROLE IF EXISTS {name}"),
                format!("CREATE ROLE {name} LOGIN PASSWORD 'weakpw'"),
            ],
            true,
        );
        Role {
            name,
            database: database.to_string(),
        }
    }

    fn url(&self) -> String {
        let mut u = url::Url::parse(&format!("{}/{}", server(), self.database)).unwrap();
        u.set_username(&self.name).unwrap();
        u.set_password(Some("weakpw")).unwrap();
        u.to_string()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        on_server(
            &[
                format!(
                    "REVOKE ALL ON DATABASE {} FROM {}",
                    self.database, self.name
                ),
                format!("DROP ROLE IF EXISTS {}", self.name),
            ],
            false,
        );
    }
}

#[test]
fn refusals_change_nothing_and_secrets_stay_hidden() {
    let db = TestDb::new();
    let o = run(&[&["seed", "-q", "--database-url", &db.url()][..], &WORLD].concat());
    assert!(o.status.success(), "{}", text(&o));
    let users = db.count("SELECT count(*) FROM simulate.users");
    refusals_of_flags_and_servers(&db, users);
    reset_replaces_only_what_simulate_owns(&db, users);
    a_role_without_rights_is_told_why(&db);
    sqlite_files_of_others_are_kept();
}

/// Data in the way, flags that disagree, a server that is not there, a bad schema name:
/// refused with exit 2, nothing changed, the password masked.
fn refusals_of_flags_and_servers(db: &TestDb, users: i64) {
    let o = run(&[
        "seed",
        "-q",
        "--users",
        "50",
        "--days",
        "1",
        "--database-url",
        &db.url(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--reset") && text(&o).contains("nothing was changed"),
        "{}",
        text(&o)
    );
    assert_eq!(db.count("SELECT count(*) FROM simulate.users"), users);

    let o = run(&["verify", "--users", "999", "--database-url", &db.url()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--users 999"), "{}", text(&o));

    // An unreachable server: a clear error, quickly, with the password masked.
    let started = std::time::Instant::now();
    let o = run(&[
        "seed",
        "-q",
        "--database-url",
        "postgres://alice:hunter2@127.0.0.1:1/nowhere",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        !text(&o).contains("hunter2") && text(&o).contains("***"),
        "{}",
        text(&o)
    );
    assert!(started.elapsed().as_secs() < 30);

    let o = run(&[
        "seed",
        "-q",
        "--database-url",
        &db.url(),
        "--schema",
        "bad-name",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// `--reset` replaces what simulate owns, and nothing else.
fn reset_replaces_only_what_simulate_owns(db: &TestDb, users: i64) {
    db.sql(&[
        "CREATE TABLE public.keep_me (x int)",
        "INSERT INTO public.keep_me VALUES (1)",
    ]);
    let small_reset = |more: &[&str]| {
        let url = db.url();
        let args = [
            "seed",
            "-q",
            "--users",
            "50",
            "--days",
            "1",
            "--reset",
            "--database-url",
            &url,
        ];
        run(&[&args[..], more].concat())
    };
    let o = small_reset(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(db.count("SELECT count(*) FROM public.keep_me"), 1);
    assert!(db.count("SELECT count(*) FROM simulate.users") < users);

    // Not even --reset drops a schema simulate did not make, full or empty.
    db.sql(&["CREATE SCHEMA theirs"]);
    let o = small_reset(&["--schema", "theirs"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not made by simulate"), "{}", text(&o));
    let o = small_reset(&["--schema", "public"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("public is refused"), "{}", text(&o));
    assert_eq!(db.count("SELECT count(*) FROM public.keep_me"), 1);
    assert_eq!(
        db.count("SELECT count(*) FROM pg_namespace WHERE nspname = 'theirs'"),
        1
    );
}

/// A user without the rights is told before anything is loaded, with the fix; so is a
/// role allowed fewer connections than the load opens, and a database that is not there.
fn a_role_without_rights_is_told_why(db: &TestDb) {
    // A user without the rights: told before anything is loaded, with the fix.
    let weak = Role::new(&db.name);
    let weak_url = weak.url();
    let seed_mine = || {
        run(&[
            "seed",
            "-q",
            "--schema",
            "mine",
            "--database-url",
            &weak_url,
        ])
    };
    let o = seed_mine();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("permission denied") && text(&o).contains("GRANT CREATE"),
        "{}",
        text(&o)
    );
    db.sql(&[&format!(
        "GRANT CREATE ON DATABASE {} TO {}",
        db.name, weak.name
    )]);
    let o = run(&["seed", "-q", "--reset", "--database-url", &weak_url]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("belongs to role") && !text(&o).contains("weakpw"),
        "{}",
        text(&o)
    );
    assert_eq!(
        db.count("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'simulate%'"),
        1,
        "no staging schema was left"
    );
    // Fewer connections allowed than the load's COPY streams: the reason and the fix.
    db.sql(&[&format!("ALTER ROLE {} CONNECTION LIMIT 3", weak.name)]);
    let o = seed_mine();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("too many connections") && text(&o).contains("CONNECTION LIMIT"),
        "{}",
        text(&o)
    );
    assert_eq!(
        db.count("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'mine%'"),
        0,
        "the abandoned load left nothing"
    );

    // A database that is not there: the server's words and how to create it.
    let o = run(&[
        "seed",
        "-q",
        "--database-url",
        &format!("{}/no_such_db_here", server()),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("createdb no_such_db_here") && !text(&o).contains(" at line "),
        "{}",
        text(&o)
    );
}

/// A file that is not a seed is never replaced; DATABASE_URL does not override --sqlite.
fn sqlite_files_of_others_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.sqlite");
    std::fs::write(&file, b"precious").unwrap();
    let f = file.to_str().unwrap();
    let o = run(&["seed", "-q", "--sqlite", f]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // --reset replaces a seed file, not any file that happens to be at that path.
    let o = run(&["seed", "-q", "--reset", "--sqlite", f]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not an SQLite database"), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");

    // A DATABASE_URL exported for another tool does not override an explicit --sqlite.
    let other = dir.path().join("o.sqlite");
    let o = bin()
        .args(["seed", "-q", "--users", "20", "--days", "1", "--sqlite"])
        .arg(&other)
        .env(
            "DATABASE_URL",
            "postgres://alice:hunter2@127.0.0.1:1/nowhere",
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(other.exists());
}

/// A seeded database, then a large `seed --reset` into it started in the background.
/// Returns the seeded user count and the running load (its output piped).
fn seeded_with_a_big_load_running(db: &TestDb) -> (i64, std::process::Child) {
    let o = run(&[&["seed", "-q", "--database-url", &db.url()][..], &WORLD].concat());
    assert!(o.status.success(), "{}", text(&o));
    let users = db.count("SELECT count(*) FROM simulate.users");
    let child = bin()
        .args([
            "seed",
            "-q",
            "--reset",
            "--users",
            "60000",
            "--days",
            "3",
            "--database-url",
            &db.url(),
        ])
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (users, child)
}

/// Counts simulate's staging schema: 1 while a load is under way (or was killed), else 0.
const STAGING: &str = "SELECT count(*) FROM pg_namespace WHERE nspname = 'simulate__staging'";

/// After a load that did not complete: the `users` rows seeded before it still stand, and
/// it left no staging schema behind.
fn assert_previous_load_stands(db: &TestDb, users: i64) {
    assert_eq!(
        db.count("SELECT count(*) FROM simulate.users"),
        users,
        "the previous data is intact"
    );
    assert_eq!(db.count(STAGING), 0, "the staging schema was dropped");
}

/// Polls until `sql` counts more than zero (or a minute passes).
fn wait_for(db: &TestDb, sql: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while db.count(sql) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn an_interrupted_load_leaves_the_previous_data() {
    let db = TestDb::new();
    // The load is killed with SIGKILL once its staging schema exists.
    let (users, mut child) = seeded_with_a_big_load_running(&db);
    wait_for(&db, STAGING);
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the load finished before it could be interrupted"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM simulate.users"),
        users,
        "the previous data is intact"
    );
    assert_eq!(db.count("SELECT count(*) FROM simulate.run_meta"), 1);

    let o = run(&[
        &["seed", "--reset", "--database-url", &db.url()][..],
        &WORLD,
    ]
    .concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("found an interrupted load"),
        "{}",
        text(&o)
    );
    assert_eq!(db.count(STAGING), 0);
    assert_eq!(
        run(&["verify", "--database-url", &db.url()]).status.code(),
        Some(0)
    );
}

#[test]
fn ctrl_c_during_the_key_builds_discards_the_load() {
    let db = TestDb::new();
    let (users, child) = seeded_with_a_big_load_running(&db);
    // Past the last row: the index builds are running.
    wait_for(
        &db,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE 'CREATE UNIQUE INDEX%'",
            db.name
        ),
    );
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(text(&o).contains("discarded"), "{}", text(&o));
    assert_previous_load_stands(&db, users);
}

#[test]
fn a_lost_connection_fails_cleanly_with_the_database_reason() {
    let db = TestDb::new();
    let (users, child) = seeded_with_a_big_load_running(&db);
    // Cut the COPY connections from the server side once they are streaming.
    let copying = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE 'COPY %'",
        db.name
    );
    wait_for(&db, &copying);
    db.count(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE 'COPY %'",
        db.name
    ));
    let o = child.wait_with_output().unwrap();
    let err = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the load failed; the previous data is untouched"),
        "{err}"
    );
    assert!(err.contains("COPY") && !err.contains("panicked"), "{err}");
    assert_previous_load_stands(&db, users);
}

/// The partial files of loads into `<dir>/s.sqlite` (`s.sqlite.simulate-*.partial`).
fn partials(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("s.sqlite.simulate-") && n.ends_with(".partial")
        })
        .collect();
    found.sort();
    found
}

#[test]
fn an_interrupted_sqlite_load_leaves_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.sqlite");
    let partial_size = || {
        partials(dir.path())
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .max()
            .unwrap_or(0)
    };
    let f = file.to_str().unwrap();
    let o = run(&["seed", "-q", "--users", "300", "--days", "1", "--sqlite", f]);
    assert!(o.status.success(), "{}", text(&o));
    let before = std::fs::read(&file).unwrap();
    // A big load over it, stopped once rows are going into the partial file: first with
    // Ctrl-C, which cleans up, then with SIGKILL, which cannot.
    let big_load = || {
        let child = bin()
            .args(["seed", "-q", "--reset", "--users", "60000", "--days", "3"])
            .args(["--sqlite", f])
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while partial_size() < 4 << 20 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child
    };
    for signal in ["-INT", "-KILL"] {
        let child = big_load();
        let sent = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let o = child.wait_with_output().unwrap();
        assert!(!o.status.success(), "{signal}: the load finished first");
        assert_eq!(std::fs::read(&file).unwrap(), before, "{signal}");
        if signal == "-INT" {
            assert_eq!(o.status.code(), Some(130), "{}", text(&o));
            assert!(text(&o).contains("interrupted"), "{}", text(&o));
            assert!(
                partials(dir.path()).is_empty(),
                "Ctrl-C removes the partial file"
            );
        }
    }
    assert_eq!(
        partials(dir.path()).len(),
        1,
        "SIGKILL leaves the partial file"
    );
    let o = run(&[
        "seed", "--reset", "--users", "300", "--days", "1", "--sqlite", f,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("found an interrupted load"),
        "{}",
        text(&o)
    );
    assert!(partials(dir.path()).is_empty());
    assert_eq!(run(&["verify", "--sqlite", f]).status.code(), Some(0));
}

#[test]
fn verify_of_a_sqlite_file_catches_bad_props_and_claims() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.sqlite");
    let f = file.to_str().unwrap();
    let o = run(&[&["seed", "-q", "--sqlite", f][..], &WORLD].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(run(&["verify", "--sqlite", f]).status.code(), Some(0));
    let row = |event: &str| {
        format!(
            "rowid = (SELECT rowid FROM behavior_logs WHERE event = '{event}' ORDER BY user_id, seq LIMIT 1)"
        )
    };
    let corruptions = props_corruptions(
        "behavior_logs",
        row,
        "json_set(props, '$.bogus', 1)",
        "json_remove(props, '$.goal_id')",
    );
    let apply = |sql: &str| {
        let (rt, mut conn) = simulate_db::sqlite::open(&file).unwrap();
        rt.block_on(sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut conn))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rt.block_on(conn.close()).unwrap();
    };
    each_props_corruption_is_counted(&corruptions, &apply, || run(&["verify", "--sqlite", f]));
    // A column or a table that is gone is named, with the fix, and no panic.
    apply("ALTER TABLE nudges DROP COLUMN campaign");
    apply("DROP TABLE gifts");
    let o = run(&["verify", "--sqlite", f]);
    let err = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("lacks what `simulate seed` wrote: nudges.campaign, gifts")
            && err.contains("fix: seed again with --reset"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The schema comment `--reset` reads: simulate's mark with `role`.
fn mark(role: simulate_db::owner::Role) -> String {
    simulate_db::owner::Mark::new(role).text()
}

/// run_meta exactly as migrations/postgres creates it, for a schema that only looks ours.
const RUN_META_LOOKALIKE: &str = "(id smallint NOT NULL DEFAULT 1, version text NOT NULL, config jsonb NOT NULL, seed bigint NOT NULL, users integer NOT NULL, days integer NOT NULL, events bigint NOT NULL, events_sha256 text NOT NULL, complete boolean NOT NULL)";

#[test]
fn reset_replaces_only_what_carries_simulates_mark_in_postgres() {
    use simulate_db::owner::Role;
    let db = TestDb::new();
    let reset = |schema: &str| {
        run(&[
            "seed",
            "-q",
            "--users",
            "30",
            "--days",
            "1",
            "--reset",
            "--schema",
            schema,
            "--database-url",
            &db.url(),
        ])
    };
    // The cases: a table named run_meta (of any shape, or of exactly ours) beside
    // the user's data, in public and in a schema of the user's.
    db.sql(&[
        "CREATE TABLE public.customers (id int)",
        "INSERT INTO public.customers VALUES (1), (2)",
        "CREATE TABLE public.run_meta (note text)",
        "CREATE SCHEMA theirs",
        "CREATE TABLE theirs.customers (id int)",
        "INSERT INTO theirs.customers VALUES (1)",
        "CREATE TABLE theirs.run_meta (note text)",
        "CREATE SCHEMA lookalike",
        "CREATE TABLE lookalike.customers (id int)",
        "INSERT INTO lookalike.customers VALUES (1)",
        &format!("CREATE TABLE lookalike.run_meta {RUN_META_LOOKALIKE}"),
        "COMMENT ON SCHEMA lookalike IS 'simulate: our own notes'",
    ]);
    let o = reset("public");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("public is refused"), "{}", text(&o));
    for schema in ["theirs", "lookalike"] {
        let o = reset(schema);
        assert_eq!(o.status.code(), Some(2), "{schema}: {}", text(&o));
        assert!(
            text(&o).contains("not made by simulate") && text(&o).contains("customers"),
            "{schema}: {}",
            text(&o)
        );
    }
    assert_eq!(db.count("SELECT count(*) FROM public.customers"), 2);
    assert_eq!(db.count("SELECT count(*) FROM theirs.customers"), 1);
    assert_eq!(db.count("SELECT count(*) FROM lookalike.customers"), 1);
    // Nothing of theirs is read as a seed either.
    let o = run(&["verify", "--schema", "theirs", "--database-url", &db.url()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("was not seeded by simulate"),
        "{}",
        text(&o)
    );

    // A seed of ours carries the mark; a seed made by an earlier version (its old comment
    // and run_meta's exact shape) is still ours to replace.
    let o = reset("simulate");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'simulate' AND obj_description(oid, 'pg_namespace') = '{}'",
            mark(Role::Seeded)
        )),
        1
    );
    db.sql(&["COMMENT ON SCHEMA simulate IS 'simulate: seeded data (see run_meta)'"]);
    let o = reset("simulate");
    assert!(o.status.success(), "{}", text(&o));

    // A staging schema (a load under way or interrupted) is never read as a seed, and a
    // schema of that name that is not ours is never dropped.
    db.sql(&[
        "CREATE SCHEMA simulate__staging",
        &format!(
            "COMMENT ON SCHEMA simulate__staging IS '{}'",
            mark(Role::Staging)
        ),
    ]);
    for cmd in ["verify", "serve"] {
        let o = run(&[
            cmd,
            "--schema",
            "simulate__staging",
            "--database-url",
            &db.url(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        assert!(
            text(&o).contains("staging area of a load"),
            "{cmd}: {}",
            text(&o)
        );
    }
    db.sql(&[
        "DROP SCHEMA simulate__staging",
        "CREATE SCHEMA simulate__staging",
        "CREATE TABLE simulate__staging.keep (x int)",
    ]);
    for schema in ["simulate", "simulate__staging"] {
        let o = reset(schema);
        assert_eq!(o.status.code(), Some(2), "{schema}: {}", text(&o));
    }
    assert_eq!(db.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'simulate__staging' AND tablename = 'keep'"), 1);
    assert_eq!(
        run(&["verify", "--database-url", &db.url()]).status.code(),
        Some(0),
        "the refused load left the seed as it was"
    );
}

#[test]
fn reset_replaces_only_an_sqlite_file_simulate_wrote_and_never_a_users_partial() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.sqlite");
    let f = file.to_str().unwrap();
    // The user's database: their table beside a run_meta of any shape.
    {
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute_batch(
            "CREATE TABLE customers (id INTEGER); INSERT INTO customers VALUES (1); CREATE TABLE run_meta (x)",
        )
        .unwrap();
    }
    let before = std::fs::read(&file).unwrap();
    let o = run(&[
        "seed", "-q", "--reset", "--users", "30", "--days", "1", "--sqlite", f,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("was not written by simulate"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let o = run(&["verify", "--sqlite", f]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Files of the user's that look like partial loads are left alone: the old name, and
    // one in the new pattern that simulate did not mark.
    let seed = dir.path().join("s.sqlite");
    let users_partial = dir.path().join("s.sqlite.partial");
    let lookalike = dir.path().join("s.sqlite.simulate-1-2.partial");
    std::fs::write(&users_partial, b"mine").unwrap();
    std::fs::write(&lookalike, b"mine too").unwrap();
    let s = seed.to_str().unwrap();
    let o = run(&["seed", "-q", "--users", "30", "--days", "1", "--sqlite", s]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&users_partial).unwrap(), b"mine");
    assert_eq!(std::fs::read(&lookalike).unwrap(), b"mine too");
    assert_eq!(partials(dir.path()), vec![lookalike.clone()]);
    // A seed file from before the mark (our migration's checksum and run_meta's shape)
    // is still ours to replace.
    rusqlite::Connection::open(&seed)
        .unwrap()
        .execute_batch("DROP TABLE simulate_mark")
        .unwrap();
    let o = run(&[
        "seed", "-q", "--reset", "--users", "30", "--days", "1", "--sqlite", s,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(run(&["verify", "--sqlite", s]).status.code(), Some(0));
    assert_eq!(std::fs::read(&users_partial).unwrap(), b"mine");
}
