//! The timeline event: one thing one user did (or had done to them) at one instant.

/// Stat codes a stat service reports (seed 001).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatCode {
    EnemyKills = 0,
    LoginCount = 1,
    GamesPlayed = 2,
}

impl StatCode {
    pub(crate) const ALL: [StatCode; 3] = [
        StatCode::EnemyKills,
        StatCode::LoginCount,
        StatCode::GamesPlayed,
    ];
    pub fn name(self) -> &'static str {
        match self {
            StatCode::EnemyKills => "enemy_kills",
            StatCode::LoginCount => "login_count",
            StatCode::GamesPlayed => "games_played",
        }
    }
}

/// What started a session: habit (internal) or the world (external).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    Internal,
    Nudge,
    Broadcast,
    /// A scenario phase, by index.
    Phase(u8),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    Completed,
    Abandoned,
    Timeout,
    Outage,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Abandoned => "abandoned",
            EndReason::Timeout => "timeout",
            EndReason::Outage => "outage",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PointsSource {
    Activity,
    Goal,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SignupSource {
    Launch,
    Organic,
    Invite,
}

/// Outcome of a gift claim attempt; `Pending` only until the epoch's race is resolved.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    Pending,
    Won { share: u16 },
    Exhausted,
    Expired,
}

/// A gift's id: its creator and the creator's gift counter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GiftId {
    pub creator: u32,
    pub n: u32,
}

/// Per-kind payload. Small and `Copy`: labels are indices resolved at serialization.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Props {
    SignedUp {
        source: SignupSource,
        invited_by: Option<u32>,
        platform: u8,
        locale: u8,
        room: u32,
    },
    SessionStarted {
        trigger: Trigger,
        habit: f32,
        /// The user's gift room: live clients join it (Socket.IO rooms) at session start.
        room: u32,
    },
    SessionEnded {
        reason: EndReason,
        duration_ms: i64,
        habit: f32,
        reward_tries: u8,
        investment_tries: u8,
    },
    LoggedIn {
        platform: u8,
    },
    NudgeSent {
        nudge: u32,
        campaign: Option<u8>,
    },
    NudgeOpened {
        nudge: u32,
        delay_ms: i64,
    },
    PointsEarned {
        amount: u32,
        source: PointsSource,
        balance: i64,
    },
    PointsRedeemed {
        amount: u32,
        balance: i64,
    },
    ChallengeViewed {
        challenge: u16,
    },
    StatUpdated {
        code: StatCode,
        value: u32,
        delta: u32,
    },
    GoalCompleted {
        goal: u16,
        challenge: u16,
        code: StatCode,
        target: u32,
    },
    GoalClaimed {
        goal: u16,
        challenge: u16,
        reward: u32,
    },
    GiftCreated {
        gift: GiftId,
        shares: u16,
        value: u32,
        room: u32,
    },
    GiftClaimed {
        gift: GiftId,
        outcome: ClaimOutcome,
    },
    CheckIn {
        day_part: u8,
        mood: u8,
        streak: u16,
    },
    Purchase {
        n: u32,
        amount: u32,
        currency: [u8; 3],
    },
    ProfileUpdated {
        field: u8,
    },
    Invited {
        invite: u32,
    },
    Churned {
        habit: f32,
        days_since_signup: u32,
    },
    /// A kind the team declared in `world.toml`: its index in the world's
    /// `world::kinds::KindTable` and its name. Its props are written into the line when
    /// the engine makes the event (`engine::custom`): nothing else reads them as values.
    Custom {
        kind: u16,
        name: &'static str,
    },
}

/// A custom kind's name for the life of the process: kinds are declared once per loaded
/// world, so the names interned stay few, and `Props` stays `Copy` and small.
pub fn intern(name: &str) -> &'static str {
    use std::sync::Mutex;
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}

/// Every kind of event the timeline holds, in the order docs and schemas list them.
pub const EVENT_KINDS: &[&str] = &[
    "user.signed_up",
    "session.started",
    "session.ended",
    "user.logged_in",
    "nudge.sent",
    "nudge.opened",
    "points.earned",
    "points.redeemed",
    "challenge.viewed",
    "stat.updated",
    "goal.completed",
    "goal.claimed",
    "gift.created",
    "gift.claimed",
    "checkin.created",
    "purchase.completed",
    "profile.updated",
    "user.invited",
    "user.churned",
];

impl Props {
    /// Index into [`EVENT_KINDS`], or for a custom kind into its world's `KindTable`
    /// (after the built-in ones).
    pub fn kind(&self) -> usize {
        match self {
            Props::SignedUp { .. } => 0,
            Props::SessionStarted { .. } => 1,
            Props::SessionEnded { .. } => 2,
            Props::LoggedIn { .. } => 3,
            Props::NudgeSent { .. } => 4,
            Props::NudgeOpened { .. } => 5,
            Props::PointsEarned { .. } => 6,
            Props::PointsRedeemed { .. } => 7,
            Props::ChallengeViewed { .. } => 8,
            Props::StatUpdated { .. } => 9,
            Props::GoalCompleted { .. } => 10,
            Props::GoalClaimed { .. } => 11,
            Props::GiftCreated { .. } => 12,
            Props::GiftClaimed { .. } => 13,
            Props::CheckIn { .. } => 14,
            Props::Purchase { .. } => 15,
            Props::ProfileUpdated { .. } => 16,
            Props::Invited { .. } => 17,
            Props::Churned { .. } => 18,
            Props::Custom { kind, .. } => *kind as usize,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Props::Custom { name, .. } => name,
            _ => EVENT_KINDS[self.kind()],
        }
    }
}

/// One timeline event. Ordered in the timeline by (t_ms, user, seq).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Event {
    pub t_ms: i64,
    pub user: u32,
    pub seq: u32,
    /// The user's session number (from 1), or 0 outside a session.
    pub session: u32,
    pub persona: u16,
    pub props: Props,
}

pub(crate) const PROFILE_FIELDS: &[&str] = &[
    "avatar",
    "bio",
    "display_name",
    "interests",
    "notifications",
];
pub const DAY_PARTS: &[&str] = &["morning", "afternoon", "evening", "night"];

/// A purchase's SKU from its price: the catalogue prices each SKU once.
pub fn sku(amount: u32) -> String {
    format!("sku-{amount}")
}
