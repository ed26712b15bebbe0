//! `[[setup]]` and `[[teardown]]`: HTTP requests compiled as a `[[request]]`'s are (method,
//! path, body, headers, expect, check), without an event: their templates read `{seq}`
//! (the repetition, from 0), `{user_id}` and `{env.…}`, no props; a teardown with
//! `for_each = "entity.gift.id"` also reads that captured value, the one it repeats over.

use simulate_core::diagnostic::FieldPath;
use simulate_core::template::FieldSet;

use super::super::flow::VarRef;
use super::super::raw::{RawHook, RawRequest};
use super::super::{Hook, HookRun, HttpRequest, Protocol};
use super::Compiler;
use super::steps::Templates;

/// The most times one set-up or teardown request is sent.
const MOST_REPEATS: u32 = 100_000;

impl Compiler<'_> {
    pub(super) fn hooks(&mut self, which: &str, raw: &[RawHook]) -> Vec<Hook> {
        let mut out = Vec::new();
        for (i, h) in raw.iter().enumerate() {
            let at = FieldPath::root().key(which).index(i);
            if let Some(sql) = &h.sql {
                out.push(self.sql_hook(&at, h, sql));
                continue;
            }
            let repeat = h.repeat.unwrap_or(1);
            let for_each = h
                .for_each
                .as_deref()
                .and_then(|v| self.for_each(&at, which, v, h.repeat.is_some()));
            if !(1..=MOST_REPEATS).contains(&repeat) {
                self.bad(
                    at.key("repeat"),
                    format!("`repeat` is how many times the request is sent: 1 to {MOST_REPEATS}, not {repeat}"),
                    "write repeat = 50 ({seq} counts 0 to 49 in its templates)",
                );
            }
            let as_request = RawRequest {
                event: None,
                events: Vec::new(),
                protocol: None,
                method: h.method.clone(),
                path: h.path.clone(),
                body: h.body.clone(),
                message: None,
                reply: false,
                check: h.check.clone(),
                emit: None,
                payload: None,
                ack: false,
                headers: h.headers.clone(),
                expect: h.expect.clone(),
                probe: None,
                form: None,
                capture: Vec::new(),
                outcome: None,
                think: None,
                poll: None,
                entity: None,
                steps: Vec::new(),
                kind: Some(which.to_string()),
                class: None,
                ordered: None,
            };
            let fields = FieldSet::replay().with_kinds(&[]);
            let request = self.http_fields(&at, &as_request, Protocol::Http, &fields);
            self.hook_reads(&at, &request, for_each.as_ref());
            out.push(Hook {
                run: HookRun::Http(request),
                repeat,
                for_each,
            });
        }
        out
    }

    /// `sql = "…"`: run once, as written; the request fields would do nothing beside it.
    fn sql_hook(&mut self, at: &FieldPath, h: &RawHook, sql: &str) -> Hook {
        let given = [
            ("method", h.method.is_some()),
            ("path", h.path.is_some()),
            ("body", h.body.is_some()),
            ("headers", h.headers.is_some()),
            ("expect", h.expect.is_some()),
            ("check", h.check.is_some()),
            ("repeat", h.repeat.is_some()),
            ("for_each", h.for_each.is_some()),
        ];
        for (name, _) in given.into_iter().filter(|(_, set)| *set) {
            self.bad(
                at.key(name),
                format!("`{name}` belongs to a request, and this step runs SQL"),
                "remove it, or make a step of its own for the request",
            );
        }
        if sql.trim().is_empty() {
            self.bad(
                at.key("sql"),
                "the SQL is empty",
                "write the statements to run, like sql = \"DELETE FROM gifts WHERE ref LIKE 'storm-%'\"",
            );
        }
        Hook {
            run: HookRun::Sql(sql.to_string()),
            repeat: 1,
            for_each: None,
        }
    }

    /// `for_each = "entity.gift.id"`: a teardown's, over an entity value some capture
    /// writes (checked with every other read), instead of `repeat`.
    fn for_each(&mut self, at: &FieldPath, which: &str, v: &str, repeat: bool) -> Option<VarRef> {
        let at = at.key("for_each");
        if which != "teardown" {
            self.bad(
                at,
                "a set-up runs before the replay has captured anything: it has nothing to repeat over",
                "send it a number of times with `repeat = N`, or move it to [[teardown]]",
            );
            return None;
        }
        if repeat {
            self.bad(
                at.clone(),
                "`repeat` and `for_each` both say how many times the request is sent",
                "keep `for_each`: one request per captured value",
            );
        }
        match VarRef::parse(v) {
            Some(e @ VarRef::Entity(..)) => {
                self.read_elsewhere(at, e.clone());
                Some(e)
            }
            Some(VarRef::User(_)) => {
                self.bad(
                    at,
                    format!("`{v}` is a user's value: a teardown repeats over an entity's"),
                    "capture it into an entity keyed by the user (entity = { cart = \"{user_id}\" }, into = \"entity.cart.id\") and write for_each = \"entity.cart.id\"",
                );
                None
            }
            None => {
                self.bad(
                    at,
                    format!("`{v}` is not a captured value"),
                    "write entity.ENTITY.NAME, a value a capture writes, like for_each = \"entity.gift.id\"",
                );
                None
            }
        }
    }

    /// A set-up or teardown request reads no captured value but its `for_each`'s.
    fn hook_reads(&mut self, at: &FieldPath, request: &HttpRequest, for_each: Option<&VarRef>) {
        let templates = Templates {
            http: Some(request),
            grpc: None,
            emit: None,
            ws: None,
        };
        for f in templates.vars_read() {
            let Some(v) = VarRef::of_field(&f) else {
                continue;
            };
            if Some(&v) == for_each {
                continue;
            }
            let fix = match for_each {
                Some(e) => format!("read `{{{}}}`, the value it repeats over", e.name()),
                None => format!(
                    "add for_each = \"{}\" to a [[teardown]] request: it is then sent once per captured value",
                    v.name()
                ),
            };
            self.bad(
                at.clone(),
                format!(
                    "`{}` is read, and a set-up or teardown request has no captured value but its for_each's",
                    v.name()
                ),
                &fix,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use simulate_core::diagnostic::Source;

    use super::super::super::Mapping;

    #[test]
    fn setup_and_teardown_compile_as_http_requests_with_their_errors_at_their_place() {
        let m = Mapping::from_source(
            &Source::new(
                "h.toml",
                "[[setup]]\npath = \"/gifts\"\nbody = { id = \"storm-{seq}\" }\nrepeat = 5\n\n[[teardown]]\nmethod = \"DELETE\"\npath = \"/gifts/storm-{seq}\"\nrepeat = 5\nexpect = [\"2xx\", 404]\n",
            ),
            None,
        )
        .unwrap();
        assert_eq!((m.setup.len(), m.setup[0].repeat), (1, 5));
        assert!(
            matches!(&m.teardown[0].run, super::super::super::HookRun::Http(r) if r.method == http::Method::DELETE)
        );
        assert!(m.has_teardown());
        let e = Mapping::from_source(
            &Source::new(
                "h.toml",
                "[[setup]]\nbody = { a = 1 }\nrepeat = 0\n\n[[teardown]]\npath = \"/g/{usr}\"\n",
            ),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("h.toml:3: field `setup[0].repeat`"), "{e}");
        assert!(
            e.contains("field `setup[0]`: an HTTP request needs a path"),
            "{e}"
        );
        assert!(e.contains("h.toml:6: field `teardown[0].path`"), "{e}");
        // A set-up request has no event: `event` is not one of its fields.
        let e = Mapping::from_source(
            &Source::new(
                "h.toml",
                "[[setup]]\npath = \"/g\"\nevent = \"gift.created\"\n",
            ),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("h.toml:3") && e.contains("event"), "{e}");
    }

    #[test]
    fn a_teardown_repeats_over_an_entity_value_a_capture_writes_and_reads_only_it() {
        let create = "[[request]]\nevent = \"gift.created\"\nentity = { gift = \"{props.gift_id}\" }\npath = \"/gifts\"\ncapture = [{ into = \"entity.gift.id\", field = \"id\" }]\n";
        let m = Mapping::from_source(
            &Source::new(
                "h.toml",
                format!("{create}\n[[teardown]]\nmethod = \"DELETE\"\npath = \"/gifts/{{entity.gift.id}}\"\nfor_each = \"entity.gift.id\"\n"),
            ),
            None,
        )
        .unwrap();
        assert_eq!(m.teardown_over(), ["entity.gift.id"]);
        let e = Mapping::from_source(
            &Source::new(
                "h.toml",
                format!(
                    "{create}\n[[setup]]\npath = \"/a\"\nfor_each = \"entity.gift.id\"\n\n[[teardown]]\npath = \"/b/{{entity.gift.id}}\"\nfor_each = \"vars.cart\"\n\n[[teardown]]\npath = \"/c/{{entity.gift.id}}\"\nfor_each = \"entity.gift.id\"\nrepeat = 2\n\n[[teardown]]\npath = \"/d\"\nfor_each = \"entity.room.id\"\n"
                ),
            ),
            None,
        )
        .unwrap_err()
        .to_string();
        for want in [
            "field `setup[0].for_each`: a set-up runs before the replay has captured anything",
            "field `teardown[0].for_each`: `vars.cart` is a user's value",
            // Without a for_each of its own, it reads a value it does not have.
            "field `teardown[0]`: `entity.gift.id` is read, and a set-up or teardown request has no captured value but its for_each's",
            "field `teardown[1].for_each`: `repeat` and `for_each` both say",
            "field `teardown[2].for_each`: `entity.room.id` is read, and no capture writes it",
        ] {
            assert!(e.contains(want), "{want}\n{e}");
        }
    }

    #[test]
    fn a_sql_step_runs_its_statements_and_takes_no_request_field() {
        let m = Mapping::from_source(
            &Source::new(
                "h.toml",
                "[[setup]]\nsql = \"INSERT INTO gifts VALUES (1)\"\n\n[[teardown]]\nsql = \"DELETE FROM gifts\"\n",
            ),
            None,
        )
        .unwrap();
        assert!(m.runs_sql());
        let e = Mapping::from_source(
            &Source::new(
                "h.toml",
                "[[setup]]\nsql = \" \"\npath = \"/g\"\nrepeat = 3\n",
            ),
            None,
        )
        .unwrap_err()
        .to_string();
        for want in [
            "h.toml:2: field `setup[0].sql`: the SQL is empty",
            "h.toml:3: field `setup[0].path`: `path` belongs to a request, and this step runs SQL",
            "h.toml:4: field `setup[0].repeat`",
        ] {
            assert!(e.contains(want), "{want}\n{e}");
        }
    }
}
