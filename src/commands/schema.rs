//! `simulate schema`: the JSON Schema (2020-12) of the timeline a world produces, made
//! from its kind table, so a team validates its own pipeline's input against the events
//! its personas and scenario will send. For the shipped world it is schema/event.v1.json.

use crate::cli::{SchemaArgs, WorldArgs};
use crate::world::load_world;
use simulate_core::world::kinds::KindTable;

pub(crate) fn schema(args: SchemaArgs) -> anyhow::Result<i32> {
    // Loaded for their problems: a schema of a world that cannot run would mislead.
    let (personas, scenario) = load_world(&WorldArgs {
        personas: args.personas.clone(),
        scenario: args.scenario.clone(),
        ..WorldArgs::default()
    })?;
    // The personas folder's world.toml adds its custom kinds after the built-in ones;
    // the scenario's ids and pools (`[ids]`, `[pools]`) join user.signed_up's props; a
    // team's catalog lists its goal and challenge ids and its stat names.
    let kinds = KindTable::of_world(&personas, &scenario);
    match &args.out {
        None => out!("{}", kinds.json_schema_text()),
        // The same text: `export` writes the typed document pretty, fields in order.
        Some(path) => super::export(path, "the schema", &kinds.json_schema())?,
    }
    Ok(crate::exit::OK)
}
