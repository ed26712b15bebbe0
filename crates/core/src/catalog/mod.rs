//! The challenges × goals catalog (seed 001): each goal of a challenge tracks one stat
//! against a target. Generated at a size (`[catalog] challenges`, `goals_per_challenge`)
//! or the team's own ([`load`]: a JSON or CSV export, or inline in the scenario), whose
//! ids and stat names every renderer writes through [`Labels`].

pub(crate) mod json_lines;
pub(crate) mod load;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::timeline::StatCode;

/// How a goal's stat is compared with its target.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `>=`: the default, and every generated goal's.
    AtLeast,
    /// `>`
    Above,
    /// `==`: met at the instant the stat is exactly the target (stats only grow).
    Exactly,
}

impl Operator {
    pub const NAMES: &'static str = ">=, > or ==";

    pub fn parse(text: &str) -> Option<Operator> {
        match text.trim() {
            ">=" | "gte" | "GTE" => Some(Operator::AtLeast),
            ">" | "gt" | "GT" => Some(Operator::Above),
            "==" | "=" | "eq" | "EQ" => Some(Operator::Exactly),
            _ => None,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Operator::AtLeast => ">=",
            Operator::Above => ">",
            Operator::Exactly => "==",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Goal {
    pub challenge: u16,
    pub code: StatCode,
    pub op: Operator,
    pub target: u32,
    /// Points a claim earns; 0 for a reward that is not points (no `points.earned`).
    pub reward: u32,
}

impl Goal {
    /// Whether a stat of `value` meets the requirement.
    pub fn met(&self, value: u32) -> bool {
        match self.op {
            Operator::AtLeast => value >= self.target,
            Operator::Above => value > self.target,
            Operator::Exactly => value == self.target,
        }
    }

    /// The increase that makes a stat of `value` meet the requirement (at least 1), or
    /// `None` when no increase can (an `==` goal the stat has passed).
    pub(crate) fn needs(&self, value: u32) -> Option<u32> {
        let least = match self.op {
            Operator::AtLeast => self.target,
            Operator::Above => self.target.saturating_add(1),
            Operator::Exactly if value >= self.target => return None,
            Operator::Exactly => self.target,
        };
        Some(least.saturating_sub(value).max(1))
    }

    /// The lowest stat value that meets the requirement.
    fn threshold(&self) -> u32 {
        match self.op {
            Operator::Above => self.target.saturating_add(1),
            Operator::AtLeast | Operator::Exactly => self.target,
        }
    }
}

/// The team's names for a loaded catalog: challenge and goal ids, and the stat codes as
/// the team's service calls them. Kept as text and as JSON strings (quotes included), so
/// the line writer copies bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    pub challenges: Vec<String>,
    pub challenge_names: Vec<String>,
    pub goals: Vec<String>,
    /// Per [`StatCode`], the name the team's events use.
    pub stats: [String; 3],
    pub(crate) challenges_json: Vec<Box<[u8]>>,
    pub(crate) goals_json: Vec<Box<[u8]>>,
    pub(crate) stats_json: [Box<[u8]>; 3],
}

fn json(s: &str) -> Box<[u8]> {
    serde_json::to_vec(s)
        .unwrap_or_else(|_| b"\"\"".to_vec())
        .into()
}

impl Labels {
    pub(crate) fn new(
        challenges: Vec<(String, String)>,
        goals: Vec<String>,
        stats: [String; 3],
    ) -> Labels {
        let (challenges, challenge_names): (Vec<String>, Vec<String>) =
            challenges.into_iter().unzip();
        Labels {
            challenges_json: challenges.iter().map(|c| json(c)).collect(),
            goals_json: goals.iter().map(|g| json(g)).collect(),
            stats_json: [json(&stats[0]), json(&stats[1]), json(&stats[2])],
            challenges,
            challenge_names,
            goals,
            stats,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Catalog {
    pub goals: Vec<Goal>,
    /// Per challenge, its goals' indexes `start..end` (a challenge's goals are adjacent).
    ranges: Vec<(u16, u16)>,
    /// Per stat code: (threshold, goal index) of its `>=` and `>` goals sorted by
    /// threshold, to find the goals a stat increase crosses with a binary search.
    pub(crate) by_stat: [Vec<(u32, u16)>; 3],
    /// Per stat code: (target, goal index) of its `==` goals, sorted (empty unless the
    /// team's catalog has some).
    exact: [Vec<(u32, u16)>; 3],
    /// The team's ids; `None` for a generated catalog (`goal-N`, `challenge-N`).
    pub labels: Option<Arc<Labels>>,
}

impl Catalog {
    /// The generated catalog: `challenges` × `per_challenge` goals cycling through the
    /// stat codes with targets that grow by tier.
    pub fn new(challenges: u16, per_challenge: u16) -> Catalog {
        let mut goals = Vec::new();
        for c in 0..challenges {
            for j in 0..per_challenge {
                let code = StatCode::ALL[((c + j) % 3) as usize];
                let tier = (j / 3 + 1) as f64;
                let target = match code {
                    StatCode::EnemyKills => (15.0 * tier.powf(1.5)).round() as u32,
                    StatCode::LoginCount => (2.0 * tier) as u32,
                    StatCode::GamesPlayed => (2.0 * tier.powf(1.2)).round() as u32,
                };
                goals.push(Goal {
                    challenge: c,
                    code,
                    op: Operator::AtLeast,
                    target,
                    reward: 10 * (j as u32 / 3 + 1),
                });
            }
        }
        Catalog::of(goals, None)
    }

    /// A catalog of these goals, grouped by challenge in challenge order.
    pub(crate) fn of(goals: Vec<Goal>, labels: Option<Arc<Labels>>) -> Catalog {
        let challenges = goals.last().map_or(0, |g| g.challenge + 1);
        let mut ranges = vec![(0u16, 0u16); challenges as usize];
        for (i, g) in goals.iter().enumerate().rev() {
            ranges[g.challenge as usize] = (i as u16, ranges[g.challenge as usize].1);
        }
        for (i, g) in goals.iter().enumerate() {
            ranges[g.challenge as usize].1 = i as u16 + 1;
        }
        let mut by_stat: [Vec<(u32, u16)>; 3] = Default::default();
        let mut exact: [Vec<(u32, u16)>; 3] = Default::default();
        for (i, g) in goals.iter().enumerate() {
            let list = match g.op {
                Operator::Exactly => &mut exact,
                _ => &mut by_stat,
            };
            list[g.code as usize].push((g.threshold(), i as u16));
        }
        for v in by_stat.iter_mut().chain(exact.iter_mut()) {
            v.sort();
        }
        Catalog {
            goals,
            ranges,
            by_stat,
            exact,
            labels,
        }
    }

    /// How many challenges there are.
    pub fn challenges(&self) -> u16 {
        self.ranges.len() as u16
    }

    /// The goal indexes of challenge `c`.
    pub fn goals_of(&self, c: u16) -> std::ops::Range<u16> {
        let (a, b) = self.ranges[c as usize];
        a..b
    }

    pub(crate) fn words(&self) -> usize {
        self.goals.len().div_ceil(64)
    }

    /// Goals of `code` a stat increase from `old` to `new` makes met: those whose
    /// threshold lies in (old, new], and the `==` goals whose target is `new`.
    pub(crate) fn crossed(
        &self,
        code: StatCode,
        old: u32,
        new: u32,
    ) -> impl Iterator<Item = u16> + '_ {
        let v = &self.by_stat[code as usize];
        let lo = v.partition_point(|(t, _)| *t <= old);
        let hi = v.partition_point(|(t, _)| *t <= new);
        let e = &self.exact[code as usize];
        let (elo, ehi) = if new > old {
            (
                e.partition_point(|(t, _)| *t < new),
                e.partition_point(|(t, _)| *t <= new),
            )
        } else {
            (0, 0)
        };
        v[lo..hi].iter().chain(&e[elo..ehi]).map(|(_, g)| *g)
    }

    /// Goal `g`'s id as the team's system knows it.
    pub fn goal_id(&self, g: u16) -> String {
        match &self.labels {
            Some(l) => l.goals[g as usize].clone(),
            None => format!("goal-{g}"),
        }
    }

    /// Challenge `c`'s id as the team's system knows it.
    pub fn challenge_id(&self, c: u16) -> String {
        match &self.labels {
            Some(l) => l.challenges[c as usize].clone(),
            None => format!("challenge-{c}"),
        }
    }

    /// Challenge `c`'s display name.
    pub fn challenge_name(&self, c: u16) -> String {
        match &self.labels {
            Some(l) => l.challenge_names[c as usize].clone(),
            None => format!("Challenge {c}"),
        }
    }

    /// A stat code's name in the team's events (the engine's name unless renamed).
    pub fn stat_name(&self, code: StatCode) -> &str {
        match &self.labels {
            Some(l) => &l.stats[code as usize],
            None => code.name(),
        }
    }
}
