//! Pass/fail thresholds, k6-style: `p95{kind:read}<1200ms`, `errors<1%`,
//! `service_p99{event:gift.claimed|goal.claimed}<2s`. A metric, tag or tag value that
//! does not exist is an error before any traffic is sent, never a silent pass.

use simulate_core::diagnostic::Problem;
use simulate_core::timeline::EVENT_KINDS;

use crate::mapping::Protocol;
use crate::stats::{Group, Key, Stats, ms};
use crate::summary::Verdict;

#[derive(Clone, Debug, PartialEq)]
enum Metric {
    /// Latency from the intended instant at a quantile (1.0 = max).
    Latency(f64),
    Service(f64),
    /// Scheduler lag (actual − intended send) at a quantile; not per group.
    Lag(f64),
    Errors,
    Late,
    Requests,
    /// Socket.IO broadcast fan-out latency (origin emit → each receipt) at a quantile.
    Fanout(f64),
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A tag filter: which groups a threshold looks at.
#[derive(Clone, Debug, Default)]
struct Filter {
    protocol: Option<Vec<Protocol>>,
    event: Option<Vec<u16>>,
    /// Request tags, written `{kind:…}` as in the mapping.
    tag: Option<Vec<u16>>,
    phase: Option<Vec<u8>>,
    /// Listened Socket.IO events, for fan-out.
    listen: Option<Vec<usize>>,
}

impl Filter {
    fn matches(&self, k: &Key) -> bool {
        fn ok<T: PartialEq>(f: &Option<Vec<T>>, v: T) -> bool {
            f.as_ref().is_none_or(|l| l.contains(&v))
        }
        ok(&self.protocol, k.protocol)
            && ok(&self.event, k.event)
            && ok(&self.tag, k.tag)
            && ok(&self.phase, k.phase)
    }
}

/// `lhs OP rhs`.
fn split_op(t: &str) -> Result<(&str, Op, &str), String> {
    let at = t.find(['<', '>']).ok_or("no comparison (<, <=, >, >=)")?;
    let (lhs, rhs) = t.split_at(at);
    Ok(if let Some(r) = rhs.strip_prefix("<=") {
        (lhs, Op::Le, r)
    } else if let Some(r) = rhs.strip_prefix(">=") {
        (lhs, Op::Ge, r)
    } else if let Some(r) = rhs.strip_prefix('<') {
        (lhs, Op::Lt, r)
    } else {
        (lhs, Op::Gt, &rhs[1..])
    })
}

impl Metric {
    fn parse(name: &str, names: &Names<'_>) -> Result<Metric, String> {
        Ok(match name {
            "errors" => Metric::Errors,
            "late" => Metric::Late,
            "requests" => Metric::Requests,
            _ => {
                if let Some(q) = name.strip_prefix("service_").and_then(quantile) {
                    Metric::Service(q)
                } else if let Some(q) = name.strip_prefix("lag_").and_then(quantile) {
                    Metric::Lag(q)
                } else if let Some(q) = name.strip_prefix("fanout_").and_then(quantile) {
                    if names.listens.is_empty() {
                        return Err("fan-out is measured on listened broadcasts: the mapping has no [[socketio.listen]]".into());
                    }
                    Metric::Fanout(q)
                } else if let Some(q) = quantile(name) {
                    Metric::Latency(q)
                } else {
                    return Err(format!("unknown metric `{name}`"));
                }
            }
        })
    }
}

impl Filter {
    /// `TAG:VALUE|VALUE,…`: each value one this run can send.
    fn parse(tags: &str, metric: &Metric, names: &Names<'_>) -> Result<Filter, String> {
        if matches!(metric, Metric::Lag(_)) {
            return Err("scheduler lag is one figure for the run: drop the tags".into());
        }
        let request_tags: Vec<&str> = names.tags.iter().map(String::as_str).collect();
        let protocols = Protocol::ALL.map(Protocol::name);
        let listens: Vec<&str> = names.listens.iter().map(String::as_str).collect();
        let mut phases = vec!["steady"];
        phases.extend(names.phases.iter().map(String::as_str));
        let mut filter = Filter::default();
        for pair in tags.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (tag, values) = pair
                .split_once(':')
                .ok_or_else(|| format!("`{pair}` is not TAG:VALUE"))?;
            let values: Vec<&str> = values.split('|').map(str::trim).collect();
            let pick = |known: &[&str]| -> Result<Vec<usize>, String> {
                values
                    .iter()
                    .map(|v| {
                        known.iter().position(|k| k == v).ok_or_else(|| {
                            format!(
                                "`{tag}:{v}` matches nothing this run can send; known {tag} values: {}",
                                known.join(", ")
                            )
                        })
                    })
                    .collect()
            };
            let fanout = matches!(metric, Metric::Fanout(_));
            if fanout != (tag.trim() == "listen") {
                return Err(if fanout {
                    format!("fan-out is per listened event: tag it {{listen:NAME}}, not `{tag}`")
                } else {
                    "the `listen` tag belongs to fanout_ metrics".into()
                });
            }
            let small = |v: Vec<usize>| v.into_iter().map(|i| i as u16).collect();
            match tag.trim() {
                "protocol" => {
                    let p = pick(&protocols)?;
                    filter.protocol = Some(p.into_iter().map(|i| Protocol::ALL[i]).collect());
                }
                "event" => filter.event = Some(small(pick(EVENT_KINDS)?)),
                "kind" => filter.tag = Some(small(pick(&request_tags)?)),
                "phase" => {
                    let p = pick(&phases)?;
                    filter.phase = Some(p.into_iter().map(|i| i as u8).collect());
                }
                "listen" => filter.listen = Some(pick(&listens)?),
                other => return Err(format!("unknown tag `{other}`")),
            }
        }
        Ok(filter)
    }
}

/// The limit in the metric's unit: ms for latencies, a fraction for a rate (`1%`),
/// else a count.
fn limit(rhs: &str, metric: &Metric) -> Result<(f64, bool), String> {
    let is_time = matches!(
        metric,
        Metric::Latency(_) | Metric::Service(_) | Metric::Lag(_) | Metric::Fanout(_)
    );
    let (limit, rate) = if is_time {
        let ms = parse_ms(rhs).ok_or_else(|| format!("`{rhs}` is not a duration (500ms, 2s)"))?;
        (ms, false)
    } else if let Some(p) = rhs.strip_suffix('%') {
        let v: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("`{rhs}` is not a percentage"))?;
        (v / 100.0, true)
    } else {
        let v: f64 = rhs
            .parse()
            .map_err(|_| format!("`{rhs}` is not a number (or a percentage like 1%)"))?;
        (v, false)
    };
    if rate && matches!(metric, Metric::Requests) {
        return Err("`requests` is a count, not a rate".into());
    }
    Ok((limit, rate))
}

#[derive(Clone, Debug)]
pub struct Threshold {
    pub text: String,
    metric: Metric,
    filter: Filter,
    op: Op,
    /// Milliseconds for latencies; a count, or a fraction when `rate`.
    limit: f64,
    rate: bool,
}

/// What a threshold may name: the run's request tags, phases and listened broadcasts.
pub struct Names<'a> {
    pub tags: &'a [String],
    pub phases: &'a [String],
    pub listens: &'a [String],
}

const HELP: &str = "write METRIC{TAG:VALUE,…}OP LIMIT, e.g. p95{kind:read}<1200ms or errors<1%; metrics: p50…p99.9, max, service_p95, service_max, lag_p99, fanout_p95, errors, late, requests; tags: protocol, event, kind, phase (listen for fanout)";

fn quantile(s: &str) -> Option<f64> {
    if s == "max" {
        return Some(1.0);
    }
    let n: f64 = s.strip_prefix('p')?.parse().ok()?;
    (n > 0.0 && n < 100.0).then_some(n / 100.0)
}

impl Threshold {
    /// `METRIC{TAG:VALUE,…}OP LIMIT`, checked against the names this run has.
    pub fn parse(text: &str, names: &Names<'_>) -> Result<Threshold, Problem> {
        let err = |m: String| Problem::new(format!("threshold `{text}`: {m}"), HELP);
        let t = text.trim();
        let (lhs, op, rhs) = split_op(t).map_err(err)?;
        let (name, tags) = match lhs.find('{') {
            Some(i) => {
                let inner = lhs[i + 1..]
                    .strip_suffix('}')
                    .ok_or_else(|| err("a `{` without its `}`".into()))?;
                (lhs[..i].trim(), Some(inner))
            }
            None => (lhs.trim(), None),
        };
        let metric = Metric::parse(name, names).map_err(err)?;
        let filter = match tags {
            Some(tags) => Filter::parse(tags, &metric, names).map_err(err)?,
            None => Filter::default(),
        };
        let (limit, rate) = limit(rhs.trim(), &metric).map_err(err)?;
        Ok(Threshold {
            text: t.to_string(),
            metric,
            filter,
            op,
            limit,
            rate,
        })
    }

    /// The observed value and whether it holds; `None` when no request matched.
    pub(crate) fn check(&self, stats: &Stats) -> (Option<f64>, bool) {
        let observed = match self.metric {
            Metric::Lag(q) => (!stats.lag.is_empty()).then(|| ms(at(&stats.lag, q))),
            Metric::Fanout(q) => {
                let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("valid");
                for (i, f) in stats.fanout.iter().enumerate() {
                    if self.filter.listen.as_ref().is_none_or(|l| l.contains(&i)) {
                        let _ = h.add(f);
                    }
                }
                (!h.is_empty()).then(|| ms(at(&h, q)))
            }
            _ => {
                let mut g = Group::default();
                let mut any = false;
                for (k, v) in &stats.groups {
                    if self.filter.matches(k) {
                        g.add(v);
                        any = true;
                    }
                }
                if !any || g.count() == 0 {
                    None
                } else {
                    let n = g.count() as f64;
                    let count = |c: u64| if self.rate { c as f64 / n } else { c as f64 };
                    Some(match self.metric {
                        Metric::Latency(q) => ms(at(&g.latency, q)),
                        Metric::Service(q) => ms(at(&g.service, q)),
                        Metric::Errors => count(g.errors),
                        Metric::Late => count(g.late),
                        Metric::Requests => n,
                        Metric::Lag(_) | Metric::Fanout(_) => unreachable!("handled above"),
                    })
                }
            }
        };
        let holds = observed.is_some_and(|v| match self.op {
            Op::Lt => v < self.limit,
            Op::Le => v <= self.limit,
            Op::Gt => v > self.limit,
            Op::Ge => v >= self.limit,
        });
        (observed, holds)
    }

    /// The threshold judged over `stats`.
    pub(crate) fn verdict(&self, stats: &Stats) -> Verdict {
        let (observed, holds) = self.check(stats);
        let shown = observed.map(|v| {
            if self.rate {
                format!("{:.3} %", v * 100.0)
            } else if matches!(
                self.metric,
                Metric::Latency(_) | Metric::Service(_) | Metric::Lag(_) | Metric::Fanout(_)
            ) {
                format!("{v:.3} ms")
            } else {
                format!("{v}")
            }
        });
        Verdict {
            threshold: self.text.clone(),
            observed,
            shown: shown.unwrap_or_else(|| "no samples".into()),
            ok: holds,
            note: observed
                .is_none()
                .then(|| "no request matched: a threshold without data fails".into()),
        }
    }
}

fn at(h: &hdrhistogram::Histogram<u64>, q: f64) -> u64 {
    if q >= 1.0 {
        h.max()
    } else {
        h.value_at_quantile(q)
    }
}

fn parse_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    (v >= 0.0).then_some(v * scale)
}

/// Named sets of thresholds.
pub fn preset(name: &str, tags: &[String]) -> Result<Vec<String>, Problem> {
    match name {
        // Seed 001's "upper limit": errors > 1 %, API p95 > 2 s, event processing p95 > 500 ms.
        "upper-limit" => {
            let mut t = vec!["errors<=1%".to_string()];
            if tags.iter().any(|k| k == "event") {
                t.push("p95{kind:event}<=500ms".into());
            }
            let api: Vec<&str> = tags
                .iter()
                .map(String::as_str)
                .filter(|k| *k != "event")
                .collect();
            if !api.is_empty() {
                t.push(format!("p95{{kind:{}}}<=2s", api.join("|")));
            }
            Ok(t)
        }
        other => Err(Problem::new(
            format!("--threshold-preset `{other}` is not a preset"),
            "use upper-limit (errors ≤ 1 %, API p95 ≤ 2 s, event p95 ≤ 500 ms)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Outcome, Status};
    use crate::stats::Waits;
    use std::time::{Duration, Instant};

    fn names() -> (Vec<String>, Vec<String>) {
        (
            vec!["read".into(), "write".into()],
            vec!["login_rush".into()],
        )
    }

    #[test]
    fn parses_and_rejects_with_reasons() {
        let (k, p) = names();
        let n = Names {
            tags: &k,
            phases: &p,
            listens: &[],
        };
        assert!(Threshold::parse("p95{kind:read}<1200ms", &n).is_ok());
        assert!(
            Threshold::parse("service_p99.9{phase:login_rush,event:points.earned}<2s", &n).is_ok()
        );
        assert!(Threshold::parse("errors<1%", &n).is_ok());
        let e = Threshold::parse("p95{kind:raed}<1s", &n)
            .unwrap_err()
            .message;
        assert!(e.contains("known kind values: read, write"), "{e}");
        assert!(
            Threshold::parse("p96x<1s", &n)
                .unwrap_err()
                .message
                .contains("unknown metric")
        );
        assert!(
            Threshold::parse("p95{colour:red}<1s", &n)
                .unwrap_err()
                .message
                .contains("unknown tag")
        );
        assert!(Threshold::parse("errors<lots", &n).is_err());
        assert!(Threshold::parse("p95 1s", &n).is_err());
        let e = Threshold::parse("fanout_p95<200ms", &n)
            .unwrap_err()
            .message;
        assert!(e.contains("no [[socketio.listen]]"), "{e}");
        let listens = ["gift:available".to_string()];
        let socketio = Names {
            listens: &listens,
            ..n
        };
        assert!(Threshold::parse("fanout_p99{listen:gift:available}<200ms", &socketio).is_ok());
        let e = Threshold::parse("fanout_p99{kind:read}<1s", &socketio)
            .unwrap_err()
            .message;
        assert!(e.contains("{listen:NAME}"), "{e}");
        let e = Threshold::parse("fanout_p99{listen:gift:gone}<1s", &socketio)
            .unwrap_err()
            .message;
        assert!(e.contains("known listen values: gift:available"), "{e}");
        assert!(Threshold::parse("p95{listen:gift:available}<1s", &socketio).is_err());
    }

    #[test]
    fn evaluates_over_matching_groups_only() {
        let (k, p) = names();
        let n = Names {
            tags: &k,
            phases: &p,
            listens: &[],
        };
        let t0 = Instant::now();
        let mut s = Stats::new(t0);
        let key = |tag| Key {
            protocol: Protocol::Http,
            event: 6,
            tag,
            phase: 0,
        };
        for i in 0..100u64 {
            let done = t0 + Duration::from_millis(if i < 90 { 10 } else { 3000 });
            let out = if i < 98 {
                Outcome::Ok(Status::Http(200))
            } else {
                Outcome::Status(Status::Http(500))
            };
            s.sent(2 * i, key(0), t0, t0, false);
            s.done(2 * i, t0, done, Waits::default(), out);
            s.sent(2 * i + 1, key(1), t0, t0, false);
            let five = t0 + Duration::from_millis(5);
            s.done(
                2 * i + 1,
                t0,
                five,
                Waits::default(),
                Outcome::Ok(Status::Http(200)),
            );
        }
        let check = |t: &str| Threshold::parse(t, &n).unwrap().check(&s);
        assert!(!check("p95{kind:read}<1200ms").1);
        assert!(check("p95{kind:write}<1200ms").1);
        assert!(check("p50<20ms").1);
        assert!(check("errors<1.5%").1); // 2 of 200
        assert!(!check("errors{kind:read}<1.5%").1); // 2 of 100
        assert!(check("errors<3").1);
        let (obs, ok) = check("p95{phase:login_rush}<1s");
        assert!(obs.is_none() && !ok, "no data must fail");
    }
}
