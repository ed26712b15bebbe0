//! The `[websocket]` table and the requests sent as plain WebSocket messages: the
//! connection's templates checked against every kind that may open it, the session kinds
//! routed as connects and disconnects, and each message's correlation field required
//! where a reply is waited for.

use std::sync::Arc;

use simulate_core::diagnostic::FieldPath;
use simulate_core::template::{FieldSet, JsonTmpl, Template};
use simulate_core::units::parse_duration;

use super::super::raw::{Checks, RawRequest, RawWebsocket};
use super::super::{
    Mapped, Protocol, Request, Route, WebSocketRequest, WebSocketSettings, WsMessage,
};
use super::{Compiler, kind_in};
use simulate_core::world::kinds::KindTable;

/// What the requests need to know of `[websocket]` once it is compiled.
#[derive(Default)]
pub(super) struct WsCompiled {
    /// The table is there.
    pub(super) present: bool,
    /// Its templates (query, hello) read the event's props.
    pub(super) needs_json: bool,
    /// Its templates read `{token}`.
    pub(super) token: bool,
    pub(super) correlation: Vec<String>,
}

/// The kinds sent as WebSocket messages (misspelt ones are reported with their request).
fn message_kinds(table: &KindTable, requests: &[RawRequest]) -> Vec<usize> {
    let mut kinds = Vec::new();
    for r in requests
        .iter()
        .filter(|r| r.protocol.as_deref() == Some("websocket"))
    {
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

/// Whether the TOML value has a value at the dotted `path` (a table key at each step).
fn has_path(v: &toml::Value, path: &[String]) -> bool {
    let mut v = v;
    for k in path {
        match v.get(k.as_str()) {
            Some(n) => v = n,
            None => return false,
        }
    }
    true
}

impl Compiler<'_> {
    /// The `[websocket]` table: the connection settings, and the session events that
    /// open and close each user's connection.
    pub(super) fn websocket(
        &mut self,
        ws: &RawWebsocket,
        requests: &[RawRequest],
    ) -> Arc<WebSocketSettings> {
        let wp = FieldPath::root().key("websocket");
        if let Some(u) = &ws.url
            && !["http://", "https://", "ws://", "wss://"]
                .iter()
                .any(|p| u.starts_with(p))
        {
            self.bad(
                wp.key("url"),
                "the WebSocket URL must start with ws://, wss://, http:// or https://",
                "write it like ws://127.0.0.1:3002/ws",
            );
        }
        let correlation = self.correlation(&wp, ws.correlation.as_deref());
        self.ws.correlation = correlation.clone();
        self.ws.present = true;
        let mut opening: Vec<usize> = self.kind_of(&ws.connect).into_iter().collect();
        if ws.open_on_send {
            for k in message_kinds(&self.kinds, requests) {
                if !opening.contains(&k) {
                    opening.push(k);
                }
            }
        }
        let fields = self.fields_of(&opening);
        let before = self.problems.len();
        let query = ws
            .query
            .as_deref()
            .and_then(|q| self.template(&wp.key("query"), q, &fields));
        let hello = ws.hello.as_ref().and_then(|h| {
            let hp = wp.key("hello");
            self.ws_message(&hp, &h.message, h.reply, h.check.as_ref(), &fields)
        });
        if ws.open_on_send && opening.len() > 1 {
            for p in &mut self.problems[before..] {
                p.fix.push_str(
                    "; or set `open_on_send = false` under [websocket] (a message without a connection then fails instead of opening one from its own event)",
                );
            }
        }
        let msg = hello.as_ref().map(|h| &h.message);
        self.ws.needs_json = query.as_ref().is_some_and(Template::needs_json)
            || msg.is_some_and(JsonTmpl::needs_json);
        self.ws.token = query.as_ref().is_some_and(Template::uses_token)
            || msg.is_some_and(JsonTmpl::uses_token);
        self.uses_token |= self.ws.token;
        self.ws_session_routes(&wp, ws);
        Arc::new(WebSocketSettings {
            url: ws.url.clone(),
            query,
            hello,
            correlation,
            ping_every: self.ping_every(&wp, ws.ping_every.as_deref()),
            reconnect_attempts: ws.reconnect_attempts.unwrap_or(5),
            open_on_send: ws.open_on_send,
        })
    }

    /// `correlation`: a dotted path, `id` when not given.
    fn correlation(&mut self, wp: &FieldPath, text: Option<&str>) -> Vec<String> {
        let text = text.unwrap_or("id");
        let path: Vec<String> = text.split('.').map(String::from).collect();
        if path.iter().any(String::is_empty) {
            self.bad(
                wp.key("correlation"),
                format!("`{text}` is not a field path"),
                "name the field a message and its reply share, like `id` or `meta.requestId`",
            );
        }
        path
    }

    fn ping_every(&mut self, wp: &FieldPath, text: Option<&str>) -> std::time::Duration {
        let Some(t) = text else {
            return std::time::Duration::from_secs(20);
        };
        match parse_duration(t) {
            Ok(d) if d.ms() > 0 => std::time::Duration::from_millis(d.ms() as u64),
            _ => {
                self.bad(
                    wp.key("ping_every"),
                    format!("`{t}` is not a duration"),
                    "write it like 500ms, 20s or 1m",
                );
                std::time::Duration::from_secs(20)
            }
        }
    }

    /// The session events that open and close each user's connection, routed as
    /// WebSocket requests; a kind `[socketio]` opens or closes already is refused.
    fn ws_session_routes(&mut self, wp: &FieldPath, ws: &RawWebsocket) {
        for (field, name, op) in [
            ("connect", &ws.connect, WebSocketRequest::Connect),
            ("disconnect", &ws.disconnect, WebSocketRequest::Disconnect),
        ] {
            let Some(k) = self.kind_of(name) else {
                self.bad(
                    wp.key(field),
                    format!("`{name}` is not an event kind"),
                    "use a kind from docs/TIMELINE.md, like session.started",
                );
                continue;
            };
            if let Some(first) = &self.seen[k] {
                let message = format!("`{name}` is already mapped at {first}");
                self.bad(
                    wp.key(field),
                    message,
                    "one protocol opens a session's connection: name another kind here, or drop one of the tables",
                );
                continue;
            }
            let tag = self.tag(field);
            self.routes[k] = Route::Send(Box::new(Mapped {
                request: Request::WebSocket(op),
                tag,
                needs_json: self.ws.needs_json,
                uses_token: self.ws.token,
                class: None,
                extras: Default::default(),
                then: Vec::new(),
                flow: false,
                ordered: true,
            }));
            self.seen[k] = Some(format!("websocket.{field}"));
        }
    }

    /// A message: its JSON template, and with `reply` the correlation field it must
    /// carry; a check reads the reply, so it needs one.
    fn ws_message(
        &mut self,
        at: &FieldPath,
        message: &toml::Value,
        reply: bool,
        check: Option<&Checks>,
        fields: &FieldSet,
    ) -> Option<WsMessage> {
        if !message.is_table() {
            self.bad(
                at.key("message"),
                "a WebSocket message is a JSON object",
                "write it as a table, like message = { id = \"{event_id}\", type = \"stat\" }",
            );
            return None;
        }
        let corr = self.ws.correlation.join(".");
        if reply && !has_path(message, &self.ws.correlation) {
            self.bad(
                at.key("message"),
                format!("a reply is matched by its `{corr}`, and the message has none"),
                &format!(
                    "add `{corr} = \"{{event_id}}\"` to the message (a value unique per message), or set `correlation` under [websocket]"
                ),
            );
        }
        let check = match check {
            None => Vec::new(),
            Some(_) if !reply => {
                self.bad(
                    at.key("check"),
                    "a check reads the reply: it needs `reply = true`",
                    "add `reply = true`, or remove `check`",
                );
                Vec::new()
            }
            Some(c) => self.checks(at, Some(c)),
        };
        let message = self.json_template(&at.key("message"), message, fields)?;
        Some(WsMessage {
            message,
            reply,
            check,
        })
    }

    /// A WebSocket request's message.
    pub(super) fn ws_fields(
        &mut self,
        rp: &FieldPath,
        r: &RawRequest,
        protocol: Protocol,
        fields: &FieldSet,
    ) -> Option<WsMessage> {
        if protocol != Protocol::WebSocket {
            return None;
        }
        if !self.ws.present {
            self.bad(
                rp.key("protocol"),
                "a websocket request needs a [websocket] table",
                "add [websocket] with the server's url (see docs/REPLAY.md)",
            );
        }
        let Some(m) = &r.message else {
            self.bad(
                rp.clone(),
                "a websocket request needs the message it sends",
                "add `message = { id = \"{event_id}\", type = \"stat\" }`",
            );
            return None;
        };
        self.ws_message(rp, m, r.reply, r.check.as_ref(), fields)
    }
}

#[cfg(test)]
mod tests {
    use simulate_core::diagnostic::Source;

    use super::super::super::{Mapping, Route};
    use super::*;

    fn kind_of(name: &str) -> Option<usize> {
        simulate_core::timeline::EVENT_KINDS
            .iter()
            .position(|k| *k == name)
    }

    /// Every problem of a mapping, as (line, field, message, fix).
    fn problems(text: &str) -> Vec<(Option<usize>, String, String, String)> {
        Mapping::from_source(&Source::new("w.toml", text), None)
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| (p.line, p.field, p.message, p.fix))
            .collect()
    }

    #[test]
    fn a_websocket_mapping_compiles_into_sessions_and_messages() {
        let m = Mapping::from_source(
            &Source::new(
                "w.toml",
                "[websocket]\ncorrelation = \"meta.rid\"\n\n[[request]]\nevent = \"stat.updated\"\nprotocol = \"websocket\"\nmessage = { meta = { rid = \"{event_id}\" }, v = \"{props.value}\" }\nreply = true\ncheck = { field = \"ok\", equals = true }\n",
            ),
            None,
        )
        .unwrap();
        let w = m.websocket.as_ref().unwrap();
        assert_eq!(w.correlation, ["meta", "rid"]);
        assert_eq!(w.ping_every, std::time::Duration::from_secs(20));
        let Route::Send(s) = m.route(kind_of("stat.updated").unwrap() as u16) else {
            panic!("stat.updated is sent");
        };
        assert!(matches!(
            &s.request,
            Request::WebSocket(WebSocketRequest::Send(WsMessage {
                reply: true,
                check,
                ..
            })) if !check.is_empty()
        ));
        let Route::Send(c) = m.route(kind_of("session.started").unwrap() as u16) else {
            panic!("session.started opens the connection");
        };
        assert!(matches!(
            c.request,
            Request::WebSocket(WebSocketRequest::Connect)
        ));
        assert!(m.sends(Protocol::WebSocket));
    }

    #[test]
    fn websocket_mapping_errors_name_the_field_and_the_fix() {
        let p = problems(
            "[websocket]\nurl = \"tcp://x\"\nping_every = \"often\"\n\n[[request]]\nevent = \"stat.updated\"\nprotocol = \"websocket\"\nmessage = { type = \"stat\" }\nreply = true\n\n[[request]]\nevent = \"points.earned\"\nprotocol = \"websocket\"\nmessage = { id = \"{event_id}\" }\ncheck = { field = \"ok\", equals = true }\n\n[[request]]\nevent = \"gift.created\"\nprotocol = \"websocket\"\n\n[[request]]\nevent = \"gift.claimed\"\npath = \"/c\"\nreply = true\n",
        );
        let at: Vec<(Option<usize>, &str)> =
            p.iter().map(|(l, f, _, _)| (*l, f.as_str())).collect();
        assert_eq!(
            at,
            [
                (Some(2), "websocket.url"),
                (Some(3), "websocket.ping_every"),
                (Some(8), "request[0].message"),
                (Some(15), "request[1].check"),
                (Some(17), "request[2]"),
                (Some(24), "request[3].reply"),
            ],
            "{p:?}"
        );
        assert_eq!(
            p[2].2,
            "a reply is matched by its `id`, and the message has none"
        );
        assert!(p[2].3.contains("add `id = \"{event_id}\"`"), "{}", p[2].3);
        assert_eq!(p[3].2, "a check reads the reply: it needs `reply = true`");
        assert!(p[4].2.contains("needs the message it sends"), "{}", p[4].2);
        assert_eq!(
            p[5].3,
            "add `protocol = \"websocket\"` if the request is one, or remove `reply`"
        );
        // Without the table, a websocket request says what is missing.
        let p = problems(
            "[[request]]\nevent = \"stat.updated\"\nprotocol = \"websocket\"\nmessage = { id = \"{event_id}\" }\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].0, p[0].1.as_str()), (Some(3), "request[0].protocol"));
        // One protocol opens a session's connection.
        let p = problems(
            "[socketio]\n[websocket]\n\n[[request]]\nevent = \"stat.updated\"\nprotocol = \"websocket\"\nmessage = { id = \"{event_id}\" }\n",
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].1, "websocket.connect");
        assert!(
            p[0].2.contains("already mapped at socketio.connect"),
            "{}",
            p[0].2
        );
    }

    #[test]
    fn a_websocket_step_is_not_read_into_a_flow() {
        let p = problems(
            "[websocket]\n\n[[request]]\nevent = \"stat.updated\"\nprotocol = \"websocket\"\nmessage = { id = \"{event_id}\" }\nreply = true\ncapture = [{ into = \"vars.x\", field = \"ok\" }]\noutcome = \"ok\"\n",
        );
        let at: Vec<(Option<usize>, &str)> =
            p.iter().map(|(l, f, _, _)| (*l, f.as_str())).collect();
        assert_eq!(
            at,
            [
                (Some(8), "request[0].capture"),
                (Some(9), "request[0].outcome")
            ],
            "{p:?}"
        );
        assert!(p[0].2.contains("not read into a flow"), "{}", p[0].2);
    }
}
