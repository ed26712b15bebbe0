//! A request's race or idempotency probe (`probe = { copies, key, same_key, expect }`):
//! every part checked, and a probe that states no expected result refused, since it could
//! judge nothing.

use std::sync::Arc;

use simulate_core::diagnostic::FieldPath;

use super::super::raw::RawProbe;
use super::super::{Expect, Probe};
use super::{Compiler, parse_expect};

/// The most requests a probe sends at once.
const MOST_COPIES: u32 = 64;

const EXAMPLE: &str = "expect = { success = 1, rest = 409 }";

impl Compiler<'_> {
    pub(super) fn probe(&mut self, rp: &FieldPath, raw: &RawProbe) -> Option<Arc<Probe>> {
        let pp = rp.key("probe");
        let before = self.problems.len();
        let copies = raw.copies.unwrap_or(2);
        if !(2..=MOST_COPIES).contains(&copies) {
            self.bad(
                pp.key("copies"),
                format!("a probe sends 2 to {MOST_COPIES} requests at once, not {copies}"),
                "write copies = 2 (the timeline's request and one copy at the same instant)",
            );
        }
        let key = raw
            .key
            .as_deref()
            .and_then(|k| self.header_name(&pp.key("key"), k));
        if raw.same_key.is_some() && raw.key.is_none() {
            self.bad(
                pp.key("same_key"),
                "`same_key` says whether the copies share an idempotency key, and no `key` names its header",
                "add key = \"idempotency-key\" (the header; its value is the request's own, or {event_id})",
            );
        }
        let (success, rest) = self.probe_expect(&pp, raw, copies)?;
        (self.problems.len() == before).then(|| {
            Arc::new(Probe {
                copies,
                key,
                same_key: raw.same_key.unwrap_or(true),
                success,
                rest,
            })
        })
    }

    /// `expect = { success = N, rest = STATUS | [STATUS, …] }`: what the copies must
    /// answer together.
    fn probe_expect(
        &mut self,
        pp: &FieldPath,
        raw: &RawProbe,
        copies: u32,
    ) -> Option<(u32, Vec<Expect>)> {
        let Some(expect) = &raw.expect else {
            self.bad(
                pp.clone(),
                "a probe without an expected result judges nothing",
                &format!("state it: {EXAMPLE} (exactly one 2xx, every other answer 409)"),
            );
            return None;
        };
        let ep = pp.key("expect");
        let Some(success) = expect.success else {
            self.bad(
                ep,
                "the expected result needs `success`: how many answers are 2xx",
                &format!("write {EXAMPLE}"),
            );
            return None;
        };
        if success > copies {
            self.bad(
                ep.key("success"),
                format!("{success} successes of {copies} requests cannot happen"),
                "make success at most copies",
            );
        }
        let listed: Vec<toml::Value> = match &expect.rest {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
        };
        let mut rest = Vec::new();
        for v in &listed {
            match parse_expect(v) {
                Some(e) => rest.push(e),
                None => self.bad(
                    ep.key("rest"),
                    format!("`{v}` is not a status"),
                    "write a status like 409, a class like \"4xx\", or a list of them",
                ),
            }
        }
        if listed.is_empty() && success < copies {
            self.bad(
                ep,
                format!(
                    "{} of the {copies} answers are not successes, and `rest` does not say what they must be",
                    copies - success.min(copies)
                ),
                "add rest = 409 (or a list, like rest = [409, 423])",
            );
        }
        Some((success, rest))
    }
}

#[cfg(test)]
mod tests {
    use simulate_core::diagnostic::Source;

    use super::super::super::{Mapping, Request, Route};

    fn kind_of(name: &str) -> Option<usize> {
        simulate_core::timeline::EVENT_KINDS
            .iter()
            .position(|k| *k == name)
    }

    fn problems(text: &str) -> Vec<(Option<usize>, String, String, String)> {
        Mapping::from_source(&Source::new("p.toml", text), None)
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| (p.line, p.field, p.message, p.fix))
            .collect()
    }

    #[test]
    fn a_probe_compiles_with_its_expected_result() {
        let m = Mapping::from_source(
            &Source::new(
                "p.toml",
                "[[request]]\nevent = \"goal.claimed\"\npath = \"/g/{props.goal_id}/claim\"\nexpect = [\"2xx\", 409]\nprobe = { copies = 3, key = \"idempotency-key\", same_key = false, expect = { success = 1, rest = [409, \"4xx\"] } }\n",
            ),
            None,
        )
        .unwrap();
        let Route::Send(s) = m.route(kind_of("goal.claimed").unwrap() as u16) else {
            panic!("sent");
        };
        let Request::Http(r) = &s.request else {
            panic!("over HTTP");
        };
        let p = r.probe.as_ref().unwrap();
        assert_eq!((p.copies, p.success, p.same_key), (3, 1, false));
        assert_eq!(p.key.as_ref().unwrap().as_str(), "idempotency-key");
        assert_eq!(p.expected(), "1 success of 3, the rest 409 or 4xx");
    }

    #[test]
    fn probe_errors_name_the_field_and_the_fix() {
        let p = problems(
            "[[request]]\nevent = \"goal.claimed\"\npath = \"/g\"\nprobe = { copies = 2 }\n\n[[request]]\nevent = \"gift.claimed\"\npath = \"/c\"\nprobe = { copies = 1, same_key = true, expect = { success = 1 } }\n\n[[request]]\nevent = \"points.earned\"\npath = \"/p\"\nprobe = { expect = { success = 3, rest = \"soon\" } }\n\n[[request]]\nevent = \"stat.updated\"\nprotocol = \"grpc\"\nmethod = \"simulate.events.v1.EventService/OnMessage\"\nprobe = { expect = { success = 1, rest = 409 } }\n",
        );
        let at: Vec<(Option<usize>, &str)> =
            p.iter().map(|(l, f, _, _)| (*l, f.as_str())).collect();
        assert_eq!(
            at,
            [
                (Some(4), "request[0].probe"),
                (Some(9), "request[1].probe.copies"),
                (Some(9), "request[1].probe.same_key"),
                (Some(14), "request[2].probe.expect.success"),
                (Some(14), "request[2].probe.expect.rest"),
                (Some(20), "request[3].probe"),
            ],
            "{p:?}"
        );
        assert_eq!(p[0].2, "a probe without an expected result judges nothing");
        assert!(
            p[0].3.contains("expect = { success = 1, rest = 409 }"),
            "{}",
            p[0].3
        );
        assert_eq!(p[5].3, "remove `probe` (it belongs to http requests)");
        // Not every answer a success, and no word on the others.
        let p = problems(
            "[[request]]\nevent = \"goal.claimed\"\npath = \"/g\"\nprobe = { expect = { success = 1 } }\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].1, "request[0].probe.expect");
        assert_eq!(p[0].3, "add rest = 409 (or a list, like rest = [409, 423])");
    }
}
