//! The mapping: which request each event kind becomes (docs/REPLAY.md). Read from TOML
//! ([`raw`]), checked with file:line errors and compiled once ([`compile`]) into the
//! model below, which the drivers send. The model knows no transport; the drivers know
//! the model.

mod compile;
pub mod flow;
pub(crate) mod json_path;
pub mod proto;
mod raw;
mod tokens;

pub use tokens::MissingToken;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use http::header::HeaderName;
use prost_reflect::MessageDescriptor;
use serde_json::Value;
use simulate_core::diagnostic::{Problem, Problems, Source};
use simulate_core::template::{Body, JsonTmpl, Template};

use json_path::Found;

/// The mapping used when only `--target URL` is given.
pub(crate) const DEFAULT: (&str, &str) = (
    "mappings/default.toml",
    include_str!("../../../../mappings/default.toml"),
);

/// The protocols a request can be sent in; statistics are tagged by them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Grpc,
    SocketIo,
    /// Plain WebSocket: JSON text frames on a connection per session.
    WebSocket,
}

impl Protocol {
    /// The name in summaries and threshold tags (`{protocol:grpc}`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::SocketIo => "socketio",
            Protocol::WebSocket => "websocket",
        }
    }

    pub(crate) const ALL: [Protocol; 4] = [
        Protocol::Http,
        Protocol::Grpc,
        Protocol::SocketIo,
        Protocol::WebSocket,
    ];
}

/// What a request is to the target, as the mapping's `class` says: seed 001's upper limit
/// holds events and API calls to different latencies. Independent of the `kind` tag, so
/// a tag named `events` cannot fall under the API limit by its name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestClass {
    /// An event the target ingests (`POST /v1/events/…`, gRPC `OnMessage`).
    Event,
    /// An API call a client waits on (reads, claims).
    Api,
}

impl RequestClass {
    pub const ALL: [RequestClass; 2] = [RequestClass::Event, RequestClass::Api];

    /// As written in the mapping and in `{class:…}`.
    pub fn name(self) -> &'static str {
        match self {
            RequestClass::Event => "event",
            RequestClass::Api => "api",
        }
    }
}

/// Statuses a request may answer with and still count as ok.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expect {
    Code(u16),
    /// `2xx`: the hundreds digit.
    Class(u16),
}

impl Expect {
    pub(crate) fn accepts(list: &[Expect], status: u16) -> bool {
        list.iter().any(|e| match e {
            Expect::Code(c) => *c == status,
            Expect::Class(h) => status / 100 == *h,
        })
    }
}

/// An HTTP request: method, path, headers and body are templates of the event.
#[derive(Clone, Debug)]
pub(crate) struct HttpRequest {
    pub(crate) method: Method,
    pub(crate) path: Template,
    pub(crate) body: Option<Body>,
    pub(crate) headers: Vec<(HeaderName, Template)>,
    pub(crate) expect: Vec<Expect>,
    /// Conditions on the JSON body of an answer with an expected status; one that fails
    /// makes it an application error.
    pub(crate) check: Vec<Check>,
    /// The body is form-encoded (`form = {…}`): the JSON template's top-level fields
    /// become `name=value` pairs.
    pub(crate) form: bool,
    /// Keep the answer for the flow: a capture, an outcome or the cookie jar reads it.
    pub(crate) keep: bool,
    /// Keep its headers too: a capture of a header or the cookie jar reads them. Copying
    /// every answer's headers for a flow that reads only its body was 4,200 of a checking
    /// and capturing request's 49,800 instructions (callgrind, scripts/bench-flows.sh's
    /// mapping).
    pub(crate) keep_headers: bool,
    /// The field paths its checks, captures and outcome read from a JSON body: only
    /// those are built (json_path).
    pub(crate) paths: Arc<json_path::Paths>,
    /// Sent several times at once, with the result stated (a race or idempotency probe).
    pub(crate) probe: Option<Arc<Probe>>,
}

/// A set-up or teardown step: an HTTP request sent `repeat` times (`{seq}` from 0,
/// `{user_id}` `setup-<n>` or `teardown-<n>`, n its place in the list), a teardown's
/// once per value the run captured into `for_each` (its templates read that value), or
/// SQL run once against the database the binary gives.
#[derive(Debug)]
pub(crate) struct Hook {
    pub(crate) run: HookRun,
    pub(crate) repeat: u32,
    /// `for_each = "entity.gift.id"`: one request per captured value, not `repeat`.
    pub(crate) for_each: Option<flow::VarRef>,
}

/// What a set-up or teardown step does.
#[derive(Debug)]
pub(crate) enum HookRun {
    Http(HttpRequest),
    /// `sql = "…"`: the statements, as written, in one transaction.
    Sql(String),
}

/// A race or idempotency probe: the request sent `copies` times at once for its event
/// (the timeline's own request and `copies − 1` copies), and what the target must answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Probe {
    /// Requests at once, the timeline's own included (at least 2).
    pub(crate) copies: u32,
    /// The idempotency key's header; with `same_key`, every copy carries the timeline
    /// request's value, else copy k carries it with `/p<k>` appended.
    pub(crate) key: Option<HeaderName>,
    pub(crate) same_key: bool,
    /// How many answers must be successes (2xx).
    pub(crate) success: u32,
    /// The statuses every other answer must have.
    pub(crate) rest: Vec<Expect>,
}

impl Probe {
    /// The expected result in words: `1 success, the rest 409`.
    pub(crate) fn expected(&self) -> String {
        let rest: Vec<String> = self
            .rest
            .iter()
            .map(|e| match e {
                Expect::Code(c) => c.to_string(),
                Expect::Class(h) => format!("{h}xx"),
            })
            .collect();
        let s = if self.success == 1 { "" } else { "es" };
        if self.success >= self.copies {
            format!("{} success{s} of {}", self.success, self.copies)
        } else {
            format!(
                "{} success{s} of {}, the rest {}",
                self.success,
                self.copies,
                rest.join(" or ")
            )
        }
    }
}

/// A condition on an answer's JSON at a field path: the path's keys name object
/// fields, a number indexes an array.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Check {
    pub(crate) path: Vec<String>,
    pub(crate) cond: Cond,
    /// The path's number among its HTTP step's read paths ([`json_path::Paths`]), set
    /// when those are built: the answer's value is then found without comparing paths.
    pub(crate) read_as: Option<usize>,
}

/// What a check asks of the value at its path.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cond {
    /// `equals = V`.
    Equals(Value),
    /// `one_of = [V, …]`.
    OneOf(Vec<Value>),
    /// `exists = true` (there is a non-null value) or `false` (there is none).
    Exists(bool),
    /// `matches = "regex"`: the value's text (a string as is, else its JSON).
    Matches(Pattern),
}

/// A compiled regular expression, compared by its source.
#[derive(Clone, Debug)]
pub(crate) struct Pattern(pub(crate) regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, o: &Pattern) -> bool {
        self.0.as_str() == o.0.as_str()
    }
}

impl Check {
    /// Whether the answer holds the condition at the path (a missing field holds only
    /// `exists = false`). Numbers compare by value (`1` equals `1.0`: JSON does not tell
    /// them apart, and a server may write either).
    pub(crate) fn holds(&self, answer: &Value) -> bool {
        self.holds_at(flow::pick(answer, &self.path).map(Found::Value))
    }

    /// [`Check::holds`] given the value found at the check's path (a body's string is
    /// compared where it lies, not copied).
    fn holds_at(&self, v: Option<Found<'_>>) -> bool {
        let same = |got: Found<'_>, want: &Value| match got {
            Found::Str(s) => want.as_str() == Some(s),
            Found::Value(v) => same_value(v, want),
        };
        match (&self.cond, v.filter(|v| !v.is_null())) {
            (Cond::Exists(want), v) => v.is_some() == *want,
            (_, None) => false,
            (Cond::Equals(want), Some(v)) => same(v, want),
            (Cond::OneOf(list), Some(v)) => list.iter().any(|w| same(v, w)),
            (Cond::Matches(re), Some(Found::Str(s))) => re.0.is_match(s),
            (Cond::Matches(re), Some(Found::Value(v))) => re.0.is_match(&flow::text_of(v)),
        }
    }

    /// Whether a JSON body holds it (a body that is not JSON does not).
    #[cfg(test)]
    pub(crate) fn holds_in(&self, body: &[u8]) -> bool {
        serde_json::from_slice::<Value>(body).is_ok_and(|v| self.holds(&v))
    }

    /// Whether every check holds on the answer.
    pub(crate) fn all(checks: &[Check], answer: &Value) -> bool {
        checks.iter().all(|c| c.holds(answer))
    }

    /// Whether every check holds on an answer read at its paths ([`json_path`]).
    pub(crate) fn all_in(checks: &[Check], answer: &json_path::Json) -> bool {
        checks
            .iter()
            .all(|c| c.holds_at(answer.at_known(c.read_as, &c.path)))
    }
}

/// The value at `path` in `v` (keys name object fields, a number indexes an array), as
/// text: strings bare, others as JSON. How a WebSocket reply is told to be a message's.
pub(crate) fn pick(v: &Value, path: &[String]) -> Option<String> {
    let mut v = v;
    for k in path {
        v = match v {
            Value::Array(a) => a.get(k.parse::<usize>().ok()?)?,
            _ => v.get(k.as_str())?,
        };
    }
    Some(match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A check's equality: JSON's, except that numbers compare by value (`1` equals `1.0`).
pub(crate) fn same_value(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => got == want,
    }
}

/// One method of the gRPC contract, with its response check.
#[derive(Clone, Debug)]
pub(crate) struct GrpcCall {
    pub(crate) path: http::uri::PathAndQuery,
    pub(crate) input: MessageDescriptor,
    pub(crate) output: MessageDescriptor,
    /// Conditions on the response (as JSON); one that fails makes it an application error.
    pub(crate) check: Vec<Check>,
    /// The response as JSON is kept for the flow (a capture or an outcome reads it).
    pub(crate) keep: bool,
}

/// A unary gRPC call and its request message, a JSON template of the method's input.
#[derive(Clone, Debug)]
pub(crate) struct GrpcRequest {
    pub(crate) call: Arc<GrpcCall>,
    pub(crate) message: JsonTmpl,
}

/// The `[socketio]` part of a mapping: how each session's connection is opened, and the
/// server broadcasts listened for.
#[derive(Debug)]
pub struct SocketIoSettings {
    /// `http://host:port`: where the server listens (`--socketio-target` replaces it).
    pub url: Option<String>,
    /// The Engine.IO path, `/socket.io/` by default.
    pub(crate) path: String,
    /// `/` or `/name`.
    pub(crate) namespace: String,
    /// Extra query parameters of the handshake, e.g. `userId={user_id}&token={token}`.
    pub(crate) query: Option<Template>,
    /// The CONNECT packet's auth object.
    pub(crate) auth: Option<JsonTmpl>,
    /// Sent right after connecting, as part of the connect (a room join).
    pub(crate) join: Option<Emit>,
    pub listen: Vec<Listen>,
    /// Reconnection attempts after a drop, with backoff from 100 ms doubling to 2 s.
    pub(crate) reconnect_attempts: u32,
    /// An emit without an open connection for its session opens one (rendered from its
    /// own event); `false`: it fails as a `connect` error.
    pub(crate) open_on_emit: bool,
}

/// A server broadcast listened for.
#[derive(Debug)]
pub struct Listen {
    pub event: String,
    /// Where the correlating value sits in the event's first argument (and in the origin
    /// emit's payload), e.g. `["giftId"]`.
    pub(crate) key: Option<Vec<String>>,
    /// The timeline event kind whose emit causes the broadcast: broadcast latency runs
    /// from the moment that emit was written.
    pub(crate) origin: Option<u16>,
}

/// One Socket.IO emit of the mapping.
#[derive(Clone, Debug)]
pub(crate) struct Emit {
    pub event: String,
    /// The first argument; none sends the event name alone.
    pub(crate) payload: Option<JsonTmpl>,
    /// Ask for an acknowledgement and time it (else the emit is done once written).
    pub(crate) ack: bool,
    /// Conditions on the ack's first argument; one that fails makes it an application error.
    pub(crate) check: Vec<Check>,
    /// The ack's first argument is kept for the flow (a capture or an outcome reads it).
    pub(crate) keep: bool,
    /// Indices of the listens this emit is the origin of.
    pub origins: Vec<usize>,
    /// Server events a capture reads (`broadcast = "gift:available"`): the next of each
    /// on the connection after the emit is awaited, for at most this long (none: the
    /// mapping's timeout).
    pub(crate) awaits: Vec<(String, Option<Duration>)>,
}

/// What a Socket.IO request does to the user's connection.
#[derive(Clone, Debug)]
pub(crate) enum SocketIoRequest {
    Connect,
    Disconnect,
    Emit(Emit),
}

/// The `[websocket]` part of a mapping: how each session's plain WebSocket connection
/// is opened, and how a reply is told to belong to a message.
#[derive(Debug)]
pub struct WebSocketSettings {
    /// `ws://host:port/path`: where the server listens (`--websocket-target` replaces it).
    pub url: Option<String>,
    /// Extra query parameters of the upgrade request, e.g. `user={user_id}`.
    pub(crate) query: Option<Template>,
    /// Sent right after connecting, as part of the connect (a hello or a subscribe).
    pub(crate) hello: Option<WsMessage>,
    /// Where the correlation value sits in a message and in its reply, e.g. `["id"]`.
    pub(crate) correlation: Vec<String>,
    /// A WebSocket ping every this long; no frame back within it and the timeout is a drop.
    pub(crate) ping_every: Duration,
    /// Reconnection attempts after a drop, with backoff from 100 ms doubling to 2 s.
    pub(crate) reconnect_attempts: u32,
    /// A message without an open connection for its session opens one; `false`: it fails
    /// as a `connect` error.
    pub(crate) open_on_send: bool,
}

/// One WebSocket message of the mapping: a JSON text frame.
#[derive(Clone, Debug)]
pub(crate) struct WsMessage {
    pub(crate) message: JsonTmpl,
    /// Wait for the reply that carries the message's correlation value, and time it (else
    /// the message is done once written).
    pub(crate) reply: bool,
    /// Conditions on the reply; one that fails makes it an application error.
    pub(crate) check: Vec<Check>,
}

/// What a WebSocket request does to the user's connection.
#[derive(Clone, Debug)]
pub(crate) enum WebSocketRequest {
    Connect,
    Disconnect,
    Send(WsMessage),
}

/// One compiled request, in its protocol.
#[derive(Debug)]
pub(crate) enum Request {
    Http(HttpRequest),
    Grpc(GrpcRequest),
    SocketIo(SocketIoRequest),
    WebSocket(WebSocketRequest),
}

impl Request {
    pub(crate) fn protocol(&self) -> Protocol {
        match self {
            Request::Http(_) => Protocol::Http,
            Request::Grpc(_) => Protocol::Grpc,
            Request::SocketIo(_) => Protocol::SocketIo,
            Request::WebSocket(_) => Protocol::WebSocket,
        }
    }
}

/// A mapped event kind: the request it becomes and the tag its statistics go under.
#[derive(Debug)]
pub(crate) struct Mapped {
    pub(crate) request: Request,
    /// Index into [`Mapping::tags`].
    pub(crate) tag: u16,
    /// Rendering needs the event's JSON parsed (a `{props.…}`-like field is used).
    pub(crate) needs_json: bool,
    /// Some template of the request reads `{token}` (its user needs one).
    pub(crate) uses_token: bool,
    /// The mapping's `class`; `None` for Socket.IO connects and disconnects, and for a
    /// request that does not say.
    pub(crate) class: Option<RequestClass>,
    /// Captures, outcome, think time, polling, entities, variables read
    /// ([`flow::StepExtras`]); empty for a plain request.
    pub(crate) extras: flow::StepExtras,
    /// The event's later steps, in order, each sent after the previous one's answer.
    pub(crate) then: Vec<Mapped>,
    /// The flow runner sends it ([`Mapped::is_flow`], or the mapping keeps cookies);
    /// otherwise the pacer's fast path does.
    pub(crate) flow: bool,
    /// Sent after the same user's previous answer (the default); `false` (`ordered =
    /// false`): sent at its instant, neither waiting for the user's earlier requests nor
    /// waited for by later ones.
    pub(crate) ordered: bool,
}

impl Mapped {
    /// Whether the event is more than one plain request (the flow runner sends it).
    pub(crate) fn is_flow(&self) -> bool {
        !self.then.is_empty() || !self.extras.plain()
    }
}

/// What happens to an event of one kind.
#[derive(Debug)]
pub(crate) enum Route {
    /// Not in the mapping: counted and skipped.
    Unmapped,
    /// Produced by the server itself: counted and skipped.
    ServerSide,
    Send(Box<Mapped>),
}

#[derive(Debug)]
pub struct Mapping {
    pub name: String,
    /// The kinds of the world the mapping was compiled for, by index: what names a due
    /// event's kind and the statistics' (each world its own, never a process-wide table).
    pub(crate) kinds: simulate_core::world::kinds::KindNames,
    pub base_url: Option<String>,
    pub(crate) timeout: Duration,
    pub http2: bool,
    /// Sent with every HTTP request (auth included).
    pub(crate) headers: Vec<(HeaderName, Template)>,
    /// Per-user tokens for `{token}`.
    pub(crate) tokens: Option<HashMap<String, String>>,
    /// What a user missing from the token file gets.
    pub missing_token: MissingToken,
    /// Where `tokens_file` is written (file, line, field), for problems found later.
    pub(crate) tokens_at: Option<simulate_core::diagnostic::Problem>,
    /// Some request reads `{token}`.
    pub(crate) uses_token: bool,
    /// One route per event kind (`EVENT_KINDS` order).
    pub(crate) routes: Vec<Route>,
    /// Request tags (the mapping's `kind = "read"`, …) in first-use order.
    pub tags: Vec<String>,
    /// Where gRPC requests go (the mapping's `[grpc] target`).
    pub grpc_target: Option<String>,
    /// The Socket.IO connection settings, when the mapping has `[socketio]`.
    pub socketio: Option<Arc<SocketIoSettings>>,
    /// The plain WebSocket connection settings, when the mapping has `[websocket]`.
    pub websocket: Option<Arc<WebSocketSettings>>,
    /// `[[setup]]`: sent before the replay, in order.
    pub(crate) setup: Vec<Hook>,
    /// `[[teardown]]`: sent after it (or alone, `replay --teardown-only`).
    pub(crate) teardown: Vec<Hook>,
    /// `cookie_jar = true`: each user's Set-Cookie answers are kept and sent back.
    pub cookie_jar: bool,
    /// The user variables `[headers]` and `[auth]` read: a header whose variable the
    /// user does not have yet is left out (the login request itself goes without it).
    pub(crate) common_vars: Vec<flow::VarRef>,
    /// `[auth] login`: the event kind whose flow logs a user in, re-run once on a 401
    /// and before a request whose user variable is missing.
    pub(crate) login: Option<u16>,
    /// One problem per `[[request]]` without a `class`, at its place in the file: what
    /// a preset keyed on classes refuses.
    pub(crate) unclassified: Vec<Problem>,
    /// Each `user.<name>` a template reads, with its place in the file (the problem's
    /// message empty), checked against the world by [`Mapping::check_user_fields`].
    pub(crate) user_reads: Vec<(String, Problem)>,
    /// Each `lookup(pool, id, field)` a template makes (pool, field), with its place in
    /// the file, checked against the world's pools by [`Mapping::check_user_fields`].
    pub(crate) lookups: Vec<(String, String, Problem)>,
}

impl Mapping {
    /// The kinds of the world the mapping was compiled for, by index.
    pub fn kinds(&self) -> &simulate_core::world::kinds::KindNames {
        &self.kinds
    }

    pub(crate) fn route(&self, kind: u16) -> &Route {
        self.routes.get(kind as usize).unwrap_or(&Route::Unmapped)
    }

    pub fn shipped() -> Mapping {
        Mapping::from_source(&Source::new(DEFAULT.0, DEFAULT.1), None)
            .expect("the shipped mapping is valid")
    }

    /// Whether a template reads `user.<name>` (the sources then keep each user's
    /// `user.signed_up` props).
    pub fn reads_user(&self) -> bool {
        !self.user_reads.is_empty()
    }

    /// Whether a template calls `lookup(…)` (the replay then hands its scope the world's
    /// pools).
    pub fn looks_up(&self) -> bool {
        !self.lookups.is_empty()
    }

    /// Every `user.<name>` the templates read must be one of the world's `known` names
    /// (its `[ids]`, `[pools]` and the props of its `user.signed_up`): one problem each,
    /// at the template's place, with the names there are.
    pub fn check_user_fields(&self, known: &[String]) -> Result<(), Problems> {
        self.check_names(known, &[])
    }

    /// [`Mapping::check_user_fields`], and each `lookup(pool, id, field)`'s pool and field
    /// against the world's `pools` (the field may also be `id`), with "did you mean".
    pub fn check_names(&self, known: &[String], pools: &[String]) -> Result<(), Problems> {
        let mut problems = self.user_field_problems(known);
        let names: Vec<&str> = pools.iter().map(String::as_str).collect();
        let unknown = |name: &str, what: &str, at: &Problem| -> Option<Problem> {
            if names.contains(&name) || (what == "field" && name == "id") {
                return None;
            }
            let hint = simulate_core::template::did_you_mean(name, &names)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            let mut p = at.clone();
            p.message = format!("`lookup`'s {what} `{name}` is not a pool of this world{hint}");
            p.fix = if names.is_empty() {
                "declare the pools in the scenario's [pools.<name>] (docs/SCENARIOS.md)".into()
            } else {
                format!(
                    "use one of: {}{}",
                    names.join(", "),
                    if what == "field" { ", id" } else { "" }
                )
            };
            Some(p)
        };
        for (pool, field, at) in &self.lookups {
            problems.extend(unknown(pool, "pool", at));
            problems.extend(unknown(field, "field", at));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(problems))
        }
    }

    fn user_field_problems(&self, known: &[String]) -> Vec<Problem> {
        let list = || {
            known
                .iter()
                .map(|n| format!("user.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.user_reads
            .iter()
            .filter(|(n, _)| !known.contains(n))
            .map(|(n, at)| {
                let mut p = at.clone();
                p.message = format!("`user.{n}` is not a field of this world's users");
                p.fix = format!(
                    "use one of: {} (declare ids and pools in the scenario's [ids] and [pools.<name>], docs/SCENARIOS.md)",
                    list()
                );
                p
            })
            .collect()
    }

    pub fn load(path: &Path) -> Result<Mapping, Problems> {
        let src = Source::read(path)?;
        Mapping::from_source(&src, path.parent())
    }

    /// [`Mapping::load`] for a world of these kinds (its `world.toml`'s custom ones too).
    pub fn load_in(
        path: &Path,
        kinds: simulate_core::world::kinds::KindTable,
    ) -> Result<Mapping, Problems> {
        let src = Source::read(path)?;
        Mapping::from_source_in(&src, path.parent(), kinds)
    }

    /// Whether the mapping has `[[teardown]]` requests.
    pub fn has_teardown(&self) -> bool {
        !self.teardown.is_empty()
    }

    /// Whether a set-up or teardown step runs SQL (it then needs a database URL).
    pub fn runs_sql(&self) -> bool {
        self.setup
            .iter()
            .chain(&self.teardown)
            .any(|h| matches!(h.run, HookRun::Sql(_)))
    }

    /// The captured values the teardown repeats over (`entity.gift.id`), each once, in
    /// the order of the `[[teardown]]` list: what `--captured-ids` writes and reads.
    pub fn teardown_over(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.teardown.iter().filter_map(|h| h.for_each.as_ref()) {
            if !out.contains(&v.name()) {
                out.push(v.name());
            }
        }
        out
    }

    /// Whether some request is sent with a race or idempotency probe.
    pub fn probes(&self) -> bool {
        self.routes.iter().any(
            |r| matches!(r, Route::Send(m) if matches!(&m.request, Request::Http(h) if h.probe.is_some())),
        )
    }

    /// Whether anything goes to the HTTP target: an HTTP request (a flow's later steps
    /// too), an HTTP set-up or teardown, or Socket.IO and WebSocket connections (whose
    /// address defaults to it). A mapping of gRPC requests alone needs no `--target`.
    pub fn needs_http_target(&self) -> bool {
        fn http(m: &Mapped) -> bool {
            !matches!(m.request.protocol(), Protocol::Grpc) || m.then.iter().any(http)
        }
        self.socketio.is_some()
            || self.websocket.is_some()
            || self
                .routes
                .iter()
                .any(|r| matches!(r, Route::Send(m) if http(m)))
            || self
                .setup
                .iter()
                .chain(&self.teardown)
                .any(|h| matches!(h.run, HookRun::Http(_)))
    }

    /// Whether any event kind is sent over `protocol`.
    pub fn sends(&self, protocol: Protocol) -> bool {
        self.routes
            .iter()
            .any(|r| matches!(r, Route::Send(m) if m.request.protocol() == protocol))
    }

    /// The event kinds sent as requests of `class`, in `EVENT_KINDS` order.
    pub fn kinds_of(&self, class: RequestClass) -> Vec<u16> {
        (0..self.routes.len())
            .filter(|&k| matches!(&self.routes[k], Route::Send(m) if m.class == Some(class)))
            .map(|k| k as u16)
            .collect()
    }

    /// Whether some request counts its answers by an `outcome` field.
    pub fn counts_outcomes(&self) -> bool {
        self.routes.iter().any(|r| match r {
            Route::Send(m) => std::iter::once(&**m)
                .chain(&m.then)
                .any(|s| s.extras.outcome.is_some()),
            _ => false,
        })
    }

    /// The values captured from one user's answer and read by other users' requests
    /// (`{entity.ENTITY.NAME}`): `(event kind, variable)` of each request reading one.
    /// A shard cannot send such a request when the capturing user is on another shard.
    pub fn shared_reads(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (k, r) in self.routes.iter().enumerate() {
            let Route::Send(m) = r else { continue };
            for step in std::iter::once(&**m).chain(&m.then) {
                for v in &step.extras.reads {
                    if let flow::VarRef::Entity(..) = v {
                        let event = self.kinds().name(k as u16).unwrap_or("unknown");
                        out.push((event.to_string(), v.name()));
                    }
                }
            }
        }
        out.dedup();
        out
    }

    /// The `[[request]]`s that give no `class`, each a problem at its place in the file.
    pub fn unclassified(&self) -> &[Problem] {
        &self.unclassified
    }

    /// The user's token, if the mapping has a token file and it names the user.
    pub(crate) fn token(&self, user_id: &str) -> Option<&str> {
        self.tokens
            .as_ref()
            .and_then(|t| t.get(user_id))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_compares_numbers_by_value() {
        let c = |equals: Value| Check {
            path: vec!["n".into()],
            cond: Cond::Equals(equals),
            read_as: None,
        };
        assert!(c(serde_json::json!(1)).holds(&serde_json::json!({"n": 1.0})));
        assert!(c(serde_json::json!(1.0)).holds(&serde_json::json!({"n": 1})));
        assert!(!c(serde_json::json!(1)).holds(&serde_json::json!({"n": 1.5})));
        assert!(!c(serde_json::json!(1)).holds(&serde_json::json!({"n": "1"})));
        assert!(c(serde_json::json!("a")).holds(&serde_json::json!({"n": "a"})));
    }

    #[test]
    fn checks_ask_one_of_exists_and_matches() {
        let c = |cond: Cond| Check {
            path: vec!["r".into()],
            cond,
            read_as: None,
        };
        let a = serde_json::json!({"r": "already_claimed", "n": null});
        let one_of = Cond::OneOf(vec![
            serde_json::json!("claimed"),
            serde_json::json!("already_claimed"),
        ]);
        assert!(c(one_of).holds(&a));
        assert!(!c(Cond::OneOf(vec![serde_json::json!("claimed")])).holds(&a));
        assert!(c(Cond::Exists(true)).holds(&a));
        assert!(!c(Cond::Exists(false)).holds(&a));
        let null = Check {
            path: vec!["n".into()],
            cond: Cond::Exists(false),
            read_as: None,
        };
        assert!(null.holds(&a), "a null field does not exist");
        let re = |s: &str| Cond::Matches(Pattern(regex::Regex::new(s).unwrap()));
        assert!(c(re("^already_")).holds(&a));
        assert!(!c(re("^claimed$")).holds(&a));
        assert!(
            !c(re(".*")).holds(&serde_json::json!({})),
            "a missing field matches nothing"
        );
    }
}
