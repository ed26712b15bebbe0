//! The reference target (`simulate serve`): a small axum service that applies the default
//! mapping's events with the rules the users' systems enforce: points balances, one claim
//! per (user, goal), one claim per (gift, user) and never more claims than shares,
//! check-ins. It de-duplicates on `x-sim-event` and counts arrivals out of order, so a
//! replay can be checked end to end. Started on a seeded database it begins from the
//! seed's state, and checks each points balance and gift outcome the timeline reports
//! against its own, so `seed --days 30` then `replay --window 30d..31d` shows whether the
//! replay continued the seeded world. A test bed, not the product: it keeps its state in
//! memory and does not write the database back.

pub mod catalogue;
pub mod grpc;

pub use catalogue::Catalogue;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Default, Debug)]
pub struct Ledger {
    /// Arrivals per event kind (first deliveries only).
    pub received: BTreeMap<String, u64>,
    pub duplicates: u64,
    /// Arrivals whose seq was not above the user's last one.
    pub(crate) out_of_order: u64,
    /// Requests without an `x-sim-event` header.
    pub(crate) unlabelled: u64,
    seen: HashSet<(String, u32, Option<String>)>,
    last_seq: HashMap<String, u32>,
    pub(crate) balances: HashMap<String, i64>,
    pub goal_claims: HashSet<(String, String)>,
    pub(crate) refused_goal_claims: u64,
    /// The goals a claim may name (the world's catalog); `None` accepts any.
    catalog_goals: Option<HashSet<String>>,
    /// Claims of a goal the catalog does not have (refused).
    pub(crate) unknown_goal_claims: u64,
    gifts: HashMap<String, u32>,
    gift_claims: HashSet<(String, String)>,
    /// Users whose state came from a seeded database.
    pub(crate) seeded_users: u64,
    /// Balances the timeline reports that differ from the service's own.
    pub(crate) balance_mismatches: u64,
    /// Gift claims the timeline says were won (or lost) that the service decided otherwise.
    pub(crate) claim_mismatches: u64,
    pub(crate) gift_claims_won: u64,
    pub(crate) gift_claims_refused: u64,
    pub(crate) check_ins: u64,
}

impl Ledger {
    /// A ledger starting from what a seed left.
    pub fn seeded(state: simulate_db::seeded::SeededState) -> Ledger {
        Ledger {
            seeded_users: state.balances.len() as u64,
            balances: state.balances.into_iter().collect(),
            goal_claims: state.goal_claims.into_iter().collect(),
            gifts: state.gifts.into_iter().collect(),
            gift_claims: state.gift_claims.into_iter().collect(),
            ..Ledger::default()
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "received": self.received,
            "total": self.received.values().sum::<u64>(),
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "unlabelled": self.unlabelled,
            "users_with_points": self.balances.len(),
            "points_total": self.balances.values().sum::<i64>(),
            "goal_claims": self.goal_claims.len(),
            "refused_goal_claims": self.refused_goal_claims,
            "unknown_goal_claims": self.unknown_goal_claims,
            "gifts": self.gifts.len(),
            "gift_claims_won": self.gift_claims_won,
            "gift_claims_refused": self.gift_claims_refused,
            "check_ins": self.check_ins,
            "seeded_users": self.seeded_users,
            "balance_mismatches": self.balance_mismatches,
            "claim_mismatches": self.claim_mismatches,
        })
    }

    /// Applies one event; `Err` is a refusal by the rules (409).
    fn apply(&mut self, event: &str, user: &str, props: &Value) -> Result<Value, String> {
        let s = |k: &str| {
            props
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let n = |k: &str| props.get(k).and_then(Value::as_i64).unwrap_or(0);
        match event {
            "points.earned" | "points.redeemed" => {
                let b = self.balances.entry(user.into()).or_default();
                if event == "points.earned" {
                    *b += n("amount");
                } else if *b < n("amount") {
                    return Err(format!("balance {} is below {}", b, n("amount")));
                } else {
                    *b -= n("amount");
                }
                let b = *b;
                if props.get("balance").and_then(Value::as_i64) != Some(b) {
                    self.balance_mismatches += 1;
                }
                Ok(json!({"balance": b}))
            }
            "goal.claimed" => {
                if let Some(goals) = &self.catalog_goals
                    && !goals.contains(&s("goal_id"))
                {
                    self.unknown_goal_claims += 1;
                    return Err(format!("no goal `{}` in the catalog", s("goal_id")));
                }
                if self.goal_claims.insert((user.into(), s("goal_id"))) {
                    Ok(json!({"claimed": s("goal_id")}))
                } else {
                    self.refused_goal_claims += 1;
                    Err("this goal is already claimed".into())
                }
            }
            "gift.created" => {
                self.gifts.insert(s("gift_id"), n("shares").max(0) as u32);
                Ok(json!({"gift_id": s("gift_id")}))
            }
            "gift.claimed" => {
                let gift = s("gift_id");
                let said = s("outcome");
                let left = self.gifts.get_mut(&gift);
                let wins = matches!(&left, Some(l) if **l > 0)
                    && !self.gift_claims.contains(&(gift.clone(), user.into()));
                if (said == "won" && !wins) || (said == "exhausted" && wins) {
                    self.claim_mismatches += 1;
                }
                match left {
                    Some(l)
                        if *l > 0 && !self.gift_claims.contains(&(gift.clone(), user.into())) =>
                    {
                        *l -= 1;
                        self.gift_claims.insert((gift, user.into()));
                        self.gift_claims_won += 1;
                        Ok(json!({"won": true}))
                    }
                    _ => {
                        self.gift_claims_refused += 1;
                        Err("no share left for this user".into())
                    }
                }
            }
            "checkin.created" => {
                self.check_ins += 1;
                Ok(json!({"ok": true}))
            }
            _ => Ok(json!({"ok": true})),
        }
    }
}

pub type Shared = Arc<Mutex<Ledger>>;

/// What a delivery came to: applied, refused by the rules, or a repeat.
pub(crate) enum Delivery {
    Applied(Value),
    Refused(String),
    Duplicate,
}

impl Ledger {
    /// One delivered event, whatever the protocol: de-duplicated on `x-sim-event`
    /// (`<user>/<seq>`), checked for per-user order, then applied.
    pub(crate) fn receive(
        &mut self,
        id: Option<&str>,
        kind: &str,
        user: &str,
        props: &Value,
    ) -> Delivery {
        // `<user>/<seq>`, or `<user>/<seq>/<step>` for a flow's later requests: each a
        // delivery of its own; only first requests count for the per-user order.
        let id = id.and_then(|v| {
            let mut parts = v.splitn(3, '/');
            let (u, s) = (parts.next()?, parts.next()?.parse::<u32>().ok()?);
            Some((u.to_string(), s, parts.next().map(String::from)))
        });
        let user = match id {
            Some((user, seq, step)) => {
                if !self.seen.insert((user.clone(), seq, step.clone())) {
                    self.duplicates += 1;
                    return Delivery::Duplicate;
                }
                if step.is_none() {
                    let last = *self.last_seq.entry(user.clone()).or_insert(seq);
                    if seq < last {
                        self.out_of_order += 1;
                    }
                    self.last_seq.insert(user.clone(), last.max(seq));
                }
                user
            }
            None => {
                self.unlabelled += 1;
                user.to_string()
            }
        };
        *self.received.entry(kind.to_string()).or_default() += 1;
        match self.apply(kind, &user, props) {
            Ok(v) => Delivery::Applied(v),
            Err(m) => Delivery::Refused(m),
        }
    }
}

async fn event(
    State(ledger): State<Shared>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Json<Value>,
) -> (StatusCode, Json<Value>) {
    let id = headers.get("x-sim-event").and_then(|v| v.to_str().ok());
    let user = body.get("user_id").and_then(Value::as_str).unwrap_or("");
    let props = body.get("props").cloned().unwrap_or(Value::Null);
    match ledger
        .lock()
        .expect("ledger lock")
        .receive(id, &kind, user, &props)
    {
        Delivery::Applied(v) => (StatusCode::OK, Json(v)),
        Delivery::Duplicate => (StatusCode::OK, Json(json!({"duplicate": true}))),
        Delivery::Refused(m) => (StatusCode::CONFLICT, Json(json!({"error": m}))),
    }
}

/// The service's routes over `ledger` (empty, or one [`seeded::load`] read) listing
/// `catalogue` (and holding claims to its goals), with the shared ledger for the caller
/// to read.
pub fn router_over(mut ledger: Ledger, catalogue: Catalogue) -> (Router, Shared) {
    ledger.catalog_goals = catalogue.goals;
    let ledger: Shared = Arc::new(Mutex::new(ledger));
    let catalogue = catalogue.listing;
    let app =
        Router::new()
            .route("/v1/events/{event}", post(event))
            .route(
                "/v1/challenges",
                get(move || {
                    let c = catalogue.clone();
                    async move { Json(c) }
                }),
            )
            .route(
                "/v1/users/{user}/points",
                get(
                    |State(l): State<Shared>, Path(u): Path<String>| async move {
                        let b = l.lock().expect("ledger lock").balances.get(&u).copied();
                        Json(json!({"user_id": u, "balance": b.unwrap_or(0)}))
                    },
                ),
            )
            .route(
                "/v1/stats",
                get(|State(l): State<Shared>| async move {
                    Json(l.lock().expect("ledger lock").to_json())
                }),
            )
            .route("/healthz", get(|| async { "ok" }))
            .with_state(Arc::clone(&ledger));
    (app, ledger)
}

/// Serves on `listener` until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flows_later_steps_are_deliveries_of_their_own_and_repeats_are_not() {
        let mut l = Ledger::default();
        let props = serde_json::json!({});
        let mut got = |id: &str| {
            matches!(
                l.receive(Some(id), "checkin.created", "u1", &props),
                Delivery::Duplicate
            )
        };
        assert!(!got("u1/4"));
        assert!(
            !got("u1/4/2"),
            "step 2 of the same event is another request"
        );
        assert!(!got("u1/4/login"));
        assert!(got("u1/4/2"), "the same step twice is a repeat");
        assert!(got("u1/4"));
        assert_eq!((l.duplicates, l.out_of_order), (2, 0));
    }
}
