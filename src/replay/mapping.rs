//! The target mapping: which request each event kind becomes (docs/REPLAY.md). Read from
//! TOML, checked with file:line errors, compiled once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderName;
use serde::Deserialize;

use super::template::{Body, JsonTmpl, Template};
use crate::config::{FieldPath, Problems, Source};
use crate::timeline::EVENT_KINDS;
use crate::units::parse_duration;

/// The mapping used when only `--target URL` is given.
pub const DEFAULT: (&str, &str) = (
    "targets/default.toml",
    include_str!("../../targets/default.toml"),
);

const DOC: &str = "docs/REPLAY.md";

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    base_url: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    http2: bool,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Event kinds the server produces itself: counted as skipped, not as unmapped.
    #[serde(default)]
    server_side: Vec<String>,
    #[serde(default)]
    request: Vec<RawRequest>,
    grpc: Option<RawGrpc>,
    socketio: Option<RawSocketio>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawSocketio {
    /// The server's URL (`--socketio-target` replaces it; default: the target's).
    url: Option<String>,
    path: Option<String>,
    namespace: Option<String>,
    query: Option<String>,
    auth: Option<toml::Value>,
    /// The event kinds that open and close a session's connection.
    #[serde(default = "session_started")]
    connect: String,
    #[serde(default = "session_ended")]
    disconnect: String,
    join: Option<RawEmit>,
    #[serde(default)]
    listen: Vec<RawListen>,
    reconnect_attempts: Option<u32>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawEmit {
    emit: String,
    payload: Option<toml::Value>,
    #[serde(default)]
    ack: bool,
    check: Option<RawCheck>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawListen {
    event: String,
    key: Option<String>,
    origin: Option<String>,
}

fn session_started() -> String {
    "session.started".into()
}
fn session_ended() -> String {
    "session.ended".into()
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawGrpc {
    /// The gRPC server's URL (`--grpc-target` replaces it).
    target: Option<String>,
    /// The contract; default: the shipped proto/event_service.proto.
    proto: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    field: String,
    equals: toml::Value,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    bearer: Option<String>,
    cookie: Option<String>,
    tokens_file: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    event: Option<String>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default = "post")]
    method: String,
    path: Option<String>,
    body: Option<toml::Value>,
    /// gRPC: the request message, a JSON template of the method's input type.
    message: Option<toml::Value>,
    /// gRPC: `field == equals` on the response; Socket.IO: on the ack's first argument.
    check: Option<RawCheck>,
    /// Socket.IO: the event name emitted.
    emit: Option<String>,
    /// Socket.IO: the emit's argument, a JSON template.
    payload: Option<toml::Value>,
    /// Socket.IO: ask for an acknowledgement and time it.
    #[serde(default)]
    ack: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    expect: Vec<toml::Value>,
    #[serde(default = "default_kind")]
    kind: String,
}

fn post() -> String {
    "POST".into()
}
fn default_kind() -> String {
    "api".into()
}

/// Statuses a request may answer with and still count as ok.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    Code(u16),
    /// `2xx`: the hundreds digit.
    Class(u16),
}

impl Expect {
    pub fn accepts(list: &[Expect], status: u16) -> bool {
        list.iter().any(|e| match e {
            Expect::Code(c) => *c == status,
            Expect::Class(h) => status / 100 == *h,
        })
    }
}

/// One compiled request.
#[derive(Debug)]
pub struct Request {
    /// Index into `stats::PROTOCOLS`: 0 HTTP, 1 gRPC, 2 Socket.IO.
    pub protocol: u8,
    /// The gRPC method and its message template, for protocol 1.
    pub grpc: Option<(Arc<super::grpc::Call>, JsonTmpl)>,
    /// What a Socket.IO request does, for protocol 2.
    pub sio: Option<super::socketio::Op>,
    pub method: Method,
    pub path: Template,
    pub body: Option<Body>,
    pub headers: Vec<(HeaderName, Template)>,
    pub expect: Vec<Expect>,
    /// Index into [`Mapping::kinds`].
    pub kind: u16,
    /// Rendering needs the event's JSON parsed (a `{props.…}`-like field is used).
    pub needs_json: bool,
}

/// What happens to an event of one kind.
#[derive(Debug)]
pub enum Route {
    /// Not in the mapping: counted and skipped.
    Unmapped,
    /// Produced by the server itself: counted and skipped.
    ServerSide,
    Send(Box<Request>),
}

#[derive(Debug)]
pub struct Mapping {
    pub name: String,
    pub base_url: Option<String>,
    pub timeout: Duration,
    pub http2: bool,
    /// Sent with every request (auth included).
    pub headers: Vec<(HeaderName, Template)>,
    /// Per-user tokens for `{token}`.
    pub tokens: Option<HashMap<String, String>>,
    /// One route per [`EVENT_KINDS`] entry.
    pub routes: Vec<Route>,
    /// Request kind tags (read, write, ai, …) in first-use order.
    pub kinds: Vec<String>,
    /// Where gRPC requests go (the mapping's `[grpc] target`).
    pub grpc_target: Option<String>,
    /// The Socket.IO connection settings, when the mapping has `[socketio]`.
    pub socketio: Option<Arc<super::socketio::Settings>>,
}

impl Mapping {
    pub fn route(&self, kind: u16) -> &Route {
        self.routes.get(kind as usize).unwrap_or(&Route::Unmapped)
    }

    pub fn shipped() -> Mapping {
        Mapping::from_source(&Source::new(DEFAULT.0, DEFAULT.1), None)
            .expect("the shipped mapping is valid")
    }

    pub fn load(path: &Path) -> Result<Mapping, Problems> {
        let src = Source::read(path)?;
        Mapping::from_source(&src, path.parent())
    }

    /// `dir` resolves a relative `tokens_file`.
    pub fn from_source(src: &Source, dir: Option<&Path>) -> Result<Mapping, Problems> {
        let raw: RawMapping = src.parse_documented(DOC)?;
        let mut problems = Vec::new();
        let root = FieldPath::root();
        let mut bad = |path: FieldPath, msg: String, fix: &str| {
            problems.push(src.problem(&path, msg, fix));
        };

        let timeout = match &raw.timeout {
            None => Duration::from_secs(10),
            Some(t) => match parse_duration(t) {
                Ok(d) if d.ms() > 0 => Duration::from_millis(d.ms() as u64),
                _ => {
                    bad(
                        root.key("timeout"),
                        format!("`{t}` is not a duration"),
                        "write it like 500ms, 10s or 1m",
                    );
                    Duration::from_secs(10)
                }
            },
        };
        if let Some(u) = &raw.base_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            bad(
                root.key("base_url"),
                "the base URL must start with http:// or https://".into(),
                "write it like http://127.0.0.1:3000",
            );
        }

        let mut headers = Vec::new();
        let header = |path: FieldPath,
                      name: &str,
                      value: &str,
                      bad: &mut dyn FnMut(FieldPath, String, &str)|
         -> Option<(HeaderName, Template)> {
            let n = match HeaderName::from_bytes(name.as_bytes()) {
                Ok(n) => n,
                Err(_) => {
                    bad(
                        path,
                        format!("`{name}` is not a valid header name"),
                        "use letters, digits and dashes",
                    );
                    return None;
                }
            };
            match Template::compile(value) {
                Ok(t) => Some((n, t)),
                Err(m) => {
                    bad(path, m, "correct the template (see docs/REPLAY.md)");
                    None
                }
            }
        };
        let auth = root.key("auth");
        if let Some(b) = &raw.auth.bearer {
            headers.extend(header(
                auth.key("bearer"),
                "authorization",
                &format!("Bearer {b}"),
                &mut bad,
            ));
        }
        if let Some(c) = &raw.auth.cookie {
            headers.extend(header(auth.key("cookie"), "cookie", c, &mut bad));
        }
        for (k, v) in &raw.headers {
            headers.extend(header(root.key("headers").key(k), k, v, &mut bad));
        }

        let tokens = match &raw.auth.tokens_file {
            None => None,
            Some(f) => {
                let p = dir.map(|d| d.join(f)).unwrap_or_else(|| f.into());
                match read_tokens(&p) {
                    Ok(t) => Some(t),
                    Err(m) => {
                        bad(
                            auth.key("tokens_file"),
                            m,
                            "give a JSON object {\"u12\": \"token\", …} or a list of {\"user_id\", \"token\"}",
                        );
                        None
                    }
                }
            }
        };

        let kind_of = |name: &str| EVENT_KINDS.iter().position(|k| *k == name);
        let mut routes: Vec<Route> = EVENT_KINDS.iter().map(|_| Route::Unmapped).collect();
        let mut seen: Vec<Option<String>> = vec![None; EVENT_KINDS.len()];
        for (i, name) in raw.server_side.iter().enumerate() {
            match kind_of(name) {
                Some(k) => {
                    routes[k] = Route::ServerSide;
                    seen[k] = Some(format!("server_side[{i}]"));
                }
                None => bad(
                    root.key("server_side").index(i),
                    format!("`{name}` is not an event kind"),
                    "use a kind from docs/TIMELINE.md",
                ),
            }
        }
        let mut kinds: Vec<String> = Vec::new();
        let mut uses_token = headers.iter().any(|(_, t)| t.uses_token());
        let tag = |name: &str, kinds: &mut Vec<String>| -> u16 {
            (match kinds.iter().position(|k| k == name) {
                Some(k) => k,
                None => {
                    kinds.push(name.to_string());
                    kinds.len() - 1
                }
            }) as u16
        };
        let mut socketio = None;
        if let Some(sio) = &raw.socketio {
            let sp = root.key("socketio");
            if let Some(u) = &sio.url
                && !["http://", "https://", "ws://", "wss://"]
                    .iter()
                    .any(|p| u.starts_with(p))
            {
                bad(
                    sp.key("url"),
                    "the Socket.IO URL must start with http://, https://, ws:// or wss://".into(),
                    "write it like http://127.0.0.1:3000",
                );
            }
            let path = sio.path.clone().unwrap_or_else(|| "/socket.io/".into());
            let namespace = sio.namespace.clone().unwrap_or_else(|| "/".into());
            for (field, v) in [("path", &path), ("namespace", &namespace)] {
                if !v.starts_with('/') || v.contains(['?', ',', '#']) {
                    bad(
                        sp.key(field),
                        format!("`{v}` is not a {field}"),
                        "start it with `/`, like /socket.io/ or /chat",
                    );
                }
            }
            let query = sio.query.as_deref().and_then(|q| {
                Template::compile(q)
                    .map_err(|m| bad(sp.key("query"), m, "correct the template"))
                    .ok()
            });
            let auth = sio.auth.as_ref().and_then(|a| {
                JsonTmpl::compile(a, "auth")
                    .map_err(|(at, m)| {
                        bad(sp.key("auth"), format!("{at}: {m}"), "correct the template")
                    })
                    .ok()
            });
            let join = sio.join.as_ref().and_then(|j| {
                sio_emit(&j.emit, j.payload.as_ref(), j.ack, j.check.as_ref())
                    .map_err(|(f, m)| {
                        bad(
                            sp.key("join").key(f),
                            m,
                            "correct the emit (see docs/REPLAY.md)",
                        )
                    })
                    .ok()
            });
            let mut listen: Vec<super::socketio::Listen> = Vec::new();
            for (i, l) in sio.listen.iter().enumerate() {
                if let Some(j) = listen.iter().position(|o| o.event == l.event) {
                    bad(
                        sp.key("listen").index(i).key("event"),
                        format!(
                            "`{}` is already listened for at socketio.listen[{j}]",
                            l.event
                        ),
                        "listen for each event once",
                    );
                }
                let origin = l.origin.as_deref().and_then(|o| match kind_of(o) {
                    Some(k) => Some(k as u16),
                    None => {
                        bad(
                            sp.key("listen").index(i).key("origin"),
                            format!("`{o}` is not an event kind"),
                            "name the timeline event whose emit causes the broadcast",
                        );
                        None
                    }
                });
                if origin.is_some() && l.key.is_none() {
                    bad(
                        sp.key("listen").index(i),
                        "an origin needs the key that ties each broadcast to its emit".into(),
                        "add `key = \"giftId\"`: a field of the broadcast and of the origin's payload",
                    );
                }
                listen.push(super::socketio::Listen {
                    event: l.event.clone(),
                    key: l
                        .key
                        .as_ref()
                        .map(|k| k.split('.').map(String::from).collect()),
                    origin,
                });
            }
            let needs_json = query.as_ref().is_some_and(Template::needs_json)
                || auth.as_ref().is_some_and(JsonTmpl::needs_json)
                || join
                    .as_ref()
                    .and_then(|j| j.payload.as_ref())
                    .is_some_and(JsonTmpl::needs_json);
            uses_token |= query.as_ref().is_some_and(Template::uses_token)
                || auth.as_ref().is_some_and(JsonTmpl::uses_token);
            for (field, name, op) in [
                ("connect", &sio.connect, super::socketio::Op::Connect),
                (
                    "disconnect",
                    &sio.disconnect,
                    super::socketio::Op::Disconnect,
                ),
            ] {
                match kind_of(name) {
                    Some(k) => {
                        let kind = tag(field, &mut kinds);
                        routes[k] = Route::Send(Box::new(Request::socketio(op, kind, needs_json)));
                        seen[k] = Some(format!("socketio.{field}"));
                    }
                    None => bad(
                        sp.key(field),
                        format!("`{name}` is not an event kind"),
                        "use a kind from docs/TIMELINE.md, like session.started",
                    ),
                }
            }
            socketio = Some(Arc::new(super::socketio::Settings {
                url: sio.url.clone(),
                path,
                namespace,
                query,
                auth,
                join,
                listen,
                reconnect_attempts: sio.reconnect_attempts.unwrap_or(5),
            }));
        }
        let raw_grpc = raw.grpc.as_ref();
        let proto_path = raw_grpc
            .and_then(|g| g.proto.as_ref())
            .map(|p| dir.map(|d| d.join(p)).unwrap_or_else(|| p.into()));
        let mut pool: Option<prost_reflect::DescriptorPool> = None;
        for (i, r) in raw.request.iter().enumerate() {
            let rp = root.key("request").index(i);
            let mut names: Vec<(FieldPath, &String)> = r
                .events
                .iter()
                .enumerate()
                .map(|(j, e)| (rp.key("events").index(j), e))
                .collect();
            if let Some(e) = &r.event {
                names.insert(0, (rp.key("event"), e));
            }
            if names.is_empty() {
                bad(
                    rp.clone(),
                    "a request needs the event kind it sends".into(),
                    "add `event = \"points.earned\"` (or `events = [...]`)",
                );
            }
            let protocol = match r.protocol.as_deref().unwrap_or("http") {
                "http" => 0u8,
                "grpc" => 1,
                "socketio" => 2,
                other => {
                    bad(
                        rp.key("protocol"),
                        format!("`{other}` is not a protocol"),
                        "use http, grpc or socketio",
                    );
                    0
                }
            };
            let mut sio = None;
            if protocol == 2 {
                if socketio.is_none() {
                    bad(
                        rp.key("protocol"),
                        "a socketio request needs a [socketio] table".into(),
                        "add [socketio] with the server's url (see docs/REPLAY.md)",
                    );
                }
                match &r.emit {
                    None => bad(
                        rp.clone(),
                        "a socketio request needs the event it emits".into(),
                        "add `emit = \"gift:create\"`",
                    ),
                    Some(e) => match sio_emit(e, r.payload.as_ref(), r.ack, r.check.as_ref()) {
                        Ok(e) => {
                            uses_token |= e.payload.as_ref().is_some_and(JsonTmpl::uses_token);
                            sio = Some(e);
                        }
                        Err((f, m)) => bad(rp.key(f), m, "correct the emit (see docs/REPLAY.md)"),
                    },
                }
            } else {
                for (field, set) in [
                    ("emit", r.emit.is_some()),
                    ("payload", r.payload.is_some()),
                    ("ack", r.ack),
                ] {
                    if set {
                        bad(
                            rp.key(field),
                            format!("`{field}` belongs to socketio requests"),
                            "add `protocol = \"socketio\"` or remove it",
                        );
                    }
                }
            }
            let mut grpc = None;
            let mut method = Method::POST;
            let mut path_text = r.path.clone().unwrap_or_else(|| "/".into());
            if protocol == 1 {
                if pool.is_none() {
                    match super::grpc::load(proto_path.as_deref()) {
                        Ok(p) => pool = Some(p),
                        Err(m) => {
                            bad(
                                root.key("grpc").key("proto"),
                                m,
                                "give a .proto file that compiles",
                            );
                            continue;
                        }
                    }
                }
                let p = pool.as_ref().expect("loaded above");
                match grpc_call(p, &r.method, r.check.as_ref()) {
                    Ok(call) => {
                        let msg = r
                            .message
                            .as_ref()
                            .map(|v| JsonTmpl::compile(v, "message"))
                            .unwrap_or(Ok(JsonTmpl::Lit(serde_json::json!({}))));
                        match msg {
                            Ok(t) => {
                                uses_token |= t.uses_token();
                                grpc = Some((Arc::new(call), t));
                            }
                            Err((at, m)) => bad(
                                rp.key("message"),
                                format!("{at}: {m}"),
                                "correct the template",
                            ),
                        }
                    }
                    Err((field, m)) => bad(
                        rp.key(field),
                        m,
                        "name a method of the proto as package.Service/Method, and a field of its response",
                    ),
                }
                path_text = "/".into();
            } else if protocol == 2 {
                path_text = "/".into();
            } else {
                method = match Method::from_bytes(r.method.to_ascii_uppercase().as_bytes()) {
                    Ok(m) => m,
                    Err(_) => {
                        bad(
                            rp.key("method"),
                            format!("`{}` is not an HTTP method", r.method),
                            "use GET, POST, PUT, PATCH or DELETE",
                        );
                        Method::POST
                    }
                };
                match &r.path {
                    None => bad(
                        rp.clone(),
                        "an HTTP request needs a path".into(),
                        "add `path = \"/v1/events/{event}\"`",
                    ),
                    Some(p) if !p.starts_with('/') => bad(
                        rp.key("path"),
                        "the path must start with `/`".into(),
                        "write it like /v1/points/{user_id}",
                    ),
                    _ => {}
                }
            }
            let path = Template::compile(&path_text).unwrap_or_else(|m| {
                bad(
                    rp.key("path"),
                    m,
                    "correct the template (see docs/REPLAY.md)",
                );
                Template::compile("/").expect("a literal")
            });
            let body = match &r.body {
                None => None,
                Some(toml::Value::String(s)) if s.trim() == "{line}" => Some(Body::Line),
                Some(v) => match JsonTmpl::compile(v, "body") {
                    Ok(t) => Some(Body::Json(t)),
                    Err((at, m)) => {
                        bad(rp.key("body"), format!("{at}: {m}"), "correct the template");
                        None
                    }
                },
            };
            let mut req_headers = Vec::new();
            for (k, v) in &r.headers {
                req_headers.extend(header(rp.key("headers").key(k), k, v, &mut bad));
            }
            let mut expect = Vec::new();
            for (j, e) in r.expect.iter().enumerate() {
                match parse_expect(e) {
                    Some(x) => expect.push(x),
                    None => bad(
                        rp.key("expect").index(j),
                        format!("`{e}` is not a status"),
                        "write a status like 200 or a class like \"2xx\"",
                    ),
                }
            }
            if expect.is_empty() {
                expect.push(Expect::Class(2));
            }
            let kind = tag(&r.kind, &mut kinds);
            let needs_json = sio
                .as_ref()
                .and_then(|e| e.payload.as_ref())
                .is_some_and(JsonTmpl::needs_json)
                || path.needs_json()
                || req_headers.iter().any(|(_, t)| t.needs_json())
                || headers.iter().any(|(_, t)| t.needs_json())
                || matches!(&body, Some(Body::Json(t)) if t.needs_json())
                || grpc.as_ref().is_some_and(|(_, t)| t.needs_json());
            uses_token |= path.uses_token()
                || req_headers.iter().any(|(_, t)| t.uses_token())
                || matches!(&body, Some(Body::Json(t)) if t.uses_token());
            for (at, name) in names {
                let Some(k) = kind_of(name) else {
                    bad(
                        at,
                        format!("`{name}` is not an event kind"),
                        "use a kind from docs/TIMELINE.md",
                    );
                    continue;
                };
                if let Some(first) = &seen[k] {
                    bad(
                        at,
                        format!("`{name}` is already mapped at {first}"),
                        "map each event kind once",
                    );
                    continue;
                }
                seen[k] = Some(format!("request[{i}]"));
                let sio = sio.as_ref().map(|e| {
                    let mut e = e.clone();
                    let listen = socketio
                        .as_ref()
                        .map_or(&[][..], |s: &Arc<super::socketio::Settings>| &s.listen[..]);
                    e.origins = (0..listen.len())
                        .filter(|&l| listen[l].origin == Some(k as u16))
                        .collect();
                    super::socketio::Op::Emit(e)
                });
                routes[k] = Route::Send(Box::new(Request {
                    protocol,
                    sio,
                    grpc: grpc.as_ref().map(|(c, t)| (Arc::clone(c), t.clone())),
                    method: method.clone(),
                    path: path.clone(),
                    body: body.clone(),
                    headers: req_headers.clone(),
                    expect: expect.clone(),
                    kind,
                    needs_json,
                }));
            }
        }
        if uses_token && tokens.is_none() && raw.auth.tokens_file.is_none() {
            bad(
                root.key("auth"),
                "a template uses `{token}` but no token file is given".into(),
                "add `tokens_file = \"tokens.json\"` under [auth]",
            );
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        Ok(Mapping {
            name: src.name.clone(),
            base_url: raw.base_url,
            timeout,
            http2: raw.http2,
            headers,
            tokens,
            routes,
            kinds,
            grpc_target: raw.grpc.and_then(|g| g.target),
            socketio,
        })
    }

    /// Every mapped and skipped kind, for the docs table and the run's summary.
    pub fn table(&self) -> Vec<(&'static str, String)> {
        EVENT_KINDS
            .iter()
            .zip(&self.routes)
            .map(|(k, r)| {
                (
                    *k,
                    match r {
                        Route::Unmapped => "unmapped (counted, skipped)".to_string(),
                        Route::ServerSide => "server-side (skipped)".to_string(),
                        Route::Send(q) => match (&q.grpc, &q.sio) {
                            (Some((call, _)), _) => {
                                format!("gRPC {} [{}]", call.path, self.kinds[q.kind as usize])
                            }
                            (_, Some(op)) => format!(
                                "Socket.IO {} [{}]",
                                match op {
                                    super::socketio::Op::Connect => "connect".to_string(),
                                    super::socketio::Op::Disconnect => "disconnect".to_string(),
                                    super::socketio::Op::Emit(e) => format!(
                                        "emit {}{}",
                                        e.event,
                                        if e.ack { " (ack)" } else { "" }
                                    ),
                                },
                                self.kinds[q.kind as usize]
                            ),
                            _ => format!(
                                "{} {} [{}]",
                                q.method,
                                q.path.source(),
                                self.kinds[q.kind as usize]
                            ),
                        },
                    },
                )
            })
            .collect()
    }
}

impl Request {
    /// A Socket.IO connect or disconnect.
    fn socketio(op: super::socketio::Op, kind: u16, needs_json: bool) -> Request {
        Request {
            protocol: 2,
            grpc: None,
            sio: Some(op),
            method: Method::POST,
            path: Template::compile("/").expect("a literal"),
            body: None,
            headers: Vec::new(),
            expect: vec![Expect::Class(2)],
            kind,
            needs_json,
        }
    }
}

/// A Socket.IO emit with its payload and ack check.
fn sio_emit(
    event: &str,
    payload: Option<&toml::Value>,
    ack: bool,
    check: Option<&RawCheck>,
) -> Result<super::socketio::Emit, (&'static str, String)> {
    if event.is_empty() {
        return Err(("emit", "the event name is empty".into()));
    }
    let payload = payload
        .map(|v| JsonTmpl::compile(v, "payload"))
        .transpose()
        .map_err(|(at, m)| ("payload", format!("{at}: {m}")))?;
    let check = match check {
        None => None,
        Some(_) if !ack => {
            return Err((
                "check",
                "a check reads the ack: it needs `ack = true`".into(),
            ));
        }
        Some(c) => Some((
            c.field.split('.').map(String::from).collect(),
            serde_json::to_value(&c.equals).unwrap_or_default(),
        )),
    };
    Ok(super::socketio::Emit {
        event: event.to_string(),
        payload,
        ack,
        check,
        origins: Vec::new(),
    })
}

/// `package.Service/Method` in `pool`, with its response check.
fn grpc_call(
    pool: &prost_reflect::DescriptorPool,
    method: &str,
    check: Option<&RawCheck>,
) -> Result<super::grpc::Call, (&'static str, String)> {
    let (service, name) = method.trim_start_matches('/').rsplit_once('/').ok_or((
        "method",
        format!("`{method}` is not package.Service/Method"),
    ))?;
    let svc = pool
        .get_service_by_name(service)
        .ok_or(("method", format!("the proto has no service `{service}`")))?;
    let m = svc
        .methods()
        .find(|m| m.name() == name)
        .ok_or(("method", format!("`{service}` has no method `{name}`")))?;
    if m.is_client_streaming() || m.is_server_streaming() {
        return Err((
            "method",
            format!("`{method}` streams; only unary calls are sent"),
        ));
    }
    let check = match check {
        None => None,
        Some(c) => {
            if m.output().get_field_by_name(&c.field).is_none() {
                return Err((
                    "check",
                    format!("`{}` has no field `{}`", m.output().full_name(), c.field),
                ));
            }
            Some((
                c.field.clone(),
                serde_json::to_value(&c.equals).unwrap_or_default(),
            ))
        }
    };
    let path = format!("/{service}/{name}")
        .parse()
        .map_err(|_| ("method", format!("`{method}` is not a valid path")))?;
    Ok(super::grpc::Call {
        path,
        input: m.input(),
        output: m.output(),
        check,
    })
}

fn parse_expect(v: &toml::Value) -> Option<Expect> {
    match v {
        toml::Value::Integer(c) if (100..=599).contains(c) => Some(Expect::Code(*c as u16)),
        toml::Value::String(s) => {
            let s = s.to_ascii_lowercase();
            let d = s.strip_suffix("xx")?;
            match d.parse::<u16>() {
                Ok(h) if (1..=5).contains(&h) && d.len() == 1 => Some(Expect::Class(h)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn read_tokens(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = crate::bounded::read_to_string(path, crate::bounded::TOKENS_FILE)
        .map_err(|e| format!("the token file {}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON ({e})", path.display()))?;
    let mut out = HashMap::new();
    match v {
        serde_json::Value::Object(m) => {
            for (k, t) in m {
                let t = t.as_str().ok_or_else(|| {
                    format!("{}: the token of `{k}` is not a string", path.display())
                })?;
                out.insert(k, t.to_string());
            }
        }
        serde_json::Value::Array(a) => {
            for (i, o) in a.iter().enumerate() {
                let pick = |keys: &[&str]| {
                    keys.iter().find_map(|k| o.get(*k)).map(|v| {
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string())
                    })
                };
                match (
                    pick(&["user_id", "userId", "id"]),
                    pick(&["token", "accessToken", "access_token"]),
                ) {
                    (Some(u), Some(t)) => {
                        out.insert(u, t);
                    }
                    _ => {
                        return Err(format!(
                            "{}: entry {i} has no user_id and token",
                            path.display()
                        ));
                    }
                }
            }
        }
        _ => return Err(format!("{}: expected an object or a list", path.display())),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_mapping_sends_client_kinds_and_skips_server_kinds() {
        let m = Mapping::shipped();
        let k = |n: &str| EVENT_KINDS.iter().position(|k| *k == n).unwrap() as u16;
        assert!(matches!(m.route(k("points.earned")), Route::Send(_)));
        assert!(matches!(m.route(k("gift.claimed")), Route::Send(_)));
        assert!(matches!(m.route(k("nudge.sent")), Route::ServerSide));
        assert!(matches!(m.route(k("goal.completed")), Route::ServerSide));
        assert!(matches!(m.route(k("user.churned")), Route::ServerSide));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let src = Source::new(
            "t.toml",
            "timeout = \"soon\"\n\n[[request]]\nevent = \"points.earnd\"\npath = \"/p/{usr}\"\nexpect = [\"7xx\"]\n",
        );
        let e = Mapping::from_source(&src, None).unwrap_err().to_string();
        assert!(e.contains("t.toml:1: field `timeout`"), "{e}");
        assert!(e.contains("t.toml:4: field `request[0].event`"), "{e}");
        assert!(e.contains("t.toml:5: field `request[0].path`"), "{e}");
        assert!(e.contains("request[0].expect[0]"), "{e}");
        let dup = Source::new(
            "d.toml",
            "[[request]]\nevent = \"points.earned\"\npath = \"/a\"\n[[request]]\nevent = \"points.earned\"\npath = \"/b\"\n",
        );
        let e = Mapping::from_source(&dup, None).unwrap_err().to_string();
        assert!(
            e.contains("d.toml:5") && e.contains("already mapped"),
            "{e}"
        );
    }
}
