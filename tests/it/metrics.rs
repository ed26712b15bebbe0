//! metrics.json's series and per-persona figures as users ask for them: `--resolution`,
//! its refusals, and a persona that never pays named in the document and the summary.

use crate::common::{bin, conforms, read_json};
use crate::seed::text;
use simulate_core::sinks::metrics::document::MetricsDoc;

/// A persona folder: the shipped gamer (who buys) and a walker with no purchase step.
fn gamer_and_walker(dir: &std::path::Path) {
    let gamer = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("personas/gamer.toml"),
    )
    .expect("gamer.toml");
    let gamer = gamer.replace("share = 0.20", "share = 0.5");
    std::fs::write(dir.join("gamer.toml"), gamer).expect("write");
    let walker = "name = \"walker\"\nshare = 0.5\n[attributes]\n\
        platform = { dist = \"weighted\", table = { web = 1 } }\n\
        locale = { dist = \"weighted\", table = { en = 1 } }\n\
        [timing]\nsession_gap = \"6h\"\n[habit]\ninitial = 0.5\nhalf_life = \"3d\"\n\
        investment_gain = 0.05\nchurn_hazard = 0.0\nnudge_response = 0.0\n\
        [session]\nstart = \"open\"\n[states.open]\naction = \"login\"\n\
        next = { to = \"end\", delay = \"5s\" }\n";
    std::fs::write(dir.join("walker.toml"), walker).expect("write");
}

#[test]
fn a_two_hour_series_and_a_persona_that_never_pays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let personas = dir.path().join("personas");
    std::fs::create_dir(&personas).expect("mkdir");
    gamer_and_walker(&personas);
    let out = dir.path().join("r");
    let o = bin()
        .args([
            "run",
            "--users",
            "100",
            "--span",
            "2h",
            "--resolution",
            "10m",
        ])
        .args(["--format", "none", "-q", "--personas"])
        .arg(&personas)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", text(&o));
    let metrics = read_json(&out.join("metrics.json"));
    conforms::<MetricsDoc>(&metrics, "metrics.v1.json");
    let buckets = metrics["series"]["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 12);
    assert_eq!(buckets[11]["start"], "2026-01-05T01:50:00.000Z");
    let events: u64 = buckets.iter().map(|b| b["events"].as_u64().unwrap()).sum();
    assert_eq!(metrics["events"]["total"], events);
    let walker = &metrics["personas"]["walker"];
    assert_eq!(
        (&walker["never_pays"], &walker["payers"]),
        (&true.into(), &0.into())
    );
    assert_eq!(metrics["personas"]["gamer"]["never_pays"], false);
    let said = String::from_utf8_lossy(&o.stdout);
    let line = said
        .lines()
        .find(|l| l.trim_start().starts_with("walker "))
        .unwrap_or_else(|| panic!("no walker line in\n{said}"));
    assert!(
        line.contains("never pays (its persona has no purchase step)"),
        "{line}"
    );
    assert!(said.contains("by persona"), "{said}");
}

#[test]
fn bad_resolutions_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (span, value, says, fix) in [
        (
            "2h",
            "0m",
            "--resolution 0m is zero",
            "write a bucket width such as 10m",
        ),
        (
            "2h",
            "7x",
            "--resolution 7x: unknown unit `x`",
            "write a bucket width",
        ),
        (
            "2h",
            "500ms",
            "finer than one simulated second",
            "use 1s or more",
        ),
        (
            "3d",
            "1s",
            "cuts the 3d span into 259200 buckets, more than 100000",
            "use --resolution 3s or coarser",
        ),
    ] {
        let o = bin()
            .args([
                "run",
                "--users",
                "10",
                "--span",
                span,
                "--resolution",
                value,
            ])
            .args(["--format", "none", "-q", "--out"])
            .arg(dir.path().join("never"))
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(2), "{value}: {}", text(&o));
        assert!(
            text(&o).contains(says) && text(&o).contains(fix),
            "{value}: {}",
            text(&o)
        );
        assert!(
            !dir.path().join("never").exists(),
            "{value}: a folder was made"
        );
    }
}
