//! The mapping file as written: serde types, checked and compiled by [`super::compile`].

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMapping {
    pub base_url: Option<String>,
    pub(crate) timeout: Option<String>,
    #[serde(default)]
    pub http2: bool,
    /// Each user's cookies (Set-Cookie answers) kept and sent back on their requests.
    #[serde(default)]
    pub(crate) cookie_jar: bool,
    #[serde(default)]
    pub(crate) auth: RawAuth,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// Event kinds the server produces itself: counted as skipped, not as unmapped.
    #[serde(default)]
    pub server_side: Vec<String>,
    #[serde(default)]
    pub(crate) request: Vec<RawRequest>,
    pub grpc: Option<RawGrpc>,
    pub socketio: Option<RawSocketio>,
    pub websocket: Option<RawWebsocket>,
    /// HTTP requests sent before the replay (and after it), reported apart from the load.
    #[serde(default)]
    pub(crate) setup: Vec<RawHook>,
    #[serde(default)]
    pub(crate) teardown: Vec<RawHook>,
}

/// A `[[setup]]` or `[[teardown]]` request: an HTTP request sent `repeat` times, `{seq}`
/// counting from 0.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHook {
    pub(crate) method: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) body: Option<toml::Value>,
    pub(crate) headers: Option<BTreeMap<String, String>>,
    pub(crate) expect: Option<Vec<toml::Value>>,
    pub(crate) check: Option<Checks>,
    pub(crate) repeat: Option<u32>,
    /// A teardown's: sent once per value the run captured into this variable
    /// (`entity.gift.id`).
    pub(crate) for_each: Option<String>,
    /// Run against `--database-url` in one transaction, instead of a request.
    pub(crate) sql: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebsocket {
    /// The server's URL (`--websocket-target` replaces it; default: the target's).
    pub url: Option<String>,
    pub(crate) query: Option<String>,
    /// Sent as part of the connect: `{ message = {…}, reply = true, check = {…} }`.
    pub(crate) hello: Option<RawWsHello>,
    /// The dotted path of the correlation value in a message and in its reply.
    pub(crate) correlation: Option<String>,
    #[serde(default = "session_started")]
    pub(crate) connect: String,
    #[serde(default = "session_ended")]
    pub(crate) disconnect: String,
    pub(crate) ping_every: Option<String>,
    pub(crate) reconnect_attempts: Option<u32>,
    #[serde(default = "yes")]
    pub(crate) open_on_send: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWsHello {
    pub(crate) message: toml::Value,
    #[serde(default)]
    pub(crate) reply: bool,
    pub(crate) check: Option<Checks>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSocketio {
    /// The server's URL (`--socketio-target` replaces it; default: the target's).
    pub url: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) query: Option<String>,
    pub(crate) auth: Option<toml::Value>,
    /// The event kinds that open and close a session's connection.
    #[serde(default = "session_started")]
    pub(crate) connect: String,
    #[serde(default = "session_ended")]
    pub(crate) disconnect: String,
    pub(crate) join: Option<RawEmit>,
    #[serde(default)]
    pub listen: Vec<RawListen>,
    pub(crate) reconnect_attempts: Option<u32>,
    /// An emit whose session has no open connection opens one, rendered from the emit's
    /// own event (the default); `false`: it fails as a `connect` error instead, and the
    /// connection's templates need only the `connect` kind's props.
    #[serde(default = "yes")]
    pub(crate) open_on_emit: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmit {
    pub(crate) emit: String,
    pub(crate) payload: Option<toml::Value>,
    #[serde(default)]
    pub(crate) ack: bool,
    pub(crate) check: Option<Checks>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListen {
    pub event: String,
    pub(crate) key: Option<String>,
    pub(crate) origin: Option<String>,
}

fn session_started() -> String {
    "session.started".into()
}
fn session_ended() -> String {
    "session.ended".into()
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrpc {
    /// The gRPC server's URL (`--grpc-target` replaces it).
    pub target: Option<String>,
    /// The contract; default: the shipped proto/event_service.proto.
    pub(crate) proto: Option<String>,
}

/// A check on an answer's field: exactly one of `equals`, `one_of`, `exists`, `matches`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub(crate) field: String,
    pub(crate) equals: Option<toml::Value>,
    pub(crate) one_of: Option<Vec<toml::Value>>,
    pub(crate) exists: Option<bool>,
    pub(crate) matches: Option<String>,
}

/// `check = {…}` or `check = [{…}, …]`. Read through a TOML value so a mistake inside
/// one says which key (serde's untagged enums would only say "no variant matched").
#[derive(Deserialize, Debug, Clone)]
#[serde(try_from = "toml::Value")]
pub(crate) enum Checks {
    One(RawCheck),
    Many(Vec<RawCheck>),
}

impl TryFrom<toml::Value> for Checks {
    type Error = String;

    fn try_from(v: toml::Value) -> Result<Checks, String> {
        let words = |e: toml::de::Error| e.message().to_string();
        match v {
            toml::Value::Array(_) => v.try_into().map(Checks::Many).map_err(words),
            _ => v.try_into().map(Checks::One).map_err(words),
        }
    }
}

impl Checks {
    pub(crate) fn list(&self) -> Vec<&RawCheck> {
        match self {
            Checks::One(c) => vec![c],
            Checks::Many(v) => v.iter().collect(),
        }
    }

    /// Whether an entry is its own array item (for field paths: `check[1]`).
    pub(crate) fn is_list(&self) -> bool {
        matches!(self, Checks::Many(_))
    }
}

/// A value taken from an answer into a variable: `into = "vars.token"` or
/// `"entity.gift.id"`, read from `field` (a JSON path) or `header`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapture {
    pub(crate) into: String,
    pub(crate) field: Option<String>,
    pub(crate) header: Option<String>,
    /// A Socket.IO event the server sends the user's connection after the emit: `field`
    /// is then read in its first argument.
    pub(crate) broadcast: Option<String>,
    /// How long to wait for that broadcast (default: the mapping's timeout).
    pub(crate) within: Option<String>,
}

/// `poll = { every = "200ms", timeout = "5s" }`: repeat until the checks hold.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPoll {
    pub(crate) every: String,
    pub(crate) timeout: String,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    pub(crate) bearer: Option<String>,
    pub(crate) cookie: Option<String>,
    pub(crate) tokens_file: Option<String>,
    /// What a user missing from `tokens_file` gets: `refuse` (the default), `skip` or
    /// `anonymous`.
    pub(crate) missing_token: Option<String>,
    /// The event kind whose flow logs a user in (captures their `vars`): re-run once on
    /// a 401, and before a request whose user variable is missing.
    pub(crate) login: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequest {
    pub event: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub(crate) protocol: Option<String>,
    /// HTTP: the method (POST when not given); gRPC: `package.Service/Method`.
    pub(crate) method: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) body: Option<toml::Value>,
    /// gRPC: the request message, a JSON template of the method's input type;
    /// WebSocket: the JSON text frame sent.
    pub(crate) message: Option<toml::Value>,
    /// WebSocket: wait for the reply carrying the message's correlation value, and time it.
    #[serde(default)]
    pub(crate) reply: bool,
    /// Conditions on the answer: an HTTP JSON body, a gRPC response, a Socket.IO ack's
    /// first argument, a WebSocket reply.
    pub(crate) check: Option<Checks>,
    /// HTTP: a form-encoded body (`name = "template"` pairs) instead of `body`.
    pub(crate) form: Option<toml::Value>,
    /// Values taken from the answer into variables.
    #[serde(default)]
    pub(crate) capture: Vec<RawCapture>,
    /// A field path of the answer whose value counts the answers (`outcomes`).
    pub(crate) outcome: Option<String>,
    /// Waited after the previous step's answer (later steps only).
    pub(crate) think: Option<String>,
    /// Repeat the request until its checks hold, up to a timeout.
    pub(crate) poll: Option<RawPoll>,
    /// The timeline entities the request is about: `{ gift = "{props.gift_id}" }`.
    pub(crate) entity: Option<BTreeMap<String, String>>,
    /// Several requests for the event, in order: each step takes a request's fields.
    #[serde(default)]
    pub(crate) steps: Vec<RawRequest>,
    /// Socket.IO: the event name emitted.
    pub(crate) emit: Option<String>,
    /// Socket.IO: the emit's argument, a JSON template.
    pub(crate) payload: Option<toml::Value>,
    /// Socket.IO: ask for an acknowledgement and time it.
    #[serde(default)]
    pub(crate) ack: bool,
    pub(crate) headers: Option<BTreeMap<String, String>>,
    pub(crate) expect: Option<Vec<toml::Value>>,
    /// HTTP: a race or idempotency probe, `{ copies = 2, key = "idempotency-key",
    /// same_key = true, expect = { success = 1, rest = 409 } }`.
    pub(crate) probe: Option<RawProbe>,
    /// The statistics tag; default `api` (a later step: `<first step's tag>.<n>`).
    pub kind: Option<String>,
    /// `event` (an event the target ingests) or `api` (an API call): which limit of
    /// `--threshold-preset upper-limit` applies, and the `{class:…}` threshold tag.
    pub(crate) class: Option<String>,
    /// `false`: the request leaves at its instant even while the same user's earlier
    /// requests are still out (a client that sends its calls concurrently); default
    /// `true`, each after the user's previous answer.
    pub(crate) ordered: Option<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProbe {
    pub(crate) copies: Option<u32>,
    pub(crate) key: Option<String>,
    pub(crate) same_key: Option<bool>,
    pub(crate) expect: Option<RawProbeExpect>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProbeExpect {
    pub(crate) success: Option<u32>,
    /// A status, a class (`"4xx"`) or a list of them.
    pub(crate) rest: Option<toml::Value>,
}
