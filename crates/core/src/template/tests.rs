use serde_json::{Value, json};

use super::*;
use crate::diagnostic::Seg as PathSeg;
use crate::world::kinds::KindTable;

const LINE: &[u8] = br#"{"v":1,"ts":"2026-01-05T01:19:25.261Z","t_ms":4765261,"user_id":"u12","persona":"saver","session_id":"s12-1","seq":4,"event":"points.earned","props":{"amount":20,"source":"activity","balance":20,"ratio":0.25,"tags":["a","b"],"none":null}}"#;

fn with_ctx<T>(f: impl FnOnce(&Ctx<'_>) -> T) -> T {
    let json: Value = serde_json::from_slice(LINE).unwrap();
    let ctx = Ctx {
        user_id: "u12",
        seq: 4,
        session: 1,
        t_ms: 4765261,
        event: "points.earned",
        line: LINE,
        json: Some(&json),
        token: Some("tok"),
        vars: &[],
        user: None,
        team: None,
        entity: None,
    };
    f(&ctx)
}

fn render(t: &str) -> String {
    let t = Template::compile(t).unwrap_or_else(|e| panic!("{t}: {e:?}"));
    with_ctx(|c| t.render(c))
}

fn json_of(t: &str) -> Value {
    let t = Template::compile(t).unwrap_or_else(|e| panic!("{t}: {e:?}"));
    with_ctx(|c| t.json(c))
}

fn errors(t: &str, fields: &FieldSet) -> Vec<TemplateError> {
    match Template::compile_in(t, fields) {
        Ok(_) => panic!("`{t}` compiled"),
        Err(e) => e,
    }
}

fn error(t: &str) -> TemplateError {
    let mut e = errors(t, &FieldSet::replay());
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

#[test]
fn todays_fields_render_as_before_with_types_kept_in_bodies() {
    assert_eq!(
        render("/u/{user_id}/{{x}}/{props.source}?s={seq}"),
        "/u/u12/{x}/activity?s=4"
    );
    let body: toml::Value = toml::from_str(
        r#"amount = "{props.amount}"
who = "{persona}-{token}"
n = 3
lit = "{{braces}}""#,
    )
    .unwrap();
    let b = JsonTmpl::compile(&body).unwrap();
    assert!(b.needs_json() && b.uses_token());
    assert_eq!(
        with_ctx(|c| b.render(c)),
        json!({"amount": 20, "who": "saver-tok", "n": 3, "lit": "{braces}"})
    );
    assert_eq!(
        render("{ts}|{t_ms}|{event_id}|{session_id}|{props.none}"),
        "2026-01-05T01:19:25.261Z|4765261|u12/4|s12-1|"
    );
    assert_eq!(json_of("{props}")["balance"], 20);
}

#[test]
fn a_hole_that_is_one_field_takes_the_fast_path() {
    for text in ["{user_id}", "{ props.amount }", "{token}", "{line}"] {
        let t = Template::compile(text).unwrap();
        assert!(
            matches!(&t.segs[..], [Seg::Field(_)]),
            "{text} compiled to {:?}",
            t.segs.len()
        );
    }
    let t = Template::compile("a{seq + 1}b").unwrap();
    assert!(matches!(
        &t.segs[..],
        [Seg::Lit(_), Seg::Expr(_), Seg::Lit(_)]
    ));
    // Constant holes fold when the file loads.
    let t = Template::compile("{60 * 60}").unwrap();
    assert!(matches!(&t.segs[..], [Seg::Const(Val::Int(3600))]));
    assert_eq!(t.constant(), Some(json!(3600)));
}

#[test]
fn expressions_follow_precedence_and_keep_ints_ints() {
    let cases = [
        ("{props.amount * 100}", json!(2000)),
        ("{props.amount / 8}", json!(2.5)),
        ("{7 // 2}", json!(3)),
        ("{-7 // 2}", json!(-4)),
        ("{-7 % 3}", json!(2)),
        ("{7 % -3}", json!(-2)),
        ("{7.5 // 2}", json!(3.0)),
        ("{1 + 2 * 3 - 4}", json!(3)),
        ("{(1 + 2) * 3}", json!(9)),
        ("{props.amount + props.ratio}", json!(20.25)),
        ("{'n' ~ 1 + 2}", json!("n3")),
        ("{user_id ~ '/' ~ seq}", json!("u12/4")),
        ("{'big' if props.amount > 10 else 'small'}", json!("big")),
        (
            "{props.amount >= 20 and props.source == 'activity'}",
            json!(true),
        ),
        ("{not (props.amount < 5) or false}", json!(true)),
        ("{1 == 1.0}", json!(true)),
        ("{props.none == null}", json!(true)),
        ("{props.tags[1]}", json!("b")),
        ("{props.tags[-1] | upper}", json!("B")),
        ("{line['user_id']}", json!("u12")),
        ("{line.props.amount + 1}", json!(21)),
        ("{-props.amount}", json!(-20)),
        ("{ts + days(1)}", json!("2026-01-06T01:19:25.261Z")),
        ("{ts - ts}", json!(0)),
        ("{unix(ts)}", json!(1767575965)),
        ("{unix_ms(ts + seconds(1.5))}", json!(1767575966761_i64)),
        ("{'a\\'b' ~ \"c}\"}", json!("a'bc}")),
    ];
    for (t, want) in cases {
        assert_eq!(json_of(t), want, "{t}");
    }
    assert_eq!(render("{props.ratio * 2} {3 / 2} {2.0}"), "0.5 1.5 2.0");
}

/// `uuid(user_id)` and `cuid(user_id, 'client')` of the example event: pinned, so a
/// change to what the ids hash is a visible change (ids rendered into a team's database
/// must not move between versions).
const UUID_U12: &str = "f13d00a2-7deb-89cb-ae24-23e859555bbe";
const CUID_U12: &str = "qzmdcihqnl4h7zr6lvdl9fw9";

#[test]
fn every_function_has_a_case_here() {
    let cases = [
        ("{round(7.456, 2)}", json!(7.46)),
        ("{round(-2.5)}", json!(-3.0)),
        ("{round(1234, -2)}", json!(1200)),
        ("{props.ratio | round(1)}", json!(0.3)),
        ("{floor(-2.5)}", json!(-3)),
        ("{ceil(2.1)}", json!(3)),
        ("{int('42')}", json!(42)),
        ("{int(7.9)}", json!(7)),
        ("{int(true)}", json!(1)),
        ("{float('2.5') + float(1)}", json!(3.5)),
        ("{abs(-3)}", json!(3)),
        ("{min(3, 1, 2)}", json!(1)),
        ("{max(3, 1.5)}", json!(3.0)),
        ("{clamp(props.amount, 0, 10)}", json!(10)),
        ("{clamp(5, 0, 10.0)}", json!(5.0)),
        ("{fixed(7.1, 2)}", json!("7.10")),
        ("{fixed(7)}", json!("7.00")),
        ("{pad(42, 4)}", json!("0042")),
        ("{pad('7', 3)}", json!("007")),
        ("{grouped(1234567)}", json!("1,234,567")),
        ("{grouped(-1234.5, sep=' ')}", json!("-1 234.5")),
        ("{'  Hi ' | trim | lower}", json!("hi")),
        ("{upper(props.source)}", json!("ACTIVITY")),
        ("{slug('Café au Lait!')}", json!("cafe-au-lait")),
        ("{replace(user_id, 'u', 'user-')}", json!("user-12")),
        ("{left('abcdef', 3)}", json!("abc")),
        ("{str(props.amount) ~ str(null)}", json!("20")),
        ("{json(props.source)}", json!("\"activity\"")),
        ("{json(props.tags)}", json!("[\"a\",\"b\"]")),
        ("{urlencode('a b/c?d')}", json!("a%20b%2Fc%3Fd")),
        ("{len(props.tags) + len('héllo')}", json!(7)),
        ("{props.none | default('n/a')}", json!("n/a")),
        ("{default(props.amount, 0)}", json!(20)),
        ("{unix(ts)}", json!(1767575965)),
        ("{unix_ms(ts)}", json!(1767575965261_i64)),
        (
            "{days(1) + hours(1) + minutes(1) + seconds(1)}",
            json!(90061000),
        ),
        ("{fixed(1234.5, point=',')}", json!("1234,50")),
        (
            "{percent(props.ratio)} {percent(0.1234, 1)}",
            json!("25% 12.3%"),
        ),
        (
            "{grouped(1234567.5, sep='.', point=',')}",
            json!("1.234.567,5"),
        ),
        ("{date(ts)}", json!("2026-01-05")),
        ("{date(ts, tz='America/New_York')}", json!("2026-01-04")),
        (
            "{date(ts, '%d/%m/%Y %H:%M %Z', tz='Asia/Ho_Chi_Minh')}",
            json!("05/01/2026 08:19 +07"),
        ),
        ("{date(ts, '%A, %B %-d')}", json!("Monday, January 5")),
        (
            "{rfc3339(ts, tz='Asia/Ho_Chi_Minh')}",
            json!("2026-01-05T08:19:25.261+07:00"),
        ),
        ("{rfc3339(ts)}", json!("2026-01-05T01:19:25.261Z")),
        (
            "{start_of_day(ts, tz='Asia/Ho_Chi_Minh')}",
            json!("2026-01-04T17:00:00.000Z"),
        ),
        (
            "{rfc3339(start_of_day(ts, tz='America/New_York'), tz='America/New_York')}",
            json!("2026-01-04T00:00:00.000-05:00"),
        ),
        ("{unix(start_of_day(ts))}", json!(1767571200)),
        ("{uuid(user_id)}", json!(UUID_U12)),
        ("{uuid('u12') == uuid(user_id)}", json!(true)),
        ("{cuid(user_id, 'client')}", json!(CUID_U12)),
        (
            "{sha256('abc')}",
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ),
        (
            "{hmac_sha256('key', 'The quick brown fox jumps over the lazy dog')}",
            json!("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"),
        ),
        (
            "{hmac_sha256('key', 'x', encoding='base64url') | len}",
            json!(43),
        ),
        ("{base64('user:pass')}", json!("dXNlcjpwYXNz")),
        ("{base64('??>')} {base64url('??>')}", json!("Pz8+ Pz8-")),
        // No world in this scope: a lookup is null (`lookup_reads_the_worlds_pools`).
        (
            "{lookup('team', 't-5', 'business') | default('none')}",
            json!("none"),
        ),
    ];
    for (t, want) in &cases {
        assert_eq!(&json_of(t), want, "{t}");
    }
    // A new function needs a case above.
    for name in funcs::names() {
        assert!(
            cases
                .iter()
                .any(|(t, _)| t.contains(&format!("{name}(")) || t.contains(&format!("| {name}"))),
            "no case for `{name}`"
        );
    }
}

#[test]
fn nulls_stay_missing_through_functions() {
    assert_eq!(json_of("{props.none | upper}"), Value::Null);
    assert_eq!(json_of("{props.nope * 2}"), Value::Null);
    assert_eq!(render("[{props.none | round}]"), "[]");
    assert_eq!(json_of("{props.none ~ 'x'}"), json!("x"));
    assert_eq!(json_of("{'y' if props.none else 'n'}"), json!("n"));
}

#[test]
fn values_known_only_at_run_time_fail_there_and_say_why() {
    let t = Template::compile("{int(props.source)}").unwrap();
    let err = with_ctx(|c| t.value(c).map(|v| v.into_owned())).unwrap_err();
    assert!(err.contains("`activity` is not a number"), "{err}");
    // Rendered text leaves the hole empty, as a missing prop does.
    assert_eq!(with_ctx(|c| t.render(c)), "");
    let t = Template::compile("{props.amount // (props.balance - 20)}").unwrap();
    let err = with_ctx(|c| t.value(c).map(|v| v.into_owned())).unwrap_err();
    assert_eq!(err, "division by zero");
}

#[test]
fn type_errors_name_the_hole_the_problem_and_the_fix() {
    let e = error("/x/{round('x')}");
    assert_eq!(e.span, 10..13, "{e:?}");
    assert!(
        e.message
            .contains("`round`: the value must be a number, not a string"),
        "{}",
        e.message
    );
    assert_eq!(e.fix, "call it as round(x, digits=0)");
    let e = error("{rnd(1)}");
    assert!(
        e.message
            .contains("`rnd` is not a function (did you mean `round`?)"),
        "{}",
        e.message
    );
    let e = error("{user_di}");
    assert!(
        e.message
            .contains("`user_di` is not a field here (did you mean `user_id`?)"),
        "{}",
        e.message
    );
    assert!(e.fix.contains("user_id, seq, event"), "{}", e.fix);
    let e = error("{props.amount + 'x'}");
    assert!(e.message.contains("join text with `~`"), "{}", e.message);
    let e = error("{props.amount * true}");
    assert!(
        e.message
            .contains("`*` does not apply to a value and a boolean"),
        "{}",
        e.message
    );
    let e = error("{'a' + 'b'}");
    assert!(e.message.contains("join text with `~`"), "{}", e.message);
    let e = error("{seq == 'x'}");
    assert!(e.message.contains("never equal"), "{}", e.message);
    let e = error("{1 if seq else 2}");
    assert!(e.message.contains("`if` needs a boolean"), "{}", e.message);
    let e = error("{round(1, digts=2)}");
    assert!(
        e.message.contains("has no parameter `digts`"),
        "{}",
        e.message
    );
    let e = error("{pad(1)}");
    assert!(
        e.message.contains("`pad` needs its `width`"),
        "{}",
        e.message
    );
    let e = error("{upper(1, 2)}");
    assert!(e.message.contains("takes 1 arguments"), "{}", e.message);
    let e = error("{1 / 0}");
    assert!(e.message.contains("division by zero"), "{}", e.message);
    let e = error("{round}");
    assert!(e.fix.contains("`round` is a function"), "{}", e.fix);
    let e = error("{seq +}");
    assert!(
        e.message.contains("the hole ends where a value should be"),
        "{}",
        e.message
    );
}

#[test]
fn every_problem_of_a_template_is_reported_at_once() {
    let e = errors(
        "{env.SIMULATE_T_UNSET_A}/{env.SIMULATE_T_UNSET_B}/{nope}/{1 +}",
        &FieldSet::replay(),
    );
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[0].message.contains("`SIMULATE_T_UNSET_A` is not set"));
    assert_eq!(
        e[0].fix,
        "export SIMULATE_T_UNSET_A=… before running simulate (the template reads it)"
    );
    assert!(e[1].message.contains("`SIMULATE_T_UNSET_B` is not set"));
    let body: toml::Value = toml::from_str("a = [1, \"{nope}\"]\nb = { c = \"{seq +}\" }").unwrap();
    let e = JsonTmpl::compile(&body).unwrap_err();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].at, vec![PathSeg::Key("a".into()), PathSeg::Index(1)]);
    assert_eq!(
        e[1].at,
        vec![PathSeg::Key("b".into()), PathSeg::Key("c".into())]
    );
}

#[test]
fn braces_and_jinja_habits() {
    let e = error("{user_id");
    assert!(e.message.contains("without its `}`"), "{}", e.message);
    let e = error("x}");
    assert!(e.message.contains("without its `{`"), "{}", e.message);
    let e = error("/u/{{ user_id }}");
    assert!(
        e.message.contains("sends the text `{user_id}`"),
        "{}",
        e.message
    );
    assert!(e.fix.contains("single braces: `{user_id}`"), "{}", e.fix);
    // Not a field inside: literal braces, as before.
    assert_eq!(render("{{x}} {{{user_id}}} {'{'}{'}'}"), "{x} {u12} {}");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    // SAFETY: tests in this module do not read this variable concurrently elsewhere.
    unsafe { std::env::set_var("SIMULATE_T_SECRET", "hunter2") };
    let t = Template::compile("Bearer {env.SIMULATE_T_SECRET}").unwrap();
    assert_eq!(render("Bearer {env.SIMULATE_T_SECRET}"), "Bearer hunter2");
    assert!(!format!("{t:?}").contains("hunter2"));
    assert_eq!(t.constant(), None);
    let folded = Template::compile("{'Bearer ' ~ env.SIMULATE_T_SECRET}").unwrap();
    assert!(!format!("{folded:?}").contains("hunter2"));
    assert_eq!(folded.constant(), None);
    // An expression that fails on the value says so without quoting it.
    let e = error("{int(env.SIMULATE_T_SECRET)}");
    assert!(
        e.message.contains("the value is not shown"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("hunter2") && !e.fix.contains("hunter2"));
    let body: toml::Value = toml::from_str("k = \"{env.SIMULATE_T_SECRET}\"").unwrap();
    let b = JsonTmpl::compile(&body).unwrap();
    assert!(!format!("{b:?}").contains("hunter2"));
}

#[test]
fn props_are_checked_against_the_kinds_a_place_maps() {
    let kinds = KindTable::builtin();
    let claimed = kinds.get(kinds.id("goal.claimed").unwrap());
    let completed = kinds.get(kinds.id("goal.completed").unwrap());
    let fields = FieldSet::replay().with_kinds(&[claimed]);
    let e = errors("/goals/{props.goalId}/claim", &fields);
    assert!(
        e[0].message
            .contains("`props.goalId` is not a prop of `goal.claimed` (did you mean `goal_id`?)"),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].fix, "use one of: goal_id, challenge_id, reward");
    let t = Template::compile_in("{props.reward * 2}", &fields).unwrap();
    assert_eq!(t.ty(), Type::INT);
    // Mapped from two kinds: only what both carry.
    let both = FieldSet::replay().with_kinds(&[claimed, completed]);
    assert!(Template::compile_in("{props.goal_id}", &both).is_ok());
    let e = errors("{props.reward}", &both);
    assert!(
        e[0].message.contains("not a prop of `goal.completed`"),
        "{}",
        e[0].message
    );
    // Typed props catch type errors before any traffic.
    let e = errors("{props.challenge_id * 2}", &fields);
    assert!(
        e[0].message.contains("`*` does not apply to a string"),
        "{}",
        e[0].message
    );
}

#[test]
fn a_place_offers_only_its_fields() {
    let e = errors("{user_id}", &FieldSet::none());
    assert!(e[0].message.contains("not a field here"));
    assert_eq!(e[0].fix, "this place takes constants only");
    let e = errors("{env.HOME}", &FieldSet::none());
    assert!(e[0].message.contains("not a field here"));
    assert_eq!(
        Template::compile_in("{pad(7, 3)}", &FieldSet::none())
            .unwrap()
            .constant(),
        Some(json!("007"))
    );
}

#[test]
fn whole_hole_types_are_kept() {
    let t = Template::compile("{ts}").unwrap();
    assert_eq!(t.ty(), Type::of(Ty::Ts));
    assert_eq!(Template::compile("at {ts}").unwrap().ty(), Type::STR);
    assert_eq!(
        Template::compile("{session_id}").unwrap().ty(),
        Type::STR.nullable(true)
    );
    let t = Template::compile("{ts + days(7)}").unwrap();
    assert_eq!(
        with_ctx(|c| t.value(c).map(|v| v.into_owned())),
        Ok(Val::Ts(1767575965261 + 7 * 86_400_000))
    );
}

#[test]
fn zones_formats_and_encodings_written_in_the_template_are_checked_at_load() {
    let e = error("{date(ts, tz='Asia/Hanoi')}");
    assert!(
        e.message
            .contains("`date`: `'Asia/Hanoi'` is not a time zone"),
        "{}",
        e.message
    );
    assert!(e.fix.contains("Asia/Ho_Chi_Minh"), "{}", e.fix);
    let e = error("{rfc3339(ts, tz='Europe/Pariss')}");
    assert!(
        e.message.contains("(did you mean `Europe/Paris`?)"),
        "{}",
        e.message
    );
    let e = error("{date(ts, '%Y-%m-%d %J')}");
    assert!(
        e.message
            .contains("`date`: `'%Y-%m-%d %J'` is not a date format"),
        "{}",
        e.message
    );
    assert!(e.fix.contains("%Y-%m-%d"), "{}", e.fix);
    let e = error("{hmac_sha256('k', user_id, encoding='b64')}");
    assert!(
        e.message.contains("`'b64'` is not an encoding"),
        "{}",
        e.message
    );
    assert_eq!(e.fix, "use one of: hex, base64, base64url");
    // Wrong types, at load, with the signature as the fix.
    let e = error("{date(seq)}");
    assert!(
        e.message
            .contains("`date`: expects a timestamp or a date, not a whole number"),
        "{}",
        e.message
    );
    assert_eq!(e.fix, "call it as date(ts, fmt='%Y-%m-%d', tz='UTC')");
    let e = error("{start_of_day(ts, tz=3)}");
    assert!(e.message.contains("`tz` must be a string"), "{}", e.message);
    let e = error("{sha256(seq)}");
    assert!(e.message.contains("must be a string"), "{}", e.message);
    let e = error("{percent('x')}");
    assert!(e.message.contains("must be a number"), "{}", e.message);
    // Every problem of a hole at once.
    let e = errors("{date(ts, '%J', tz='Nowhere/City')}", &FieldSet::replay());
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn a_zone_read_from_a_value_that_names_no_zone_renders_null() {
    // props.source is `activity`: no such zone. Null, as a missing value: nothing in text.
    assert_eq!(json_of("{date(ts, tz=props.source)}"), Value::Null);
    assert_eq!(render("[{rfc3339(ts, tz=props.source)}]"), "[]");
    assert_eq!(json_of("{start_of_day(ts, tz=props.none)}"), Value::Null);
    assert_eq!(
        json_of("{date(ts, tz=props.source) | default('no zone')}"),
        json!("no zone")
    );
    // A zone read from a value, in any case.
    let line = br#"{"ts":"2026-01-05T01:19:25.261Z","props":{"tz":"asia/ho_chi_minh"}}"#;
    let json: Value = serde_json::from_slice(line).unwrap();
    let ctx = Ctx {
        user_id: "u12",
        seq: 4,
        session: 1,
        t_ms: 4765261,
        event: "points.earned",
        line,
        json: Some(&json),
        token: None,
        vars: &[],
        user: None,
        team: None,
        entity: None,
    };
    let t = Template::compile("{date(ts, '%H:%M %Q', tz=props.tz)}").unwrap();
    assert_eq!(t.render(&ctx), "08:19 Asia/Ho_Chi_Minh");
}

#[test]
fn a_date_value_formats_as_its_own_calendar_day() {
    let f = funcs::find("date").unwrap();
    let day = value::parse_date("2024-02-29").unwrap();
    let mut args = [
        Val::Date(day),
        Val::Str("%d/%m/%Y (%a)".into()),
        Val::Str("UTC".into()),
    ];
    assert_eq!((f.eval)(&mut args).unwrap().to_text(), "29/02/2024 (Thu)");
    // A date typed only at run time (a foreign log's prop) is read from its text.
    let mut args = [
        Val::Str("2024-02-29".into()),
        Val::Str("%-d %B".into()),
        Val::Str("UTC".into()),
    ];
    assert_eq!((f.eval)(&mut args).unwrap().to_text(), "29 February");
    let mut args = [
        Val::Date(day),
        Val::Str("%H".into()),
        Val::Str("UTC".into()),
    ];
    let err = (f.eval)(&mut args).unwrap_err();
    assert!(err.contains("cannot write it as `%H`"), "{err}");
}

#[test]
fn a_key_from_the_environment_is_never_shown() {
    // SAFETY: tests in this module do not read this variable concurrently elsewhere.
    unsafe { std::env::set_var("SIMULATE_T_HMAC_KEY", "s3cr3t-key") };
    let t = Template::compile("sha256={hmac_sha256(env.SIMULATE_T_HMAC_KEY, event_id)}").unwrap();
    assert!(!format!("{t:?}").contains("s3cr3t"));
    let signed = render("{hmac_sha256(env.SIMULATE_T_HMAC_KEY, event_id)}");
    assert_eq!(signed, render("{hmac_sha256('s3cr3t-key', 'u12/4')}"));
    // Folded to a constant (Basic auth from two variables): kept as a secret segment.
    let t = Template::compile("Basic {base64('me:' ~ env.SIMULATE_T_HMAC_KEY)}").unwrap();
    assert!(!format!("{t:?}").contains("czNjcjN0"));
    assert_eq!(t.constant(), None);
    // A literal check on a value from the environment does not quote it.
    let e = error("{date(ts, tz=env.SIMULATE_T_HMAC_KEY)}");
    assert!(
        e.message.contains("the value is not shown"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("s3cr3t") && !e.fix.contains("s3cr3t"));
}

#[test]
fn a_signature_of_json_covers_the_bytes_a_body_of_the_same_value_sends() {
    // The HTTP driver sends a JSON body as serde_json::to_vec of the rendered value.
    let body: toml::Value = toml::from_str(r#"b = "{props}""#).unwrap();
    let b = JsonTmpl::compile(&body["b"]).unwrap();
    let sent = with_ctx(|c| serde_json::to_vec(&b.render(c)).unwrap());
    let signed = render("{json(props)}");
    assert_eq!(String::from_utf8(sent).unwrap(), signed);
    assert_eq!(
        render("{hmac_sha256('k', json(props))}"),
        render(&format!(
            "{{hmac_sha256('k', '{}')}}",
            signed.replace('"', "\\\"")
        ))
    );
}

#[test]
fn lookup_reads_the_worlds_pools() {
    let team = crate::world::pools::Team {
        seed: 1,
        users: 2000,
        pools: crate::world::pools::tests::readiness(),
    };
    let json: Value = serde_json::from_slice(LINE).unwrap();
    let user = json!({"team": "t-6"});
    let ctx = Ctx {
        user_id: "u12",
        seq: 4,
        session: 1,
        t_ms: 4765261,
        event: "points.earned",
        line: LINE,
        json: Some(&json),
        token: None,
        vars: &[],
        user: user.as_object(),
        team: Some(&team),
        entity: None,
    };
    let r = |t: &str| Template::compile(t).unwrap().render(&ctx);
    assert_eq!(r("{lookup('team', 't-5', 'business')}"), "b-2");
    assert_eq!(r("{lookup('team', user.team, 'business')}"), "b-2");
    assert_eq!(r("{lookup('team', 't-4', 'business')}"), "b-1");
    assert_eq!(r("{lookup('business', 'b-1', 'id')}"), "b-1");
    assert_eq!(
        r("[{lookup('team', 'team-5', 'business')}]"),
        "[]",
        "not a team's id"
    );
    assert_eq!(
        r("[{lookup('business', 'b-1', 'team')}]"),
        "[]",
        "down is not a lookup"
    );
    let t = Template::compile("{lookup('team', props.source, 'business')}").unwrap();
    assert_eq!(t.lookups(), [("team".to_string(), "business".to_string())]);
    assert!(t.ty().nullable);
    // The pool and the field are names the file writes, so the world can check them.
    let e = errors(
        "{lookup(props.source, 't-1', 'business')}",
        &FieldSet::replay(),
    );
    assert!(
        e[0].message
            .contains("`lookup`'s pool must be written as a quoted name"),
        "{e:?}"
    );
    // Where no user is in scope there are no pools.
    let e = errors("{lookup('team', 't-1', 'business')}", &FieldSet::none());
    assert!(e[0].message.contains("there are none here"), "{e:?}");
}
