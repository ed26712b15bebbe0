//! metrics.json as types: what `simulate run` writes and what readers load back
//! (schema/metrics.v1.json describes the same document; docs/METRICS.md what each figure
//! means). A ratio or a percentile set is `None` (null) when it has nothing to divide.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `schema` value of this version of the document.
pub(crate) const METRICS_SCHEMA: &str = "simulate.metrics.v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsDoc {
    pub schema: String,
    pub scenario: String,
    pub window: Window,
    pub users: Users,
    pub engagement: Engagement,
    pub retention: Retention,
    pub funnel: Funnel,
    pub revenue: Revenue,
    pub points: Points,
    pub gifts: Gifts,
    pub goals: Goals,
    pub nudges: Nudges,
    pub personas: BTreeMap<String, PersonaFigures>,
    pub events: Events,
    /// The span in equal buckets of simulated time (`--resolution`); empty in documents
    /// older than it.
    #[serde(default)]
    pub series: Series,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// RFC 3339 instant of t = 0.
    pub start: String,
    /// UTC calendar days the run touched (an interrupted run reports fewer than planned).
    pub days: u64,
    /// UTC calendar days the whole span touches (a 36 h world from 18:00 touches 3).
    pub days_planned: u64,
    /// Whether the run simulated its whole span.
    pub complete: bool,
    /// The world's length as written back (`36h`, `7d`); empty in documents older than it.
    #[serde(default)]
    pub span: String,
    #[serde(default)]
    pub span_ms: i64,
    /// RFC 3339 instant the span ends.
    #[serde(default)]
    pub end: String,
    /// Milliseconds of the span the run simulated.
    #[serde(default)]
    pub covered_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Users {
    pub signed_up: u64,
    pub with_events: u64,
    pub churned: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    pub days: Vec<DayFigures>,
    /// Average DAU over the complete days; null when no day was complete.
    pub avg_dau: Option<f64>,
    pub stickiness_dau_over_mau: Option<f64>,
    pub peak_concurrent_sessions: Peak,
    pub sessions: u64,
    pub sessions_per_user: Option<f64>,
    pub session_length_seconds: Option<Percentiles>,
    pub session_triggers: BTreeMap<String, u64>,
    pub session_end_reasons: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayFigures {
    pub day: u64,
    /// YYYY-MM-DD (UTC).
    pub date: String,
    pub dau: u64,
    pub wau: u64,
    pub mau: u64,
    pub stickiness: Option<f64>,
    pub new_users: u64,
    pub sessions: u64,
    pub events: u64,
    pub revenue: u64,
    pub points_earned: u64,
    pub points_redeemed: u64,
    pub peak_concurrent_sessions: u64,
    pub churned: u64,
    /// Milliseconds of this day the run covered: 86,400,000 for a whole day, less for the
    /// partial first or last day of a world that starts mid-day or lasts 36 h.
    #[serde(default)]
    pub covered_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    pub sessions: u64,
    /// RFC 3339 instant of the peak.
    pub at: String,
}

/// A histogram's count, mean and percentiles (whole units: seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    pub overall: RetentionRates,
    pub by_cohort: Vec<Cohort>,
    /// D1..D30, the days some cohort completes inside the window.
    #[serde(default)]
    pub curve: Vec<RetentionPoint>,
}

/// Day-N retention with what it divides: of `users` (those whose day N after sign-up is
/// a complete day of the run) `retained` were active on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetentionPoint {
    pub day: u64,
    pub users: u64,
    pub retained: u64,
    pub share: f64,
}

/// Day-N retention; `None` when no cohort reaches day N inside the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetentionRates {
    pub d1: Option<f64>,
    pub d7: Option<f64>,
    pub d14: Option<f64>,
    pub d30: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    pub signup_day: u64,
    /// YYYY-MM-DD (UTC) of the sign-up day; empty in documents older than it.
    #[serde(default)]
    pub date: String,
    pub users: u64,
    pub active_share_by_day: Vec<f64>,
    pub ltv_so_far: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    pub signed_up: u64,
    pub first_action: u64,
    pub first_reward: u64,
    pub first_investment: u64,
    pub purchase: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revenue {
    pub total_minor_units: u64,
    pub by_currency: BTreeMap<String, u64>,
    pub paying_users: u64,
    pub conversion: Option<f64>,
    pub arpu: f64,
    pub arppu: f64,
    pub arpdau: f64,
    pub ltv_so_far: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Points {
    pub earned: u64,
    pub earned_from_activity: u64,
    pub earned_from_goals: u64,
    pub redeemed: u64,
    pub outstanding_liability: i64,
    pub redemption_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gifts {
    pub created: u64,
    pub shares_offered: u64,
    pub claim_attempts: u64,
    pub claimed: u64,
    pub gifts_fully_claimed: u64,
    pub failed_exhausted: u64,
    pub failed_expired: u64,
    pub share_fill_rate: Option<f64>,
    pub time_to_claim_seconds: Option<Percentiles>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Goals {
    pub completed: u64,
    pub claimed: u64,
    pub claim_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nudges {
    pub sent: u64,
    pub sent_reengagement: u64,
    pub sent_campaign: u64,
    pub opened: u64,
    pub open_rate: Option<f64>,
    pub time_to_open_seconds: Option<Percentiles>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonaFigures {
    pub users: u64,
    pub share: Option<f64>,
    pub sessions: u64,
    pub sessions_per_user: Option<f64>,
    pub retention: RetentionRates,
    pub churned: u64,
    pub churn_rate: Option<f64>,
    pub revenue: u64,
    pub hooked_loop: HookedLoop,
    /// This persona's users through the same funnel as the whole run's.
    #[serde(default)]
    pub funnel: Funnel,
    /// Users with a purchase; `payer_share` = payers / users.
    #[serde(default)]
    pub payers: u64,
    #[serde(default)]
    pub payer_share: Option<f64>,
    /// The persona has no purchase step: its users cannot pay, however long the run.
    #[serde(default)]
    pub never_pays: bool,
    /// Revenue per user and per paying user (minor units).
    #[serde(default)]
    pub arpu: f64,
    #[serde(default)]
    pub arppu: f64,
    /// D1..D30 for this persona's users.
    #[serde(default)]
    pub retention_curve: Vec<RetentionPoint>,
    #[serde(default)]
    pub habit: HabitAtEnd,
    /// Cohorts by sign-up day, this persona's users only.
    #[serde(default)]
    pub by_cohort: Vec<Cohort>,
}

/// Habit strength (0..1) at the end of the run, decayed from each user's last session
/// (or sign-up, or churn) by the persona's half-life; null without users.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HabitAtEnd {
    pub mean: Option<f64>,
    /// Over the users who had not churned.
    pub mean_not_churned: Option<f64>,
}

/// How far each session got through the Hooked loop (trigger, action, reward, investment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookedLoop {
    pub trigger: Triggers,
    pub action: Action,
    pub reward: Reward,
    pub investment: Investment,
    pub abandoned: u64,
    pub timed_out: u64,
    pub completed_loops: u64,
    pub completion_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Triggers {
    pub internal: u64,
    pub external: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub reached: u64,
    pub missed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reward {
    pub tried: u64,
    pub drawn: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Investment {
    pub tried: u64,
    pub made: u64,
    pub skipped: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Events {
    pub total: u64,
    /// Every event kind, zero counts included.
    pub by_kind: BTreeMap<String, u64>,
    pub per_active_user_day: Option<f64>,
    /// Per kind seen, 24 hourly counts (UTC).
    pub by_hour_utc: BTreeMap<String, Vec<u64>>,
    /// The scenario's 24 hourly activity weights (UTC, `[activity]`), as configured: what
    /// `by_hour_utc` is drawn against in report.html. Empty in documents older than it.
    #[serde(default)]
    pub hourly_weights: Vec<f64>,
    pub by_phase: Vec<PhaseEvents>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseEvents {
    pub phase: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Per kind seen in the phase.
    pub events: BTreeMap<String, u64>,
}

/// The span in buckets of `resolution` from t = 0; the last may be shorter (its
/// `covered_ms` says how much), and an interrupted run has only the buckets it reached.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// As written back (`10m`, `1h`).
    pub resolution: String,
    pub resolution_ms: i64,
    pub buckets: Vec<SeriesBucket>,
}

/// What happened in one bucket of simulated time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesBucket {
    /// Offset of the bucket's start from t = 0.
    pub t_ms: i64,
    /// RFC 3339 instant of the bucket's start.
    pub start: String,
    /// Milliseconds of the bucket inside the run.
    pub covered_ms: i64,
    /// Users with a session event in the bucket.
    pub active_users: u64,
    /// Most sessions open at once in the bucket, and the number open at its end.
    pub sessions_open_peak: u64,
    pub sessions_open_end: u64,
    pub sessions_started: u64,
    pub new_users: u64,
    pub events: u64,
    /// Per kind with an event in the bucket.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Users whose first purchase is in the bucket.
    pub conversions: u64,
    pub revenue: u64,
    pub points_earned: u64,
    pub points_redeemed: u64,
}
