//! What a world declares besides its personas' behaviour: today the event kinds and their
//! typed props ([`kinds`]) and the timeline's JSON Schema made from them ([`schema`]).
//! Issue 19 adds here what a team declares (custom actions and kinds in `world.toml`,
//! catalog, pools, id formats); the engine's `World` moves here with them.

pub mod entities;
pub mod ids;
pub mod kinds;
pub mod pools;
pub mod schema;
