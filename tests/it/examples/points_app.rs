//! examples/points-app (seed 000): the trigger phase, the persona mix, UUID ids, BehaviorLog events.

use super::support::*;

/// Seed 000: 1,000+ users at once in the trigger phase (10 % of the users or more), the
/// Hunter/Saver mix, a UUID per user; the trigger phase replayed arrives as BehaviorLog
/// events with the user's UUID and the props as the JSONB payload.
#[test]
fn points_app_trigger_phase_mix_and_uuid_ids() {
    let ex = example("points-app");
    ex.validates();
    let dir = tempfile::tempdir().unwrap();
    let world = ["--users", "2000", "--days", "2"];
    let events = ex.run(dir.path(), &world);
    ex.declares_what_it_maps(&events);
    let rush = DAY + 19 * HOUR;
    let peak = peak_open(&events, rush, rush + 15 * 60_000);
    assert!(
        peak >= 200,
        "{peak} sessions open at the trigger phase's peak"
    );
    let users = signups(&events);
    let hunters = events
        .iter()
        .filter(|e| {
            e["event"] == "user.signed_up" && user_number(e["user_id"].as_str().unwrap()) < 2000
        })
        .filter(|e| e["persona"] == "hunter")
        .count();
    assert!(
        (hunters as f64 / 20.0 - 60.0).abs() <= 2.0,
        "{hunters} hunters of 2,000"
    );
    let ids: BTreeSet<&str> = users.values().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), users.len(), "one UUID per user");
    assert!(ids.iter().all(|id| is_uuid(id)), "{:?}", ids.first());
    let http = Recorder::start();
    let window = ["--window", "1d18h55m..1d19h10m", "--compress", "15m:5s"];
    let s = ex.replay(
        dir.path(),
        &http.url,
        &[&world[..], &window[..]].concat(),
        &[],
    );
    all_answered(&s);
    let sent = events
        .iter()
        .filter(|e| e["event"] == "points.earned")
        .filter(|e| (rush - 5 * 60_000..rush + 10 * 60_000).contains(&e["t_ms"].as_i64().unwrap()))
        .count();
    let points: Vec<Request> = http
        .requests()
        .into_iter()
        .filter(|r| r.body["type"] == "points.earned")
        .collect();
    assert_eq!(points.len(), sent);
    for r in &points {
        assert_eq!((r.method.as_str(), r.uri.as_str()), ("POST", "/events"));
        assert!(ids.contains(r.body["userId"].as_str().unwrap()), "{r:?}");
        assert!(r.body["payload"]["amount"].as_i64().unwrap() > 0, "{r:?}");
    }
}

/// `8-4-4-4-12` lowercase hex digits.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_digit() || ('a'..='f').contains(&c)
            }
        })
}
