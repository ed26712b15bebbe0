//! The mapping compiled from its file: every problem found in one pass, each with its
//! file, line and field, before any traffic. [`Compiler`] reads like the file: the
//! settings, the `[socketio]` table, then each `[[request]]`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use http::header::HeaderName;
use prost_reflect::DescriptorPool;
use simulate_core::diagnostic::{FieldPath, Problem, Problems, Source};
use simulate_core::template::{Body, JsonTmpl, Template, TemplateError};
use simulate_core::timeline::EVENT_KINDS;
use simulate_core::units::parse_duration;

use super::raw::{RawCheck, RawListen, RawMapping, RawRequest, RawSocketio};
use super::tokens::read_tokens;
use super::{
    Emit, Expect, GrpcCall, GrpcRequest, HttpRequest, Listen, Mapped, Mapping, Protocol, Request,
    RequestClass, Route, SocketIoRequest, SocketIoSettings,
};

const DOC: &str = "docs/REPLAY.md";

impl Mapping {
    /// Compiles a mapping file; `dir` resolves a relative `tokens_file` and `proto`.
    pub fn from_source(src: &Source, dir: Option<&Path>) -> Result<Mapping, Problems> {
        let raw: RawMapping = src.parse_documented(DOC)?;
        let mut c = Compiler::new(src);
        let timeout = c.timeout(raw.timeout.as_deref());
        c.check_base_url(raw.base_url.as_deref());
        let headers = c.common_headers(&raw);
        let tokens = c.tokens(raw.auth.tokens_file.as_deref(), dir);
        c.server_side(&raw.server_side);
        c.uses_token = headers.iter().any(|(_, t)| t.uses_token());
        let socketio = raw.socketio.as_ref().map(|s| c.socketio(s));
        c.proto_path = raw
            .grpc
            .as_ref()
            .and_then(|g| g.proto.as_ref())
            .map(|p| dir.map(|d| d.join(p)).unwrap_or_else(|| p.into()));
        let headers_need_json = headers.iter().any(|(_, t)| t.needs_json());
        for (i, r) in raw.request.iter().enumerate() {
            c.request(i, r, headers_need_json, socketio.as_ref());
        }
        if c.uses_token && tokens.is_none() && raw.auth.tokens_file.is_none() {
            c.bad(
                FieldPath::root().key("auth"),
                "a template uses `{token}` but no token file is given",
                "add `tokens_file = \"tokens.json\"` under [auth]",
            );
        }
        if !c.problems.is_empty() {
            return Err(Problems(c.problems));
        }
        Ok(Mapping {
            name: src.name.clone(),
            base_url: raw.base_url,
            timeout,
            http2: raw.http2,
            headers,
            tokens,
            routes: c.routes,
            tags: c.tags,
            grpc_target: raw.grpc.and_then(|g| g.target),
            socketio,
            unclassified: c.unclassified,
        })
    }
}

/// What compiling a mapping collects as it goes.
struct Compiler<'a> {
    src: &'a Source,
    problems: Vec<Problem>,
    /// One route per [`EVENT_KINDS`] entry.
    routes: Vec<Route>,
    /// Where each event kind was mapped (`request[2]`), to name it when mapped twice.
    seen: Vec<Option<String>>,
    tags: Vec<String>,
    /// Some template renders `{token}`: the mapping then needs a token file.
    uses_token: bool,
    /// The `[socketio]` templates (query, auth, join) read the event's props.
    socketio_needs_json: bool,
    proto_path: Option<PathBuf>,
    /// The contract, compiled at the first gRPC request.
    pool: Option<DescriptorPool>,
    /// Requests without a `class` (see [`Mapping::unclassified`]).
    unclassified: Vec<Problem>,
}

/// An event kind's index in [`EVENT_KINDS`].
fn kind_of(name: &str) -> Option<usize> {
    EVENT_KINDS.iter().position(|k| *k == name)
}

impl<'a> Compiler<'a> {
    fn new(src: &'a Source) -> Compiler<'a> {
        Compiler {
            src,
            problems: Vec::new(),
            routes: EVENT_KINDS.iter().map(|_| Route::Unmapped).collect(),
            seen: vec![None; EVENT_KINDS.len()],
            tags: Vec::new(),
            uses_token: false,
            socketio_needs_json: false,
            proto_path: None,
            pool: None,
            unclassified: Vec::new(),
        }
    }

    fn bad(&mut self, path: FieldPath, message: impl std::fmt::Display, fix: &str) {
        self.problems
            .push(self.src.problem(&path, message.to_string(), fix));
    }

    /// A template's problems, each at its field (and its key inside a body) with its fix.
    fn template_errors(&mut self, path: &FieldPath, errors: Vec<TemplateError>) {
        for e in errors {
            let mut at = path.clone();
            at.0.extend(e.at);
            self.problems.push(self.src.problem(&at, e.message, e.fix));
        }
    }

    /// A string template, or its problems recorded.
    fn template(&mut self, path: &FieldPath, text: &str) -> Option<Template> {
        Template::compile(text)
            .map_err(|es| self.template_errors(path, es))
            .ok()
    }

    /// A JSON template (a body, message or payload), or its problems recorded.
    fn json_template(&mut self, path: &FieldPath, v: &toml::Value) -> Option<JsonTmpl> {
        JsonTmpl::compile(v)
            .map_err(|es| self.template_errors(path, es))
            .ok()
    }

    fn timeout(&mut self, text: Option<&str>) -> Duration {
        let Some(t) = text else {
            return Duration::from_secs(10);
        };
        match parse_duration(t) {
            Ok(d) if d.ms() > 0 => Duration::from_millis(d.ms() as u64),
            _ => {
                self.bad(
                    FieldPath::root().key("timeout"),
                    format!("`{t}` is not a duration"),
                    "write it like 500ms, 10s or 1m",
                );
                Duration::from_secs(10)
            }
        }
    }

    fn check_base_url(&mut self, url: Option<&str>) {
        if let Some(u) = url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            self.bad(
                FieldPath::root().key("base_url"),
                "the base URL must start with http:// or https://",
                "write it like http://127.0.0.1:3000",
            );
        }
    }

    /// A header's name checked and its value compiled.
    fn header(
        &mut self,
        path: FieldPath,
        name: &str,
        value: &str,
    ) -> Option<(HeaderName, Template)> {
        let Ok(n) = HeaderName::from_bytes(name.as_bytes()) else {
            self.bad(
                path,
                format!("`{name}` is not a valid header name"),
                "use letters, digits and dashes",
            );
            return None;
        };
        self.template(&path, value).map(|t| (n, t))
    }

    /// The headers every HTTP request carries: `[auth]`'s, then `[headers]`.
    fn common_headers(&mut self, raw: &RawMapping) -> Vec<(HeaderName, Template)> {
        let auth = FieldPath::root().key("auth");
        let mut headers = Vec::new();
        if let Some(b) = &raw.auth.bearer {
            let bearer = format!("Bearer {b}");
            headers.extend(self.header(auth.key("bearer"), "authorization", &bearer));
        }
        if let Some(c) = &raw.auth.cookie {
            headers.extend(self.header(auth.key("cookie"), "cookie", c));
        }
        for (k, v) in &raw.headers {
            headers.extend(self.header(FieldPath::root().key("headers").key(k), k, v));
        }
        headers
    }

    fn tokens(
        &mut self,
        file: Option<&str>,
        dir: Option<&Path>,
    ) -> Option<HashMap<String, String>> {
        let f = file?;
        let p = dir.map(|d| d.join(f)).unwrap_or_else(|| f.into());
        match read_tokens(&p) {
            Ok(t) => Some(t),
            Err(m) => {
                self.bad(
                    FieldPath::root().key("auth").key("tokens_file"),
                    m,
                    "give a JSON object {\"u12\": \"token\", …} or a list of {\"user_id\", \"token\"}",
                );
                None
            }
        }
    }

    fn server_side(&mut self, kinds: &[String]) {
        for (i, name) in kinds.iter().enumerate() {
            match kind_of(name) {
                Some(k) => {
                    self.routes[k] = Route::ServerSide;
                    self.seen[k] = Some(format!("server_side[{i}]"));
                }
                None => self.bad(
                    FieldPath::root().key("server_side").index(i),
                    format!("`{name}` is not an event kind"),
                    "use a kind from docs/TIMELINE.md",
                ),
            }
        }
    }

    /// The index of a request tag, added at its first use.
    fn tag(&mut self, name: &str) -> u16 {
        (match self.tags.iter().position(|k| k == name) {
            Some(k) => k,
            None => {
                self.tags.push(name.to_string());
                self.tags.len() - 1
            }
        }) as u16
    }

    /// The `[socketio]` table: the connection settings, and the session events that open
    /// and close each user's connection.
    fn socketio(&mut self, socketio: &RawSocketio) -> Arc<SocketIoSettings> {
        let sp = FieldPath::root().key("socketio");
        if let Some(u) = &socketio.url
            && !["http://", "https://", "ws://", "wss://"]
                .iter()
                .any(|p| u.starts_with(p))
        {
            self.bad(
                sp.key("url"),
                "the Socket.IO URL must start with http://, https://, ws:// or wss://",
                "write it like http://127.0.0.1:3000",
            );
        }
        let path = socketio
            .path
            .clone()
            .unwrap_or_else(|| "/socket.io/".into());
        let namespace = socketio.namespace.clone().unwrap_or_else(|| "/".into());
        for (field, v) in [("path", &path), ("namespace", &namespace)] {
            if !v.starts_with('/') || v.contains(['?', ',', '#']) {
                self.bad(
                    sp.key(field),
                    format!("`{v}` is not a {field}"),
                    "start it with `/`, like /socket.io/ or /chat",
                );
            }
        }
        let query = socketio
            .query
            .as_deref()
            .and_then(|q| self.template(&sp.key("query"), q));
        let auth = socketio
            .auth
            .as_ref()
            .and_then(|a| self.json_template(&sp.key("auth"), a));
        let join = socketio.join.as_ref().and_then(|j| {
            let payload = match &j.payload {
                Some(v) => Some(self.json_template(&sp.key("join").key("payload"), v)?),
                None => None,
            };
            socketio_emit(&j.emit, payload, j.ack, j.check.as_ref())
                .map_err(|(f, m)| {
                    self.bad(
                        sp.key("join").key(f),
                        m,
                        "correct the emit (see docs/REPLAY.md)",
                    )
                })
                .ok()
        });
        let listen = self.listens(&socketio.listen, &sp);
        let needs_json = query.as_ref().is_some_and(Template::needs_json)
            || auth.as_ref().is_some_and(JsonTmpl::needs_json)
            || join
                .as_ref()
                .and_then(|j| j.payload.as_ref())
                .is_some_and(JsonTmpl::needs_json);
        self.socketio_needs_json = needs_json;
        self.uses_token |= query.as_ref().is_some_and(Template::uses_token)
            || auth.as_ref().is_some_and(JsonTmpl::uses_token);
        for (field, name, op) in [
            ("connect", &socketio.connect, SocketIoRequest::Connect),
            (
                "disconnect",
                &socketio.disconnect,
                SocketIoRequest::Disconnect,
            ),
        ] {
            match kind_of(name) {
                Some(k) => {
                    let tag = self.tag(field);
                    self.routes[k] = Route::Send(Box::new(Mapped {
                        request: Request::SocketIo(op),
                        tag,
                        needs_json,
                        class: None,
                    }));
                    self.seen[k] = Some(format!("socketio.{field}"));
                }
                None => self.bad(
                    sp.key(field),
                    format!("`{name}` is not an event kind"),
                    "use a kind from docs/TIMELINE.md, like session.started",
                ),
            }
        }
        Arc::new(SocketIoSettings {
            url: socketio.url.clone(),
            path,
            namespace,
            query,
            auth,
            join,
            listen,
            reconnect_attempts: socketio.reconnect_attempts.unwrap_or(5),
        })
    }

    /// `[[socketio.listen]]`: each broadcast once, its origin a kind, tied by a key.
    fn listens(&mut self, raw: &[RawListen], sp: &FieldPath) -> Vec<Listen> {
        let mut listen: Vec<Listen> = Vec::new();
        for (i, l) in raw.iter().enumerate() {
            let lp = sp.key("listen").index(i);
            if let Some(j) = listen.iter().position(|o| o.event == l.event) {
                self.bad(
                    lp.key("event"),
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
                    self.bad(
                        lp.key("origin"),
                        format!("`{o}` is not an event kind"),
                        "name the timeline event whose emit causes the broadcast",
                    );
                    None
                }
            });
            if origin.is_some() && l.key.is_none() {
                self.bad(
                    lp,
                    "an origin needs the key that ties each broadcast to its emit",
                    "add `key = \"giftId\"`: a field of the broadcast and of the origin's payload",
                );
            }
            listen.push(Listen {
                event: l.event.clone(),
                key: l
                    .key
                    .as_ref()
                    .map(|k| k.split('.').map(String::from).collect()),
                origin,
            });
        }
        listen
    }

    /// One `[[request]]`: its protocol's request compiled, then routed from each event
    /// kind it names.
    fn request(
        &mut self,
        i: usize,
        r: &RawRequest,
        headers_need_json: bool,
        socketio: Option<&Arc<SocketIoSettings>>,
    ) {
        let rp = FieldPath::root().key("request").index(i);
        let names = self.event_names(&rp, r);
        let protocol = self.protocol(&rp, r.protocol.as_deref());
        let emit = self.emit_fields(&rp, r, protocol, socketio.is_some());
        // Without its contract a gRPC request cannot be checked further.
        let Ok(grpc) = self.grpc_fields(&rp, r, protocol) else {
            return;
        };
        let http = self.http_fields(&rp, r, protocol);
        let tag = self.tag(&r.kind);
        let class = self.class(&rp, r);
        self.uses_token |= http.path.uses_token()
            || http.headers.iter().any(|(_, t)| t.uses_token())
            || matches!(&http.body, Some(Body::Json(t)) if t.uses_token());
        let needs_json = match protocol {
            Protocol::Http => {
                headers_need_json
                    || http.path.needs_json()
                    || http.headers.iter().any(|(_, t)| t.needs_json())
                    || matches!(&http.body, Some(Body::Json(t)) if t.needs_json())
            }
            Protocol::Grpc => grpc.as_ref().is_some_and(|g| g.message.needs_json()),
            // An emit that finds no connection opens one: its templates count too.
            Protocol::SocketIo => {
                self.socketio_needs_json
                    || emit
                        .as_ref()
                        .and_then(|e| e.payload.as_ref())
                        .is_some_and(JsonTmpl::needs_json)
            }
        };
        for (at, name) in names {
            let Some(k) = kind_of(name) else {
                self.bad(
                    at,
                    format!("`{name}` is not an event kind"),
                    "use a kind from docs/TIMELINE.md",
                );
                continue;
            };
            if let Some(first) = &self.seen[k] {
                let message = format!("`{name}` is already mapped at {first}");
                self.bad(at, message, "map each event kind once");
                continue;
            }
            self.seen[k] = Some(format!("request[{i}]"));
            let request = match protocol {
                Protocol::Http => Some(Request::Http(http.clone())),
                Protocol::Grpc => grpc.clone().map(Request::Grpc),
                Protocol::SocketIo => emit.as_ref().map(|e| {
                    let mut e = e.clone();
                    let listen = socketio.map_or(&[][..], |s| &s.listen[..]);
                    e.origins = (0..listen.len())
                        .filter(|&l| listen[l].origin == Some(k as u16))
                        .collect();
                    Request::SocketIo(SocketIoRequest::Emit(e))
                }),
            };
            if let Some(request) = request {
                self.routes[k] = Route::Send(Box::new(Mapped {
                    request,
                    tag,
                    needs_json,
                    class,
                }));
            }
        }
    }

    /// `class = "event" | "api"`; a request without one is noted (not an error: only a
    /// preset keyed on classes needs it).
    fn class(&mut self, rp: &FieldPath, r: &RawRequest) -> Option<RequestClass> {
        let Some(name) = &r.class else {
            let kinds: Vec<&str> = r
                .event
                .iter()
                .chain(&r.events)
                .map(String::as_str)
                .collect();
            let more = if kinds.len() > 3 { ", …" } else { "" };
            let kinds = kinds[..kinds.len().min(3)].join(", ");
            self.unclassified.push(self.src.problem(
                rp,
                format!("the request for {kinds}{more} has no `class`"),
                "add `class = \"event\"` (an event the target ingests) or `class = \"api\"` (an API call the client waits on)",
            ));
            return None;
        };
        let class = RequestClass::ALL.into_iter().find(|c| c.name() == name);
        if class.is_none() {
            self.bad(
                rp.key("class"),
                format!("`{name}` is not a class"),
                "use event (an event the target ingests) or api (an API call)",
            );
        }
        class
    }

    /// `event` and `events`: the kinds a request is sent for.
    fn event_names<'r>(
        &mut self,
        rp: &FieldPath,
        r: &'r RawRequest,
    ) -> Vec<(FieldPath, &'r String)> {
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
            self.bad(
                rp.clone(),
                "a request needs the event kind it sends",
                "add `event = \"points.earned\"` (or `events = [...]`)",
            );
        }
        names
    }

    fn protocol(&mut self, rp: &FieldPath, name: Option<&str>) -> Protocol {
        match name.unwrap_or("http") {
            "http" => Protocol::Http,
            "grpc" => Protocol::Grpc,
            "socketio" => Protocol::SocketIo,
            other => {
                self.bad(
                    rp.key("protocol"),
                    format!("`{other}` is not a protocol"),
                    "use http, grpc or socketio",
                );
                Protocol::Http
            }
        }
    }

    /// A Socket.IO request's emit; the emit fields refused on other protocols.
    fn emit_fields(
        &mut self,
        rp: &FieldPath,
        r: &RawRequest,
        protocol: Protocol,
        has_socketio: bool,
    ) -> Option<Emit> {
        if protocol != Protocol::SocketIo {
            for (field, set) in [
                ("emit", r.emit.is_some()),
                ("payload", r.payload.is_some()),
                ("ack", r.ack),
            ] {
                if set {
                    self.bad(
                        rp.key(field),
                        format!("`{field}` belongs to socketio requests"),
                        "add `protocol = \"socketio\"` or remove it",
                    );
                }
            }
            return None;
        }
        if !has_socketio {
            self.bad(
                rp.key("protocol"),
                "a socketio request needs a [socketio] table",
                "add [socketio] with the server's url (see docs/REPLAY.md)",
            );
        }
        let Some(e) = &r.emit else {
            self.bad(
                rp.clone(),
                "a socketio request needs the event it emits",
                "add `emit = \"gift:create\"`",
            );
            return None;
        };
        let payload = match &r.payload {
            Some(v) => Some(self.json_template(&rp.key("payload"), v)?),
            None => None,
        };
        match socketio_emit(e, payload, r.ack, r.check.as_ref()) {
            Ok(e) => {
                self.uses_token |= e.payload.as_ref().is_some_and(JsonTmpl::uses_token);
                Some(e)
            }
            Err((f, m)) => {
                self.bad(rp.key(f), m, "correct the emit (see docs/REPLAY.md)");
                None
            }
        }
    }

    /// A gRPC request's call and message; `Err` when the contract does not compile.
    fn grpc_fields(
        &mut self,
        rp: &FieldPath,
        r: &RawRequest,
        protocol: Protocol,
    ) -> Result<Option<GrpcRequest>, ()> {
        if protocol != Protocol::Grpc {
            return Ok(None);
        }
        if self.pool.is_none() {
            match super::proto::load(self.proto_path.as_deref()) {
                Ok(p) => self.pool = Some(p),
                Err(m) => {
                    let at = FieldPath::root().key("grpc").key("proto");
                    self.bad(at, m, "give a .proto file that compiles");
                    return Err(());
                }
            }
        }
        let pool = self.pool.as_ref().expect("loaded above");
        let call = match grpc_call(pool, &r.method, r.check.as_ref()) {
            Ok(call) => call,
            Err((field, m)) => {
                self.bad(
                    rp.key(field),
                    m,
                    "name a method of the proto as package.Service/Method, and a field of its response",
                );
                return Ok(None);
            }
        };
        let message = match &r.message {
            Some(v) => self.json_template(&rp.key("message"), v),
            None => Some(JsonTmpl::Lit(serde_json::json!({}))),
        };
        Ok(message.map(|message| {
            self.uses_token |= message.uses_token();
            GrpcRequest {
                call: Arc::new(call),
                message,
            }
        }))
    }

    /// An HTTP request's method, path, body, headers and statuses. Other protocols'
    /// requests are checked for the same fields (their path is `/`).
    fn http_fields(&mut self, rp: &FieldPath, r: &RawRequest, protocol: Protocol) -> HttpRequest {
        let mut method = Method::POST;
        let mut path_text = "/".to_string();
        if protocol == Protocol::Http {
            method = self.method(rp, &r.method);
            match &r.path {
                None => self.bad(
                    rp.clone(),
                    "an HTTP request needs a path",
                    "add `path = \"/v1/events/{event}\"`",
                ),
                Some(p) => {
                    if !p.starts_with('/') {
                        self.bad(
                            rp.key("path"),
                            "the path must start with `/`",
                            "write it like /v1/points/{user_id}",
                        );
                    }
                    path_text = p.clone();
                }
            }
        }
        let path = self
            .template(&rp.key("path"), &path_text)
            .or_else(|| Template::compile("/").ok())
            .expect("`/` is a template");
        let body = match &r.body {
            None => None,
            Some(toml::Value::String(s)) if s.trim() == "{line}" => Some(Body::Line),
            Some(v) => self.json_template(&rp.key("body"), v).map(Body::Json),
        };
        let mut headers = Vec::new();
        for (k, v) in &r.headers {
            headers.extend(self.header(rp.key("headers").key(k), k, v));
        }
        let expect = self.expect(rp, &r.expect);
        HttpRequest {
            method,
            path,
            body,
            headers,
            expect,
        }
    }

    fn method(&mut self, rp: &FieldPath, name: &str) -> Method {
        Method::from_bytes(name.to_ascii_uppercase().as_bytes()).unwrap_or_else(|_| {
            self.bad(
                rp.key("method"),
                format!("`{name}` is not an HTTP method"),
                "use GET, POST, PUT, PATCH or DELETE",
            );
            Method::POST
        })
    }

    /// The statuses that count as ok; `2xx` when none is given.
    fn expect(&mut self, rp: &FieldPath, raw: &[toml::Value]) -> Vec<Expect> {
        let mut expect = Vec::new();
        for (j, e) in raw.iter().enumerate() {
            match parse_expect(e) {
                Some(x) => expect.push(x),
                None => self.bad(
                    rp.key("expect").index(j),
                    format!("`{e}` is not a status"),
                    "write a status like 200 or a class like \"2xx\"",
                ),
            }
        }
        if expect.is_empty() {
            expect.push(Expect::Class(2));
        }
        expect
    }
}

/// A Socket.IO emit with its (compiled) payload and ack check.
fn socketio_emit(
    event: &str,
    payload: Option<JsonTmpl>,
    ack: bool,
    check: Option<&RawCheck>,
) -> Result<Emit, (&'static str, String)> {
    if event.is_empty() {
        return Err(("emit", "the event name is empty".into()));
    }
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
    Ok(Emit {
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
) -> Result<GrpcCall, (&'static str, String)> {
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
    Ok(GrpcCall {
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

    #[test]
    fn template_problems_name_the_key_inside_a_body_and_each_missing_variable() {
        let src = Source::new(
            "b.toml",
            "[headers]\nx-key = \"{env.SIMULATE_MAP_T_UNSET_1}{env.SIMULATE_MAP_T_UNSET_2}\"\n\n[[request]]\nevent = \"points.earned\"\npath = \"/p/{props.amount * 2}\"\n\n[request.body]\nuser = \"{user_id}\"\namount = \"{round(props.amount, 'x')}\"\n",
        );
        let p = Mapping::from_source(&src, None).unwrap_err().0;
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!((p[0].line, p[0].field.as_str()), (Some(2), "headers.x-key"));
        assert!(p[0].message.contains("`SIMULATE_MAP_T_UNSET_1` is not set"));
        assert_eq!(
            p[0].fix,
            "export SIMULATE_MAP_T_UNSET_1=… before running simulate (the template reads it)"
        );
        assert!(p[1].message.contains("`SIMULATE_MAP_T_UNSET_2` is not set"));
        assert_eq!(
            (p[2].line, p[2].field.as_str()),
            (Some(10), "request[0].body.amount")
        );
        assert!(
            p[2].message
                .contains("`digits` must be a whole number, not a string"),
            "{}",
            p[2].message
        );
        assert_eq!(p[2].fix, "call it as round(x, digits=0)");
    }

    #[test]
    fn each_request_says_its_class_and_the_shipped_mappings_all_do() {
        let src = Source::new(
            "c.toml",
            "[[request]]\nevent = \"stat.updated\"\npath = \"/e\"\nclass = \"event\"\n\n[[request]]\nevent = \"challenge.viewed\"\npath = \"/c\"\n",
        );
        let m = Mapping::from_source(&src, None).unwrap();
        let k = |n: &str| EVENT_KINDS.iter().position(|k| *k == n).unwrap() as u16;
        assert_eq!(m.kinds_of(RequestClass::Event), [k("stat.updated")]);
        assert!(m.kinds_of(RequestClass::Api).is_empty());
        let u = m.unclassified();
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].line, u[0].field.as_str()), (Some(6), "request[1]"));
        assert!(
            u[0].message.contains("challenge.viewed has no `class`"),
            "{}",
            u[0].message
        );
        let bad = Source::new(
            "b.toml",
            "[[request]]\nevent = \"stat.updated\"\npath = \"/e\"\nclass = \"events\"\n",
        );
        let e = Mapping::from_source(&bad, None).unwrap_err().to_string();
        assert!(
            e.contains("b.toml:4: field `request[0].class`: `events` is not a class"),
            "{e}"
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings");
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            let m = Mapping::load(&path).unwrap();
            assert!(
                m.unclassified().is_empty(),
                "{}: {:?}",
                path.display(),
                m.unclassified()
            );
        }
    }
}
