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
use simulate_core::template::{Body, FieldSet, JsonTmpl, Template, TemplateError};
use simulate_core::units::parse_duration;
use simulate_core::world::kinds::{KindDecl, KindId, KindTable};

use super::raw::{RawCheck, RawListen, RawMapping, RawRequest, RawSocketio};
use super::tokens::read_tokens;
use super::{
    Check, Cond, Emit, Expect, GrpcCall, GrpcRequest, HttpRequest, Listen, Mapped, Mapping,
    MissingToken, Pattern, Protocol, Request, RequestClass, Route, SocketIoRequest,
    SocketIoSettings,
};

mod hooks;
mod probe;
mod steps;
mod websocket;

const DOC: &str = "docs/REPLAY.md";

impl Mapping {
    /// Compiles a mapping file; `dir` resolves a relative `tokens_file` and `proto`.
    pub fn from_source(src: &Source, dir: Option<&Path>) -> Result<Mapping, Problems> {
        Mapping::from_source_in(src, dir, KindTable::builtin())
    }

    /// Compiles a mapping for a world of these kinds (the built-in ones and its
    /// `world.toml`'s): a request naming a kind the world does not declare, or a prop
    /// the kind lacks, is refused.
    pub fn from_source_in(
        src: &Source,
        dir: Option<&Path>,
        kinds: KindTable,
    ) -> Result<Mapping, Problems> {
        let raw: RawMapping = src.parse_documented(DOC)?;
        let mut c = Compiler::new(src, kinds);
        c.cookie_jar = raw.cookie_jar;
        let timeout = c.timeout(raw.timeout.as_deref());
        c.check_base_url(raw.base_url.as_deref());
        let headers = c.common_headers(&raw);
        let tokens = c.tokens(raw.auth.tokens_file.as_deref(), dir);
        c.server_side(&raw.server_side);
        c.common_token = headers.iter().any(|(_, t)| t.uses_token());
        let socketio = raw.socketio.as_ref().map(|s| c.socketio(s, &raw.request));
        let websocket = raw.websocket.as_ref().map(|w| c.websocket(w, &raw.request));
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
        if tokens.is_some() && !c.uses_token {
            c.bad(
                FieldPath::root().key("auth").key("tokens_file"),
                "no template reads the tokens: `{token}` is not used",
                "read it where it goes, like bearer = \"{token}\" (with the braces), or remove tokens_file",
            );
        }
        let setup = c.hooks("setup", &raw.setup);
        let teardown = c.hooks("teardown", &raw.teardown);
        let missing_token = c.missing_token(&raw);
        c.settings_used(&raw);
        c.variables_in_order();
        let login = c.login(raw.auth.login.as_deref());
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
            missing_token,
            tokens_at: raw
                .auth
                .tokens_file
                .as_ref()
                .map(|_| src.problem(&FieldPath::root().key("auth").key("tokens_file"), "", "")),
            uses_token: c.uses_token,
            routes: c.routes,
            tags: c.tags,
            grpc_target: raw.grpc.and_then(|g| g.target),
            socketio,
            websocket,
            setup,
            teardown,
            unclassified: c.unclassified,
            cookie_jar: raw.cookie_jar,
            common_vars: std::mem::take(&mut c.vars.common),
            login,
            user_reads: c.user_reads,
            lookups: c.lookups,
            kinds: simulate_core::world::kinds::KindNames::of(&c.kinds),
        })
    }
}

/// What compiling a mapping collects as it goes.
struct Compiler<'a> {
    src: &'a Source,
    problems: Vec<Problem>,
    /// One route per kind of the world (`KindTable` order).
    routes: Vec<Route>,
    /// Where each event kind was mapped (`request[2]`), to name it when mapped twice.
    seen: Vec<Option<String>>,
    tags: Vec<String>,
    /// Some template renders `{token}`: the mapping then needs a token file.
    uses_token: bool,
    /// The `[socketio]` templates (query, auth, join) read the event's props.
    socketio_needs_json: bool,
    /// The `[socketio]` templates read `{token}`.
    socketio_token: bool,
    /// Some `[headers]` or `[auth]` header reads `{token}`.
    common_token: bool,
    /// `[headers]` and `[auth]` templates that read the event: (field, text), checked
    /// against each HTTP request's kinds.
    common_props: Vec<(FieldPath, String)>,
    /// The kinds and their props, for the template checker.
    kinds: KindTable,
    proto_path: Option<PathBuf>,
    /// The contract, compiled at the first gRPC request.
    pool: Option<DescriptorPool>,
    /// Requests without a `class` (see [`Mapping::unclassified`]).
    unclassified: Vec<Problem>,
    /// What the requests need of `[websocket]`.
    ws: websocket::WsCompiled,
    /// `cookie_jar = true`: every HTTP answer is kept for its cookies.
    cookie_jar: bool,
    /// Every variable a template reads, and every capture, for the order check.
    vars: steps::VarUses,
    /// `user.<name>` read by a template, each with where (see [`Mapping::user_reads`]).
    user_reads: Vec<(String, Problem)>,
    /// `lookup(pool, id, field)`s, each with where (see [`Mapping::lookups`]).
    lookups: Vec<(String, String, Problem)>,
}

/// An event kind's index in the world's [`KindTable`] (built-in kinds in
/// `EVENT_KINDS` order first).
fn kind_in(kinds: &KindTable, name: &str) -> Option<usize> {
    kinds.id(name).map(|k| k.0 as usize)
}

/// The kinds sent as Socket.IO emits (misspelt ones are reported with their request).
fn emit_kinds(table: &KindTable, requests: &[RawRequest]) -> Vec<usize> {
    let mut kinds = Vec::new();
    for r in requests.iter().filter(|r| {
        let emits = |r: &RawRequest| r.protocol.as_deref() == Some("socketio");
        emits(r) || r.steps.iter().any(emits)
    }) {
        for k in r
            .event
            .iter()
            .chain(&r.events)
            .filter_map(|n| kind_in(table, n))
        {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
    }
    kinds
}

impl<'a> Compiler<'a> {
    fn new(src: &'a Source, kinds: KindTable) -> Compiler<'a> {
        Compiler {
            src,
            problems: Vec::new(),
            routes: kinds.iter().map(|_| Route::Unmapped).collect(),
            seen: vec![None; kinds.len()],
            tags: Vec::new(),
            uses_token: false,
            socketio_needs_json: false,
            socketio_token: false,
            common_token: false,
            common_props: Vec::new(),
            kinds,
            proto_path: None,
            pool: None,
            unclassified: Vec::new(),
            ws: Default::default(),
            cookie_jar: false,
            vars: steps::VarUses::default(),
            user_reads: Vec::new(),
            lookups: Vec::new(),
        }
    }

    /// Notes the `user.<name>` fields a template at `path` reads, for the check against
    /// the world the mapping is replayed in ([`Mapping::check_user_fields`]).
    fn user_reads(&mut self, path: &FieldPath, names: Vec<String>) {
        for n in names {
            let at = self.src.problem(path, String::new(), String::new());
            self.user_reads.push((n, at));
        }
    }

    /// Notes the pools a template's `lookup(pool, id, field)` names, for the check against
    /// the world ([`Mapping::check_user_fields`]).
    fn lookups(&mut self, path: &FieldPath, pairs: Vec<(String, String)>) {
        for (pool, field) in pairs {
            let at = self.src.problem(path, String::new(), String::new());
            self.lookups.push((pool, field, at));
        }
    }

    fn kind_of(&self, name: &str) -> Option<usize> {
        kind_in(&self.kinds, name)
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

    /// A string template checked against `fields`, or its problems recorded.
    fn template(&mut self, path: &FieldPath, text: &str, fields: &FieldSet) -> Option<Template> {
        let t = Template::compile_in(text, fields)
            .map_err(|es| self.template_errors(path, es))
            .ok()?;
        self.user_reads(path, t.user_fields());
        self.lookups(path, t.lookups());
        Some(t)
    }

    /// A JSON template (a body, message or payload) checked against `fields`, or its
    /// problems recorded.
    fn json_template(
        &mut self,
        path: &FieldPath,
        v: &toml::Value,
        fields: &FieldSet,
    ) -> Option<JsonTmpl> {
        let t = JsonTmpl::compile_in(v, fields)
            .map_err(|es| self.template_errors(path, es))
            .ok()?;
        self.user_reads(path, t.user_fields());
        self.lookups(path, t.lookups());
        Some(t)
    }

    /// What a template mapped from `kinds` may read: their props, each checked against
    /// every one of them (a prop only some of them carry would render empty for the
    /// others). No kinds (all misspelt, reported already): any prop.
    fn fields_of(&self, kinds: &[usize]) -> FieldSet {
        let decls: Vec<&KindDecl> = kinds
            .iter()
            .map(|&k| self.kinds.get(KindId(k as u16)))
            .collect();
        FieldSet::replay().with_kinds(&decls)
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

    /// A header's name, checked.
    fn header_name(&mut self, path: &FieldPath, name: &str) -> Option<HeaderName> {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| {
                self.bad(
                    path.clone(),
                    format!("`{name}` is not a valid header name"),
                    "use letters, digits and dashes",
                )
            })
            .ok()
    }

    /// A header of every HTTP request: its name checked and its value compiled (its
    /// props are checked against each request's kinds later).
    fn header(
        &mut self,
        path: FieldPath,
        name: &str,
        value: &str,
    ) -> Option<(HeaderName, Template)> {
        let n = self.header_name(&path, name)?;
        self.template(&path, value, &FieldSet::replay())
            .map(|t| (n, t))
    }

    /// The headers every HTTP request carries: `[auth]`'s, then `[headers]`.
    fn common_headers(&mut self, raw: &RawMapping) -> Vec<(HeaderName, Template)> {
        let auth = FieldPath::root().key("auth");
        let mut headers = Vec::new();
        let mut given = Vec::new();
        if let Some(b) = &raw.auth.bearer {
            given.push((auth.key("bearer"), "authorization", format!("Bearer {b}")));
        }
        if let Some(c) = &raw.auth.cookie {
            given.push((auth.key("cookie"), "cookie", c.clone()));
        }
        for (k, v) in &raw.headers {
            given.push((
                FieldPath::root().key("headers").key(k),
                k.as_str(),
                v.clone(),
            ));
        }
        for (path, name, value) in given {
            if let Some(h) = self.header(path.clone(), name, &value) {
                let mut read = Vec::new();
                h.1.vars_read(&mut read);
                self.common_reads(read.into_iter().map(|f| (path.clone(), f)).collect());
                // Checked again against each HTTP request's kinds.
                if h.1.needs_json() {
                    self.common_props.push((path, value));
                }
                headers.push(h);
            }
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

    /// `missing_token`: a policy, and only with a token file that some template reads.
    fn missing_token(&mut self, raw: &RawMapping) -> MissingToken {
        let Some(text) = &raw.auth.missing_token else {
            return MissingToken::default();
        };
        let at = FieldPath::root().key("auth").key("missing_token");
        let Some(policy) = MissingToken::parse(text) else {
            self.bad(
                at,
                format!("`{text}` is not a policy"),
                "use refuse, skip or anonymous",
            );
            return MissingToken::default();
        };
        if raw.auth.tokens_file.is_none() || !self.uses_token {
            self.bad(
                at,
                "`missing_token` has no effect without a `tokens_file` that a template reads as `{token}`",
                "remove it, or add the token file and `{token}` where it goes",
            );
        }
        policy
    }

    /// `[headers]`, `bearer` and `cookie` go with HTTP requests, `[grpc]` with gRPC
    /// requests: refused in a mapping that has none of them.
    fn settings_used(&mut self, raw: &RawMapping) {
        if raw.request.is_empty() {
            return;
        }
        let has = |p: &str| {
            raw.request.iter().any(|r| {
                let one = |r: &RawRequest| r.protocol.as_deref().unwrap_or("http") == p;
                if r.steps.is_empty() {
                    one(r)
                } else {
                    r.steps.iter().any(one)
                }
            })
        };
        let auth = FieldPath::root().key("auth");
        let http_only = "remove it (gRPC metadata and Socket.IO handshakes carry x-sim-event and traceparent only)";
        for (at, set, needs) in [
            (
                FieldPath::root().key("headers"),
                !raw.headers.is_empty(),
                "http",
            ),
            (auth.key("bearer"), raw.auth.bearer.is_some(), "http"),
            (auth.key("cookie"), raw.auth.cookie.is_some(), "http"),
            (FieldPath::root().key("http2"), raw.http2, "http"),
            (FieldPath::root().key("grpc"), raw.grpc.is_some(), "grpc"),
        ] {
            if set && !has(needs) {
                self.bad(
                    at,
                    format!("this goes with {needs} requests, and the mapping has none"),
                    if needs == "http" {
                        http_only
                    } else {
                        "remove [grpc], or add a request with `protocol = \"grpc\"`"
                    },
                );
            }
        }
    }

    fn server_side(&mut self, kinds: &[String]) {
        for (i, name) in kinds.iter().enumerate() {
            match self.kind_of(name) {
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
    fn socketio(
        &mut self,
        socketio: &RawSocketio,
        requests: &[RawRequest],
    ) -> Arc<SocketIoSettings> {
        let sp = FieldPath::root().key("socketio");
        let (path, namespace) = self.socketio_address(&sp, socketio);
        // The connection's templates render against the event that opens it: the
        // `connect` kind's, or (`open_on_emit`) any emit's that finds no connection.
        let emits = emit_kinds(&self.kinds, requests);
        let mut opening: Vec<usize> = self.kind_of(&socketio.connect).into_iter().collect();
        if socketio.open_on_emit {
            for &k in &emits {
                if !opening.contains(&k) {
                    opening.push(k);
                }
            }
        }
        let fields = self.fields_of(&opening);
        let before = self.problems.len();
        let query = socketio
            .query
            .as_deref()
            .and_then(|q| self.template(&sp.key("query"), q, &fields));
        let auth = socketio
            .auth
            .as_ref()
            .and_then(|a| self.json_template(&sp.key("auth"), a, &fields));
        let join = socketio.join.as_ref().and_then(|j| {
            let payload = match &j.payload {
                Some(v) => Some(self.json_template(&sp.key("join").key("payload"), v, &fields)?),
                None => None,
            };
            let check = self.checks(&sp.key("join"), j.check.as_ref());
            socketio_emit(&j.emit, payload, j.ack, check)
                .map_err(|(f, m)| {
                    self.bad(
                        sp.key("join").key(f),
                        m,
                        "correct the emit (see docs/REPLAY.md)",
                    )
                })
                .ok()
        });
        if socketio.open_on_emit && opening.len() > 1 {
            for p in &mut self.problems[before..] {
                p.fix.push_str(
                    "; or set `open_on_emit = false` under [socketio] (an emit without a connection then fails instead of opening one from its own event)",
                );
            }
        }
        let listen = self.listens(&socketio.listen, &sp, &emits);
        let payload = join.as_ref().and_then(|j| j.payload.as_ref());
        let any = |t: fn(&Template) -> bool, j: fn(&JsonTmpl) -> bool| {
            query.as_ref().is_some_and(t) || auth.as_ref().is_some_and(j) || payload.is_some_and(j)
        };
        let needs_json = any(Template::needs_json, JsonTmpl::needs_json);
        self.socketio_needs_json = needs_json;
        self.socketio_token = any(Template::uses_token, JsonTmpl::uses_token);
        self.uses_token |= self.socketio_token;
        self.session_routes(&sp, socketio, needs_json);
        Arc::new(SocketIoSettings {
            url: socketio.url.clone(),
            path,
            namespace,
            query,
            auth,
            join,
            listen,
            reconnect_attempts: socketio.reconnect_attempts.unwrap_or(5),
            open_on_emit: socketio.open_on_emit,
        })
    }

    /// `[socketio]`'s url, path and namespace, checked; the path and namespace with their
    /// defaults.
    fn socketio_address(&mut self, sp: &FieldPath, socketio: &RawSocketio) -> (String, String) {
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
        (path, namespace)
    }

    /// The session events that open and close each user's connection, routed as
    /// Socket.IO requests.
    fn session_routes(&mut self, sp: &FieldPath, socketio: &RawSocketio, needs_json: bool) {
        for (field, name, op) in [
            ("connect", &socketio.connect, SocketIoRequest::Connect),
            (
                "disconnect",
                &socketio.disconnect,
                SocketIoRequest::Disconnect,
            ),
        ] {
            match self.kind_of(name) {
                Some(k) => {
                    let tag = self.tag(field);
                    self.routes[k] = Route::Send(Box::new(Mapped {
                        request: Request::SocketIo(op),
                        tag,
                        needs_json,
                        uses_token: self.socketio_token,
                        class: None,
                        extras: Default::default(),
                        then: Vec::new(),
                        flow: false,
                        ordered: true,
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
    }

    /// `[[socketio.listen]]`: each broadcast once, its origin a kind, tied by a key.
    fn listens(&mut self, raw: &[RawListen], sp: &FieldPath, emits: &[usize]) -> Vec<Listen> {
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
            let origin = l.origin.as_deref().and_then(|o| match self.kind_of(o) {
                Some(k) if emits.contains(&k) => Some(k as u16),
                // No emit of it: nothing would ever be tied ("0 tied to 0 emits").
                Some(_) => {
                    let names: Vec<String> = emits
                        .iter()
                        .map(|&k| self.kinds.name(KindId(k as u16)).to_string())
                        .collect();
                    self.bad(
                        lp.key("origin"),
                        format!("`{o}` is not sent as a Socket.IO emit: no broadcast could be tied to it"),
                        &if names.is_empty() {
                            "map the kind with `protocol = \"socketio\"`, or remove `origin` and `key`".to_string()
                        } else {
                            format!("use a kind sent as an emit: {}", names.join(", "))
                        },
                    );
                    None
                }
                None => {
                    self.bad(
                        lp.key("origin"),
                        format!("`{o}` is not an event kind"),
                        "name the timeline event whose emit causes the broadcast",
                    );
                    None
                }
            });
            if l.origin.is_none() && l.key.is_some() {
                self.bad(
                    lp.key("key"),
                    "a key ties each broadcast to the emit that caused it: without `origin` it has no effect",
                    "add `origin = \"gift.created\"` (the event kind whose emit causes it), or remove `key`",
                );
            }
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

    /// One `[[request]]`: the kinds it is sent for, then each of its steps (itself when
    /// it has no `steps`) compiled against their props, then routed from each kind.
    fn request(
        &mut self,
        i: usize,
        r: &RawRequest,
        headers_need_json: bool,
        socketio: Option<&Arc<SocketIoSettings>>,
    ) {
        let rp = FieldPath::root().key("request").index(i);
        let kinds = self.request_kinds(&rp, r, i);
        let fields = self.fields_of(&kinds);
        let steps = self.steps_of(&rp, r);
        let ordered = self.ordered(&rp, r);
        let first_tag = steps[0].1.kind.clone().or(r.kind.clone());
        let first_tag = first_tag.unwrap_or_else(|| "api".into());
        let mut compiled = Vec::new();
        for (n, (sp, s)) in steps.iter().enumerate() {
            let at = steps::At {
                path: sp,
                flow: i,
                step: n,
                outer: r,
            };
            let tag = match &s.kind {
                Some(k) => k.clone(),
                None if n == 0 => first_tag.clone(),
                None => format!("{first_tag}.{}", n + 1),
            };
            let parts = self.step(&at, s, &fields, headers_need_json, socketio.is_some(), &tag);
            compiled.push(parts);
        }
        let Some(compiled) = compiled.into_iter().collect::<Option<Vec<_>>>() else {
            return;
        };
        for k in kinds {
            let mut all = compiled.iter().map(|p| p.for_kind(k, socketio));
            let Some(Some(mut first)) = all.next() else {
                continue;
            };
            first.then = all.flatten().collect();
            first.flow = first.is_flow() || self.cookie_jar;
            first.ordered = ordered;
            self.routes[k] = Route::Send(Box::new(first));
        }
    }

    /// `ordered`: whether the request waits for its user's previous answer. Only a
    /// single HTTP or gRPC request may skip the wait: a flow's later steps, captures and
    /// polling depend on the answers before them, and a Socket.IO emit or WebSocket
    /// message goes over the user's one connection, which their session events open.
    fn ordered(&mut self, rp: &FieldPath, r: &RawRequest) -> bool {
        for (n, s) in r.steps.iter().enumerate() {
            if s.ordered.is_some() {
                self.bad(
                    rp.key("steps").index(n).key("ordered"),
                    "a flow's steps are sent in order, each after the previous answer",
                    "remove `ordered` from the step (a flow cannot be unordered)",
                );
            }
        }
        if r.ordered != Some(false) {
            return true;
        }
        let why = if !r.steps.is_empty() {
            Some("a request with `steps` keeps its order: each step needs the previous answer")
        } else if !r.capture.is_empty() || r.poll.is_some() || r.think.is_some() {
            Some(
                "a request with `capture`, `poll` or `think` keeps its order: later requests may read what it captures",
            )
        } else if matches!(r.protocol.as_deref(), Some("socketio" | "websocket")) {
            Some(
                "Socket.IO emits and WebSocket messages go over the user's one connection, in order",
            )
        } else {
            None
        };
        match why {
            Some(why) => {
                self.bad(rp.key("ordered"), why, "remove `ordered = false`");
                true
            }
            None => false,
        }
    }

    /// One step's request in its protocol, its tag, class and flow extras; `None` when
    /// it cannot be built (its problems are recorded).
    fn step(
        &mut self,
        at: &steps::At<'_>,
        r: &RawRequest,
        fields: &FieldSet,
        headers_need_json: bool,
        has_socketio: bool,
        tag: &str,
    ) -> Option<steps::StepParts> {
        let rp = at.path;
        let protocol = self.protocol(rp, r.protocol.as_deref());
        self.foreign_fields(rp, r, protocol);
        let emit = self.emit_fields(rp, r, protocol, has_socketio, fields);
        let ws = self.ws_fields(rp, r, protocol, fields);
        // Without its contract a gRPC request cannot be checked further.
        let grpc = self.grpc_fields(rp, r, protocol, fields).ok()?;
        let http = self.http_fields(rp, r, protocol, fields);
        if protocol == Protocol::Http {
            self.recheck_common_headers(fields);
        }
        let tag = self.tag(tag);
        let class = self.class(rp, r, at.outer);
        let http_token = self.common_token
            || http.path.uses_token()
            || http.headers.iter().any(|(_, t)| t.uses_token())
            || matches!(&http.body, Some(Body::Json(t)) if t.uses_token());
        let (needs_json, uses_token) = match protocol {
            Protocol::Http => (
                headers_need_json
                    || http.path.needs_json()
                    || http.headers.iter().any(|(_, t)| t.needs_json())
                    || matches!(&http.body, Some(Body::Json(t)) if t.needs_json()),
                http_token,
            ),
            Protocol::Grpc => (
                grpc.as_ref().is_some_and(|g| g.message.needs_json()),
                grpc.as_ref().is_some_and(|g| g.message.uses_token()),
            ),
            // An emit that finds no connection opens one: its templates count too.
            Protocol::SocketIo => {
                let payload = emit.as_ref().and_then(|e| e.payload.as_ref());
                (
                    self.socketio_needs_json || payload.is_some_and(JsonTmpl::needs_json),
                    self.socketio_token || payload.is_some_and(JsonTmpl::uses_token),
                )
            }
            // A message that finds no connection opens one: its templates count too.
            Protocol::WebSocket => {
                let m = ws.as_ref().map(|w| &w.message);
                (
                    self.ws.needs_json || m.is_some_and(JsonTmpl::needs_json),
                    self.ws.token || m.is_some_and(JsonTmpl::uses_token),
                )
            }
        };
        self.uses_token |= uses_token;
        let templates = steps::Templates {
            http: (protocol == Protocol::Http).then_some(&http),
            grpc: grpc.as_ref(),
            emit: emit.as_ref(),
            ws: ws.as_ref(),
        };
        let extras = self.extras(at, r, protocol, fields, &templates);
        let mut parts = steps::StepParts {
            protocol,
            http,
            grpc,
            emit,
            ws,
            tag,
            class,
            needs_json: needs_json || extras.entities.iter().any(|(_, t)| t.needs_json()),
            uses_token,
            extras,
        };
        parts.keep(self.cookie_jar);
        Some(parts)
    }

    /// `class = "event" | "api"`; a request without one is noted (not an error: only a
    /// preset keyed on classes needs it).
    fn class(
        &mut self,
        rp: &FieldPath,
        r: &RawRequest,
        outer: &RawRequest,
    ) -> Option<RequestClass> {
        let Some(name) = r.class.as_ref().or(outer.class.as_ref()) else {
            let kinds: Vec<&str> = outer
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

    /// `event` and `events`: the kinds a request is sent for, each known and mapped once.
    fn request_kinds(&mut self, rp: &FieldPath, r: &RawRequest, i: usize) -> Vec<usize> {
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
        let mut kinds = Vec::new();
        for (at, name) in names {
            let Some(k) = self.kind_of(name) else {
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
            kinds.push(k);
        }
        kinds
    }

    /// The `[headers]` and `[auth]` templates that read the event, checked against the
    /// kinds of one HTTP request (they go out with every one).
    fn recheck_common_headers(&mut self, fields: &FieldSet) {
        for (path, text) in std::mem::take(&mut self.common_props) {
            match Template::compile_in(&text, fields) {
                // Reported once, at the first request it does not fit.
                Err(es) => self.template_errors(&path, es),
                Ok(_) => self.common_props.push((path, text)),
            }
        }
    }

    /// Fields that do nothing on this request's protocol, refused rather than ignored.
    fn foreign_fields(&mut self, rp: &FieldPath, r: &RawRequest, protocol: Protocol) {
        use Protocol::{Grpc, Http, SocketIo, WebSocket};
        let given: [(&str, bool, &[Protocol]); 11] = [
            ("method", r.method.is_some(), &[Http, Grpc]),
            ("path", r.path.is_some(), &[Http]),
            ("body", r.body.is_some(), &[Http]),
            ("headers", r.headers.is_some(), &[Http]),
            ("expect", r.expect.is_some(), &[Http]),
            ("message", r.message.is_some(), &[Grpc, WebSocket]),
            ("reply", r.reply, &[WebSocket]),
            ("probe", r.probe.is_some(), &[Http]),
            ("emit", r.emit.is_some(), &[SocketIo]),
            ("payload", r.payload.is_some(), &[SocketIo]),
            ("ack", r.ack, &[SocketIo]),
        ];
        for (field, set, on) in given {
            if set && !on.contains(&protocol) {
                let names: Vec<&str> = on.iter().map(|p| p.name()).collect();
                let fix = if protocol == Http && r.protocol.is_none() {
                    format!(
                        "add `protocol = \"{}\"` if the request is one, or remove `{field}`",
                        names[0]
                    )
                } else {
                    format!(
                        "remove `{field}` (it belongs to {} requests)",
                        names.join(" and ")
                    )
                };
                self.bad(
                    rp.key(field),
                    format!("`{field}` has no effect on a {} request", protocol.name()),
                    &fix,
                );
            }
        }
    }

    fn protocol(&mut self, rp: &FieldPath, name: Option<&str>) -> Protocol {
        match name.unwrap_or("http") {
            "http" => Protocol::Http,
            "grpc" => Protocol::Grpc,
            "socketio" => Protocol::SocketIo,
            "websocket" => Protocol::WebSocket,
            other => {
                self.bad(
                    rp.key("protocol"),
                    format!("`{other}` is not a protocol"),
                    "use http, grpc, socketio or websocket",
                );
                Protocol::Http
            }
        }
    }

    /// A Socket.IO request's emit.
    fn emit_fields(
        &mut self,
        rp: &FieldPath,
        r: &RawRequest,
        protocol: Protocol,
        has_socketio: bool,
        fields: &FieldSet,
    ) -> Option<Emit> {
        if protocol != Protocol::SocketIo {
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
            Some(v) => Some(self.json_template(&rp.key("payload"), v, fields)?),
            None => None,
        };
        let check = self.checks(rp, r.check.as_ref());
        match socketio_emit(e, payload, r.ack, check) {
            Ok(e) => Some(e),
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
        fields: &FieldSet,
    ) -> Result<Option<GrpcRequest>, ()> {
        if protocol != Protocol::Grpc {
            return Ok(None);
        }
        let Some(method) = &r.method else {
            self.bad(
                rp.clone(),
                "a grpc request needs the method it calls",
                "add `method = \"package.Service/Method\"` (a method of the proto)",
            );
            return Ok(None);
        };
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
        let check = self.checks(rp, r.check.as_ref());
        let pool = self.pool.as_ref().expect("loaded above");
        let call = match grpc_call(pool, method, check) {
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
            Some(v) => self.json_template(&rp.key("message"), v, fields),
            None => Some(JsonTmpl::Lit(serde_json::Value::Object(Default::default()))),
        };
        Ok(message.map(|message| GrpcRequest {
            call: Arc::new(call),
            message,
        }))
    }

    /// An HTTP request's method, path, body, headers, statuses and check. Other
    /// protocols' requests get the defaults (their fields were refused already).
    fn http_fields(
        &mut self,
        rp: &FieldPath,
        r: &RawRequest,
        protocol: Protocol,
        fields: &FieldSet,
    ) -> HttpRequest {
        let mut request = HttpRequest {
            method: Method::POST,
            path: Template::compile_in("/", &FieldSet::none()).expect("`/` is a template"),
            body: None,
            headers: Vec::new(),
            expect: vec![Expect::Class(2)],
            check: Vec::new(),
            form: false,
            keep: false,
            keep_headers: false,
            paths: Arc::default(),
            probe: None,
        };
        if protocol != Protocol::Http {
            return request;
        }
        if let Some(m) = &r.method {
            request.method = self.method(rp, m);
        }
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
                if let Some(t) = self.template(&rp.key("path"), p, fields) {
                    request.path = t;
                }
            }
        }
        request.body = match (&r.body, &r.form) {
            (Some(_), Some(_)) => {
                self.bad(
                    rp.key("form"),
                    "a request has one body: `body` or `form`",
                    "keep one of them",
                );
                None
            }
            (None, Some(f)) => {
                request.form = true;
                self.form_body(&rp.key("form"), f, fields)
            }
            (None, None) => None,
            (Some(toml::Value::String(s)), None) if s.trim() == "{line}" => Some(Body::Line),
            (Some(v), None) => self
                .json_template(&rp.key("body"), v, fields)
                .map(Body::Json),
        };
        for (k, v) in r.headers.iter().flatten() {
            let path = rp.key("headers").key(k);
            if let Some(n) = self.header_name(&path, k)
                && let Some(t) = self.template(&path, v, fields)
            {
                request.headers.push((n, t));
            }
        }
        request.expect = self.expect(rp, r.expect.as_deref().unwrap_or_default());
        if r.check.is_some() && request.method == Method::HEAD {
            self.bad(
                rp.key("check"),
                "a HEAD answer has no body for the check to read",
                "use GET to check the answer's body, or remove `check`",
            );
        }
        request.probe = r.probe.as_ref().and_then(|p| self.probe(rp, p));
        request.check = self.checks(rp, r.check.as_ref());
        request
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

/// A check of a JSON answer: `field` is a dotted path (`data.items.0.id`) and exactly
/// one condition; the error names the key at fault.
fn check_of(c: &RawCheck) -> Result<Check, (&'static str, String)> {
    let path: Vec<String> = c.field.split('.').map(String::from).collect();
    if path.iter().any(String::is_empty) {
        return Err(("field", format!("`{}` is not a field path", c.field)));
    }
    let written = [("equals", c.equals.iter().collect::<Vec<_>>())]
        .into_iter()
        .chain([("one_of", c.one_of.iter().flatten().collect())]);
    for (key, values) in written {
        if let Some(t) = values.iter().find_map(|v| v.as_str().and_then(template_in)) {
            return Err((key, template_in_check(t)));
        }
    }
    if let Some(t) = c.matches.as_deref().and_then(template_in) {
        return Err(("matches", template_in_check(t)));
    }
    let json = |v: &toml::Value| serde_json::to_value(v).unwrap_or_default();
    let mut conds = Vec::new();
    if let Some(v) = &c.equals {
        conds.push(Cond::Equals(json(v)));
    }
    if let Some(l) = &c.one_of {
        conds.push(Cond::OneOf(l.iter().map(json).collect()));
    }
    if let Some(e) = c.exists {
        conds.push(Cond::Exists(e));
    }
    if let Some(m) = &c.matches {
        let re = regex::Regex::new(m)
            .map_err(|e| ("matches", format!("`{m}` is not a regular expression: {e}")))?;
        conds.push(Cond::Matches(Pattern(re)));
    }
    match conds.len() {
        1 => Ok(Check {
            path,
            cond: conds.remove(0),
            read_as: None,
        }),
        0 => Err((
            "field",
            format!("the check on `{}` says nothing about it", c.field),
        )),
        _ => Err((
            "field",
            format!("the check on `{}` has several conditions", c.field),
        )),
    }
}

/// The first `{props.…}`-like template reference in a check's value, if any: a check
/// compares with its values as written, so a template there would never be rendered and
/// the check would silently never hold (every poll a timeout).
fn template_in(text: &str) -> Option<&str> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"\{\s*(?:(?:props|user|vars|entity|env)\.[^}]*|user_id|seq|event|session_id|persona|ts|t_ms|line|event_id|traceparent|token)\s*(?:\|[^}]*)?\}",
        )
        .expect("valid")
    });
    RE.find(text).map(|m| m.as_str())
}

/// What to do instead of a template in a check's value.
const TEMPLATE_IN_CHECK_FIX: &str = "a check's values are constants, not templates; to check \
    the value an event sent, send it in the request (path or body) and check a field the \
    target computes from it, e.g. GET /progress/{user.id}/{props.value} with \
    { field = 'visible', equals = true }";

fn template_in_check(t: &str) -> String {
    format!("`{t}` would be compared as written: {TEMPLATE_IN_CHECK_FIX}")
}

/// A Socket.IO emit with its (compiled) payload and ack check.
fn socketio_emit(
    event: &str,
    payload: Option<JsonTmpl>,
    ack: bool,
    check: Vec<Check>,
) -> Result<Emit, (&'static str, String)> {
    if event.is_empty() {
        return Err(("emit", "the event name is empty".into()));
    }
    if !check.is_empty() && !ack {
        return Err((
            "check",
            "a check reads the ack: it needs `ack = true`".into(),
        ));
    }
    Ok(Emit {
        event: event.to_string(),
        payload,
        ack,
        check,
        keep: false,
        origins: Vec::new(),
        awaits: Vec::new(),
    })
}

/// `package.Service/Method` in `pool`, with its response check.
fn grpc_call(
    pool: &prost_reflect::DescriptorPool,
    method: &str,
    check: Vec<Check>,
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
    if let Some(c) = check
        .iter()
        .find(|c| m.output().get_field_by_name(&c.path[0]).is_none())
    {
        return Err((
            "check",
            format!("`{}` has no field `{}`", m.output().full_name(), c.path[0]),
        ));
    }
    let path = format!("/{service}/{name}")
        .parse()
        .map_err(|_| ("method", format!("`{method}` is not a valid path")))?;
    Ok(GrpcCall {
        path,
        input: m.input(),
        output: m.output(),
        check,
        keep: false,
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

    /// The request the mapping sends for the built-in event kind `name`.
    fn sent<'m>(m: &'m Mapping, name: &str) -> &'m Mapped {
        let kind = simulate_core::timeline::EVENT_KINDS
            .iter()
            .position(|k| *k == name)
            .unwrap() as u16;
        let Route::Send(r) = m.route(kind) else {
            panic!("{name} is mapped")
        };
        r
    }

    #[test]
    fn shipped_mapping_sends_client_kinds_and_skips_server_kinds() {
        let m = Mapping::shipped();
        let k = |n: &str| {
            simulate_core::timeline::EVENT_KINDS
                .iter()
                .position(|k| *k == n)
                .unwrap() as u16
        };
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
    /// Every problem of a mapping, as (line, field, message, fix).
    fn problems(text: &str) -> Vec<(Option<usize>, String, String, String)> {
        Mapping::from_source(&Source::new("m.toml", text), None)
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| (p.line, p.field, p.message, p.fix))
            .collect()
    }

    #[test]
    fn fields_without_effect_on_their_protocol_are_refused() {
        let p = problems(
            "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\nmessage = { a = 1 }\n\n[[request]]\nevent = \"points.earned\"\nprotocol = \"grpc\"\nmethod = \"simulate.events.v1.EventService/OnMessage\"\nheaders = { x-a = \"1\" }\nexpect = [200]\n\n[[request]]\nevent = \"gift.created\"\nprotocol = \"socketio\"\nemit = \"gift\"\nmethod = \"GET\"\n\n[socketio]\n[[socketio.listen]]\nevent = \"gift:available\"\nkey = \"giftId\"\n",
        );
        let at: Vec<(Option<usize>, &str)> =
            p.iter().map(|(l, f, _, _)| (*l, f.as_str())).collect();
        assert_eq!(
            at,
            [
                (Some(22), "socketio.listen[0].key"),
                (Some(4), "request[0].message"),
                (Some(10), "request[1].headers"),
                (Some(11), "request[1].expect"),
                (Some(17), "request[2].method"),
            ],
            "{p:?}"
        );
        assert_eq!(p[1].2, "`message` has no effect on a http request");
        assert_eq!(
            p[1].3,
            "add `protocol = \"grpc\"` if the request is one, or remove `message`"
        );
        assert_eq!(p[2].2, "`headers` has no effect on a grpc request");
        assert_eq!(p[2].3, "remove `headers` (it belongs to http requests)");
        assert_eq!(
            p[4].3,
            "remove `method` (it belongs to http and grpc requests)"
        );
        // Tables for a protocol the mapping does not send.
        let p = problems(
            "[headers]\nx-a = \"1\"\n[grpc]\n[socketio]\n\n[[request]]\nevent = \"gift.created\"\nprotocol = \"socketio\"\nemit = \"gift\"\n",
        );
        let at: Vec<(Option<usize>, &str, &str)> = p
            .iter()
            .map(|(l, f, m, _)| (*l, f.as_str(), m.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                (
                    Some(1),
                    "headers",
                    "this goes with http requests, and the mapping has none"
                ),
                (
                    Some(3),
                    "grpc",
                    "this goes with grpc requests, and the mapping has none"
                ),
            ]
        );
        // A check on HTTP is a dotted path into the JSON answer.
        let m = Mapping::from_source(
            &Source::new(
                "c.toml",
                "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = { field = \"data.items.0.ok\", equals = true }\n",
            ),
            None,
        )
        .unwrap();
        let Route::Send(mapped) =
            m.route(kind_in(&KindTable::builtin(), "stat.updated").unwrap() as u16)
        else {
            panic!("stat.updated is sent");
        };
        let Request::Http(r) = &mapped.request else {
            panic!("over HTTP");
        };
        let check = &r.check[0];
        assert!(check.holds_in(br#"{"data": {"items": [{"ok": true}]}}"#));
        assert!(!check.holds_in(br#"{"data": {"items": [{"ok": false}]}}"#));
        assert!(!check.holds_in(b"not json"));
        let p = problems(
            "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = { field = \"a..b\", equals = 1 }\n",
        );
        assert_eq!(p[0].1, "request[0].check.field");
        // A misspelt condition names itself; two conditions at once are refused.
        let p = problems(
            "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = [{ field = \"a\", equalz = 1 }]\n",
        );
        assert!(
            p[0].1.ends_with("equalz") && p[0].2.contains("one_of"),
            "{p:?}"
        );
        let p = problems(
            "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = [{ field = \"a\", equals = 1 }, { field = \"b\", equals = 1, exists = true }]\n",
        );
        assert_eq!(p[0].1, "request[0].check[1].field", "{p:?}");
        assert!(p[0].2.contains("several conditions"), "{p:?}");
        // A HEAD answer has no body to check.
        let p = problems(
            "[[request]]\nevent = \"stat.updated\"\nmethod = \"head\"\npath = \"/s\"\ncheck = { field = \"ok\", equals = true }\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].0, p[0].1.as_str()), (Some(5), "request[0].check"));
        assert!(p[0].2.contains("HEAD"), "{}", p[0].2);
    }

    /// A check compares with its values as written: `equals = "{props.value}"` (seed
    /// 001's "poll until the API shows the value the event sent") never held, and every
    /// poll timed out with nothing saying why. It is refused where it is written; braces
    /// that are no template (a regex's `{2}`) are not.
    #[test]
    fn a_template_in_a_check_value_is_refused() {
        let p = problems(
            "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = { field = \"value\", equals = \"{props.value}\" }\n\n[[request]]\nevent = \"points.earned\"\npath = \"/p\"\ncheck = [{ field = \"a\", one_of = [\"x\", \"{ user.id }\"] }, { field = \"b\", matches = \"^{vars.token}$\" }]\n",
        );
        let at: Vec<(Option<usize>, &str)> =
            p.iter().map(|(l, f, _, _)| (*l, f.as_str())).collect();
        assert_eq!(
            at,
            [
                (Some(4), "request[0].check.equals"),
                (Some(9), "request[1].check[0].one_of"),
                (Some(9), "request[1].check[1].matches"),
            ],
            "{p:?}"
        );
        assert!(
            p[0].2
                .contains("`{props.value}` would be compared as written"),
            "{p:?}"
        );
        assert!(p[0].2.contains("visible"), "{p:?}");
        Mapping::from_source(
            &Source::new(
                "m.toml",
                "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = [{ field = \"a\", matches = \"^a{2}$\" }, { field = \"b\", equals = \"{}\" }]\n",
            ),
            None,
        )
        .expect("braces that are no template are values");
    }

    #[test]
    fn templates_read_only_the_props_of_every_kind_they_are_mapped_from() {
        let p = problems(
            "[headers]\nx-goal = \"{props.goal_id}\"\n\n[[request]]\nevent = \"goal.claimed\"\npath = \"/goals/{props.goalId}/claim\"\nbody = { reward = \"{props.reward}\", amount = \"{props.amount}\" }\n\n[[request]]\nevents = [\"points.earned\", \"points.redeemed\"]\npath = \"/p/{props.amount}/{props.source}\"\n",
        );
        let at: Vec<(Option<usize>, &str)> =
            p.iter().map(|(l, f, _, _)| (*l, f.as_str())).collect();
        assert_eq!(
            at,
            [
                (Some(6), "request[0].path"),
                (Some(7), "request[0].body.amount"),
                (Some(11), "request[1].path"),
                (Some(2), "headers.x-goal"),
            ],
            "{p:?}"
        );
        assert!(
            p[0].2.contains(
                "`props.goalId` is not a prop of `goal.claimed` (did you mean `goal_id`?)"
            ),
            "{}",
            p[0].2
        );
        assert_eq!(p[0].3, "use one of: goal_id, challenge_id, reward");
        // Mapped from two kinds: only what both carry.
        assert!(
            p[2].2
                .contains("`props.source` is not a prop of `points.redeemed`"),
            "{}",
            p[2].2
        );
        // [headers] go with every HTTP request: checked against each one's kinds.
        assert!(
            p[3].2.contains("not a prop of `points.earned`"),
            "{}",
            p[3].2
        );
        assert_eq!(p[2].3, "use one of: amount, balance");
    }

    #[test]
    fn connection_templates_fit_every_kind_that_may_open_the_connection() {
        // gift.claimed carries no room, and an emit that finds no connection opens one
        // rendered from its own event.
        let text = "[socketio]\njoin = { emit = \"room:join\", payload = { room = \"{props.room}\" } }\n\n[[request]]\nevents = [\"gift.created\", \"gift.claimed\"]\nprotocol = \"socketio\"\nemit = \"gift\"\n";
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(
            (p[0].0, p[0].1.as_str()),
            (Some(2), "socketio.join.payload.room")
        );
        assert!(
            p[0].2
                .contains("`props.room` is not a prop of `gift.claimed`"),
            "{}",
            p[0].2
        );
        assert!(p[0].3.contains("open_on_emit = false"), "{}", p[0].3);
        // Emits that never open a connection: the connect kind's props are enough.
        let closed = text.replace("[socketio]\n", "[socketio]\nopen_on_emit = false\n");
        let m = Mapping::from_source(&Source::new("m.toml", &closed), None).unwrap();
        assert!(!m.socketio.as_ref().unwrap().open_on_emit);
        // A kind every opener carries is fine either way.
        let fine = text.replace("{props.room}", "{user_id}");
        assert!(Mapping::from_source(&Source::new("m.toml", &fine), None).is_ok());
    }

    #[test]
    fn a_listen_origin_must_be_sent_as_an_emit() {
        let p = problems(
            "[socketio]\n[[socketio.listen]]\nevent = \"gift:available\"\nkey = \"giftId\"\norigin = \"goal.claimed\"\n\n[[request]]\nevent = \"gift.created\"\nprotocol = \"socketio\"\nemit = \"gift\"\n\n[[request]]\nevent = \"goal.claimed\"\npath = \"/g\"\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(
            (p[0].0, p[0].1.as_str()),
            (Some(5), "socketio.listen[0].origin")
        );
        assert!(
            p[0].2
                .contains("`goal.claimed` is not sent as a Socket.IO emit"),
            "{}",
            p[0].2
        );
        assert_eq!(p[0].3, "use a kind sent as an emit: gift.created");
    }

    #[test]
    fn missing_token_is_a_policy_that_needs_a_token_file() {
        let p = problems(
            "[auth]\nbearer = \"x\"\nmissing_token = \"skip\"\n\n[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].0, p[0].1.as_str()), (Some(3), "auth.missing_token"));
        let p = problems(
            "[auth]\nbearer = \"{token}\"\ntokens_file = \"t.json\"\nmissing_token = \"ignore\"\n",
        );
        assert!(
            p.iter().any(|(l, f, m, fix)| *l == Some(4)
                && f == "auth.missing_token"
                && m.contains("`ignore` is not a policy")
                && fix == "use refuse, skip or anonymous"),
            "{p:?}"
        );
    }

    #[test]
    fn each_request_says_its_class_and_the_shipped_mappings_all_do() {
        let src = Source::new(
            "c.toml",
            "[[request]]\nevent = \"stat.updated\"\npath = \"/e\"\nclass = \"event\"\n\n[[request]]\nevent = \"challenge.viewed\"\npath = \"/c\"\n",
        );
        let m = Mapping::from_source(&src, None).unwrap();
        let k = |n: &str| {
            simulate_core::timeline::EVENT_KINDS
                .iter()
                .position(|k| *k == n)
                .unwrap() as u16
        };
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

    #[test]
    fn each_http_check_and_capture_knows_its_paths_number_among_the_steps_reads() {
        use crate::mapping::flow::From;
        use crate::mapping::json_path;
        // A path named twice, one inside another, and a later step with its own paths.
        let src = concat!(
            "[[request]]\nevent = \"gift.created\"\n\n",
            "[[request.steps]]\npath = \"/g\"\n",
            "check = [{ field = \"data.status\", equals = \"ok\" }, { field = \"data\", exists = true }, { field = \"data.status\", one_of = [\"ok\", \"dup\"] }]\n",
            "capture = [{ into = \"vars.id\", field = \"data.id\" }, { into = \"vars.loc\", header = \"location\" }]\n\n",
            "[[request.steps]]\npath = \"/g/{vars.id}\"\n",
            "check = [{ field = \"n\", equals = 1 }]\ncapture = [{ into = \"vars.n\", field = \"n\" }]\n",
        );
        let m = Mapping::from_source(&Source::new("r.toml", src), None).unwrap();
        let first = sent(&m, "gift.created");
        let body = br#"{"data":{"status":"dup","id":"g-7"},"n":1}"#;
        let mut steps = 0;
        for step in std::iter::once(first).chain(&first.then) {
            let Request::Http(r) = &step.request else {
                panic!("http steps")
            };
            let json = json_path::read(body.to_vec(), &r.paths)
                .map(json_path::Json::Picked)
                .unwrap();
            for c in &r.check {
                assert!(c.read_as.is_some(), "{:?} has no number", c.path);
                assert_eq!(json.at_known(c.read_as, &c.path), json.at(&c.path));
            }
            for c in &step.extras.captures {
                match &c.from {
                    From::Field(p) => {
                        assert!(c.read_as.is_some(), "{p:?} has no number");
                        assert_eq!(json.at_known(c.read_as, p), json.at(p));
                        assert!(json.at(p).is_some(), "{p:?} is in the body");
                    }
                    _ => assert_eq!(c.read_as, None),
                }
            }
            steps += 1;
        }
        assert_eq!(steps, 2);
    }

    #[test]
    fn a_broadcast_capture_belongs_to_an_emit_and_needs_no_ack() {
        let emit = "[socketio]\n\n[[request]]\nevent = \"gift.created\"\nprotocol = \"socketio\"\nemit = \"gift:create\"\ncapture = [{ into = \"vars.sid\", broadcast = \"gift:available\", field = \"serverId\", within = \"2s\" }]\n\n[[request]]\nevent = \"gift.claimed\"\npath = \"/g/{vars.sid}\"\n";
        let m = Mapping::from_source(&Source::new("b.toml", emit), None).unwrap();
        let r = sent(&m, "gift.created");
        let Request::SocketIo(SocketIoRequest::Emit(e)) = &r.request else {
            panic!("an emit")
        };
        assert_eq!(
            e.awaits,
            [("gift:available".to_string(), Some(Duration::from_secs(2)))]
        );
        assert!(e.keep);
        let bad = "[[request]]\nevent = \"gift.created\"\npath = \"/g\"\ncapture = [{ into = \"vars.a\", broadcast = \"gift:available\", field = \"id\" }, { into = \"vars.b\", field = \"id\", within = \"1s\" }]\n\n[[request]]\nevent = \"gift.claimed\"\npath = \"/g/{vars.a}/{vars.b}\"\n";
        let e = Mapping::from_source(&Source::new("b.toml", bad), None)
            .unwrap_err()
            .to_string();
        for want in [
            "field `request[0].capture[0].broadcast`: a broadcast is heard on the user's Socket.IO connection, and this step is http",
            "field `request[0].capture[1].within`: `within` bounds the wait for a broadcast",
        ] {
            assert!(e.contains(want), "{want}\n{e}");
        }
    }
}
