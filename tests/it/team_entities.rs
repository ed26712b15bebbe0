//! The team's ids of the timeline's entities (`[ids] gift`, `purchase`; issue 19 item 4)
//! and the team's world in seed rows: a replay to a real axum server and a seed into
//! real PostgreSQL and SQLite render the same ids, numbered in timeline order, while the
//! timeline keeps its own (`g3-1`). Seed columns read `lookup(…)` and `{session_id}` in
//! the team's format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{bin, replay_log};
use crate::replay::Server;
use crate::seed::{TestDb, text};
use crate::seed_into::{one, sql};

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// 120 clients in teams of 25, two teams per business; gifts and purchases by format.
fn scenario(dir: &Path) -> PathBuf {
    write(
        dir,
        "scenario.toml",
        r#"name = "team-entities"
users = 120
days = 1
seed = 3
signups_per_day = 0

[ids]
user = "c-{pad(n, 4)}"
session = "{user_id}-s{n}"
gift = "gift-{pad(n, 6)}"
purchase = "{user_id}-p{n}"

[pools.team]
ids = "t-{n}"
per = 25

[pools.business]
ids = "b-{n}"
of = "team"
per = 2

[gifts]
expire_after = "1h"
room_size = 40

[[phases]]
name = "storm"
kind = "gift_storm"
at = "10h"
over = "1m"
users = 12
shares = 3
"#,
    )
}

/// The log's events, in order.
fn events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What the team's ids must be, computed here from the log alone: the n-th gift
/// created is `gift-00000n`, the n-th purchase `<buyer's id>-p<n>`.
fn expected(events: &[Value]) -> BTreeMap<String, String> {
    let (mut gifts, mut purchases) = (0, 0);
    let mut out = BTreeMap::new();
    for e in events {
        let p = &e["props"];
        match e["event"].as_str().unwrap() {
            "gift.created" => {
                gifts += 1;
                let id = p["gift_id"].as_str().unwrap().to_string();
                out.insert(id, format!("gift-{gifts:06}"));
            }
            "purchase.completed" => {
                purchases += 1;
                let user: u32 = e["user_id"].as_str().unwrap()[1..].parse().unwrap();
                let id = p["purchase_id"].as_str().unwrap().to_string();
                out.insert(id, format!("c-{:04}-p{purchases}", user + 1));
            }
            _ => {}
        }
    }
    out
}

/// The paths the mapping below must send for the log's events.
fn expected_paths(events: &[Value], ids: &BTreeMap<String, String>) -> Vec<String> {
    let mut paths: Vec<String> = events
        .iter()
        .filter_map(|e| {
            let p = &e["props"];
            let (what, id) = match e["event"].as_str().unwrap() {
                "gift.created" => ("create", &p["gift_id"]),
                "gift.claimed" => ("claim", &p["gift_id"]),
                "purchase.completed" => ("buy", &p["purchase_id"]),
                _ => return None,
            };
            Some(format!("/{what}/{}", ids[id.as_str().unwrap()]))
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn replay_sends_the_teams_gift_and_purchase_ids_from_the_engine_and_from_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path());
    let out = dir.path().join("run");
    let o = bin()
        .args(["run", "-q", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let log = out.join("events.jsonl");
    let events = events(&log);
    let ids = expected(&events);
    assert!(
        ids.values().filter(|v| v.starts_with("gift-")).count() >= 12,
        "the storm's gifts at least: {ids:?}"
    );
    // The timeline keeps its own ids.
    assert!(ids.keys().all(|k| k.starts_with('g') || k.starts_with('p')));
    let want = expected_paths(&events, &ids);
    let mapping = write(
        dir.path(),
        "m.toml",
        "[[request]]\nevent = \"gift.created\"\npath = \"/create/{props.gift_id}\"\n\n[[request]]\nevent = \"gift.claimed\"\npath = \"/claim/{props.gift_id}\"\n\n[[request]]\nevent = \"purchase.completed\"\npath = \"/buy/{props.purchase_id}\"\n",
    );
    for from_log in [false, true] {
        let server = Server::start(None);
        let mut c = if from_log {
            replay_log(&log, &mapping, &server.url(), "1d:4s")
        } else {
            let mut c = bin();
            c.args(["replay", "-q", "--compress", "1d:4s", "--target"])
                .arg(server.url())
                .arg("--scenario")
                .arg(&scenario)
                .arg("--mapping")
                .arg(&mapping);
            c
        };
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let mut got: Vec<String> = server.arrivals().into_iter().map(|a| a.path).collect();
        got.sort();
        assert_eq!(got, want, "from the log: {from_log}");
    }
}

const SCHEMA: &str = r#"
CREATE TABLE clients (id text PRIMARY KEY, team text NOT NULL, business text NOT NULL);
CREATE TABLE visits (id text PRIMARY KEY, client text NOT NULL REFERENCES clients (id));
CREATE TABLE gifts (id text PRIMARY KEY, sender text NOT NULL REFERENCES clients (id));
CREATE TABLE claims (gift_id text NOT NULL REFERENCES gifts (id), wallet text NOT NULL, PRIMARY KEY (gift_id, wallet));
CREATE TABLE purchases (id text PRIMARY KEY, buyer text NOT NULL);
"#;

const SEED: &str = r#"
[tables.clients]
from = "users"
[tables.clients.columns]
id = "{user.id}"
team = "{user.team}"
business = "{lookup('team', user.team, 'business')}"

[tables.visits]
from = "sessions"
[tables.visits.columns]
id = "{session_id}"
client = "{user.id}"

[tables.gifts]
from = "gifts"
[tables.gifts.columns]
id = "{props.id}"
sender = "{user.id}"

[tables.claims]
from = "gift_claims"
[tables.claims.columns]
gift_id = "{props.gift_id}"
wallet = "{user.id}"

[tables.purchases]
from = "purchases"
[tables.purchases.columns]
id = "{props.id}"
buyer = "{user.id}"
"#;

/// The ids the seed must write: of gifts, and of purchases.
fn sorted(ids: &BTreeMap<String, String>, prefix: char) -> String {
    let mut v: Vec<&str> = ids
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v.as_str())
        .collect();
    v.sort();
    v.join(",")
}

#[test]
fn seed_into_writes_the_teams_ids_pools_and_sessions_in_postgres_and_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path());
    let out = dir.path().join("run");
    let o = bin()
        .args(["run", "-q", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let ids = expected(&events(&out.join("events.jsonl")));
    let seed = write(dir.path(), "seed.toml", SEED);
    let sc = scenario.display().to_string();
    let sd = seed.display().to_string();

    let db = TestDb::new();
    sql(&db, SCHEMA);
    let o = bin()
        .args(["seed", "-q", "--scenario", &sc, "--into", &sd])
        .args(["--database-url", &db.url()])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let q = |s: &str| one(&db, s);
    assert_eq!(
        q("SELECT string_agg(id, ',' ORDER BY id) FROM gifts"),
        sorted(&ids, 'g')
    );
    assert_eq!(
        q("SELECT string_agg(id, ',' ORDER BY id) FROM purchases"),
        sorted(&ids, 'p')
    );
    assert_ne!(q("SELECT count(*) FROM claims"), "0");
    // The claims name the gifts by the same ids (the foreign key held them too).
    assert_eq!(
        q("SELECT count(*) FROM claims WHERE gift_id !~ '^gift-[0-9]{6}$'"),
        "0"
    );
    assert_eq!(
        q("SELECT team || ' ' || business FROM clients WHERE id = 'c-0051'"),
        "t-3 b-2"
    );
    assert_eq!(
        q("SELECT count(*) FROM clients WHERE business = 'b-1'"),
        "50"
    );
    assert_ne!(q("SELECT count(*) FROM visits"), "0");
    assert_eq!(
        q("SELECT count(*) FROM visits WHERE id !~ ('^' || client || '-s[0-9]+$')"),
        "0"
    );
    assert_eq!(q("SELECT count(*) FROM visits WHERE id = 'c-0001-s1'"), "1");

    // SQLite: the same mapping, the same ids.
    let file = dir.path().join("app.db");
    let c = rusqlite::Connection::open(&file).unwrap();
    c.execute_batch(SCHEMA).unwrap();
    drop(c);
    let o = bin()
        .args(["seed", "-q", "--scenario", &sc, "--into", &sd, "--sqlite"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let c = rusqlite::Connection::open(&file).unwrap();
    let gifts: String = c
        .query_row(
            "SELECT group_concat(id, ',') FROM (SELECT id FROM gifts ORDER BY id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(gifts, sorted(&ids, 'g'));
    let business: String = c
        .query_row(
            "SELECT business FROM clients WHERE id = 'c-0120'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(business, "b-3");

    // A lookup naming no pool is refused at --plan, before anything is written.
    let bad = write(
        dir.path(),
        "bad.toml",
        "[tables.clients]\nfrom = \"users\"\n[tables.clients.columns]\nid = \"{user.id}\"\nteam = \"{user.team}\"\nbusiness = \"{lookup('tema', user.team, 'business')}\"\n",
    );
    let o = bin()
        .args(["seed", "--plan", "--scenario", &sc, "--into"])
        .arg(&bad)
        .args(["--database-url", &db.url()])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let e = text(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("bad.toml:6")
            && e.contains("tables.clients.columns.business")
            && e.contains(
                "`lookup`'s pool `tema` is not a pool of this world (did you mean `team`?)"
            ),
        "{e}"
    );
}
