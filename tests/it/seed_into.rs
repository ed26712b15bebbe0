//! `simulate seed --into`, `verify --into` and `clean --into` against a team-style schema
//! (tests/data/seed-into: Prisma's quoted "User" and "BehaviorLog", an enum, JSONB, a
//! client-side id, @updatedAt, a trigger, a partial unique index) on a real PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Output;

use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

use crate::common::bin;
use crate::seed::{TestDb, text};

const WORLD: [&str; 6] = ["--users", "150", "--days", "2", "--seed", "5"];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/seed-into")
        .join(name)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs SQL (several statements) against the test database.
pub(crate) fn sql(db: &TestDb, stmts: &str) {
    rt().block_on(async {
        let mut c = PgConnection::connect(&db.url()).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(stmts.to_string()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{stmts}: {e}"));
    });
}

/// The first column of the first row, as text.
pub(crate) fn one(db: &TestDb, query: &str) -> String {
    rt().block_on(async {
        let mut c = PgConnection::connect(&db.url()).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("SELECT ({query})::text")))
            .fetch_one(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .get::<Option<String>, _>(0)
            .unwrap_or_default()
    })
}

/// Every row of the team's tables, as one digest: equal before and after means the
/// same rows with the same values.
fn state(db: &TestDb) -> String {
    one(
        db,
        r#"SELECT md5(concat(
            (SELECT string_agg(u::text, '|' ORDER BY id) FROM "User" u),
            (SELECT string_agg(b::text, '|' ORDER BY id) FROM "BehaviorLog" b),
            (SELECT string_agg(r::text, '|' ORDER BY id) FROM "Reward" r),
            (SELECT string_agg(l::text, '|' ORDER BY "userId") FROM "LogCount" l)))"#,
    )
}

fn simulate(db: &TestDb, args: &[&str]) -> Output {
    bin()
        .args(args)
        .args(["--database-url", &db.url()])
        .env_remove("DATABASE_URL")
        .output()
        .expect("runs")
}

fn seed(db: &TestDb, mapping: &Path, extra: &[&str]) -> Output {
    let m = mapping.display().to_string();
    simulate(
        db,
        &[&["seed", "-q", "--into", &m][..], &WORLD, extra].concat(),
    )
}

/// A database with the team's schema and rows the app wrote before the seed.
fn team_db() -> TestDb {
    let db = TestDb::new();
    sql(&db, &std::fs::read_to_string(data("schema.sql")).unwrap());
    sql(
        &db,
        r#"INSERT INTO "User" VALUES ('app-1', 'app@example.com', 'App User', 'ADMIN', 7, now(), now());
           INSERT INTO "BehaviorLog" VALUES ('app-log-1', 'app-1', 'points.earned', '{"amount": 7}', 7, now());
           INSERT INTO "Reward" ("userId", points) VALUES ('app-1', 7);"#,
    );
    db
}

#[test]
fn a_seed_into_team_tables_verifies_and_cleans_back_to_their_rows() {
    let db = team_db();
    let mapping = data("seed.toml");
    let m = mapping.display().to_string();
    let before = state(&db);

    let o = simulate(
        &db,
        &[&["seed", "--into", &m, "--plan"][..], &WORLD].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("all fit") && text(&o).contains("BehaviorLog_count"),
        "{}",
        text(&o)
    );
    let o = simulate(
        &db,
        &[&["seed", "--into", &m, "--plan", "--json"][..], &WORLD].concat(),
    );
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan JSON");
    crate::common::conforms::<simulate_db::into::plan::PlanDoc>(&plan, "seed-plan.v1.json");
    assert_eq!(plan["tables"][0]["table"], "User", "parents first");
    assert_eq!(plan["tables"][1]["table"], "BehaviorLog");

    // Their tables hold rows: refused, and nothing changed.
    let o = seed(&db, &mapping, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--append"), "{}", text(&o));
    assert_eq!(state(&db), before, "a refusal changes nothing");

    let o = seed(&db, &mapping, &["--append"]);
    assert!(o.status.success(), "{}", text(&o));
    let users: i64 = one(&db, r#"SELECT count(*) FROM "User""#).parse().unwrap();
    assert!(users > 100, "{users} users");
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("verify.json");
    let e = export.display().to_string();
    let o = simulate(&db, &["verify", "--into", &m, "--summary-export", &e]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = crate::common::read_json(&export);
    assert_eq!(report["ok"], true);
    crate::common::conforms::<simulate_db::into::manifest::IntoReport>(
        &report,
        "seed-into-verify.v1.json",
    );
    assert!(
        text(&o).contains("User.points is the sum of the points log"),
        "{}",
        text(&o)
    );

    // A corrupted row: the digest of the log's mapped columns differs.
    sql(
        &db,
        r#"UPDATE "BehaviorLog" SET payload = '{}' WHERE id = (SELECT min(id) FROM "BehaviorLog" WHERE id LIKE 'bl_%')"#,
    );
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("digest BehaviorLog") && text(&o).contains("FAILED"),
        "{}",
        text(&o)
    );

    // The app wrote a row that references a seeded user: clean refuses and lists it.
    sql(
        &db,
        r#"INSERT INTO "Reward" ("userId", points) VALUES ('u3', 1)"#,
    );
    let o = simulate(&db, &["clean", "--into", &m]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("Reward: 1 rows"), "{}", text(&o));
    sql(&db, r#"DELETE FROM "Reward" WHERE "userId" = 'u3'"#);

    let o = simulate(&db, &["clean", "--into", &m]);
    assert!(o.status.success(), "{}", text(&o));
    // The trigger's counts are the app's own business: the seed's rows bumped them.
    sql(&db, r#"DELETE FROM "LogCount" WHERE "userId" <> 'app-1'"#);
    assert_eq!(
        state(&db),
        before,
        "clean restores exactly the rows they had"
    );
}

#[test]
fn mapping_problems_come_all_at_once_with_their_lines() {
    let db = team_db();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("seed.toml");
    std::fs::write(
        &bad,
        r#"[tables.user]
from = "users"
[tables.user.columns]
id = "{user_id}"

[tables.BehaviorLog]
from = "events"
[tables.BehaviorLog.columns]
id = "{user_id}-{seq}"
userId = "{user_id}"
action = "{event}"
payloads = "{props}"
"#,
    )
    .unwrap();
    let before = state(&db);
    let o = seed(&db, &bad, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("seed.toml:1") && t.contains("did you mean `User`"),
        "{t}"
    );
    assert!(
        t.contains("seed.toml:12") && t.contains("no column `payloads`"),
        "{t}"
    );
    assert!(t.contains("`payload` of `BehaviorLog` is NOT NULL"), "{t}");
    assert_eq!(state(&db), before);
}

#[test]
fn a_unique_violation_names_the_row_and_the_mapping_line_and_writes_nothing() {
    let db = team_db();
    let dir = tempfile::tempdir().unwrap();
    let dup = dir.path().join("seed.toml");
    let text_of = std::fs::read_to_string(data("seed.toml"))
        .unwrap()
        .replace("id = \"bl_{user_id}_{seq}\"", "id = \"bl_{user_id}\"");
    std::fs::write(&dup, text_of).unwrap();
    let before = state(&db);
    let o = seed(&db, &dup, &["--append"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("seed.toml:18") && t.contains("`BehaviorLog` refused row u"),
        "{t}"
    );
    assert!(t.contains("unique key"), "{t}");
    assert_eq!(state(&db), before, "the transaction rolled back");
    assert_eq!(
        one(&db, "SELECT to_regnamespace('simulate_into') IS NULL"),
        "true",
        "not even the manifest's schema stayed"
    );
}

#[test]
fn rebuild_indexes_drops_only_plain_indexes_and_builds_them_again() {
    let db = team_db();
    let m = data("seed.toml").display().to_string();
    let defs = "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'";
    let before = one(&db, defs);
    let o = simulate(
        &db,
        &[
            &["seed", "--append", "--rebuild-indexes", "--into", &m][..],
            &WORLD,
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    // Named before the load: the plain index only; the key, the unique email and the
    // partial unique index keep checking rows as they arrive.
    let named = t
        .lines()
        .find(|l| l.starts_with("--rebuild-indexes:"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        named.contains(r#""BehaviorLog_userId_idx" on "BehaviorLog""#),
        "{named}"
    );
    for kept in ["pkey", "email", "one_signup"] {
        assert!(!named.contains(kept), "{kept} stays: {named}");
    }
    assert_eq!(
        one(&db, defs),
        before,
        "every index is there again, as it was"
    );
    // The phases name each COPY's format: every mapped column of "User" takes binary;
    // the log's `amount` is `{props.amount}` of any kind (untyped), so the log goes text.
    let copy_line = |table: &str| {
        t.lines()
            .find(|l| l.trim_start().starts_with(&format!("{table}: COPY of")))
            .unwrap_or_else(|| panic!("{t}"))
            .to_string()
    };
    assert!(copy_line("User").contains("binary"), "{t}");
    assert!(copy_line("BehaviorLog").contains("text"), "{t}");
    // An instant sent binary ("User") is the same instant sent as text (the log's sign-up).
    let pairs = r#"FROM "User" u JOIN "BehaviorLog" b ON b."userId" = u.id AND b.action = 'user.signed_up'"#;
    let joined: i64 = one(&db, &format!("SELECT count(*) {pairs}"))
        .parse()
        .unwrap();
    assert!(joined > 100, "{joined} users with a sign-up row");
    assert_eq!(
        one(
            &db,
            &format!(r#"SELECT count(*) {pairs} WHERE b."createdAt" <> u."createdAt""#)
        ),
        "0"
    );
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn kill_9_mid_seed_leaves_their_tables_as_they_were() {
    let db = team_db();
    let before = state(&db);
    let m = data("seed.toml").display().to_string();
    let mut child = bin()
        .args([
            "seed", "-q", "--append", "--into", &m, "--users", "20000", "--days", "2",
        ])
        .args(["--database-url", &db.url()])
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let copying = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY \"public\".\"BehaviorLog\"%'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while one(&db, copying) == "0" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_ne!(one(&db, copying), "0", "the load reached the log's COPY");
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    // The server notices the dead connection and rolls its transaction back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while one(&db, copying) != "0" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(state(&db), before);
}

#[test]
fn custom_kinds_of_world_toml_fill_a_table_of_their_own() {
    let db = TestDb::new();
    sql(
        &db,
        r#"CREATE TABLE app_user (id text PRIMARY KEY, joined timestamptz NOT NULL);
           CREATE TABLE dashboard_view (
               id uuid PRIMARY KEY,
               user_id text NOT NULL REFERENCES app_user(id),
               team text NOT NULL,
               widgets integer NOT NULL,
               tab text NOT NULL,
               at timestamptz NOT NULL);"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("seed.toml");
    std::fs::write(
        &mapping,
        r#"[tables.app_user]
from = "users"
[tables.app_user.columns]
id = "{user_id}"
joined = "{ts}"

[tables.dashboard_view]
from = "events"
kinds = ["dashboard.viewed"]
[tables.dashboard_view.columns]
id = "{uuid(user_id, seq)}"
user_id = "{user_id}"
team = "{props.team_id}"
widgets = "{props.widgets}"
tab = "{props.tab}"
at = "{ts}"

[[invariants]]
name = "widgets within the action's range"
sql = "SELECT id FROM dashboard_view WHERE widgets NOT BETWEEN 1 AND 8"
"#,
    )
    .unwrap();
    let custom = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/custom-world/personas");
    let (m, p) = (mapping.display().to_string(), custom.display().to_string());
    let o = seed(&db, &mapping, &["--personas", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let views: i64 = one(&db, "SELECT count(*) FROM dashboard_view")
        .parse()
        .unwrap();
    assert!(views > 0, "the custom kind filled its table");
    let o = simulate(&db, &["verify", "--into", &m, "--personas", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Without the world that declares the kind, the mapping names an unknown kind.
    let o = simulate(&db, &["clean", "--into", &m]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("`dashboard.viewed` is not an event kind"),
        "{}",
        text(&o)
    );
    let o = simulate(&db, &["clean", "--into", &m, "--personas", &p]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(one(&db, "SELECT count(*) FROM app_user"), "0");
}

#[test]
fn aggregate_and_user_field_problems_name_their_lines() {
    let db = team_db();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("seed.toml");
    std::fs::write(
        &bad,
        r#"[tables.User]
from = "users"
[tables.User.aggregates]
earned = { sum = "source", kinds = ["points.earned"] }
spent = { count = true, kinds = ["points.spend"] }
[tables.User.columns]
id = "{user_id}"
"#,
    )
    .unwrap();
    let before = state(&db);
    let o = seed(&db, &bad, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("seed.toml:4") && t.contains("`source` is not a number"),
        "{t}"
    );
    assert!(
        t.contains("seed.toml:5") && t.contains("`points.spend` is not an event kind"),
        "{t}"
    );
    std::fs::write(
        &bad,
        "[tables.User]\nfrom = \"users\"\n[tables.User.columns]\nid = \"{user.team}\"\n",
    )
    .unwrap();
    let o = seed(&db, &bad, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("seed.toml:4")
            && t.contains("`user.team` is not a field")
            && t.contains("user.id"),
        "{t}"
    );
    assert_eq!(state(&db), before);
}

/// A manifest written before the digest's kind was recorded (md5 of each row's text), or
/// with the kind before `record-hash64` (`hashtext64`), still verifies, and still catches
/// a corrupted row; a new one records its kind.
#[test]
fn a_manifest_from_before_the_digest_kind_still_verifies() {
    let db = team_db();
    let mapping = data("seed.toml");
    let m = mapping.display().to_string();
    let o = seed(&db, &mapping, &["--append"]);
    assert!(o.status.success(), "{}", text(&o));
    let tables: serde_json::Value =
        serde_json::from_str(&one(&db, "SELECT tables FROM simulate_into.seeds")).unwrap();
    let entries = tables.as_array().expect("the manifest's tables");
    assert!(
        entries.iter().all(|e| e["digest_kind"] == "record-hash64"),
        "every mapped type (text, an enum, integer, timestamp(3), jsonb) has a hash: {tables}"
    );
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The kind before: hashtext64 of each row's text, recorded as such, verifies.
    let quoted = |names: &serde_json::Value| -> Vec<String> {
        names
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("t.\"{}\"", c.as_str().unwrap()))
            .collect()
    };
    let by_hand = |e: &serde_json::Value, hash: &str| {
        let cols = quoted(&e["columns"]);
        let keys = quoted(&e["key"]);
        one(
            &db,
            &format!(
                "SELECT coalesce(sum({}), 0) FROM \"{}\" t WHERE ({}) IN (SELECT * FROM simulate_into.\"{}\")",
                hash.replace("ROW", &format!("ROW({})", cols.join(", "))),
                e["table"].as_str().unwrap(),
                keys.join(", "),
                e["keys_table"].as_str().unwrap()
            ),
        )
    };
    let rewrite = |f: &dyn Fn(&serde_json::Value) -> serde_json::Value| {
        let v = serde_json::Value::Array(entries.iter().map(f).collect());
        let v = v.to_string().replace('\'', "''");
        sql(
            &db,
            &format!("UPDATE simulate_into.seeds SET tables = '{v}'::jsonb"),
        );
    };
    rewrite(&|e| {
        let h = by_hand(e, "hashtextextended(ROW::text, 0)");
        assert_ne!(h, e["digest"].as_str().unwrap(), "another hash");
        let mut e = e.clone();
        e["digest"] = h.into();
        e["digest_kind"] = "hashtext64".into();
        e
    });
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Rewrite the manifest the old way: no kind, md5's digest, computed here by hand.
    rewrite(&|e| {
        let md5 = by_hand(e, "('x' || substr(md5(ROW::text), 1, 15))::bit(60)::bigint");
        let mut e = e.clone();
        let o = e.as_object_mut().unwrap();
        o.remove("digest_kind");
        o.insert("digest".into(), md5.into());
        e
    });
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o)
            .lines()
            .any(|l| l.contains("digest BehaviorLog") && l.ends_with(" ok")),
        "the digest was checked: {}",
        text(&o)
    );

    sql(
        &db,
        r#"UPDATE "BehaviorLog" SET payload = payload || '{"x": 1}' WHERE id = (SELECT max(id) FROM "BehaviorLog" WHERE id LIKE 'bl_%')"#,
    );
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} line: {out}"))
            .to_string()
    };
    assert!(line("digest BehaviorLog").contains("FAILED"), "{out}");
    assert!(line("digest User").ends_with(" ok"), "{out}");
}

/// A mapped `json` column (no hash function: the catalog says so before the load) makes
/// its table's digest `hashtext64`, of each row's text; the other table keeps
/// `record-hash64`. Both verify, and both catch a changed row.
#[test]
fn a_json_column_falls_back_to_the_text_hash() {
    let db = team_db();
    sql(
        &db,
        r#"ALTER TABLE "BehaviorLog" ALTER COLUMN payload TYPE json"#,
    );
    let mapping = data("seed.toml");
    let m = mapping.display().to_string();
    let o = seed(&db, &mapping, &["--append"]);
    assert!(o.status.success(), "{}", text(&o));
    let kinds = one(
        &db,
        "SELECT string_agg((e->>'table') || ' ' || (e->>'digest_kind'), ', ' ORDER BY e->>'table') FROM simulate_into.seeds, jsonb_array_elements(tables) e",
    );
    assert_eq!(kinds, "BehaviorLog hashtext64, User record-hash64");
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    sql(
        &db,
        r#"UPDATE "BehaviorLog" SET payload = '{"x": 1}' WHERE id = (SELECT max(id) FROM "BehaviorLog" WHERE id LIKE 'bl_%');
           UPDATE "User" SET name = name || '.' WHERE id = (SELECT max(id) FROM "User" WHERE id <> 'app-1')"#,
    );
    let o = simulate(&db, &["verify", "--into", &m]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    for table in ["BehaviorLog", "User"] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("digest {table}")) && l.contains("FAILED")),
            "{table}: {out}"
        );
    }
}

/// `replay --seeded` on PostgreSQL names its own flag (`--seeded-schema`), and on a
/// database `seed --into` filled says so and what to run instead.
#[test]
fn replay_seeded_names_its_flag_and_a_seed_into() {
    let db = TestDb::new();
    let replay = |extra: &[&str]| {
        bin()
            .args(["replay", "--users", "150", "--days", "3", "--seed", "5"])
            .args(["--window", "2d..3d", "--target", "http://127.0.0.1:9", "-q"])
            .args(["--seeded", &db.url()])
            .args(extra)
            .env_remove("DATABASE_URL")
            .output()
            .expect("runs")
    };
    let o = replay(&["--seeded-schema", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("pass the --seeded-schema it was seeded into"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("the --schema"), "{}", text(&o));

    sql(&db, &std::fs::read_to_string(data("schema.sql")).unwrap());
    let o = seed(&db, &data("seed.toml"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let o = replay(&[]);
    let err = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds your tables seeded with `seed --into`"),
        "{err}"
    );
    assert!(
        err.contains("without --seeded") && err.contains("verify --into"),
        "{err}"
    );
}
