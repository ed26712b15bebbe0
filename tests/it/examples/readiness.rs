//! examples/readiness (seed 003): the 75/20/5 mix, 8–12 % at once, the team's ids and dates.

use super::support::*;

/// The UTC offset in hours of each of the examples' time zones in January 2026.
fn january_offset(tz: &str) -> i64 {
    match tz {
        "Australia/Sydney" => 11,
        "Asia/Ho_Chi_Minh" => 7,
        "Europe/London" => 0,
        "America/New_York" => -5,
        other => panic!("unexpected zone {other}"),
    }
}

/// 2026-01-05T00:00Z, the examples' t = 0, in ms since the epoch.
const START_MS: i64 = 1_767_571_200_000;

/// The calendar date (YYYY-MM-DD) of an instant shifted by `offset_h` hours (civil_from_days).
fn local_date(t_ms: i64, offset_h: i64) -> String {
    let z = (START_MS + t_ms + offset_h * HOUR).div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Seed 003: the read/write/AI mix at the peak, 8–12 % of the clients in a session at the
/// busiest instant of day 2, ids `c-0001` / `t-1` / `b-1`, each check-in on the client's
/// own date, the session cookie from the environment.
#[test]
fn readiness_mix_peak_ids_and_dates() {
    let ex = example("readiness");
    ex.validates();
    let dir = tempfile::tempdir().unwrap();
    let events = ex.run(dir.path(), &["--users", "2000"]);
    ex.declares_what_it_maps(&events);
    let peak = peak_open(&events, DAY, 2 * DAY);
    assert!(
        (160..=240).contains(&peak),
        "{peak} of 2,000 clients at once"
    );
    let clients = signups(&events);
    clients_teams_and_businesses(&clients);
    check_ins_on_their_own_dates(&events, &clients);
    views_name_the_clients_pools(&events, &clients);
    let http = Recorder::start();
    let args = [
        "--users",
        "2000",
        "--window",
        "1d18h..1d22h",
        "--compress",
        "4h:8s",
    ];
    let envs = [
        ("AUTH_COOKIE", "sb-access-token=t3st"),
        ("STRAVA_WEBHOOK_SECRET", "s3cret"),
    ];
    let s = ex.replay(dir.path(), &http.url, &args, &envs);
    all_answered(&s);
    mix_within_two_points(&s, &[("read", 75.0), ("write", 20.0), ("ai", 5.0)]);
    let sent = s["sessions_open"]["peak"].as_u64().unwrap();
    assert!(sent.abs_diff(peak_open(&events, DAY + 18 * HOUR, DAY + 22 * HOUR)) <= 1);
    requests_carry_the_clients_ids(&http.requests(), &clients, &events);
}

/// Client n (1-based) is `c-000n`, in team ⌈n/25⌉ and business ⌈n/100⌉.
fn clients_teams_and_businesses(clients: &BTreeMap<String, Value>) {
    assert_eq!(clients.len(), 2000, "a fixed client base");
    for (user, p) in clients {
        let n = user_number(user) + 1;
        assert_eq!(p["id"], format!("c-{n:04}"));
        assert_eq!(p["team"], format!("t-{}", (n - 1) / 25 + 1));
        assert_eq!(p["business"], format!("b-{}", (n - 1) / 100 + 1));
    }
}

/// Each `daily_metrics.posted` carries the date of its instant in the client's own time
/// zone (which `user.signed_up` carries); Sydney's morning check-ins (evening in UTC) are
/// on the next UTC day.
fn check_ins_on_their_own_dates(events: &[Value], clients: &BTreeMap<String, Value>) {
    let mut ahead = 0;
    for e in events
        .iter()
        .filter(|e| e["event"] == "daily_metrics.posted")
    {
        let client = &clients[e["user_id"].as_str().unwrap()];
        let t = e["t_ms"].as_i64().unwrap();
        let tz = client["tz"].as_str().unwrap();
        let date = e["props"]["date"].as_str().unwrap().to_string();
        assert_eq!(date, local_date(t, january_offset(tz)), "{tz}: {e}");
        assert_eq!(e["props"]["client_id"], client["id"], "{e}");
        ahead += usize::from(date != local_date(t, 0));
    }
    assert!(ahead > 100, "{ahead} check-ins on another date than UTC's");
}

/// A dashboard view names the client's team, a stats view their business: the custom
/// actions' props read the scenario's pools (`{user.team}`).
fn views_name_the_clients_pools(events: &[Value], clients: &BTreeMap<String, Value>) {
    let (mut dashboards, mut stats) = (0, 0);
    for e in events {
        let client = || &clients[e["user_id"].as_str().unwrap()];
        if e["event"] == "dashboard.viewed" {
            assert_eq!(e["props"]["team_id"], client()["team"], "{e}");
            dashboards += 1;
        } else if e["event"] == "business_stats.viewed" {
            assert_eq!(e["props"]["business_id"], client()["business"], "{e}");
            stats += 1;
        }
    }
    assert!(
        dashboards > 100 && stats > 100,
        "{dashboards} dashboards, {stats} stats"
    );
}

/// The requests name the sending client's own ids and carry the cookie.
fn requests_carry_the_clients_ids(
    requests: &[Request],
    clients: &BTreeMap<String, Value>,
    events: &[Value],
) {
    let by_id: BTreeMap<String, &Value> = events
        .iter()
        .map(|e| {
            (
                format!("{}/{}", e["user_id"].as_str().unwrap(), e["seq"]),
                e,
            )
        })
        .collect();
    let mut hanoi_tomorrow = 0;
    for r in requests {
        assert_eq!(r.headers["cookie"], "sb-access-token=t3st");
        let event_id = r.headers["x-sim-event"].to_str().unwrap();
        let user = event_id.split('/').next().unwrap();
        let c = &clients[user];
        let (id, team, business) = (
            c["id"].as_str().unwrap(),
            c["team"].as_str().unwrap(),
            c["business"].as_str().unwrap(),
        );
        let path = r.uri.split('?').next().unwrap();
        match path {
            "/api/daily-metrics" => {
                assert_eq!(r.body["clientId"], id);
                // Replay's own date in the client's zone (`tz` from the sign-up) is the
                // engine's.
                let e = by_id[event_id];
                assert_eq!(r.body["date"], e["props"]["date"], "{r:?}");
                let t = e["t_ms"].as_i64().unwrap();
                hanoi_tomorrow += usize::from(
                    c["tz"] == "Asia/Ho_Chi_Minh" && r.body["date"] != local_date(t, 0).as_str(),
                );
                assert!(
                    r.body["hrv"].is_number() && r.body["wellness"].is_i64(),
                    "{r:?}"
                );
            }
            "/api/ai/chat" => assert_eq!(r.body["clientId"], id),
            "/api/calendar/unified" => {
                assert!(r.uri.contains(&format!("clientId={id}&")), "{}", r.uri)
            }
            "/api/integrations/strava/webhook" => {
                let sig = r.headers["x-signature"].to_str().unwrap();
                assert!(
                    sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{sig}"
                );
            }
            p if p.starts_with("/api/teams/") => {
                assert_eq!(p, format!("/api/teams/{team}/dashboard"))
            }
            p if p.starts_with("/api/business/") => {
                assert_eq!(p, format!("/api/business/{business}/stats"))
            }
            other => panic!("unexpected request {other}"),
        }
    }
    assert!(
        hanoi_tomorrow > 0,
        "a Hanoi client's post after 17:00 UTC is on Hanoi's date"
    );
}

/// Seed 003's budgets per route: a threshold may name one of the world's own kinds
/// (`world.toml`'s `dashboard.viewed`), not only the built-in ones, and the verdict says
/// which kinds it judged by their names (it said `unknown, unknown, unknown`).
#[test]
fn thresholds_name_the_worlds_own_event_kinds() {
    let ex = example("readiness");
    let dir = tempfile::tempdir().unwrap();
    let http = Recorder::start();
    let args = [
        "--users",
        "300",
        "--window",
        "1d18h..1d19h",
        "--compress",
        "1h:4s",
        "--threshold",
        "requests{event:dashboard.viewed}>0",
        "--threshold",
        "p95{kind:read}<10s",
    ];
    let envs = [
        ("AUTH_COOKIE", "sb-access-token=t3st"),
        ("STRAVA_WEBHOOK_SECRET", "s3cret"),
    ];
    let s = ex.replay(dir.path(), &http.url, &args, &envs);
    let dashboards = http
        .requests()
        .iter()
        .filter(|r| r.uri.contains("/dashboard"))
        .count();
    assert!(dashboards > 0, "no dashboard request in the window");
    let verdicts = s["thresholds"].as_array().unwrap();
    let event = &verdicts[0];
    assert_eq!(event["ok"], true, "{event}");
    assert_eq!(
        event["observed"].as_f64().unwrap() as usize,
        dashboards,
        "the event threshold counts exactly the dashboard requests: {event}"
    );
    assert_eq!(
        event["applied_to"],
        format!("{dashboards} requests: dashboard.viewed")
    );
    let read = verdicts[1]["applied_to"].as_str().unwrap();
    assert!(
        read.contains("dashboard.viewed")
            && read.contains("calendar.viewed")
            && !read.contains("unknown"),
        "{read}"
    );
}
