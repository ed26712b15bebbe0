//! The timeline's invariants: order, per-user sequence, sessions, phases, ids.

use std::collections::BTreeMap;

use simulate_core::timeline::{Props, SignupSource, StatCode, Trigger};
use simulate_core::units::{DAY, HOUR, MINUTE};

use crate::common::{Spec, simulate};

#[test]
fn events_are_ordered_and_sequenced_per_user() {
    let run = simulate(Spec {
        users: 3000,
        days: 4,
        threads: 2,
        ..Default::default()
    });
    let mut last = (i64::MIN, 0u32, 0u32);
    let mut next_seq: BTreeMap<u32, u32> = BTreeMap::new();
    let mut open: BTreeMap<u32, u32> = BTreeMap::new();
    let mut stats: BTreeMap<(u32, StatCode), u32> = BTreeMap::new();
    for e in &run.events {
        let key = (e.t_ms, e.user, e.seq);
        assert!(key > last, "out of order: {key:?} after {last:?}");
        last = key;
        let seq = next_seq.entry(e.user).or_insert(0);
        assert_eq!(e.seq, *seq, "user {} skipped a seq", e.user);
        *seq += 1;
        assert!(e.t_ms >= 0 && e.t_ms < 4 * DAY);
        match e.props {
            Props::SessionStarted { .. } => {
                assert!(
                    open.insert(e.user, e.session).is_none(),
                    "user {} opened two sessions",
                    e.user
                );
            }
            Props::SessionEnded { .. } => {
                assert_eq!(
                    open.remove(&e.user),
                    Some(e.session),
                    "user {} ended a session it had not started",
                    e.user
                );
            }
            Props::StatUpdated { code, value, delta } => {
                let total = stats.entry((e.user, code)).or_insert(0);
                *total += delta;
                assert_eq!(value, *total, "stat.updated value is the running total");
            }
            _ => {}
        }
        let in_session = open.get(&e.user).copied();
        if !matches!(e.props, Props::SessionEnded { .. }) {
            assert_eq!(
                e.session != 0,
                in_session.is_some(),
                "session_id of {:?} for user {}",
                e.props,
                e.user
            );
        }
    }
}

#[test]
fn phases_shape_the_traffic() {
    let run = simulate(Spec {
        users: 5000,
        days: 4,
        threads: 2,
        ..Default::default()
    });
    // Default scenario: login rush of 10 % of the users (500) over 60 s at 1d8h, outage
    // 3d14h for 15 m.
    let rush = (DAY + 8 * HOUR, DAY + 8 * HOUR + MINUTE);
    let rushed = run
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.props,
                Props::SessionStarted {
                    trigger: Trigger::Phase(0),
                    ..
                }
            )
        })
        .inspect(|e| {
            assert!(
                e.t_ms >= rush.0 && e.t_ms < rush.1,
                "rush login outside its window at {}",
                e.t_ms
            )
        })
        .count();
    assert!((450..=500).contains(&rushed), "{rushed} rush logins");
    let outage = (3 * DAY + 14 * HOUR, 3 * DAY + 14 * HOUR + 15 * MINUTE);
    let during = run
        .events
        .iter()
        .filter(|e| {
            e.t_ms >= outage.0
                && e.t_ms < outage.1
                && matches!(e.props, Props::SessionStarted { .. })
        })
        .count();
    assert_eq!(during, 0, "sessions started during the outage");
    let after = run
        .events
        .iter()
        .filter(|e| {
            e.t_ms >= outage.1
                && e.t_ms < outage.1 + 10 * MINUTE
                && matches!(e.props, Props::SessionStarted { .. })
        })
        .count();
    let before = run
        .events
        .iter()
        .filter(|e| {
            e.t_ms >= outage.0 - 10 * MINUTE
                && e.t_ms < outage.0
                && matches!(e.props, Props::SessionStarted { .. })
        })
        .count();
    assert!(
        after > before,
        "no reconnect storm after the outage: {after} vs {before}"
    );
    // Game-session burst: 1 % of the users (50), 5–10 stat updates each within a second
    // or two.
    let burst = run
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.props,
                Props::SessionStarted {
                    trigger: Trigger::Phase(1),
                    ..
                }
            )
        })
        .count();
    assert!((45..=50).contains(&burst), "{burst} burst sessions");
}

#[test]
fn ids_are_assigned_in_order_and_invites_bring_users() {
    let run = simulate(Spec {
        users: 3000,
        days: 5,
        ..Default::default()
    });
    let mut signups = Vec::new();
    for e in &run.events {
        if let Props::SignedUp {
            source, invited_by, ..
        } = e.props
        {
            signups.push((e.user, source, invited_by));
        }
    }
    assert!(
        signups
            .iter()
            .filter(|s| s.1 == SignupSource::Launch)
            .all(|s| s.0 < 3000)
    );
    assert!(
        signups
            .iter()
            .filter(|s| s.1 != SignupSource::Launch)
            .all(|s| s.0 >= 3000)
    );
    let invited: Vec<_> = signups
        .iter()
        .filter(|s| s.1 == SignupSource::Invite)
        .collect();
    assert!(!invited.is_empty(), "no invitee joined");
    assert!(
        invited.len() as u64 <= run.totals.invitees,
        "invitees signed up that the engine never created"
    );
    // Ids are handed out as users arrive: an invitee is always newer than its inviter.
    assert!(invited.iter().all(|s| s.2.is_some_and(|by| by < s.0)));
    let mut ids: Vec<u32> = signups.iter().map(|s| s.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), signups.len(), "one sign-up per id");
    assert_eq!(
        signups
            .iter()
            .filter(|s| s.1 == SignupSource::Launch)
            .count(),
        3000,
        "every launch user signs up on day 0"
    );
}

#[test]
fn a_gift_storm_drops_gifts_into_rooms_and_claimers_race_for_few_shares() {
    let run = simulate(Spec {
        users: 2000,
        days: 1,
        threads: 2,
        scenario: Some(
            "[[phases]]\nname = \"storm\"\nkind = \"gift_storm\"\nat = \"20h\"\nover = \"2m\"\nusers = 200\nshares = 3\n",
        ),
        ..Default::default()
    });
    let at = 20 * HOUR;
    let dropped: Vec<_> = run
        .events
        .iter()
        .filter(|e| matches!(e.props, Props::GiftCreated { shares: 3, .. }))
        .filter(|e| e.t_ms >= at && e.t_ms < at + 2 * MINUTE + 2 * 1000)
        .collect();
    assert!(dropped.len() >= 180, "{} storm gifts", dropped.len());
    let storm: std::collections::BTreeSet<(u32, u32)> = dropped
        .iter()
        .filter_map(|e| match e.props {
            Props::GiftCreated { gift, .. } => Some((gift.creator, gift.n)),
            _ => None,
        })
        .collect();
    let mut won: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    let mut lost = 0;
    for e in &run.events {
        if let Props::GiftClaimed { gift, outcome } = e.props
            && storm.contains(&(gift.creator, gift.n))
        {
            match outcome {
                simulate_core::timeline::ClaimOutcome::Won { .. } => {
                    *won.entry((gift.creator, gift.n)).or_default() += 1
                }
                simulate_core::timeline::ClaimOutcome::Exhausted => lost += 1,
                _ => {}
            }
        }
    }
    assert!(
        won.values().all(|n| *n <= 3),
        "no gift gives more than its shares"
    );
    let taken: u32 = won.values().sum();
    assert!(
        lost > taken as usize,
        "a race: {lost} too late for {taken} shares"
    );
}
