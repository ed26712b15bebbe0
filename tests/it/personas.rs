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

/// `--personas DIR` whose shares add up to 0.6: refused with every file's share and both
/// fixes; a scenario's `[mix]` then replaces the shares, as the message says.
#[test]
fn a_scenario_mix_replaces_persona_shares_that_do_not_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("personas");
    std::fs::create_dir(&folder).unwrap();
    let tester = GOOD.replace("share = 1.0", "share = 0.3");
    std::fs::write(folder.join("tester.toml"), &tester).unwrap();
    let other = tester.replace("name = \"tester\"", "name = \"other\"");
    std::fs::write(folder.join("other.toml"), other).unwrap();
    let run = |scenario: Option<&str>| {
        let mut cmd = bin();
        cmd.args(["run", "--users", "400", "--days", "1", "-q"])
            .args(["--format", "none", "--personas"])
            .arg(&folder)
            .arg("--out")
            .arg(dir.path().join("out"));
        if let Some(text) = scenario {
            let file = dir.path().join("mix.toml");
            std::fs::write(&file, text).unwrap();
            cmd.arg("--scenario").arg(file);
        }
        let o = cmd.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (code, err) = run(None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("add up to 0.600")
            && err.contains("tester.toml:2: tester 0.300")
            && err.contains("[mix]"),
        "{err}"
    );
    let (code, err) = run(Some("[mix]\ntester = 0.8\nother = 0.2\n"));
    assert_eq!(code, Some(0), "{err}");
    let m = crate::common::read_json(&dir.path().join("out/metrics.json"));
    let users = |p: &str| m["personas"][p]["users"].as_f64().unwrap();
    let share = users("tester") / (users("tester") + users("other"));
    // 400 users drawn 0.8 / 0.2: the share is 0.8 ± 0.06 (3 standard deviations is 0.06).
    assert!((share - 0.8).abs() < 0.06, "{share} {}", m["personas"]);
    // A mix that names a persona the folder does not have is refused, line and field.
    let (code, err) = run(Some("[mix]\ntester = 0.8\nnobody = 0.2\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("mix.nobody") && err.contains("no persona is called"),
        "{err}"
    );
}
