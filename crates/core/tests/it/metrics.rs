//! metrics.json's series and per-persona figures: each adds up to the whole run's totals,
//! and a persona that cannot pay says so.

use serde_json::Value;

use crate::common::{Spec, one_persona, simulate};

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

/// Σ over `items` of `field` (a path of keys).
fn sum(items: &[Value], path: &[&str]) -> u64 {
    items
        .iter()
        .map(|i| {
            let v = path.iter().fold(i, |v, k| &v[k]);
            v.as_u64().unwrap_or(0)
        })
        .sum()
}

#[test]
fn series_buckets_add_up_to_the_totals() {
    // 25 minutes do not divide 36 h: 87 buckets, the last 10 minutes long.
    let run = simulate(Spec {
        users: 300,
        span: Some("36h"),
        resolution: Some("25m"),
        ..Default::default()
    });
    let m = &run.metrics;
    assert_eq!(m["series"]["resolution"], "25m");
    assert_eq!(m["series"]["resolution_ms"], 1_500_000);
    let b = m["series"]["buckets"].as_array().expect("buckets");
    assert_eq!(b.len(), (36 * 60usize).div_ceil(25));
    assert_eq!(b[86]["t_ms"], 86 * 1_500_000);
    assert_eq!(b[86]["covered_ms"], 600_000);
    assert_eq!(sum(b, &["covered_ms"]), 36 * 3_600_000);
    assert_eq!(b[1]["start"], "2026-01-05T00:25:00.000Z");
    // Every kind, summed over the buckets, is the run's count of it.
    let by_kind = m["events"]["by_kind"].as_object().expect("by_kind");
    for (kind, total) in by_kind {
        assert_eq!(sum(b, &["events_by_kind", kind]), n(total), "{kind}");
    }
    assert_eq!(sum(b, &["events"]), n(&m["events"]["total"]));
    assert_eq!(sum(b, &["revenue"]), n(&m["revenue"]["total_minor_units"]));
    assert!(
        n(&m["revenue"]["total_minor_units"]) > 0,
        "no revenue to add up"
    );
    assert_eq!(sum(b, &["conversions"]), n(&m["revenue"]["paying_users"]));
    assert_eq!(sum(b, &["points_earned"]), n(&m["points"]["earned"]));
    assert_eq!(sum(b, &["points_redeemed"]), n(&m["points"]["redeemed"]));
    assert_eq!(sum(b, &["new_users"]), n(&m["users"]["signed_up"]));
    assert_eq!(
        sum(b, &["sessions_started"]),
        n(&m["engagement"]["sessions"])
    );
    // Sessions open: the series' highest peak is the run's, and the last bucket ends with
    // the sessions started and never ended.
    let peak = b.iter().map(|x| n(&x["sessions_open_peak"])).max();
    assert_eq!(
        peak,
        Some(n(&m["engagement"]["peak_concurrent_sessions"]["sessions"]))
    );
    let open_at_end = n(&by_kind["session.started"]) - n(&by_kind["session.ended"]);
    assert_eq!(n(&b[86]["sessions_open_end"]), open_at_end);
    for x in b {
        assert!(
            n(&x["sessions_open_end"]) <= n(&x["sessions_open_peak"]),
            "{x}"
        );
    }
}

#[test]
fn a_day_wide_bucket_counts_the_days_active_users() {
    // With a midnight start, 1-day buckets are the calendar days: active users are DAU.
    let run = simulate(Spec {
        users: 300,
        span: Some("36h"),
        resolution: Some("1d"),
        ..Default::default()
    });
    let m = &run.metrics;
    let b = m["series"]["buckets"].as_array().expect("buckets");
    let days = m["engagement"]["days"].as_array().expect("days");
    assert_eq!(b.len(), 2);
    for (x, d) in b.iter().zip(days) {
        assert_eq!(x["active_users"], d["dau"]);
        assert_eq!(x["covered_ms"], d["covered_ms"]);
        assert_eq!(x["revenue"], d["revenue"]);
    }
}

#[test]
fn personas_add_up_to_the_run_and_every_shipped_persona_pays() {
    let run = simulate(Spec {
        users: 500,
        days: 7,
        ..Default::default()
    });
    let m = &run.metrics;
    let p: Vec<Value> = m["personas"]
        .as_object()
        .expect("personas")
        .values()
        .cloned()
        .collect();
    assert_eq!(p.len(), 5);
    assert_eq!(sum(&p, &["users"]), n(&m["users"]["signed_up"]));
    assert_eq!(sum(&p, &["revenue"]), n(&m["revenue"]["total_minor_units"]));
    assert_eq!(sum(&p, &["payers"]), n(&m["revenue"]["paying_users"]));
    for step in [
        "signed_up",
        "first_action",
        "first_reward",
        "first_investment",
        "purchase",
    ] {
        assert_eq!(sum(&p, &["funnel", step]), n(&m["funnel"][step]), "{step}");
    }
    for (name, f) in m["personas"].as_object().expect("personas") {
        assert!(n(&f["payers"]) > 0, "{name} has no payer: {f}");
        assert_eq!(f["never_pays"], false, "{name}");
        assert_eq!(f["funnel"]["purchase"], f["payers"], "{name}");
        // A 7-day world completes days 1..6 after the first cohort, not day 7.
        let curve = f["retention_curve"].as_array().expect("curve");
        let days: Vec<u64> = curve.iter().map(|c| n(&c["day"])).collect();
        assert_eq!(days, [1, 2, 3, 4, 5, 6], "{name}");
        assert_eq!(curve[0]["share"], f["retention"]["d1"], "{name}");
        let h = f["habit"]["mean"].as_f64().expect("habit");
        assert!(h > 0.0 && h < 1.0, "{name}: habit {h}");
        let cohorts = f["by_cohort"].as_array().expect("cohorts");
        assert_eq!(sum(cohorts, &["users"]), n(&f["users"]), "{name}");
    }
    // The whole run's cohort table is the personas' added up.
    let cohorts = m["retention"]["by_cohort"].as_array().expect("cohorts");
    assert_eq!(sum(cohorts, &["users"]), n(&m["users"]["signed_up"]));
    let curve = m["retention"]["curve"].as_array().expect("curve");
    assert_eq!(curve[0]["share"], m["retention"]["overall"]["d1"]);
}

#[test]
fn a_persona_without_a_purchase_step_never_pays() {
    let dir = one_persona(
        "walker",
        "web = 1",
        "\"6h\"",
        "[session]\nstart = \"open\"\n[states.open]\naction = \"login\"\nnext = { to = \"end\", delay = \"5s\" }\n",
    );
    let run = simulate(Spec {
        users: 50,
        days: 2,
        personas: Some(dir.path()),
        ..Default::default()
    });
    let w = &run.metrics["personas"]["walker"];
    assert_eq!(w["never_pays"], true, "{w}");
    assert_eq!((n(&w["payers"]), w["payer_share"].as_f64()), (0, Some(0.0)));
    assert_eq!(w["arpu"], 0.0);
}
