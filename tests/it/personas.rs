//! `personas validate` catches what breaks a state machine, naming file, line and field.

use crate::common::bin;

const GOOD: &str = r#"name = "tester"
share = 1.0
[attributes]
platform = { dist = "weighted", table = { ios = 1 } }
locale = { dist = "weighted", table = { en = 1 } }
[timing]
session_gap = { dist = "lognormal", median = "6h", sigma = 0.8 }
[habit]
initial = 0.3
half_life = "3d"
investment_gain = 0.05
churn_hazard = 2.0
nudge_response = 0.2
[session]
start = "open"
[states.open]
action = "login"
next = { to = "play", delay = "5s" }
[states.play]
action = "earn_points"
points = 10
next = { to = "end" }
"#;

fn validate(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tester.toml"), text).unwrap();
    let o = bin()
        .args(["personas", "validate"])
        .arg(dir.path())
        .output()
        .unwrap();
    (
        o.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn a_good_persona_passes() {
    let (code, out) = validate(GOOD);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ok: 1 personas"), "{out}");
}

#[test]
fn each_broken_machine_is_named() {
    let cases = [
        (
            GOOD.replace("next = { to = \"end\" }", "next = { to = \"ned\" }"),
            "tester.toml:22",
            "states.play.next.to",
            "`ned` is not a state",
        ),
        (
            GOOD.to_string() + "[states.orphan]\naction = \"check_in\"\nnext = { to = \"end\" }\n",
            "tester.toml:23",
            "states.orphan",
            "cannot be reached",
        ),
        (
            GOOD.replace("points = 10", "points = 10\nchance = 1.5"),
            "tester.toml:22",
            "states.play.chance",
            "not a probability",
        ),
        (
            GOOD.replace("initial = 0.3", "initial = 0.3\nmood = 4"),
            "tester.toml:10",
            "habit.mood",
            "is not a field of this table",
        ),
        (
            GOOD.replace("points = 10", "kills = 3"),
            "tester.toml:21",
            "states.play.kills",
            "no meaning for action `earn_points`",
        ),
        (
            GOOD.replace(
                "next = { to = \"end\" }",
                "weighted = [{ to = \"end\", p = 0.7 }, { to = \"open\", p = 0.7 }]",
            ),
            "tester.toml:22",
            "states.play.weighted",
            "add up to 1.4",
        ),
        (
            GOOD.replace("median = \"6h\"", "median = 6"),
            "tester.toml:7",
            "timing.session_gap.median",
            "bare number",
        ),
    ];
    for (text, at, field, message) in cases {
        let (code, out) = validate(&text);
        assert_eq!(code, Some(2), "{out}");
        assert!(
            out.contains(at)
                && out.contains(field)
                && out.contains(message)
                && out.contains("fix:"),
            "expected {at} {field} {message}:\n{out}"
        );
        assert!(!out.contains("panicked"));
    }
}
