//! The examples' seed mappings (examples/<system>/seed.toml and schema.sql, issue 20 item
//! 6): each seeds its team-style schema in a fresh PostgreSQL database, `verify --into`
//! finds the rows as written and every invariant holding, and `clean --into` brings the
//! tables back to their digest before the seed. The points app's seed is then continued
//! by a replay of the next day, whose users are the rows the seed wrote (item 5).

use super::support::*;
use crate::common::bin;
use crate::seed::{TestDb, text};
use crate::seed_into::{one, sql};

/// The example's folder.
fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Every row of `tables`, as one digest: equal before and after means the same rows.
fn state(db: &TestDb, tables: &[&str]) -> String {
    let parts: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "(SELECT coalesce(string_agg(r::text, '|' ORDER BY r::text), '') FROM \"{t}\" r)"
            )
        })
        .collect();
    one(db, &format!("SELECT md5(concat({}))", parts.join(", ")))
}

fn count(db: &TestDb, table: &str) -> i64 {
    one(db, &format!("SELECT count(*) FROM \"{table}\""))
        .parse()
        .unwrap()
}

/// Seeds the example into a fresh database holding its schema, checks verify --into
/// (every invariant `ok`), and returns the database and the digest before the seed.
fn seed_and_verify(ex: &Example, tables: &[&str], world: &[&str]) -> (TestDb, String) {
    let db = TestDb::new();
    sql(
        &db,
        &std::fs::read_to_string(dir(ex.name).join("schema.sql")).unwrap(),
    );
    let before = state(&db, tables);
    let seed = dir(ex.name).join("seed.toml").display().to_string();
    let o = ex
        .command(
            "seed",
            &[
                &["-q", "--into", &seed, "--database-url", &db.url()][..],
                world,
            ]
            .concat(),
        )
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}: {}", ex.name, text(&o));
    for t in tables {
        assert!(count(&db, t) > 0, "{}: {t} is empty", ex.name);
    }
    let o = bin_into(ex, "verify", &seed, &db);
    assert_eq!(o.status.code(), Some(0), "{}: {}", ex.name, text(&o));
    let doc: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir(ex.name).join("seed.toml")).unwrap()).unwrap();
    for inv in doc["invariants"].as_array().unwrap() {
        let name = inv["name"].as_str().unwrap();
        assert!(
            text(&o)
                .lines()
                .any(|l| l.contains(name) && l.trim_end().ends_with("ok")),
            "{}: invariant `{name}`: {}",
            ex.name,
            text(&o)
        );
    }
    (db, before)
}

/// `simulate verify|clean --into` with the example's personas.
fn bin_into(ex: &Example, command: &str, seed: &str, db: &TestDb) -> std::process::Output {
    crate::common::bin()
        .args([command, "--into", seed, "--database-url", &db.url()])
        .arg("--personas")
        .arg(&ex.personas)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

/// Cleans the seed and checks the tables are as before it.
fn cleans_back(ex: &Example, db: &TestDb, tables: &[&str], before: &str) {
    let seed = dir(ex.name).join("seed.toml").display().to_string();
    let o = bin_into(ex, "clean", &seed, db);
    assert!(o.status.success(), "{}: {}", ex.name, text(&o));
    assert_eq!(
        state(db, tables),
        before,
        "{}: clean restores the tables",
        ex.name
    );
}

#[test]
fn gift_app_seeds_its_first_100_gifts_with_their_claims() {
    let ex = example("gift-app");
    let tables = ["wallets", "gifts", "gift_claims"];
    let (db, before) = seed_and_verify(&ex, &tables, &["--users", "400", "--days", "1"]);
    assert_eq!(count(&db, "gifts"), 100, "limit = 100");
    // The day's first 100 gifts, in the app's format ([ids] gift), claims naming them so.
    assert_eq!(
        one(&db, "SELECT min(id) || ' ' || max(id) FROM gifts"),
        "gift-000001 gift-000100"
    );
    assert_eq!(
        one(
            &db,
            "SELECT count(*) FROM gift_claims WHERE gift_id !~ '^gift-[0-9]{6}$'"
        ),
        "0"
    );
    assert_eq!(
        one(
            &db,
            "SELECT count(*) FROM wallets WHERE address !~ '^0x[0-9a-f]{40}$'"
        ),
        "0"
    );
    assert_eq!(
        one(&db, "SELECT bool_or(remaining < shares) FROM gifts"),
        "true",
        "some gifts were claimed"
    );
    cleans_back(&ex, &db, &tables, &before);
}

#[test]
fn checkins_seed_counts_each_users_check_ins() {
    let ex = example("checkins");
    let tables = ["users", "check_ins"];
    let (db, before) = seed_and_verify(&ex, &tables, &[]);
    assert_eq!(
        one(&db, "SELECT min(id) FROM users WHERE id = 'user_1'"),
        "user_1"
    );
    assert_eq!(
        one(&db, "SELECT sum(checkins) FROM users"),
        count(&db, "check_ins").to_string()
    );
    cleans_back(&ex, &db, &tables, &before);
}

#[test]
fn challenge_service_seeds_progress_keyed_by_user_and_goal() {
    let ex = example("challenge-service");
    let tables = ["challenges", "goals", "user_goal_progress"];
    let (db, before) = seed_and_verify(&ex, &tables, &["--users", "300", "--days", "1"]);
    assert_eq!(count(&db, "challenges"), 10);
    assert_eq!(count(&db, "goals"), 500);
    assert_eq!(
        one(
            &db,
            "SELECT count(*) FROM user_goal_progress WHERE user_id !~ '^user-[0-9]{6}$'"
        ),
        "0"
    );
    assert_ne!(
        one(
            &db,
            "SELECT count(*) FROM user_goal_progress WHERE status = 'claimed'"
        ),
        "0"
    );
    cleans_back(&ex, &db, &tables, &before);
}

/// Seed 000's tables from two days, then the third day replayed: every user the replay
/// sends is a `User` row the seed wrote (or signs up in that day), by the same UUID.
#[test]
fn points_app_seed_then_replay_continue_one_world() {
    let ex = example("points-app");
    let tables = ["User", "BehaviorLog"];
    let (db, before) = seed_and_verify(&ex, &tables, &["--users", "200", "--days", "2"]);
    let seeded: BTreeSet<String> = one(&db, r#"SELECT string_agg(id, ',') FROM "User""#)
        .split(',')
        .map(String::from)
        .collect();
    let http = Recorder::start();
    let tmp = tempfile::tempdir().unwrap();
    let window = [
        "--users",
        "200",
        "--days",
        "3",
        "--window",
        "2d..3d",
        "--compress",
        "24h:8s",
    ];
    let s = ex.replay(tmp.path(), &http.url, &window, &[]);
    all_answered(&s);
    let requests = http.requests();
    let new: BTreeSet<String> = requests
        .iter()
        .filter(|r| r.uri == "/users")
        .inspect(|r| {
            // The team's `User` row needs both (NOT NULL in schema.sql).
            for field in ["email", "name"] {
                assert!(
                    r.body[field].as_str().is_some_and(|v| !v.is_empty()),
                    "{r:?}"
                );
            }
        })
        .map(|r| r.body["id"].as_str().unwrap().to_string())
        .collect();
    let events: Vec<&Request> = requests.iter().filter(|r| r.uri == "/events").collect();
    assert!(events.len() > 100, "{} events replayed", events.len());
    for r in &events {
        let id = r.body["userId"].as_str().unwrap();
        assert!(
            seeded.contains(id) || new.contains(id),
            "{id} was neither seeded nor signed up"
        );
    }
    assert!(
        events
            .iter()
            .filter(|r| seeded.contains(r.body["userId"].as_str().unwrap()))
            .count()
            > events.len() / 2
    );
    cleans_back(&ex, &db, &tables, &before);
}

/// Every row of `tables` in an SQLite file, as one digest.
fn sqlite_state(db: &Path, tables: &[&str]) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut all = String::new();
    for t in tables {
        let mut stmt = c
            .prepare(&format!("SELECT * FROM \"{t}\" ORDER BY rowid"))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i).unwrap();
                all.push_str(&format!("{v:?}\t"));
            }
            all.push('\n');
        }
    }
    all
}

/// The same mapping into an SQLite file (`schema.sqlite.sql`): a row the app had is
/// refused without --append and kept with it; verify --into holds (the invariants'
/// `sqlite` spelling) and catches a corrupted row; clean restores the file's rows.
#[test]
fn points_app_and_checkins_seed_into_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, tables, app_row, world, corrupt) in [
        (
            "points-app",
            &["User", "BehaviorLog"][..],
            r#"INSERT INTO "User" VALUES ('app-1', 'app@example.com', 'App', 'saver', 0, '2026-01-01', '2026-01-01')"#,
            &["--users", "150", "--days", "2"][..],
            r#"UPDATE "BehaviorLog" SET payload = '{}' WHERE rowid = (SELECT max(rowid) FROM "BehaviorLog")"#,
        ),
        (
            "checkins",
            &["users", "check_ins"][..],
            "INSERT INTO users (id, name) VALUES ('app-1', 'App')",
            &[][..],
            "UPDATE check_ins SET mood = 1 + mood % 5 WHERE id = (SELECT max(id) FROM check_ins)",
        ),
    ] {
        let ex = example(name);
        let file = tmp.path().join(format!("{name}.db"));
        let c = rusqlite::Connection::open(&file).unwrap();
        c.execute_batch(&std::fs::read_to_string(dir(name).join("schema.sqlite.sql")).unwrap())
            .unwrap();
        c.execute_batch(app_row).unwrap();
        drop(c);
        let before = sqlite_state(&file, tables);
        let seed = dir(name).join("seed.toml").display().to_string();
        let f = file.display().to_string();
        let run = |extra: &[&str]| {
            ex.command(
                "seed",
                &[&["-q", "--into", &seed, "--sqlite", &f][..], world, extra].concat(),
            )
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
        };
        let o = run(&["--plan"]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(
            tables.iter().all(|t| text(&o).contains(t)),
            "{name}: {}",
            text(&o)
        );
        let o = run(&[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains("--append"), "{name}: {}", text(&o));
        assert_eq!(
            sqlite_state(&file, tables),
            before,
            "{name}: a refusal changes nothing"
        );
        let o = run(&["--append"]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        let into = |command: &str| {
            crate::common::bin()
                .args([command, "--into", &seed, "--sqlite", &f, "--personas"])
                .arg(&ex.personas)
                .env_remove("DATABASE_URL")
                .output()
                .unwrap()
        };
        let o = into("verify");
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        assert!(!text(&o).contains("FAILED"), "{name}: {}", text(&o));
        // A manifest written before the digest's kind was recorded: still SHA-256's,
        // still verifies, and still catches the corrupted row below.
        let manifest = simulate_db::into::sqlite::manifest_path(&file);
        let m = rusqlite::Connection::open(&manifest).unwrap();
        let kinds: String = m
            .query_row(
                "SELECT group_concat(json_extract(value, '$.digest_kind')) FROM seeds, json_each(seeds.tables)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            kinds.split(',').all(|k| k == "sha256-prefix64"),
            "{name}: {kinds}"
        );
        m.execute_batch(
            "UPDATE seeds SET tables = (SELECT json_group_array(json_remove(value, '$.digest_kind')) FROM json_each(seeds.tables))",
        )
        .unwrap();
        drop(m);
        let o = into("verify");
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        rusqlite::Connection::open(&file)
            .unwrap()
            .execute_batch(corrupt)
            .unwrap();
        let o = into("verify");
        assert_eq!(o.status.code(), Some(3), "{name}: {}", text(&o));
        assert!(text(&o).contains("FAILED"), "{name}: {}", text(&o));
        let o = into("clean");
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert_eq!(
            sqlite_state(&file, tables),
            before,
            "{name}: clean keeps exactly the app's rows"
        );
    }
}

/// kill -9 while the rows go into an SQLite file: the next open rolls the hot journal
/// back, and the file holds exactly what it held (the manifest records no seed).
#[test]
fn kill_9_mid_seed_leaves_the_sqlite_file_as_it_was() {
    let ex = example("points-app");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("app.db");
    let c = rusqlite::Connection::open(&file).unwrap();
    c.execute_batch(&std::fs::read_to_string(dir(ex.name).join("schema.sqlite.sql")).unwrap())
        .unwrap();
    drop(c);
    let tables = ["User", "BehaviorLog"];
    let before = sqlite_state(&file, &tables);
    let seed = dir(ex.name).join("seed.toml").display().to_string();
    let mut child = ex
        .command(
            "seed",
            &["-q", "--into", &seed, "--users", "20000", "--days", "2"],
        )
        .arg("--sqlite")
        .arg(&file)
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The rollback journal exists from the transaction's first write.
    let journal = tmp.path().join("app.db-journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !journal.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(journal.exists(), "the load reached its transaction");
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    assert_eq!(sqlite_state(&file, &tables), before);
    let manifest = tmp.path().join("app.db.simulate-into");
    let seeds: i64 = rusqlite::Connection::open(&manifest)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'seeds'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seeds, 0, "the manifest's tables rolled back with the rows");
}

/// `simulate verify` checks props against the world's own kinds: a world with the team's
/// ids, pools, catalog and custom kinds, seeded into our schema, verifies clean (the
/// built-in schema alone would call its sign-ups' `id` and its custom kinds unknown).
#[test]
fn team_worlds_seeded_into_our_schema_verify_clean() {
    for name in ["challenge-service", "readiness"] {
        let ex = example(name);
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("s.sqlite").display().to_string();
        let world = ["--users", "200", "--days", "1", "--quiet"];
        let o = ex
            .command("seed", &world)
            .args(["--sqlite", &file])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{name} seed: {}", text(&o));
        let o = bin()
            .args(["verify", "--sqlite", &file, "--quiet"])
            .output()
            .unwrap();
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{name} verify: {out}");
        assert!(out.contains("every props valid"), "{name}: {out}");
    }
}

/// `clean` after the app has written to a seeded table (seed 000's NestJS writes its own
/// `BehaviorLog` rows for seeded users): the search for the app's rows must not be
/// quadratic. With the database's work_mem too small to hash the seed's keys (as the
/// README's six-day seed outgrows the default 4 MB), `NOT IN (SELECT …)` rescanned the
/// keys for every row: over a minute at 24k rows, over ten at 240k. Here it must finish
/// well inside a statement timeout of 20 s.
#[test]
fn points_app_clean_finds_app_rows_without_a_quadratic_scan() {
    let ex = example("points-app");
    let tables = ["User", "BehaviorLog"];
    let (db, before) = seed_and_verify(&ex, &tables, &["--users", "1000", "--days", "5"]);
    // User.points is the balance: what each user earned less what they redeemed, the
    // `balance` of their last points event (it was the earned sum alone).
    assert_ne!(
        one(
            &db,
            r#"SELECT count(*) FROM "BehaviorLog" WHERE action = 'points.redeemed'"#
        ),
        "0",
        "some users redeemed"
    );
    assert_eq!(
        one(
            &db,
            r#"SELECT count(*) FROM "User" u JOIN (SELECT DISTINCT ON ("userId") "userId",
                 (payload->>'balance')::int AS b FROM "BehaviorLog"
                 WHERE action IN ('points.earned', 'points.redeemed')
                 ORDER BY "userId", "createdAt" DESC, id DESC) l ON l."userId" = u.id
               WHERE u.points <> l.b"#
        ),
        "0",
        "every User.points is the user's last logged balance"
    );
    let logs = count(&db, "BehaviorLog");
    assert!(
        logs > 15_000,
        "{logs} rows: too few to show a quadratic scan"
    );
    let name = one(&db, "SELECT current_database()");
    sql(
        &db,
        &format!(
            "ALTER DATABASE {name} SET work_mem = '64kB';
             ALTER DATABASE {name} SET statement_timeout = '20s';"
        ),
    );
    // The app logs an event of a seeded user, as the replay's next day would.
    sql(
        &db,
        r#"INSERT INTO "BehaviorLog" (id, "userId", action, payload)
           SELECT 'app-log-1', min(id), 'points.earned', '{"amount": 5}' FROM "User""#,
    );
    let seed = dir(ex.name).join("seed.toml").display().to_string();
    let started = std::time::Instant::now();
    let o = bin_into(&ex, "clean", &seed, &db);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("BehaviorLog: 1 rows") && text(&o).contains("--with-app-rows"),
        "{}",
        text(&o)
    );
    let o = crate::common::bin()
        .args([
            "clean",
            "--into",
            &seed,
            "--database-url",
            &db.url(),
            "--with-app-rows",
        ])
        .arg("--personas")
        .arg(&ex.personas)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(state(&db, &tables), before, "clean restores the tables");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "two cleans took {:?}",
        started.elapsed()
    );
}

/// A seed into an SQLite file says where it went without a schema SQLite does not have,
/// and `replay --seeded` / `verify` on that file say it was seeded `--into` (not "not
/// seeded by simulate") and what to run instead.
#[test]
fn an_sqlite_seed_into_is_named_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let ex = example("checkins");
    let file = tmp.path().join("app.db");
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch(&std::fs::read_to_string(dir(ex.name).join("schema.sqlite.sql")).unwrap())
        .unwrap();
    let seed = dir(ex.name).join("seed.toml").display().to_string();
    let f = file.display().to_string();
    let o = ex
        .command("seed", &["--into", &seed, "--sqlite", &f])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let done = text(&o);
    assert!(done.contains(&format!("rows into {f},")), "{done}");
    assert!(!done.contains("into schema"), "{done}");

    let o = ex
        .command("replay", &["--seeded", &f])
        .args(["--mapping"])
        .arg(&ex.mapping)
        .args(["--target", "http://127.0.0.1:9", "-q"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let err = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds your tables seeded with `seed --into`"),
        "{err}"
    );
    assert!(!err.contains("was not seeded by simulate"), "{err}");
    assert!(
        err.contains("without --seeded") && err.contains("verify --into"),
        "{err}"
    );
    let o = bin()
        .args(["verify", "--sqlite", &f])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("`simulate verify --into"), "{}", text(&o));
}
