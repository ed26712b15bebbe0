//! Phase sizes as shares of the users (`users = "10%"`) or numbers: resolved against the
//! world, a share that is not one refused, a number beyond the world warned about, each
//! with file, line and field.

use simulate_core::diagnostic::Source;
use simulate_core::persona;
use simulate_core::scenario::{Overrides, Scenario};

const SIZED: &str = r#"users = 300

[[phases]]
name = "rush"
kind = "login_rush"
at = "1d8h"
over = "60s"
users = "10%"

[[phases]]
name = "wave"
kind = "goal_wave"
at = "1d10h"
tiers = [{ users = 200, after = "0m" }, { users = "50%", after = "5m" }]

[[phases]]
name = "burst"
kind = "game_burst"
at = "1d12h"
users = 1000
"#;

fn load(text: &str, users: Option<u32>) -> Result<Scenario, String> {
    let personas = persona::load(None).expect("shipped personas");
    let over = Overrides {
        users,
        ..Default::default()
    };
    Scenario::from_source(&Source::new("s.toml", text), &over, &personas).map_err(|p| p.to_string())
}

#[test]
fn shares_follow_the_users_and_numbers_beyond_them_are_warned_about() {
    let s = load(SIZED, None).unwrap();
    let warned: Vec<String> = s.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    // The wave's tiers (200 + 150) and the burst (1,000) exceed 300 users.
    assert!(
        warned[0].contains("s.toml:14")
            && warned[0].contains("phases[1].tiers")
            && warned[0].contains("350 users is more than the world's 300"),
        "{warned:?}"
    );
    assert!(
        warned[1].contains("s.toml:20")
            && warned[1].contains("phases[2].users")
            && warned[1].contains("fix:"),
        "{warned:?}"
    );
    // At --users 2000 the shares grow and the numbers fit: nothing to say.
    let s = load(SIZED, Some(2000)).unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let debug = format!("{:?}", s.phases);
    assert!(
        debug.contains("LoginRush { users: 200 }") && debug.contains("(200, 0), (1000, 300000)"),
        "{debug}"
    );
}

#[test]
fn a_share_that_is_not_one_is_refused_with_its_line() {
    for (bad, needle) in [
        (r#"users = "10""#, "`10` is not a share"),
        (r#"users = "0%""#, "`0%` is not a share"),
        (r#"users = "120%""#, "`120%` is not a share"),
    ] {
        let err = load(&SIZED.replace(r#"users = "10%""#, bad), None).unwrap_err();
        assert!(
            err.contains("s.toml:8") && err.contains("phases[0].users") && err.contains(needle),
            "{err}"
        );
    }
    let err = load(&SIZED.replace(r#"users = "10%""#, "users = 0.1"), None).unwrap_err();
    assert!(
        err.contains("s.toml:8") && err.contains(r#"a share of the users like "5%""#),
        "{err}"
    );
}
