//! The team's catalog: `[catalog] file = "challenges.json"` (seed 001's export: challenges
//! of goals, each `{ id, requirement { statCode, operator, targetValue }, reward }`, or a
//! flat list of goals with a `challenge`), a CSV (`challenge,goal,stat_code,operator,
//! target,reward`), or `[[catalog.challenges]]` in the scenario, checked into a
//! [`Catalog`] with every problem at once, each at its file, line and field.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::json_lines::JsonLines;
use super::{Catalog, Goal, Labels, Operator};
use crate::diagnostic::{FieldPath, Problem, Source};
use crate::scenario::data;
use crate::timeline::StatCode;

/// `[catalog]` of a scenario.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCatalog {
    /// A number of challenges to generate, or the team's `[[catalog.challenges]]`.
    pub(crate) challenges: Option<RawChallenges>,
    pub(crate) goals_per_challenge: Option<u16>,
    /// The team's export, relative to the scenario file.
    pub(crate) file: Option<String>,
    /// The team's stat names → the engine's (`kills = "enemy_kills"`).
    pub(crate) stats: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawChallenges {
    Count(u16),
    List(Vec<Value>),
}

/// The most challenges a user can join (a 64-bit mask per user).
const MAX_CHALLENGES: usize = 64;
/// The most goals (two bits each per user, indexed by 16 bits).
const MAX_GOALS: usize = 12_800;

const STAT_KEYS: &[&str] = &["statCode", "stat_code", "stat"];
const OP_KEYS: &[&str] = &["operator", "op"];
const TARGET_KEYS: &[&str] = &["targetValue", "target_value", "target"];
const CHALLENGE_KEYS: &[&str] = &["challenge", "challengeId", "challenge_id"];
const GOAL_ID_KEYS: &[&str] = &["id", "goal", "goalId", "goal_id"];

/// The catalog a scenario's `[catalog]` gives, with every problem found.
pub(crate) fn check(src: &Source, raw: Option<&RawCatalog>) -> (Catalog, Vec<Problem>) {
    let empty = RawCatalog::default();
    let raw = raw.unwrap_or(&empty);
    let cp = FieldPath::root().key("catalog");
    let mut p = Vec::new();
    let stats = stat_names(src, &cp, raw.stats.as_ref(), &mut p);
    let list = match &raw.challenges {
        Some(RawChallenges::List(l)) => Some(l),
        _ => None,
    };
    let generated = || {
        let count = match &raw.challenges {
            Some(RawChallenges::Count(n)) => *n,
            _ => 10,
        };
        (count, raw.goals_per_challenge.unwrap_or(50))
    };
    let records = match (&raw.file, list) {
        (Some(_), Some(_)) => {
            p.push(src.problem(
                &cp.key("challenges"),
                "both `file` and [[catalog.challenges]] give the catalog",
                "keep one: the team's export (file = \"challenges.json\") or the challenges written here",
            ));
            None
        }
        (Some(file), None) => read_file(src, &cp, file, &mut p),
        (None, Some(list)) => {
            let origin = Origin::Scenario(src);
            Some((
                records_of_challenges(list, &FieldPath::root().key("challenges")),
                origin,
            ))
        }
        (None, None) => None,
    };
    let Some((records, origin)) = records else {
        let (c, g) = generated();
        size_problems(src, &cp, c, g, &mut p);
        let mut catalog = Catalog::new(c, g);
        if raw.stats.is_some() {
            catalog.labels = Some(Arc::new(Labels::new(
                (0..c)
                    .map(|c| (catalog.challenge_id(c), catalog.challenge_name(c)))
                    .collect(),
                (0..catalog.goals.len() as u16)
                    .map(|g| catalog.goal_id(g))
                    .collect(),
                stats.names.clone(),
            )));
        }
        return (catalog, p);
    };
    if raw.goals_per_challenge.is_some() {
        p.push(src.problem(
            &cp.key("goals_per_challenge"),
            "`goals_per_challenge` sizes a generated catalog, and this one is the team's",
            "remove it: the team's catalog has the goals it lists",
        ));
    }
    let mut c = Checker {
        origin,
        stats: &stats,
        p: Vec::new(),
    };
    let catalog = c.catalog(records);
    p.extend(c.p);
    (catalog, p)
}

/// The generated catalog's size limits.
fn size_problems(src: &Source, cp: &FieldPath, c: u16, g: u16, p: &mut Vec<Problem>) {
    if !(1..=64).contains(&c) {
        p.push(src.problem(
            &cp.key("challenges"),
            format!("{c} challenges"),
            "use 1 to 64 challenges",
        ));
    }
    if !(1..=200).contains(&g) {
        p.push(src.problem(
            &cp.key("goals_per_challenge"),
            format!("{g} goals"),
            "use 1 to 200 goals per challenge",
        ));
    }
}

/// The team's stat names: `stats` maps them onto the engine's codes.
struct StatNames {
    /// Team name → code, the engine's own names included.
    known: BTreeMap<String, StatCode>,
    /// Per code, the name the team's events use.
    names: [String; 3],
}

fn stat_names(
    src: &Source,
    cp: &FieldPath,
    raw: Option<&BTreeMap<String, String>>,
    p: &mut Vec<Problem>,
) -> StatNames {
    let engine = StatCode::ALL.map(|c| c.name().to_string());
    let mut known: BTreeMap<String, StatCode> = StatCode::ALL
        .iter()
        .map(|c| (c.name().to_string(), *c))
        .collect();
    let mut names = engine.clone();
    let mut renamed: [Option<&str>; 3] = [None; 3];
    for (team, code) in raw.into_iter().flatten() {
        let path = cp.key("stats").key(team);
        let Some(c) = StatCode::ALL.iter().find(|c| c.name() == code.as_str()) else {
            p.push(src.problem(
                &path,
                format!("`{code}` is not one of the engine's stat codes"),
                format!("map `{team}` onto one of: {}", engine.join(", ")),
            ));
            continue;
        };
        if let Some(other) = renamed[*c as usize] {
            p.push(src.problem(
                &path,
                format!("`{team}` and `{other}` both name `{code}`"),
                "give each engine stat code one name of the team's",
            ));
            continue;
        }
        renamed[*c as usize] = Some(team);
        names[*c as usize] = team.clone();
        known.insert(team.clone(), *c);
    }
    StatNames { known, names }
}

/// Where the records come from, to name a problem's file and line.
enum Origin<'a> {
    /// `[[catalog.challenges]]`: paths under `catalog`.
    Scenario(&'a Source),
    Json {
        file: String,
        lines: JsonLines,
    },
    /// A CSV's records are its rows; a field is a column.
    Csv {
        file: String,
    },
}

/// Where one record is.
#[derive(Clone, Debug)]
enum At {
    Path(FieldPath),
    Row(usize),
}

/// A record that is not a goal: where, what, the fix.
type Bad = (At, String, &'static str);

/// One goal as the team wrote it.
#[derive(Debug)]
struct Record {
    at: At,
    challenge: Option<(String, Option<String>)>,
    /// Each field's value and its key (a path under the record) as written.
    fields: BTreeMap<&'static str, (Value, FieldPath)>,
}

impl Record {
    fn text(&self, field: &str) -> Option<String> {
        self.fields.get(field).and_then(|(v, _)| text_of(v))
    }
}

/// A string or a number as text; an empty string is no value.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first of `keys` an object has, with its key.
fn pick<'v>(o: &'v serde_json::Map<String, Value>, keys: &[&str]) -> Option<(&'v Value, String)> {
    keys.iter()
        .find_map(|k| o.get(*k).map(|v| (v, (*k).to_string())))
}

fn read_file<'a>(
    src: &'a Source,
    cp: &FieldPath,
    file: &str,
    p: &mut Vec<Problem>,
) -> Option<(Vec<Result<Record, Bad>>, Origin<'a>)> {
    let full = data::resolve(&src.name, file);
    let name = full.display().to_string();
    let ext = full
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext != "json" && ext != "csv" {
        p.push(src.problem(
            &cp.key("file"),
            format!("{name} is neither .json nor .csv"),
            "export the catalog as JSON (seed 001's challenges.json) or CSV with the header challenge,goal,stat_code,operator,target,reward",
        ));
        return None;
    }
    let text = match data::read(&full) {
        Ok(t) => t,
        Err(m) => {
            p.push(src.problem(
                &cp.key("file"),
                m,
                "check the path: it is relative to the scenario file",
            ));
            return None;
        }
    };
    if ext == "csv" {
        return match csv_records(&text) {
            Ok(r) => Some((r, Origin::Csv { file: name })),
            Err((line, m, fix)) => {
                p.push(Problem::in_file(name, Some(line), m, fix));
                None
            }
        };
    }
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            p.push(Problem::in_file(
                name,
                Some(e.line()),
                format!("this is not valid JSON: {e}"),
                "correct the syntax, or export the catalog again",
            ));
            return None;
        }
    };
    let records = match json_records(&v) {
        Ok(r) => r,
        Err(m) => {
            p.push(Problem::in_file(
                name,
                Some(1),
                m,
                r#"write {"challenges": [{"id": "c-1", "goals": [{"id": "g-1", "requirement": {"statCode": "enemy_kills", "operator": ">=", "targetValue": 10}, "reward": 10}]}]}, or a list of goals each with a "challenge""#,
            ));
            return None;
        }
    };
    let lines = JsonLines::scan(&text);
    Some((records, Origin::Json { file: name, lines }))
}

/// The JSON's shape: challenges of goals, or a flat list of goals.
fn json_records(v: &Value) -> Result<Vec<Result<Record, Bad>>, String> {
    let root = FieldPath::root();
    match v {
        Value::Object(o) if o.get("challenges").is_some_and(Value::is_array) => {
            let list = o["challenges"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            Ok(records_of_challenges(list, &root.key("challenges")))
        }
        Value::Object(o) if o.get("goals").is_some_and(Value::is_array) => {
            let list = o["goals"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            Ok(flat_records(list, &root.key("goals")))
        }
        Value::Array(list) if list.first().is_some_and(|c| c.get("goals").is_some()) => {
            Ok(records_of_challenges(list, &root))
        }
        Value::Array(list) => Ok(flat_records(list, &root)),
        _ => Err("the JSON holds neither `challenges` nor a list of goals".into()),
    }
}

/// Challenges of goals (seed 001's `generateChallengeConfig`, or `[[catalog.challenges]]`).
fn records_of_challenges(list: &[Value], base: &FieldPath) -> Vec<Result<Record, Bad>> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (ci, ch) in list.iter().enumerate() {
        let at = base.index(ci);
        let id = ch.get("id").and_then(text_of);
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            out.push(Err((
                At::Path(at.key("id")),
                "a challenge without an `id`".into(),
                "give the challenge the id the team's service knows it by",
            )));
            continue;
        };
        if !seen.insert(id.clone()) {
            out.push(Err((
                At::Path(at.key("id")),
                format!("challenge id `{id}` is given twice"),
                "give each challenge its own id (or merge their goals into one)",
            )));
            continue;
        }
        let name = ch.get("name").and_then(text_of);
        match ch.get("goals").and_then(Value::as_array) {
            Some(goals) if !goals.is_empty() => {
                for (gi, g) in goals.iter().enumerate() {
                    out.push(record(
                        g,
                        At::Path(at.key("goals").index(gi)),
                        Some((id.clone(), name.clone())),
                    ));
                }
            }
            _ => out.push(Err((
                At::Path(at.key("goals")),
                format!("challenge `{id}` has no goals"),
                "give the challenge at least one goal, or remove it",
            ))),
        }
    }
    out
}

/// Goals each naming its challenge.
fn flat_records(list: &[Value], base: &FieldPath) -> Vec<Result<Record, Bad>> {
    list.iter()
        .enumerate()
        .map(|(i, g)| record(g, At::Path(base.index(i)), None))
        .collect()
}

/// One goal object: its fields at the top or under `requirement`, its reward a number
/// or `{ "amount": N, … }`.
fn record(g: &Value, at: At, challenge: Option<(String, Option<String>)>) -> Result<Record, Bad> {
    let Some(o) = g.as_object() else {
        return Err((
            at,
            "a goal must be an object".into(),
            r#"write the goal as {"id": "g-1", "requirement": {"statCode": "enemy_kills", "targetValue": 10}, "reward": 10}"#,
        ));
    };
    let mut fields = BTreeMap::new();
    let (req, req_path) = match o.get("requirement").and_then(Value::as_object) {
        Some(r) => (r, FieldPath::root().key("requirement")),
        None => (o, FieldPath::root()),
    };
    let mut put = |name: &'static str,
                   obj: &serde_json::Map<String, Value>,
                   under: &FieldPath,
                   keys: &[&str]| {
        if let Some((v, k)) = pick(obj, keys) {
            fields.insert(name, (v.clone(), under.key(&k)));
        }
    };
    let top = FieldPath::root();
    put("id", o, &top, GOAL_ID_KEYS);
    put("stat", req, &req_path, STAT_KEYS);
    put("operator", req, &req_path, OP_KEYS);
    put("target", req, &req_path, TARGET_KEYS);
    put("reward", o, &top, &["reward"]);
    let challenge = challenge.or_else(|| {
        pick(o, CHALLENGE_KEYS)
            .and_then(|(v, _)| text_of(v))
            .map(|c| (c, None))
    });
    Ok(Record {
        at,
        challenge,
        fields,
    })
}

const CSV_HEADER: &str = "challenge,goal,stat_code,operator,target,reward";

/// A CSV's rows as records; a missing column is a problem at the header.
fn csv_records(text: &str) -> Result<Vec<Result<Record, Bad>>, (usize, String, String)> {
    let fix = format!("the header is {CSV_HEADER} (operator and reward may be left out)");
    let rows = data::csv(text).map_err(|m| (1, m, fix.clone()))?;
    let header: Vec<&str> = rows
        .first()
        .map(|r| r.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    for need in ["challenge", "goal", "stat_code", "target"] {
        if !rows.is_empty() && !header.contains(&need) {
            return Err((1, format!("the header has no `{need}` column"), fix));
        }
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let mut fields = BTreeMap::new();
            let mut challenge = None;
            for (k, v) in row {
                let name = match k.as_str() {
                    // An empty cell is a value not given.
                    _ if v.trim().is_empty() => continue,
                    "goal" => "id",
                    "stat_code" => "stat",
                    "operator" => "operator",
                    "target" => "target",
                    "reward" => "reward",
                    "challenge" => {
                        challenge = Some((v.trim().to_string(), None));
                        continue;
                    }
                    _ => continue,
                };
                let path = FieldPath::root().key(&k);
                fields.insert(name, (Value::String(v), path));
            }
            Ok(Record {
                at: At::Row(i + 2),
                challenge: challenge.filter(|(c, _)| !c.is_empty()),
                fields,
            })
        })
        .collect())
}

/// Records → catalog, every problem at once.
struct Checker<'a> {
    origin: Origin<'a>,
    stats: &'a StatNames,
    p: Vec<Problem>,
}

impl Checker<'_> {
    /// A problem at `field` of the record at `at`.
    fn at(
        &mut self,
        at: &At,
        field: &FieldPath,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let full = match at {
            At::Path(p) => FieldPath(p.0.iter().chain(&field.0).cloned().collect()),
            At::Row(_) => field.clone(),
        };
        let problem = match (&self.origin, at) {
            (Origin::Scenario(src), _) => {
                let path = FieldPath(
                    std::iter::once(crate::diagnostic::Seg::Key("catalog".into()))
                        .chain(full.0)
                        .collect(),
                );
                src.problem(&path, message, fix)
            }
            (Origin::Json { file, lines }, _) => {
                Problem::in_file(file, lines.line(&full).or(Some(1)), message, fix)
                    .at_field(full.to_string())
            }
            (Origin::Csv { file }, At::Row(line)) => {
                Problem::in_file(file, Some(*line), message, fix).at_field(full.to_string())
            }
            (Origin::Csv { file }, At::Path(_)) => {
                Problem::in_file(file, None, message, fix).at_field(full.to_string())
            }
        };
        self.p.push(problem);
    }

    fn catalog(&mut self, records: Vec<Result<Record, Bad>>) -> Catalog {
        // Challenge id → (index, name); goals grouped by challenge in first-seen order.
        let mut challenges: Vec<(String, String)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut grouped: Vec<Vec<(Goal, String)>> = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for r in records {
            let r = match r {
                Ok(r) => r,
                Err((at, m, fix)) => {
                    self.at(&at, &FieldPath::root(), m, fix);
                    continue;
                }
            };
            let Some((cid, cname)) = r.challenge.clone() else {
                self.at(
                    &r.at,
                    &FieldPath::root().key("challenge"),
                    "this goal names no challenge",
                    "add \"challenge\": the id of the challenge it belongs to",
                );
                continue;
            };
            let id = r.text("id").unwrap_or_default();
            let place = match &r.at {
                At::Path(p) => p.to_string(),
                At::Row(l) => format!("line {l}"),
            };
            let twice = !id.is_empty() && seen.contains_key(&id);
            if twice {
                let (_, key) = &r.fields["id"];
                let first = seen[&id].clone();
                self.at(
                    &r.at,
                    key,
                    format!("goal id `{id}` is given twice (also at {first})"),
                    "give each goal its own id",
                );
            } else {
                seen.insert(id.clone(), place);
            }
            let Some(goal) = self.goal(&r) else { continue };
            if twice {
                continue;
            }
            let c = *index.entry(cid.clone()).or_insert_with(|| {
                challenges.push((cid.clone(), cname.clone().unwrap_or_else(|| cid.clone())));
                grouped.push(Vec::new());
                challenges.len() - 1
            });
            grouped[c].push((goal, id));
        }
        self.limits(&challenges, &grouped);
        let mut goals = Vec::new();
        let mut ids = Vec::new();
        for (c, list) in grouped.into_iter().enumerate() {
            for (mut g, id) in list {
                g.challenge = c as u16;
                goals.push(g);
                ids.push(id);
            }
        }
        if !self.p.is_empty() || goals.is_empty() {
            return Catalog::new(1, 1);
        }
        let labels = Labels::new(challenges, ids, self.stats.names.clone());
        Catalog::of(goals, Some(Arc::new(labels)))
    }

    fn limits(&mut self, challenges: &[(String, String)], grouped: &[Vec<(Goal, String)>]) {
        let total: usize = grouped.iter().map(Vec::len).sum();
        let root = At::Path(FieldPath::root());
        if challenges.len() > MAX_CHALLENGES {
            self.at(
                &root,
                &FieldPath::root(),
                format!("{} challenges", challenges.len()),
                "give at most 64 challenges (a user's joined challenges are one 64-bit mask)",
            );
        }
        if total > MAX_GOALS {
            self.at(
                &root,
                &FieldPath::root(),
                format!("{total} goals"),
                "give at most 12,800 goals",
            );
        }
        if total == 0 && self.p.is_empty() {
            self.at(
                &root,
                &FieldPath::root(),
                "the catalog has no goals",
                "give at least one challenge with one goal",
            );
        }
    }

    /// One record's goal, or its problems.
    fn goal(&mut self, r: &Record) -> Option<Goal> {
        let stats = self.stats;
        // A missing field is named as the source names it.
        let keys = match self.origin {
            Origin::Scenario(_) => ("stat", "target"),
            Origin::Json { .. } => ("statCode", "targetValue"),
            Origin::Csv { .. } => ("stat_code", "target"),
        };
        let root = FieldPath::root();
        let key = |name: &str, default: &str| {
            r.fields
                .get(name)
                .map(|(_, k)| k.clone())
                .unwrap_or_else(|| root.key(default))
        };
        let mut ok = true;
        if r.text("id").is_none_or(|i| i.is_empty()) {
            self.at(
                &r.at,
                &key("id", "id"),
                "this goal has no `id`",
                "give the goal the id the team's service knows it by",
            );
            ok = false;
        }
        let code = match r.text("stat") {
            Some(s) => stats.known.get(&s).copied().or_else(|| {
                let names: Vec<&str> = stats.known.keys().map(String::as_str).collect();
                self.at(
                    &r.at,
                    &key("stat", keys.0),
                    format!("`{s}` is not a stat code the engine knows"),
                    format!("use one of: {}; or map the team's name onto one in the scenario: [catalog] stats = {{ {s} = \"enemy_kills\" }}", names.join(", ")),
                );
                None
            }),
            None => {
                self.at(&r.at, &key("stat", keys.0), "this goal has no stat code", "add the stat it tracks: enemy_kills, login_count or games_played");
                None
            }
        };
        let op = match r.text("operator") {
            None => Some(Operator::AtLeast),
            Some(t) => Operator::parse(&t).or_else(|| {
                self.at(
                    &r.at,
                    &key("operator", "operator"),
                    format!("`{t}` is not an operator"),
                    format!("use {}", Operator::NAMES),
                );
                None
            }),
        };
        let target = self.number(r, "target", &key("target", keys.1), 1);
        let reward = match r.fields.get("reward") {
            None => Some(0),
            Some((Value::Object(o), k)) => match o.get("amount") {
                Some(v) => self.value_number(&r.at, v, &k.key("amount"), 0),
                None => Some(0),
            },
            Some((v, k)) => self.value_number(&r.at, v, k, 0),
        };
        match (ok, code, op, target, reward) {
            (true, Some(code), Some(op), Some(target), Some(reward)) => Some(Goal {
                challenge: 0,
                code,
                op,
                target,
                reward,
            }),
            _ => None,
        }
    }

    fn number(&mut self, r: &Record, name: &str, key: &FieldPath, least: u32) -> Option<u32> {
        match r.fields.get(name) {
            Some((v, k)) => self.value_number(&r.at, v, k, least),
            None => {
                self.at(
                    &r.at,
                    key,
                    format!("this goal has no {name}"),
                    "give the stat value that completes the goal, 1 or more",
                );
                None
            }
        }
    }

    /// A whole number of at least `least` (targets 1, rewards 0), written as a number
    /// or as text.
    fn value_number(&mut self, at: &At, v: &Value, key: &FieldPath, least: u32) -> Option<u32> {
        let n = text_of(v).and_then(|t| t.parse::<i64>().ok());
        match n {
            Some(n) if n >= i64::from(least) && n <= i64::from(u32::MAX) => Some(n as u32),
            _ => {
                let shown = text_of(v).unwrap_or_else(|| v.to_string());
                let (what, fix) = if least == 1 {
                    (
                        "target",
                        "give a whole number of 1 or more: a target of 0 or less is met before anything happens",
                    )
                } else {
                    (
                        "reward",
                        "give the points a claim earns as a whole number of 0 or more",
                    )
                };
                self.at(
                    at,
                    key,
                    format!("{what} `{shown}` is not a whole number of {least} or more"),
                    fix,
                );
                None
            }
        }
    }
}
