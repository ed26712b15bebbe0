//! The team's catalog from each source, and one test per problem it can have: each named
//! at its file, line and field, with a fix, every problem of a file at once.

use super::*;
use crate::diagnostic::Source;
use crate::scenario::{Overrides, Scenario};

/// A scenario's catalog, or every problem as text.
fn scenario(name: &str, text: &str) -> Result<Catalog, String> {
    let personas = crate::persona::load(None).expect("shipped personas");
    Scenario::from_source(&Source::new(name, text), &Overrides::default(), &personas)
        .map(|s| s.catalog)
        .map_err(|e| e.to_string())
}

/// A scenario in a temp folder beside a catalog file `file` holding `data`.
fn with_file(file: &str, data: &str, extra: &str) -> Result<Catalog, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), data).unwrap();
    let sc = dir.path().join("scenario.toml");
    let text = format!("[catalog]\nfile = \"{file}\"\n{extra}");
    scenario(&sc.display().to_string(), &text)
}

fn says(e: &str, what: &[(&str, &str)]) {
    for (message, place) in what {
        assert!(e.contains(message), "missing `{message}` in:\n{e}");
        let near = e
            .lines()
            .position(|l| l.contains(message))
            .map(|i| e.lines().nth(i).unwrap_or_default())
            .unwrap_or_default();
        assert!(
            near.contains(place),
            "`{message}` not at `{place}`: {near}\nall:\n{e}"
        );
    }
}

#[test]
fn inline_challenges_keep_the_teams_ids_and_names() {
    let c = scenario(
        "team.toml",
        "[catalog]\nstats = { kills = \"enemy_kills\" }\n\n[[catalog.challenges]]\nid = \"daily\"\nname = \"Daily\"\n\n[[catalog.challenges.goals]]\nid = \"d-1\"\nstat = \"kills\"\ntarget = 10\nreward = 5\n\n[[catalog.challenges.goals]]\nid = \"d-2\"\nstat = \"login_count\"\noperator = \">\"\ntarget = 3\n\n[[catalog.challenges]]\nid = \"weekly\"\n\n[[catalog.challenges.goals]]\nid = \"w-1\"\nrequirement = { statCode = \"games_played\", operator = \"==\", targetValue = 7 }\nreward = { amount = 50 }\n",
    )
    .unwrap();
    assert_eq!(c.challenges(), 2);
    assert_eq!(c.goals_of(1), 2..3);
    assert_eq!(c.goal_id(2), "w-1");
    assert_eq!(c.challenge_id(0), "daily");
    assert_eq!(c.challenge_name(0), "Daily");
    assert_eq!(c.challenge_name(1), "weekly");
    assert_eq!(c.stat_name(StatCode::EnemyKills), "kills");
    assert_eq!(c.stat_name(StatCode::GamesPlayed), "games_played");
    assert_eq!((c.goals[1].op, c.goals[1].reward), (Operator::Above, 0));
    assert_eq!((c.goals[2].op, c.goals[2].reward), (Operator::Exactly, 50));
}

#[test]
fn json_nested_flat_and_csv_give_the_same_catalog() {
    let nested = with_file(
        "c.json",
        r#"{"challenges": [{"id": "A", "goals": [{"id": "a1", "requirement": {"statCode": "enemy_kills", "operator": ">=", "targetValue": 27}, "reward": {"type": "WALLET", "amount": 10}}]},
                           {"id": "B", "goals": [{"id": "b1", "requirement": {"statCode": "login_count", "targetValue": 3}, "reward": 5}]}]}"#,
        "",
    )
    .unwrap();
    let flat = with_file(
        "c.json",
        r#"[{"id": "a1", "challenge": "A", "statCode": "enemy_kills", "target": 27, "reward": 10},
            {"id": "b1", "challenge": "B", "statCode": "login_count", "operator": ">=", "target": 3, "reward": 5}]"#,
        "",
    )
    .unwrap();
    let csv = with_file(
        "c.csv",
        "challenge,goal,stat_code,operator,target,reward\nA,a1,enemy_kills,>=,27,10\nB,b1,login_count,,3,5\n",
        "",
    )
    .unwrap();
    for c in [&nested, &flat, &csv] {
        assert_eq!(c.labels, nested.labels);
        assert_eq!(c.goals_of(1), 1..2);
        assert_eq!((c.goals[0].target, c.goals[0].reward), (27, 10));
        assert_eq!(c.goals[1].code, StatCode::LoginCount);
    }
}

#[test]
fn the_shipped_export_loads_as_ten_by_fifty() {
    let c = scenario(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/challenge-service/scenario.toml"
        ),
        "[catalog]\nfile = \"challenges.json\"\n",
    )
    .unwrap();
    assert_eq!((c.challenges(), c.goals.len()), (10, 500));
    assert_eq!(c.goal_id(57), "goal-57");
    assert_eq!(c.goals[0].target, 27);
}

#[test]
fn every_inline_problem_at_once_with_its_line_and_fix() {
    let e = scenario(
        "team.toml",
        "[catalog]\nstats = { kills = \"enemy_kill\", frags = \"enemy_kills\", k = \"enemy_kills\" }\n\n[[catalog.challenges]]\nid = \"a\"\n\n[[catalog.challenges.goals]]\nid = \"g\"\nstat = \"deaths\"\ntarget = 0\n\n[[catalog.challenges.goals]]\nid = \"g\"\nstat = \"frags\"\ntarget = 3\n\n[[catalog.challenges.goals]]\nstat = \"frags\"\noperator = \"=>\"\ntarget = 3\nreward = -1\n\n[[catalog.challenges.goals]]\nid = \"h\"\n\n[[catalog.challenges]]\nid = \"a\"\n\n[[catalog.challenges.goals]]\nid = \"x\"\nstat = \"frags\"\ntarget = 1\n\n[[catalog.challenges]]\nid = \"empty\"\ngoals = []\n\n[[catalog.challenges]]\nname = \"no id\"\n",
    )
    .unwrap_err();
    says(
        &e,
        &[
            (
                "`enemy_kill` is not one of the engine's stat codes",
                "team.toml:2",
            ),
            ("`k` and `frags` both name `enemy_kills`", "team.toml:2"),
            (
                "`deaths` is not a stat code the engine knows",
                "team.toml:9",
            ),
            (
                "target `0` is not a whole number of 1 or more",
                "team.toml:10",
            ),
            ("goal id `g` is given twice", "team.toml:13"),
            ("this goal has no `id`", "team.toml:17"),
            ("`=>` is not an operator", "team.toml:19"),
            (
                "reward `-1` is not a whole number of 0 or more",
                "team.toml:21",
            ),
            ("this goal has no stat code", "team.toml:23"),
            ("this goal has no target", "team.toml:23"),
            ("challenge id `a` is given twice", "team.toml:27"),
            ("challenge `empty` has no goals", "team.toml:36"),
            ("a challenge without an `id`", "team.toml:38"),
        ],
    );
    assert!(
        e.contains("use one of: enemy_kills, frags, games_played, login_count"),
        "{e}"
    );
    assert!(
        e.contains("[catalog] stats = { deaths = \"enemy_kills\" }"),
        "{e}"
    );
    assert!(
        e.contains("field `catalog.challenges[0].goals[0].stat`"),
        "{e}"
    );
}

#[test]
fn json_problems_name_the_exports_lines() {
    let e = with_file(
        "c.json",
        "{\"challenges\": [\n {\"id\": \"A\", \"goals\": [\n  {\"id\": \"a1\", \"requirement\": {\"statCode\": \"kills\", \"targetValue\": 5}},\n  {\"id\": \"a1\", \"requirement\": {\"statCode\": \"enemy_kills\", \"targetValue\": -2}},\n  7\n ]}\n]}\n",
        "",
    )
    .unwrap_err();
    says(
        &e,
        &[
            ("`kills` is not a stat code the engine knows", "c.json:3"),
            ("goal id `a1` is given twice", "c.json:4"),
            ("target `-2` is not a whole number of 1 or more", "c.json:4"),
            ("a goal must be an object", "c.json:5"),
        ],
    );
    assert!(
        e.contains("challenges[0].goals[0].requirement.statCode"),
        "{e}"
    );
    let e = with_file(
        "c.json",
        "[{\"id\": \"a\", \"statCode\": \"enemy_kills\", \"target\": 1}]",
        "",
    )
    .unwrap_err();
    says(&e, &[("this goal names no challenge", "c.json:1")]);
    let e = with_file("c.json", "{\"challenges\": [\n  {\"id\": 1,}\n]}", "").unwrap_err();
    says(&e, &[("this is not valid JSON", "c.json:2")]);
    let e = with_file("c.json", "{\"catalog\": 1}", "").unwrap_err();
    says(
        &e,
        &[(
            "the JSON holds neither `challenges` nor a list of goals",
            "c.json:1",
        )],
    );
}

#[test]
fn csv_problems_name_their_rows() {
    let e = with_file(
        "c.csv",
        "challenge,goal,stat_code,operator,target,reward\nA,a1,enemy_kills,>=,5,10\nA,a2,xp,>=,5,10\n,a3,login_count,>=,5,1\nB,a4,login_count,~,0,x\n",
        "",
    )
    .unwrap_err();
    says(
        &e,
        &[
            ("`xp` is not a stat code the engine knows", "c.csv:3"),
            ("this goal names no challenge", "c.csv:4"),
            ("`~` is not an operator", "c.csv:5"),
            ("target `0` is not a whole number of 1 or more", "c.csv:5"),
            ("reward `x` is not a whole number of 0 or more", "c.csv:5"),
        ],
    );
    let e = with_file(
        "c.csv",
        "challenge,goal,stat,target\nA,a,enemy_kills,1\n",
        "",
    )
    .unwrap_err();
    says(&e, &[("the header has no `stat_code` column", "c.csv:1")]);
    let e = with_file("c.csv", "challenge,goal,stat_code,target\n\"A,a\n", "").unwrap_err();
    says(&e, &[("a quoted field never closes", "c.csv:1")]);
}

#[test]
fn files_sizes_and_sources_that_cannot_be_used() {
    let e = with_file("c.txt", "x", "").unwrap_err();
    says(&e, &[("is neither .json nor .csv", "field `catalog.file`")]);
    let e = scenario("team.toml", "[catalog]\nfile = \"no-such-catalog.json\"\n").unwrap_err();
    says(&e, &[("no-such-catalog.json", "team.toml:2")]);
    let e = with_file(
        "c.csv",
        "challenge,goal,stat_code,target\nA,a,enemy_kills,1\n",
        "goals_per_challenge = 5\n\n[[catalog.challenges]]\nid = \"x\"\ngoals = [{ id = \"y\", stat = \"enemy_kills\", target = 1 }]\n",
    )
    .unwrap_err();
    says(
        &e,
        &[(
            "both `file` and [[catalog.challenges]] give the catalog",
            "field `catalog.challenges`",
        )],
    );
    let e = with_file(
        "c.csv",
        "challenge,goal,stat_code,target\nA,a,enemy_kills,1\n",
        "goals_per_challenge = 5\n",
    )
    .unwrap_err();
    says(
        &e,
        &[(
            "`goals_per_challenge` sizes a generated catalog",
            "scenario.toml:3",
        )],
    );
    let e = scenario(
        "team.toml",
        "[catalog]\nchallenges = 65\ngoals_per_challenge = 0\n",
    )
    .unwrap_err();
    says(
        &e,
        &[("65 challenges", "team.toml:2"), ("0 goals", "team.toml:3")],
    );
    let many: Vec<String> = (0..65)
        .map(|c| format!("{{\"id\": \"g{c}\", \"challenge\": \"c{c}\", \"statCode\": \"enemy_kills\", \"target\": 1}}"))
        .collect();
    let e = with_file("c.json", &format!("[{}]", many.join(",\n")), "").unwrap_err();
    says(&e, &[("65 challenges", "c.json:1")]);
    let e = with_file("c.csv", "challenge,goal,stat_code,target\n", "").unwrap_err();
    says(&e, &[("the catalog has no goals", "c.csv")]);
}

#[test]
fn renamed_stats_apply_to_a_generated_catalog_too() {
    let c = scenario("team.toml", "[catalog]\nchallenges = 2\ngoals_per_challenge = 3\nstats = { logins = \"login_count\" }\n").unwrap();
    assert_eq!(c.goals.len(), 6);
    assert_eq!(c.goal_id(4), "goal-4");
    assert_eq!(c.stat_name(StatCode::LoginCount), "logins");
}

#[test]
fn gift_sizes_are_checked() {
    let personas = crate::persona::load(None).expect("shipped personas");
    let load = |text: &str| {
        Scenario::from_source(
            &Source::new("team.toml", text),
            &Overrides::default(),
            &personas,
        )
    };
    let s = load("[gifts]\nsizes = [50, 100]\n").unwrap();
    assert_eq!(s.gift_sizes, [50, 100]);
    let e = load("[gifts]\nsizes = []\n").unwrap_err().to_string();
    says(&e, &[("no sizes given", "team.toml:2")]);
    let e = load("[gifts]\nsizes = [0, 20000]\n")
        .unwrap_err()
        .to_string();
    says(
        &e,
        &[
            ("a gift of 0 shares", "team.toml:2"),
            ("a gift of 20000 shares", "team.toml:2"),
        ],
    );
}

#[test]
fn default_catalog_is_ten_by_fifty() {
    let c = Catalog::new(10, 50);
    assert_eq!(c.goals.len(), 500);
    assert_eq!(c.challenges(), 10);
    assert_eq!(c.goals_of(3), 150..200);
    let crossed: Vec<u16> = c.crossed(StatCode::LoginCount, 0, 2).collect();
    assert!(!crossed.is_empty());
    assert!(
        crossed
            .iter()
            .all(|g| c.goals[*g as usize].code == StatCode::LoginCount
                && c.goals[*g as usize].target <= 2)
    );
    assert_eq!(c.crossed(StatCode::LoginCount, 2, 2).count(), 0);
    assert_eq!(c.goal_id(7), "goal-7");
    assert_eq!(c.challenge_id(2), "challenge-2");
}

#[test]
fn operators_decide_when_a_goal_is_met() {
    let goal = |op, target| Goal {
        challenge: 0,
        code: StatCode::EnemyKills,
        op,
        target,
        reward: 1,
    };
    let goals = vec![
        goal(Operator::AtLeast, 10),
        goal(Operator::Above, 10),
        goal(Operator::Exactly, 10),
    ];
    let c = Catalog::of(goals, None);
    let crossed = |old, new| -> Vec<u16> { c.crossed(StatCode::EnemyKills, old, new).collect() };
    assert_eq!(crossed(5, 10), [0, 2]);
    assert_eq!(crossed(10, 11), [1]);
    assert_eq!(crossed(5, 12), [0, 1]);
    assert_eq!(crossed(10, 10), Vec::<u16>::new());
    assert_eq!(c.goals[2].needs(4), Some(6));
    assert_eq!(c.goals[2].needs(11), None);
    assert_eq!(c.goals[1].needs(10), Some(1));
    assert!(c.goals[1].met(11) && !c.goals[1].met(10));
}

#[test]
fn the_schema_lists_a_teams_ids_and_leaves_a_generated_catalog_alone() {
    use crate::world::kinds::{KindTable, PropType};
    let builtin = KindTable::builtin();
    assert_eq!(builtin.clone().with_catalog(&Catalog::new(10, 50)), builtin);
    let c = scenario(
        "team.toml",
        "[catalog]\nstats = { frags = \"enemy_kills\" }\n\n[[catalog.challenges]]\nid = \"c\"\ngoals = [{ id = \"g\", stat = \"frags\", target = 1 }]\n",
    )
    .unwrap();
    let t = KindTable::builtin().with_catalog(&c);
    let claimed = t.props(t.id("goal.claimed").unwrap());
    assert_eq!(claimed[0].ty, PropType::Enum(vec!["g".into()].into()));
    assert_eq!(claimed[1].ty, PropType::Enum(vec!["c".into()].into()));
    let stat = t.props(t.id("stat.updated").unwrap());
    assert_eq!(
        stat[0].ty,
        PropType::Enum(vec!["frags".into(), "login_count".into(), "games_played".into()].into())
    );
}
