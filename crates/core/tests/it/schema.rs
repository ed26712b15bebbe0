//! Every line the engine writes validates against the published JSON Schema.

use crate::common::{Spec, simulate};

#[test]
fn every_event_kind_matches_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../../schema/event.v1.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let run = simulate(Spec {
        users: 3000,
        days: 4,
        ..Default::default()
    });
    let mut kinds = std::collections::BTreeSet::new();
    for line in run.lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("each line is JSON");
        if let Err(e) = validator.validate(&v) {
            panic!("{}\n{e}", String::from_utf8_lossy(line));
        }
        kinds.insert(v["event"].as_str().unwrap().to_string());
    }
    // The run exercises every kind, so every branch of the schema was checked.
    for k in simulate_core::timeline::EVENT_KINDS {
        assert!(kinds.contains(*k), "no {k} in the run");
    }
    // And the schema rejects what it should.
    let mut bad: serde_json::Value =
        serde_json::from_slice(run.lines.split(|b| *b == b'\n').next().unwrap()).unwrap();
    bad["props"]["surprise"] = serde_json::json!(1);
    assert!(!validator.is_valid(&bad));
}
