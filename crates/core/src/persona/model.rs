//! The validated persona: a state machine that cannot point nowhere.

use rand::distr::weighted::WeightedIndex;

use super::condition::Condition;
use super::dist::Dist;

/// The four steps of the Hooked loop a session walks.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    Trigger,
    Action,
    Reward,
    Investment,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Trigger => "trigger",
            Hook::Action => "action",
            Hook::Reward => "reward",
            Hook::Investment => "investment",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Hook> {
        [Hook::Trigger, Hook::Action, Hook::Reward, Hook::Investment]
            .into_iter()
            .find(|h| h.name() == s)
    }
}

/// The verbs a state can perform; each emits its timeline events.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Login,
    ViewChallenges,
    PlayGame,
    EarnPoints,
    ClaimGoal,
    ClaimGift,
    RedeemPoints,
    CheckIn,
    UpdateProfile,
    Invite,
    CreateGift,
    Purchase,
    /// A custom action `world.toml` declares, by index in `Declared::actions`.
    Custom(u16),
}

pub(crate) const ACTIONS: &[(&str, Action)] = &[
    ("login", Action::Login),
    ("view_challenges", Action::ViewChallenges),
    ("play_game", Action::PlayGame),
    ("earn_points", Action::EarnPoints),
    ("claim_goal", Action::ClaimGoal),
    ("claim_gift", Action::ClaimGift),
    ("redeem_points", Action::RedeemPoints),
    ("check_in", Action::CheckIn),
    ("update_profile", Action::UpdateProfile),
    ("invite", Action::Invite),
    ("create_gift", Action::CreateGift),
    ("purchase", Action::Purchase),
];

impl Action {
    pub fn name(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
    /// The Hooked step this verb serves unless the state says otherwise (a custom
    /// action's own `hook` is applied by the validator).
    pub(crate) fn default_hook(self) -> Hook {
        use Action::*;
        match self {
            Custom(_) => Hook::Action,
            Login | ViewChallenges | PlayGame => Hook::Action,
            EarnPoints | ClaimGoal | ClaimGift | RedeemPoints => Hook::Reward,
            CheckIn | UpdateProfile | Invite | CreateGift | Purchase => Hook::Investment,
        }
    }
    /// Which magnitude field the verb reads, and whether it must be given.
    pub(crate) fn magnitude(self) -> Option<&'static str> {
        use Action::*;
        match self {
            EarnPoints | RedeemPoints => Some("points"),
            PlayGame => Some("kills"),
            Purchase => Some("price"),
            CreateGift => Some("shares"),
            _ => None,
        }
    }
}

/// Where a transition leads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    State(u16),
    /// The session ends normally.
    End,
    /// The user leaves mid-loop: a failed session.
    Abandon,
}

#[derive(Clone, Debug)]
pub struct Edge {
    pub to: Target,
    /// Simulated time spent before the target state runs (ms).
    pub delay: Dist,
}

#[derive(Clone, Debug)]
pub enum Transition {
    Direct(Edge),
    Weighted {
        edges: Vec<Edge>,
        probs: Vec<f64>,
        index: WeightedIndex<f64>,
    },
    Conditional {
        cases: Vec<(Condition, Edge)>,
        otherwise: Edge,
    },
}

impl Transition {
    pub(crate) fn edges(&self) -> Vec<&Edge> {
        match self {
            Transition::Direct(e) => vec![e],
            Transition::Weighted { edges, .. } => edges.iter().collect(),
            Transition::Conditional { cases, otherwise } => {
                cases.iter().map(|(_, e)| e).chain([otherwise]).collect()
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct State {
    pub name: String,
    pub action: Action,
    /// The action's name as written (a built-in's or a custom one's).
    pub action_name: Box<str>,
    /// A custom action's `habit`: gained on success instead of the hook step's gain.
    pub(crate) habit_gain: Option<f64>,
    pub hook: Hook,
    /// Odds that the step succeeds (a reward is drawn, an investment is made).
    pub chance: f64,
    /// Points, kills, price or shares, per the action.
    pub(crate) magnitude: Option<Dist>,
    pub(crate) currency: String,
    /// Invites: odds the invitee joins, and when.
    pub(crate) accept: f64,
    pub(crate) join_delay: Option<Dist>,
    /// Habit gained by a successful investment, before the persona's payoff multiplier.
    pub(crate) gain: f64,
    pub transition: Transition,
}

/// How habit forms and fades. None of these is a retention rate: retention emerges.
#[derive(Clone, Debug)]
pub struct Habit {
    pub initial: f64,
    /// Time away after which habit strength halves (ms).
    pub half_life_ms: f64,
    pub investment_gain: f64,
    /// Multiplies every investment's habit gain: the knob "investment payoff".
    pub investment_payoff: f64,
    /// Habit gained when a variable reward is drawn.
    pub reward_gain: f64,
    /// Churn rate per day away when habit is zero, checked at each habit trigger.
    pub churn_hazard: f64,
    /// Rate = churn_hazard × (1 − habit)^churn_curve; P(churn) = 1 − exp(−rate × days away).
    pub churn_curve: f64,
    /// Gap multiplier = exp(−speedup × (habit − 0.5)).
    pub(crate) speedup: f64,
    pub nudge_response: f64,
    pub broadcast_response: f64,
    pub(crate) broadcast_delay: Dist,
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub dist: Dist,
}

#[derive(Clone, Debug)]
pub struct Persona {
    pub name: String,
    pub title: String,
    pub description: String,
    pub share: f64,
    /// Sorted by name: the order is part of the RNG draw order.
    pub attributes: Vec<Attribute>,
    pub session_gap: Dist,
    pub min_gap_ms: i64,
    pub max_session_ms: i64,
    pub(crate) preferred_hours: [f64; 24],
    pub habit: Habit,
    pub start: u16,
    pub states: Vec<State>,
    /// (field path, note) pairs, for `personas show`.
    pub notes: Vec<(String, String)>,
    pub source: String,
    /// The line `share` is written on in its file (1 when not written), for a problem
    /// with the shares.
    pub share_line: usize,
    /// The kinds and custom actions of the folder's `world.toml` (shared by every
    /// persona of the folder; empty without one).
    pub declared: std::sync::Arc<super::declared::Declared>,
}

impl Persona {
    pub fn attribute_index(&self, name: &str) -> Option<usize> {
        self.attributes.iter().position(|a| a.name == name)
    }
    pub fn state_name(&self, t: Target) -> &str {
        match t {
            Target::State(i) => &self.states[i as usize].name,
            Target::End => "end",
            Target::Abandon => "abandon",
        }
    }
}
