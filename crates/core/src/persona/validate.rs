//! Raw persona → validated persona, reporting every problem with file, line and field.

use rand::distr::weighted::WeightedIndex;

use super::condition::Condition;
use super::declared::Declared;
use super::dist::{Dist, RawDist, Unit};
use super::model::*;
use super::raw::*;
use crate::diagnostic::{FieldPath, Problem, Problems, Source};
use crate::units::{DAY, parse_duration};

struct Check<'a> {
    src: &'a Source,
    /// The folder's `world.toml`: custom actions and counters a state may name.
    world: &'a Declared,
    problems: Vec<Problem>,
    notes: Vec<(String, String)>,
}

impl Check<'_> {
    fn fail(&mut self, path: &FieldPath, message: impl Into<String>, fix: impl Into<String>) {
        let p = self.src.problem(path, message, fix);
        self.problems.push(p);
    }

    fn dist(&mut self, raw: &RawDist, unit: Unit, path: &FieldPath) -> Option<Dist> {
        if let RawDist::Table(t) = raw
            && let Some(n) = &t.note
        {
            self.notes.push((path.to_string(), n.clone()));
        }
        match Dist::from_raw(raw, unit) {
            Ok(d) => Some(d),
            Err(e) => {
                let p = if matches!(raw, RawDist::Table(_)) {
                    path.key(e.field)
                } else {
                    path.clone()
                };
                self.fail(&p, e.message, e.fix);
                None
            }
        }
    }

    fn prob(&mut self, p: &Param<f64>, path: &FieldPath) -> f64 {
        self.note(p, path);
        let v = p.value();
        if !(0.0..=1.0).contains(&v) {
            self.fail(
                path,
                format!("{v} is not a probability"),
                "use a value between 0 and 1 (0.25 means 25 %)",
            );
        }
        v.clamp(0.0, 1.0)
    }

    fn positive(&mut self, p: &Param<f64>, path: &FieldPath) -> f64 {
        self.note(p, path);
        let v = p.value();
        if !(v >= 0.0 && v.is_finite()) {
            self.fail(
                path,
                format!("{v} must be zero or more"),
                "use a non-negative number",
            );
        }
        v.max(0.0)
    }

    fn duration(&mut self, p: &Param<String>, path: &FieldPath) -> i64 {
        self.note(p, path);
        match parse_duration(&p.value()) {
            Ok(d) => d.ms(),
            Err(m) => {
                self.fail(
                    path,
                    m.to_string(),
                    "write a duration such as \"30m\" or \"3d\"",
                );
                0
            }
        }
    }

    fn note<T: Clone>(&mut self, p: &Param<T>, path: &FieldPath) {
        if let Some(n) = p.note() {
            self.notes.push((path.to_string(), n.to_string()));
        }
    }
}

/// Validates one persona file: every problem at once, each at its line and field.
pub(crate) fn validate(
    raw: &RawPersona,
    src: &Source,
    world: &Declared,
) -> Result<Persona, Problems> {
    let mut c = Check {
        src,
        world,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let root = FieldPath::root();
    c.name(&raw.name);
    let share = c.prob(&raw.share, &root.key("share"));
    let attributes = c.attributes(raw);
    let t = &raw.timing;
    let tpath = root.key("timing");
    let session_gap = c.dist(&t.session_gap, Unit::Duration, &tpath.key("session_gap"));
    let min_gap_ms = t
        .min_gap
        .as_ref()
        .map(|p| c.duration(p, &tpath.key("min_gap")))
        .unwrap_or(30 * 60_000);
    let max_session_ms = t
        .max_session
        .as_ref()
        .map(|p| c.duration(p, &tpath.key("max_session")))
        .unwrap_or(2 * 3_600_000);
    let preferred_hours = c.preferred_hours(t, &tpath);
    let habit = c.habit(&raw.habit);

    // States: names first, so transitions can point forward.
    let names = StateNames(raw.states.keys().collect());
    for reserved in ["end", "abandon"] {
        if raw.states.contains_key(reserved) {
            c.fail(
                &root.key("states").key(reserved),
                format!("`{reserved}` is a built-in end of a session"),
                "rename the state",
            );
        }
    }
    let states: Vec<State> = raw
        .states
        .iter()
        .map(|(name, s)| c.state(name, s, &names, &attributes, &habit))
        .collect();
    let start = match names.target(&raw.session.start) {
        Some(Target::State(i)) => i,
        _ => {
            c.fail(
                &root.key("session").key("start"),
                format!("`{}` is not a state of this persona", raw.session.start),
                format!(
                    "use one of: {}",
                    names
                        .0
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            0
        }
    };
    if c.problems.is_empty() && !states.is_empty() {
        c.reachability(&states, start, &raw.session.start);
    }
    if states.is_empty() {
        c.fail(
            &root.key("states"),
            "the persona has no states",
            "add at least [states.<name>] with an action",
        );
    }
    if max_session_ms > DAY {
        c.fail(
            &tpath.key("max_session"),
            "sessions longer than a day are not sessions",
            "use a value under \"24h\"",
        );
    }

    if !c.problems.is_empty() {
        return Err(Problems(c.problems));
    }
    Ok(Persona {
        name: raw.name.clone(),
        title: raw.title.clone().unwrap_or_else(|| raw.name.clone()),
        description: raw.description.clone().unwrap_or_default(),
        share,
        attributes,
        session_gap: session_gap.unwrap_or(Dist::Constant(DAY as f64)),
        min_gap_ms,
        max_session_ms,
        preferred_hours,
        habit,
        start,
        states,
        notes: c.notes,
        source: src.name.clone(),
        share_line: src.locate(&FieldPath::root().key("share")).unwrap_or(1),
        declared: Default::default(),
    })
}

/// The persona's state names, in file order: where a transition may lead.
struct StateNames<'a>(Vec<&'a String>);

impl StateNames<'_> {
    fn target(&self, name: &str) -> Option<Target> {
        match name {
            "end" => Some(Target::End),
            "abandon" => Some(Target::Abandon),
            _ => self
                .0
                .iter()
                .position(|n| *n == name)
                .map(|i| Target::State(i as u16)),
        }
    }

    /// Every name a transition may use, for a fix.
    fn list(&self) -> String {
        let mut v: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        v.extend(["end", "abandon"]);
        v.join(", ")
    }
}

impl Check<'_> {
    fn name(&mut self, name: &str) {
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-')
        {
            self.fail(
                &FieldPath::root().key("name"),
                format!("`{name}` is not a usable persona name"),
                "use lowercase letters, digits, - or _",
            );
        }
    }

    /// `[attributes]`: categorical (weighted labels) or numeric; platform and locale
    /// required.
    fn attributes(&mut self, raw: &RawPersona) -> Vec<Attribute> {
        let root = FieldPath::root();
        let c = self;
        let mut attributes = Vec::new();
        for (name, d) in &raw.attributes {
            let path = root.key("attributes").key(name);
            let unit = match d {
                RawDist::Table(t)
                    if t.dist == "weighted"
                        && t.table
                            .as_ref()
                            .is_some_and(|t| t.keys().any(|k| k.parse::<f64>().is_err())) =>
                {
                    Unit::Category
                }
                _ => Unit::Number,
            };
            if let Some(dist) = c.dist(d, unit, &path) {
                attributes.push(Attribute {
                    name: name.clone(),
                    dist,
                });
            }
        }
        if attributes.len() > crate::engine::MAX_ATTRIBUTES {
            c.fail(
                &root.key("attributes"),
                format!("{} attributes", attributes.len()),
                format!(
                    "give a persona at most {} attributes",
                    crate::engine::MAX_ATTRIBUTES
                ),
            );
        }
        for required in ["platform", "locale"] {
            if !raw.attributes.contains_key(required) {
                c.fail(
                    &root.key("attributes"),
                    format!("attribute `{required}` is missing"),
                    format!("add `{required} = {{ dist = \"weighted\", table = {{ … }} }}` under [attributes]"),
                );
            }
        }

        attributes
    }

    fn preferred_hours(&mut self, t: &RawTiming, tpath: &FieldPath) -> [f64; 24] {
        let mut preferred_hours = [1.0; 24];
        if let Some(p) = &t.preferred_hours {
            self.note(p, &tpath.key("preferred_hours"));
            let v = p.value();
            if !super::dist::usable_weights(&v, 24) {
                self.fail(
                    &tpath.key("preferred_hours"),
                    format!("{} weights given", v.len()),
                    "give 24 non-negative weights, one per hour from 00:00 UTC, not all zero",
                );
            } else {
                preferred_hours.copy_from_slice(&v);
            }
        }
        preferred_hours
    }

    /// `[habit]`: how habit forms, fades, and answers nudges and broadcasts.
    fn habit(&mut self, h: &RawHabit) -> Habit {
        let c = self;
        let hp = FieldPath::root().key("habit");
        let half_life_ms = c.duration(&h.half_life, &hp.key("half_life")) as f64;
        if half_life_ms <= 0.0 {
            c.fail(
                &hp.key("half_life"),
                "half-life must be longer than zero",
                "use e.g. \"3d\"",
            );
        }
        let broadcast_delay = match &h.broadcast_delay {
            Some(d) => c.dist(d, Unit::Duration, &hp.key("broadcast_delay")),
            None => Dist::from_raw(
                &RawDist::Const(super::dist::Quantity::Text("60s".into())),
                Unit::Duration,
            )
            .ok(),
        };
        Habit {
            initial: c.prob(&h.initial, &hp.key("initial")),
            half_life_ms: half_life_ms.max(1.0),
            investment_gain: c.prob(&h.investment_gain, &hp.key("investment_gain")),
            investment_payoff: h
                .investment_payoff
                .as_ref()
                .map(|p| c.positive(p, &hp.key("investment_payoff")))
                .unwrap_or(1.0),
            reward_gain: h
                .reward_gain
                .as_ref()
                .map(|p| c.prob(p, &hp.key("reward_gain")))
                .unwrap_or(0.02),
            churn_hazard: c.positive(&h.churn_hazard, &hp.key("churn_hazard")),
            churn_curve: h
                .churn_curve
                .as_ref()
                .map(|p| c.positive(p, &hp.key("churn_curve")))
                .unwrap_or(2.0),
            speedup: h
                .speedup
                .as_ref()
                .map(|p| c.positive(p, &hp.key("speedup")))
                .unwrap_or(1.5),
            nudge_response: c.prob(&h.nudge_response, &hp.key("nudge_response")),
            broadcast_response: h
                .broadcast_response
                .as_ref()
                .map(|p| c.prob(p, &hp.key("broadcast_response")))
                .unwrap_or(0.0),
            broadcast_delay: broadcast_delay.unwrap_or(Dist::Constant(60_000.0)),
        }
    }

    /// One `[states.<name>]`: its action and Hooked step, what it draws, and how it is
    /// left.
    fn state(
        &mut self,
        name: &str,
        s: &RawState,
        names: &StateNames<'_>,
        attributes: &[Attribute],
        habit: &Habit,
    ) -> State {
        let c = self;
        let sp = FieldPath::root().key("states").key(name);
        let custom = c.world.action(&s.action);
        let action = match super::model::ACTIONS.iter().find(|(n, _)| *n == s.action) {
            Some((_, a)) => *a,
            None if custom.is_some() => Action::Custom(custom.map_or(0, |(i, _)| i)),
            None => {
                let mut all: Vec<&str> = super::model::ACTIONS.iter().map(|(n, _)| *n).collect();
                all.extend(c.world.actions.iter().map(|a| a.name.as_str()));
                c.fail(
                    &sp.key("action"),
                    format!("unknown action `{}`", s.action),
                    format!(
                        "use one of: {} (or declare it under [actions.{}] in world.toml)",
                        all.join(", "),
                        s.action
                    ),
                );
                Action::Login
            }
        };
        let default_hook = custom.map_or(action.default_hook(), |(_, a)| a.hook);
        let hook = match &s.hook {
            Some(hk) => Hook::parse(hk)
                .filter(|h| *h != Hook::Trigger)
                .unwrap_or_else(|| {
                    c.fail(
                        &sp.key("hook"),
                        format!("`{hk}` is not a step a state can serve"),
                        "use action, reward or investment (triggers start sessions)",
                    );
                    default_hook
                }),
            None => default_hook,
        };
        if let Some(n) = &s.note {
            c.notes.push((sp.to_string(), n.clone()));
        }
        let chance = s
            .chance
            .as_ref()
            .map(|p| c.prob(p, &sp.key("chance")))
            .unwrap_or(1.0);
        let magnitude = c.magnitude(s, action, &sp);
        if s.currency.is_some() && action != Action::Purchase {
            c.fail(
                &sp.key("currency"),
                "`currency` only applies to purchases",
                "remove it",
            );
        }
        if (s.accept.is_some() || s.join_delay.is_some()) && action != Action::Invite {
            c.fail(
                &sp.key("accept"),
                "`accept` and `join_delay` only apply to invites",
                "remove them",
            );
        }
        let accept = s
            .accept
            .as_ref()
            .map(|p| c.prob(p, &sp.key("accept")))
            .unwrap_or(0.3);
        let join_delay = match &s.join_delay {
            Some(d) => c.dist(d, Unit::Duration, &sp.key("join_delay")),
            None if action == Action::Invite => Dist::from_raw(
                &RawDist::Table(Box::new(super::dist::RawDistTable {
                    dist: "exponential".into(),
                    value: None,
                    min: None,
                    max: None,
                    mean: Some(super::dist::Quantity::Text("6h".into())),
                    sd: None,
                    median: None,
                    sigma: None,
                    table: None,
                    note: None,
                })),
                Unit::Duration,
            )
            .ok(),
            None => None,
        };
        let gain = s
            .gain
            .as_ref()
            .map(|p| c.prob(p, &sp.key("gain")))
            .unwrap_or(habit.investment_gain);

        let transition = c.transition(s, &sp, names, attributes);
        State {
            name: name.to_string(),
            action,
            action_name: s.action.as_str().into(),
            habit_gain: custom.and_then(|(_, a)| a.habit),
            hook,
            chance,
            magnitude,
            currency: s.currency.clone().unwrap_or_else(|| "USD".into()),
            accept,
            join_delay,
            gain,
            transition: transition.unwrap_or(Transition::Direct(Edge {
                to: Target::End,
                delay: Dist::Constant(0.0),
            })),
        }
    }

    /// The one quantity the action draws (`points`, `kills`, `price` or `shares`), refused
    /// on actions that do not read it.
    fn magnitude(&mut self, s: &RawState, action: Action, sp: &FieldPath) -> Option<Dist> {
        let c = self;
        let given = [
            ("points", &s.points),
            ("kills", &s.kills),
            ("price", &s.price),
            ("shares", &s.shares),
        ];
        let mut magnitude = None;
        for (field, d) in given {
            match (d, action.magnitude() == Some(field)) {
                (Some(d), true) => magnitude = c.dist(d, Unit::Number, &sp.key(field)),
                (Some(_), false) => c.fail(
                    &sp.key(field),
                    format!("`{field}` has no meaning for action `{}`", s.action),
                    match action.magnitude() {
                        Some(m) => format!("this action reads `{m}`"),
                        None => "remove it".to_string(),
                    },
                ),
                (None, true) => c.fail(
                    sp,
                    format!("action `{}` needs `{field}`", s.action),
                    format!("add `{field} = {{ dist = \"…\", … }}`"),
                ),
                (None, false) => {}
            }
        }
        magnitude
    }

    /// How a state is left: exactly one of `next`, `weighted` or `when` (+ `otherwise`).
    fn transition(
        &mut self,
        s: &RawState,
        sp: &FieldPath,
        names: &StateNames<'_>,
        attributes: &[Attribute],
    ) -> Option<Transition> {
        let c = self;
        let attribute_lookup = |name: &str| -> Option<(u8, Vec<String>)> {
            attributes
                .iter()
                .position(|a| a.name == name)
                .map(|i| (i as u8, attributes[i].dist.labels().to_vec()))
        };
        let edge =
            |c: &mut Check, to: &str, delay: &Option<RawDist>, path: &FieldPath| -> Option<Edge> {
                let target = names.target(to);
                if target.is_none() {
                    c.fail(
                        &path.key("to"),
                        format!("`{to}` is not a state of this persona"),
                        format!("use one of: {}", names.list()),
                    );
                }
                let delay = match delay {
                    Some(d) => c.dist(d, Unit::Duration, &path.key("delay"))?,
                    None => Dist::Constant(0.0),
                };
                Some(Edge { to: target?, delay })
            };
        let forms = [s.next.is_some(), s.weighted.is_some(), s.when.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if forms != 1 {
            c.fail(
                sp,
                "a state needs exactly one of `next`, `weighted` or `when`",
                "give one way to leave the state (to = \"end\" finishes the session)",
            );
        }
        let transition = if let Some(e) = &s.next {
            edge(c, &e.to, &e.delay, &sp.key("next")).map(Transition::Direct)
        } else if let Some(ws) = &s.weighted {
            let mut edges = Vec::new();
            let mut probs = Vec::new();
            for (i, w) in ws.iter().enumerate() {
                let wp = sp.key("weighted").index(i);
                if !(0.0..=1.0).contains(&w.p) {
                    c.fail(
                        &wp.key("p"),
                        format!("{} is not a probability", w.p),
                        "use a value between 0 and 1",
                    );
                }
                if let Some(e) = edge(c, &w.to, &w.delay, &wp) {
                    edges.push(e);
                    probs.push(w.p.clamp(0.0, 1.0));
                }
            }
            let sum: f64 = ws.iter().map(|w| w.p).sum();
            if ws.is_empty() || (sum - 1.0).abs() > 1e-6 {
                c.fail(
                    &sp.key("weighted"),
                    format!("the probabilities add up to {sum:.4}"),
                    "make the `p` values of the branches add up to 1",
                );
            }
            WeightedIndex::new(probs.iter().copied())
                .ok()
                .filter(|_| edges.len() == ws.len())
                .map(|index| Transition::Weighted {
                    edges,
                    probs,
                    index,
                })
        } else if let Some(ws) = &s.when {
            let mut cases = Vec::new();
            for (i, w) in ws.iter().enumerate() {
                let wp = sp.key("when").index(i);
                let cond =
                    match Condition::parse(&w.condition, &attribute_lookup, &c.world.counters) {
                        Ok(cond) => Some(cond),
                        Err((m, fix)) => {
                            c.fail(&wp.key("if"), m, fix);
                            None
                        }
                    };
                if let (Some(cond), Some(e)) = (cond, edge(c, &w.to, &w.delay, &wp)) {
                    cases.push((cond, e));
                }
            }
            let otherwise = match &s.otherwise {
                Some(o) => edge(c, &o.to, &o.delay, &sp.key("otherwise")),
                None => {
                    c.fail(
                        &sp.key("when"),
                        "a `when` list needs an `otherwise` branch",
                        "add otherwise = { to = \"…\" }",
                    );
                    None
                }
            };
            otherwise
                .filter(|_| cases.len() == ws.len())
                .map(|otherwise| Transition::Conditional { cases, otherwise })
        } else {
            None
        };
        if s.otherwise.is_some() && s.when.is_none() {
            c.fail(
                &sp.key("otherwise"),
                "`otherwise` only follows a `when` list",
                "remove it or add `when`",
            );
        }
        transition
    }

    /// Every declared state reachable from the start, and some path ending the session.
    fn reachability(&mut self, states: &[State], start: u16, start_name: &str) {
        let c = self;
        let root = FieldPath::root();
        let mut seen = vec![false; states.len()];
        let mut stack = vec![start as usize];
        let mut ends = false;
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            for e in states[i].transition.edges() {
                match e.to {
                    Target::State(j) => stack.push(j as usize),
                    _ => ends = true,
                }
            }
        }
        for (i, s) in states.iter().enumerate() {
            if !seen[i] {
                c.fail(
                    &root.key("states").key(&s.name),
                    format!("state `{}` cannot be reached from `{}`", s.name, start_name),
                    "add a transition to it, or remove it",
                );
            }
        }
        if !ends {
            c.fail(
                &root.key("session").key("start"),
                "no path from the start reaches `end` or `abandon`",
                "let some state lead to \"end\"",
            );
        }
    }
}
