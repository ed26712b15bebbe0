//! A seeded, bounded mutation fuzzer over the shipped persona, scenario and mapping files:
//! every mutant either validates or is refused with located messages in words, never a
//! panic. Runs through the library's validation (fast); a few binary runs prove exit 2.
//! `SIMULATE_FUZZ_CASES=3000` runs more; `SIMULATE_FUZZ_SHOW=1` prints every refusal.

use std::path::Path;

use simulate_core::diagnostic::{Problems, Source};
use simulate_core::persona::{self, SHIPPED};
use simulate_core::scenario::{Overrides, Scenario};
use simulate_replay::mapping::Mapping;

use crate::common::bin;
use crate::seed::text;

/// splitmix64: a tiny seeded generator, so a failing case can be replayed by its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Values of every kind, for a field that expects another.
const VALUES: &[&str] = &[
    r#""15m""#,
    "15",
    "-1",
    "0.03",
    "1e308",
    "-0.5",
    "true",
    "[1, 2]",
    "[]",
    "{ }",
    r#"{ to = "end" }"#,
    r#""""#,
    r#""2xx""#,
    "nan",
    "inf",
    r#""end""#,
    r#"["a", 3]"#,
    "{ value = 0.3 }",
    r#"{ value = "x", note = "n" }"#,
    "1979-05-27",
    "99999999999999",
    r#"{ dist = "lognormal" }"#,
    r#"[{ to = "end", p = 2 }]"#,
];

/// One random edit of the text (always valid UTF-8).
fn mutate(text: &str, rng: &mut Rng) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let i = rng.below(lines.len());
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let assignment = |l: &str| l.find(" = ");
    match rng.below(8) {
        0 => {
            out.remove(i);
        }
        1 => out.insert(i, lines[i].to_string()),
        2 | 3 => {
            // A value replaced by one of another kind (the commonest real mistake).
            let at = (0..lines.len())
                .map(|k| (i + k) % lines.len())
                .find(|k| assignment(lines[*k]).is_some());
            if let Some(k) = at {
                let eq = assignment(lines[k]).unwrap();
                out[k] = format!("{} = {}", &lines[k][..eq], rng.pick(VALUES));
            }
        }
        4 => {
            // A key misspelt.
            if let Some(eq) = assignment(lines[i]) {
                out[i] = format!("{}x{}", &lines[i][..eq], &lines[i][eq..]);
            }
        }
        5 => out.insert(
            i,
            rng.pick(&[
                "[states.extra]",
                "[[request]]",
                "[timing]",
                "[grpc]",
                "[[phases]]",
                "x =",
            ])
            .to_string(),
        ),
        6 => {
            // A stray character somewhere.
            let mut s = out.join("\n");
            let mut at = rng.below(s.len());
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            s.insert(
                at,
                rng.pick(&["[", "]", "{", "}", "=", "\"", ",", "#", "\n", "'"])
                    .chars()
                    .next()
                    .unwrap(),
            );
            return s;
        }
        _ => {
            // Cut short.
            let s = out.join("\n");
            let mut at = rng.below(s.len());
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            return s[..at].to_string();
        }
    }
    out.join("\n") + "\n"
}

/// A mutant of `text`: one to three edits.
fn mutant(text: &str, rng: &mut Rng) -> String {
    let mut t = text.to_string();
    for _ in 0..1 + rng.below(3) {
        t = mutate(&t, rng);
    }
    t
}

/// What is wrong with a refusal's messages, if anything.
fn judge(problems: &Problems, files: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    for p in &problems.0 {
        let shown = p.to_string();
        let located = files.iter().any(|f| {
            shown.match_indices(&format!("{f}:")).any(|(i, m)| {
                shown[i + m.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
        });
        if !located {
            bad.push(format!("no file:line: {shown}"));
        }
        if simulate_core::words::names_a_rust_type(&shown) {
            bad.push(format!("a Rust type name: {shown}"));
        }
        // The field is a path of keys, never a value taken for one.
        let head = p.field.split(['.', '[']).next().unwrap_or("");
        let is_key = head
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !p.field.is_empty() && !is_key {
            bad.push(format!("a field that is not a path: {shown}"));
        }
        if p.fix.is_empty() {
            bad.push(format!("no fix: {shown}"));
        }
    }
    bad
}

/// Runs `check` on a mutant, catching a panic as a failure.
fn case(
    failures: &mut Vec<String>,
    refused: &mut usize,
    what: &str,
    files: &[&str],
    check: impl FnOnce() -> Result<(), Problems>,
) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        Ok(Ok(())) => {}
        Ok(Err(problems)) => {
            *refused += 1;
            if std::env::var_os("SIMULATE_FUZZ_SHOW").is_some() {
                eprintln!("{what}: {problems}");
            }
            failures.extend(
                judge(&problems, files)
                    .into_iter()
                    .map(|b| format!("{what}: {b}")),
            );
        }
        Err(_) => failures.push(format!("{what}: panicked")),
    }
}

#[test]
fn mutated_shipped_files_are_refused_with_located_messages_in_words() {
    let cases: usize = std::env::var("SIMULATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let personas = persona::shipped().expect("the shipped personas");
    let scenarios: Vec<(String, String)> = ["scenarios/default.toml", "scenarios/gift-storm.toml"]
        .iter()
        .map(|p| (p.to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    let mappings: Vec<(String, String)> = std::fs::read_dir("mappings")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let over = Overrides::default();
    let mut rng = Rng(0x5eed_0016);
    let (mut failures, mut refused) = (Vec::new(), 0);
    for n in 0..cases {
        // Half the cases mutate one persona file of the shipped set, the rest a scenario
        // (checked against the shipped personas) or a mapping.
        type Check<'a> = Box<dyn FnOnce() -> Result<(), Problems> + 'a>;
        let (what, files, check): (String, Vec<String>, Check) = match n % 10 {
            0..=4 => {
                let k = rng.below(SHIPPED.len());
                let sources: Vec<Source> = SHIPPED
                    .iter()
                    .enumerate()
                    .map(|(j, (name, t))| {
                        let t = if j == k {
                            mutant(t, &mut rng)
                        } else {
                            t.to_string()
                        };
                        Source::new(*name, t)
                    })
                    .collect();
                (
                    SHIPPED[k].0.to_string(),
                    SHIPPED.iter().map(|(n, _)| n.to_string()).collect(),
                    Box::new(move || persona::from_sources(sources).map(drop)),
                )
            }
            5..=6 => {
                let (name, t) = &scenarios[rng.below(scenarios.len())];
                let src = Source::new(name.clone(), mutant(t, &mut rng));
                let (over, personas) = (&over, &personas);
                (
                    name.clone(),
                    vec![name.clone()],
                    Box::new(move || Scenario::from_source(&src, over, personas).map(drop)),
                )
            }
            _ => {
                let (name, t) = &mappings[rng.below(mappings.len())];
                let src = Source::new(name.clone(), mutant(t, &mut rng));
                (
                    name.clone(),
                    vec![name.clone()],
                    Box::new(move || {
                        Mapping::from_source(&src, Some(Path::new("mappings"))).map(drop)
                    }),
                )
            }
        };
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        case(
            &mut failures,
            &mut refused,
            &format!("case {n} ({what})"),
            &files,
            check,
        );
    }
    eprintln!(
        "fuzz: {cases} mutants, {refused} refused, {} bad messages",
        failures.len()
    );
    assert!(
        refused > cases / 3,
        "the mutations hardly bite: {refused} of {cases}"
    );
    assert!(
        failures.is_empty(),
        "{} of {cases}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mutants_exit_2_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(16);
    // A persona folder with one broken file, a scenario and a mapping.
    let personas = d.join("personas");
    std::fs::create_dir(&personas).unwrap();
    for (name, t) in SHIPPED {
        let file = Path::new(name).file_name().unwrap();
        std::fs::write(personas.join(file), t).unwrap();
    }
    let gift = personas.join("gift_claimer.toml");
    let t = std::fs::read_to_string(&gift).unwrap();
    std::fs::write(&gift, t.replacen("next = {", "next = 15 #", 1)).unwrap();
    let o = bin()
        .args(["personas", "validate"])
        .arg(&personas)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("gift_claimer.toml:32: field `states.open.next`: must be a table like")
            && text(&o).contains("or a state name"),
        "{}",
        text(&o)
    );
    let scenario = d.join("s.toml");
    let t = std::fs::read_to_string("scenarios/default.toml").unwrap();
    std::fs::write(&scenario, mutant(&t, &mut rng) + "\nusers = \"many\"\n").unwrap();
    let o = bin()
        .args(["run", "-q", "--scenario"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("s.toml:"), "{}", text(&o));
    let mapping = d.join("m.toml");
    std::fs::write(
        &mapping,
        "[[request]]\nevent = \"points.earned\"\npath = \"/p\"\nexpect = \"2xx\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["replay", "--target", "http://127.0.0.1:9", "--mapping"])
        .arg(&mapping)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("m.toml:4: field `request[0].expect`: must be a list of statuses like [200, \"2xx\"], not the string \"2xx\""),
        "{}",
        text(&o)
    );
}
