//! Flows compiled: a request's steps, its checks, captures, outcome, think time,
//! polling and entities, and the order of variables across the mapping (a variable read
//! before any step writes it is refused with the step that would).

use std::sync::Arc;
use std::time::Duration;

use simulate_core::diagnostic::FieldPath;
use simulate_core::template::{Body, Field, FieldSet, Template};
use simulate_core::units::parse_duration;

use super::super::flow::{Capture, From, Poll, StepExtras, VarRef};
use super::super::json_path::Paths;
use super::super::raw::{Checks, RawRequest};
use super::super::{
    Check, Emit, GrpcRequest, HttpRequest, Mapped, Protocol, Request, RequestClass, Route,
    SocketIoRequest, SocketIoSettings, WebSocketRequest, WsMessage,
};
use super::{Compiler, check_of};

/// Where a step is: its field path, its request (flow) and index, and the
/// `[[request]]` it belongs to.
pub(super) struct At<'a> {
    pub(super) path: &'a FieldPath,
    pub(super) flow: usize,
    pub(super) step: usize,
    pub(super) outer: &'a RawRequest,
}

/// A step compiled once, routed from each kind of its request.
pub(super) struct StepParts {
    pub(super) protocol: Protocol,
    pub(super) http: HttpRequest,
    pub(super) grpc: Option<GrpcRequest>,
    pub(super) emit: Option<Emit>,
    pub(super) ws: Option<WsMessage>,
    pub(super) tag: u16,
    pub(super) class: Option<RequestClass>,
    pub(super) needs_json: bool,
    pub(super) uses_token: bool,
    pub(super) extras: StepExtras,
}

/// A step's request templates, for the variables they read.
pub(super) struct Templates<'a> {
    pub(super) http: Option<&'a HttpRequest>,
    pub(super) grpc: Option<&'a GrpcRequest>,
    pub(super) emit: Option<&'a Emit>,
    pub(super) ws: Option<&'a WsMessage>,
}

impl Templates<'_> {
    pub(super) fn vars_read(&self) -> Vec<Field> {
        let mut out = Vec::new();
        if let Some(h) = self.http {
            h.path.vars_read(&mut out);
            h.headers.iter().for_each(|(_, t)| t.vars_read(&mut out));
            if let Some(Body::Json(b)) = &h.body {
                b.vars_read(&mut out);
            }
        }
        if let Some(g) = self.grpc {
            g.message.vars_read(&mut out);
        }
        if let Some(p) = self.emit.and_then(|e| e.payload.as_ref()) {
            p.vars_read(&mut out);
        }
        if let Some(w) = self.ws {
            w.message.vars_read(&mut out);
        }
        out
    }
}

impl StepParts {
    /// Keeps the answer when the flow reads it (captures, outcome) or the cookie jar does.
    pub(super) fn keep(&mut self, cookie_jar: bool) {
        let reads = self.extras.reads_answer();
        self.http.keep = reads || cookie_jar;
        self.http.keep_headers = self.extras.reads_headers() || cookie_jar;
        let fields = self.extras.captures.iter().filter_map(|c| match &c.from {
            From::Field(p) => Some(p.as_slice()),
            _ => None,
        });
        let checks = self.http.check.iter().map(|c| c.path.as_slice());
        let outcome = self.extras.outcome.as_deref();
        let paths = Paths::new(checks.chain(fields).chain(outcome));
        for c in &mut self.http.check {
            c.read_as = paths.index_of(&c.path);
        }
        for c in &mut self.extras.captures {
            if let From::Field(p) = &c.from {
                c.read_as = paths.index_of(p);
            }
        }
        self.http.paths = Arc::new(paths);
        if let Some(g) = &mut self.grpc {
            Arc::make_mut(&mut g.call).keep = reads;
        }
        if let Some(e) = &mut self.emit {
            e.keep = reads;
            e.awaits = self.extras.awaits.clone();
        }
    }

    /// The step as sent for event kind `k` (a Socket.IO emit is the origin of the
    /// listens whose `origin` is `k`).
    pub(super) fn for_kind(
        &self,
        k: usize,
        socketio: Option<&Arc<SocketIoSettings>>,
    ) -> Option<Mapped> {
        let request = match self.protocol {
            Protocol::Http => Some(Request::Http(self.http.clone())),
            Protocol::Grpc => self.grpc.clone().map(Request::Grpc),
            Protocol::SocketIo => self.emit.as_ref().map(|e| {
                let mut e = e.clone();
                let listen = socketio.map_or(&[][..], |s| &s.listen[..]);
                e.origins = (0..listen.len())
                    .filter(|&l| listen[l].origin == Some(k as u16))
                    .collect();
                Request::SocketIo(SocketIoRequest::Emit(e))
            }),
            Protocol::WebSocket => self
                .ws
                .clone()
                .map(|m| Request::WebSocket(WebSocketRequest::Send(m))),
        }?;
        Some(Mapped {
            request,
            tag: self.tag,
            needs_json: self.needs_json,
            uses_token: self.uses_token,
            class: self.class,
            extras: self.extras.clone(),
            then: Vec::new(),
            flow: false,
            ordered: true,
        })
    }
}

/// Every variable read and written, to check their order once the whole file is read.
#[derive(Default)]
pub(super) struct VarUses {
    /// (where, the variable, its request, its step); `[headers]` and `[auth]` have no
    /// request (`usize::MAX`).
    reads: Vec<(FieldPath, VarRef, usize, usize)>,
    /// (the variable, its request, its step, the request's first kind).
    writes: Vec<(VarRef, usize, usize, Option<usize>)>,
    /// The user variables `[headers]` and `[auth]` read.
    pub(super) common: Vec<VarRef>,
}

/// The fields a `[[request]]` with `steps` keeps for itself; every other one goes in a
/// step.
const OUTER_FIELDS: [&str; 5] = ["event", "events", "kind", "class", "entity"];

impl Compiler<'_> {
    /// The steps of a `[[request]]`: itself when it has no `steps`. With steps, the
    /// request fields outside them are refused, as are `event`, `events` and `steps`
    /// inside one.
    pub(super) fn steps_of<'r>(
        &mut self,
        rp: &FieldPath,
        r: &'r RawRequest,
    ) -> Vec<(FieldPath, &'r RawRequest)> {
        if r.steps.is_empty() {
            return vec![(rp.clone(), r)];
        }
        for (name, set) in request_fields(r) {
            if set && !OUTER_FIELDS.contains(&name) {
                self.bad(
                    rp.key(name),
                    format!("`{name}` belongs in a step when the request has `steps`"),
                    "move it into the [[request.steps]] that sends it",
                );
            }
        }
        let mut steps = Vec::new();
        for (n, s) in r.steps.iter().enumerate() {
            let sp = rp.key("steps").index(n);
            for (name, set) in [
                ("event", s.event.is_some()),
                ("events", !s.events.is_empty()),
                ("steps", !s.steps.is_empty()),
            ] {
                if set {
                    self.bad(
                        sp.key(name),
                        format!("a step has no `{name}` of its own"),
                        "give the event kinds on the [[request]] around the steps",
                    );
                }
            }
            steps.push((sp, s));
        }
        steps
    }

    /// `check = {…}` or `[{…}, …]`, each with one condition.
    pub(super) fn checks(&mut self, rp: &FieldPath, cs: Option<&Checks>) -> Vec<Check> {
        let Some(cs) = cs else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (j, c) in cs.list().into_iter().enumerate() {
            let at = if cs.is_list() {
                rp.key("check").index(j)
            } else {
                rp.key("check")
            };
            match check_of(c) {
                Ok(c) => out.push(c),
                Err((key, m)) => self.bad(
                    at.key(key),
                    m,
                    "write it like { field = \"data.status\", equals = \"ok\" } (or one_of = [..], exists = true, matches = \"^a\")",
                ),
            }
        }
        out
    }

    /// `form = { name = "template", … }`: a table of strings, sent form-encoded.
    pub(super) fn form_body(
        &mut self,
        at: &FieldPath,
        v: &toml::Value,
        fields: &FieldSet,
    ) -> Option<Body> {
        let Some(t) = v.as_table() else {
            self.bad(
                at.clone(),
                "a form is a table of names and values",
                "write it like form = { user = \"{user_id}\", password = \"{env.PASSWORD}\" }",
            );
            return None;
        };
        if let Some((k, _)) = t.iter().find(|(_, v)| v.is_table() || v.is_array()) {
            self.bad(
                at.key(k),
                "a form field holds one value, not a table or a list",
                "give it a string, a number or a boolean",
            );
            return None;
        }
        self.json_template(at, v, fields).map(Body::Json)
    }

    /// A step's captures, outcome, think time, polling and entities, and the variables
    /// its templates read (each known to a capture, checked at the end).
    pub(super) fn extras(
        &mut self,
        at: &At<'_>,
        r: &RawRequest,
        protocol: Protocol,
        fields: &FieldSet,
        templates: &Templates<'_>,
    ) -> StepExtras {
        let rp = at.path;
        let mut x = StepExtras {
            entities: self.entities(at, r, fields),
            ..StepExtras::default()
        };
        (x.captures, x.awaits) = self.captures(at, r, protocol, &x.entities);
        x.outcome = r.outcome.as_ref().and_then(|o| {
            let path: Vec<String> = o.split('.').map(String::from).collect();
            if path.iter().any(String::is_empty) {
                self.bad(
                    rp.key("outcome"),
                    format!("`{o}` is not a field path"),
                    "name a field of the answer, like `status` or `data.reason`",
                );
                return None;
            }
            Some(path)
        });
        x.think = r.think.as_deref().and_then(|t| {
            if at.step == 0 {
                self.bad(
                    rp.key("think"),
                    "the first step is sent at its event's instant: it has no think time",
                    "put `think` on a later step",
                );
            }
            self.duration(&rp.key("think"), t)
        });
        x.poll = r.poll.as_ref().and_then(|p| {
            let pp = rp.key("poll");
            let every = self.duration(&pp.key("every"), &p.every)?;
            let timeout = self.duration(&pp.key("timeout"), &p.timeout)?;
            if r.check.is_none() {
                self.bad(
                    pp,
                    "a poll repeats until its checks hold, and the step has none",
                    "add check = { field = \"…\", equals = … }",
                );
            }
            Some(Poll { every, timeout })
        });
        let acked_captures = x
            .captures
            .iter()
            .any(|c| !matches!(c.from, From::Broadcast(..)));
        if protocol == Protocol::SocketIo && (acked_captures || x.outcome.is_some()) && !r.ack {
            self.bad(
                rp.key(if acked_captures { "capture" } else { "outcome" }),
                "an emit's answer is its ack, and the emit asks for none",
                "add `ack = true`",
            );
        }
        if protocol == Protocol::WebSocket {
            let read = [
                ("capture", !x.captures.is_empty()),
                ("outcome", x.outcome.is_some()),
                ("poll", x.poll.is_some()),
            ];
            for (name, _) in read.into_iter().filter(|(_, set)| *set) {
                self.bad(
                    rp.key(name),
                    format!("a WebSocket reply is matched and checked, not read into a flow: `{name}` has no effect on it"),
                    "remove it, or send the step over HTTP, gRPC or Socket.IO",
                );
            }
        }
        for f in templates.vars_read() {
            if let Some(v) = VarRef::of_field(&f) {
                self.read_var(at, rp, v, &x.entities);
            }
        }
        x.reads = templates
            .vars_read()
            .iter()
            .filter_map(VarRef::of_field)
            .collect();
        x
    }

    fn duration(&mut self, at: &FieldPath, t: &str) -> Option<Duration> {
        match parse_duration(t) {
            Ok(d) if d.ms() > 0 => Some(Duration::from_millis(d.ms() as u64)),
            _ => {
                self.bad(
                    at.clone(),
                    format!("`{t}` is not a duration"),
                    "write it like 200ms, 5s or 1m",
                );
                None
            }
        }
    }

    /// `entity = { gift = "{props.gift_id}" }` on the step and on its `[[request]]`.
    fn entities(
        &mut self,
        at: &At<'_>,
        r: &RawRequest,
        fields: &FieldSet,
    ) -> Vec<(String, Template)> {
        let mut out = Vec::new();
        let outer = (!std::ptr::eq(at.outer, r))
            .then_some(at.outer.entity.as_ref())
            .flatten();
        let root = at.path.clone();
        for (table, base) in [(outer, None), (r.entity.as_ref(), Some(root))] {
            for (name, key) in table.into_iter().flatten() {
                let path = match &base {
                    Some(b) => b.key("entity").key(name),
                    None => FieldPath::root().key("entity").key(name),
                };
                if let Some(t) = self.template(&path, key, fields)
                    && !out.iter().any(|(n, _)| n == name)
                {
                    out.push((name.clone(), t));
                }
            }
        }
        out
    }

    /// `capture = [{ into = "vars.token", field = "token" }, …]`.
    fn captures(
        &mut self,
        at: &At<'_>,
        r: &RawRequest,
        protocol: Protocol,
        entities: &[(String, Template)],
    ) -> (Vec<Capture>, Vec<(String, Option<Duration>)>) {
        let mut out = Vec::new();
        let mut awaits = Vec::new();
        for (j, c) in r.capture.iter().enumerate() {
            let cp = at.path.key("capture").index(j);
            let Some(into) = VarRef::parse(&c.into) else {
                self.bad(
                    cp.key("into"),
                    format!("`{}` is not a variable", c.into),
                    "write vars.NAME (the user's) or entity.ENTITY.NAME (the request's entity)",
                );
                continue;
            };
            if let VarRef::Entity(e, _) = &into
                && !entities.iter().any(|(n, _)| n == e)
            {
                self.no_entity(&cp.key("into"), e);
                continue;
            }
            let from = match (&c.field, &c.header) {
                (Some(f), None) if !f.split('.').any(str::is_empty) => {
                    let path: Vec<String> = f.split('.').map(String::from).collect();
                    match &c.broadcast {
                        None => From::Field(path),
                        Some(b) => match self.broadcast(&cp, protocol, b, c.within.as_deref()) {
                            Some(within) => {
                                awaits.push((b.clone(), within));
                                From::Broadcast(b.clone(), path)
                            }
                            None => continue,
                        },
                    }
                }
                (None, Some(h)) if protocol == Protocol::Http && c.broadcast.is_none() => {
                    From::Header(h.to_ascii_lowercase())
                }
                (None, Some(_)) if c.broadcast.is_none() => {
                    self.bad(
                        cp.key("header"),
                        format!("a {} answer has no headers", protocol.name()),
                        "capture a `field` of the answer instead",
                    );
                    continue;
                }
                _ => {
                    self.bad(
                        cp.clone(),
                        "a capture reads one place: a `field` path (of the answer, or of a `broadcast`) or a `header`",
                        "write it like { into = \"vars.token\", field = \"data.token\" }",
                    );
                    continue;
                }
            };
            if c.within.is_some() && c.broadcast.is_none() {
                self.bad(
                    cp.key("within"),
                    "`within` bounds the wait for a broadcast, and the capture reads none",
                    "add broadcast = \"EVENT\", or remove `within`",
                );
            }
            let first = at.outer.event.as_deref().and_then(|n| self.kind_of(n));
            self.vars
                .writes
                .push((into.clone(), at.flow, at.step, first));
            out.push(Capture {
                into,
                from,
                read_as: None,
            });
        }
        (out, awaits)
    }

    /// `broadcast = "EVENT"` (with `within`): heard on the user's Socket.IO connection,
    /// so only an emit's capture has one. The wait's bound, when valid.
    fn broadcast(
        &mut self,
        cp: &FieldPath,
        protocol: Protocol,
        event: &str,
        within: Option<&str>,
    ) -> Option<Option<Duration>> {
        if protocol != Protocol::SocketIo {
            self.bad(
                cp.key("broadcast"),
                format!(
                    "a broadcast is heard on the user's Socket.IO connection, and this step is {}",
                    protocol.name()
                ),
                "capture it on a step with protocol = \"socketio\" (the emit after which it comes)",
            );
            return None;
        }
        if event.is_empty() {
            self.bad(
                cp.key("broadcast"),
                "the broadcast has no event name",
                "name the server's event, like broadcast = \"gift:available\"",
            );
            return None;
        }
        match within {
            None => Some(None),
            Some(w) => self.duration(&cp.key("within"), w).map(Some),
        }
    }

    fn no_entity(&mut self, at: &FieldPath, e: &str) {
        self.bad(
            at.clone(),
            format!("the request names no `{e}` entity"),
            &format!("add entity = {{ {e} = \"{{props.…}}\" }}: the prop that identifies it"),
        );
    }

    /// A variable a step's template reads: an entity's needs the entity named.
    fn read_var(
        &mut self,
        at: &At<'_>,
        rp: &FieldPath,
        v: VarRef,
        entities: &[(String, Template)],
    ) {
        if let VarRef::Entity(e, _) = &v
            && !entities.iter().any(|(n, _)| n == e)
        {
            self.no_entity(rp, e);
            return;
        }
        self.vars.reads.push((rp.clone(), v, at.flow, at.step));
    }

    /// A variable read outside the requests (a teardown's `for_each`): any capture may
    /// write it, since it is read after the whole replay.
    pub(super) fn read_elsewhere(&mut self, path: FieldPath, v: VarRef) {
        self.vars.reads.push((path, v, usize::MAX, 0));
    }

    /// The user variables `[headers]` and `[auth]` read: checked like a step's.
    pub(super) fn common_reads(&mut self, reads: Vec<(FieldPath, Field)>) {
        for (path, f) in reads {
            match VarRef::of_field(&f) {
                Some(v @ VarRef::User(_)) => {
                    self.vars.reads.push((path, v.clone(), usize::MAX, 0));
                    if !self.vars.common.contains(&v) {
                        self.vars.common.push(v);
                    }
                }
                Some(VarRef::Entity(e, _)) => self.bad(
                    path,
                    format!("`[headers]` and `[auth]` go with every request: they cannot read the `{e}` entity"),
                    "read it in the request that names the entity",
                ),
                None => {}
            }
        }
    }

    /// Every variable read is written by a capture, and within a request by an
    /// earlier step (a later step's capture is not there yet).
    pub(super) fn variables_in_order(&mut self) {
        let reads = std::mem::take(&mut self.vars.reads);
        for (path, v, flow, step) in &reads {
            let writers: Vec<&(VarRef, usize, usize, Option<usize>)> =
                self.vars.writes.iter().filter(|w| &w.0 == v).collect();
            let earlier = writers.iter().any(|(_, f, s, _)| f != flow || s < step);
            if writers.is_empty() {
                self.bad(
                    path.clone(),
                    format!("`{}` is read, and no capture writes it", v.name()),
                    &format!(
                        "add capture = [{{ into = \"{}\", field = \"…\" }}] to the request whose answer holds it",
                        v.name()
                    ),
                );
            } else if !earlier {
                let (_, _, s, _) = writers[0];
                self.bad(
                    path.clone(),
                    format!(
                        "`{}` is read before it is written: step {} of this request captures it",
                        v.name(),
                        s + 1
                    ),
                    "capture it in an earlier step, or read it in a later one",
                );
            }
        }
    }

    /// `[auth] login`: a mapped kind whose flow captures a user variable and reads no
    /// props (it is re-run for other events' requests).
    pub(super) fn login(&mut self, name: Option<&str>) -> Option<u16> {
        let name = name?;
        let at = FieldPath::root().key("auth").key("login");
        let Some(k) = self.kind_of(name) else {
            self.bad(
                at,
                format!("`{name}` is not an event kind"),
                "use a kind from docs/TIMELINE.md, like user.logged_in",
            );
            return None;
        };
        let writes_user = self
            .vars
            .writes
            .iter()
            .any(|(v, _, _, first)| matches!(v, VarRef::User(_)) && *first == Some(k));
        match &self.routes[k] {
            Route::Send(_) if !writes_user => self.bad(
                at,
                format!("the `{name}` request captures no user variable"),
                "capture the token: capture = [{ into = \"vars.token\", field = \"token\" }]",
            ),
            Route::Send(m) if m.needs_json || m.then.iter().any(|s| s.needs_json) => self.bad(
                at,
                format!("the `{name}` request reads its event's props, and a login is re-run for other events"),
                "read only user_id, vars and env in the login request",
            ),
            Route::Send(_) => return Some(k as u16),
            _ => self.bad(
                at,
                format!("`{name}` is not mapped to a request"),
                "map it: a [[request]] with event = \"…\" that logs the user in",
            ),
        }
        None
    }
}

/// Whether each field of a request is given, by name (what `steps` moves into a step).
fn request_fields(r: &RawRequest) -> [(&'static str, bool); 23] {
    [
        ("event", r.event.is_some()),
        ("events", !r.events.is_empty()),
        ("kind", r.kind.is_some()),
        ("class", r.class.is_some()),
        ("entity", r.entity.is_some()),
        ("protocol", r.protocol.is_some()),
        ("method", r.method.is_some()),
        ("path", r.path.is_some()),
        ("body", r.body.is_some()),
        ("form", r.form.is_some()),
        ("message", r.message.is_some()),
        ("emit", r.emit.is_some()),
        ("headers", r.headers.is_some()),
        ("expect", r.expect.is_some()),
        ("check", r.check.is_some()),
        ("capture", !r.capture.is_empty()),
        ("outcome", r.outcome.is_some()),
        ("think", r.think.is_some()),
        ("poll", r.poll.is_some()),
        ("payload", r.payload.is_some()),
        ("ack", r.ack),
        ("reply", r.reply),
        ("probe", r.probe.is_some()),
    ]
}
