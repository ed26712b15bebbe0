//! `[[setup]]` and `[[teardown]]`: HTTP requests compiled as a `[[request]]`'s are (method,
//! path, body, headers, expect, check), without an event: their templates read `{seq}`
//! (the repetition, from 0), `{user_id}` and `{env.…}`, no props.

use simulate_core::diagnostic::FieldPath;
use simulate_core::template::FieldSet;

use super::super::raw::{RawHook, RawRequest};
use super::super::{Hook, Protocol};
use super::Compiler;

/// The most times one set-up or teardown request is sent.
const MOST_REPEATS: u32 = 100_000;

impl Compiler<'_> {
    pub(super) fn hooks(&mut self, which: &str, raw: &[RawHook]) -> Vec<Hook> {
        let mut out = Vec::new();
        for (i, h) in raw.iter().enumerate() {
            let at = FieldPath::root().key(which).index(i);
            let repeat = h.repeat.unwrap_or(1);
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
            };
            let fields = FieldSet::replay().with_kinds(&[]);
            let request = self.http_fields(&at, &as_request, Protocol::Http, &fields);
            out.push(Hook { request, repeat });
        }
        out
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
        assert_eq!(m.teardown[0].request.method, http::Method::DELETE);
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
}
