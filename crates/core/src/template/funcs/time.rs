//! Time: an instant as Unix seconds or milliseconds, durations to add to one
//! (`ts + days(7)`), and dates and times in a time zone (`date`, `rfc3339`,
//! `start_of_day`): jiff does the calendar and the strftime formats, with the IANA
//! database bundled into the binary ([`super::zone`]), so a user in Hanoi posts daily
//! metrics on Hanoi's date on every machine.

use std::borrow::Cow;

use jiff::fmt::strtime;
use jiff::{Timestamp, Zoned};

use super::{
    ArgError, Func, checked, finite, number_of, owned, req, text, to_int, want_number, want_text,
    zone,
};
use crate::template::value::{Ty, Type, Val, parse_date, parse_ts};
use crate::units::{DAY, HOUR, MINUTE, SECOND, civil_from_days};

/// An instant argument: a timestamp, or text that reads as one (a prop of a foreign log).
fn instant(v: &Val<'_>) -> Result<i64, String> {
    match v {
        Val::Ts(t) => Ok(*t),
        Val::Str(s) => parse_ts(s).ok_or_else(|| format!("`{s}` is not a timestamp")),
        other => Err(format!("expects a timestamp, not {}", other.ty().words())),
    }
}

fn check_instant(a: &[Type]) -> Result<Type, ArgError> {
    match a[0].ty {
        Ty::Ts | Ty::Any => Ok(Type::INT),
        t => Err(ArgError::new(
            0,
            format!("expects a timestamp (such as ts), not {}", t.words()),
        )),
    }
}

fn check_amount(a: &[Type]) -> Result<Type, ArgError> {
    want_number(a, 0, "the amount").map(|_| Type::INT)
}

/// `tz='UTC'`: an IANA zone name, checked when written as a literal.
const TZ: super::Param = checked("tz", Val::Str(Cow::Borrowed("UTC")), zone::check_literal);

/// `fmt='%Y-%m-%d'`: a strftime format, checked when written as a literal.
const FMT: super::Param = checked("fmt", Val::Str(Cow::Borrowed("%Y-%m-%d")), check_format);

/// The instant in the zone named by `tz`; `None` when the database has no such zone (a
/// zone read from a value when the template runs: the result is null, as for a missing
/// value).
fn zoned(at: &Val<'_>, tz: &Val<'_>) -> Result<Option<Zoned>, String> {
    let ms = instant(at)?;
    let Some(tz) = zone::get(&text(tz)) else {
        return Ok(None);
    };
    let ts = Timestamp::from_millisecond(ms).map_err(|_| "the instant is out of range")?;
    Ok(Some(ts.to_zoned(tz)))
}

/// A date (`date(props.day, '%d/%m/%Y')`) or an instant in a zone, by a strftime format.
fn format_date(a: &mut [Val<'_>]) -> Result<Val<'static>, String> {
    let fmt = text(&a[1]);
    // A date prop of a kind the checker could not see arrives as its text.
    let day = match &a[0] {
        Val::Date(days) => Some(*days),
        Val::Str(s) => parse_date(s),
        _ => None,
    };
    let written = match day {
        Some(days) => {
            let (y, m, d) = civil_from_days(i64::from(days));
            let date = i16::try_from(y)
                .ok()
                .and_then(|y| jiff::civil::Date::new(y, m as i8, d as i8).ok())
                .ok_or("the date is out of range")?;
            strtime::format(fmt.as_bytes(), date)
        }
        None => match zoned(&a[0], &a[2])? {
            Some(z) => strtime::format(fmt.as_bytes(), &z),
            None => return Ok(Val::Null),
        },
    };
    written
        .map(|s| Val::Str(Cow::Owned(s)))
        .map_err(|e| format!("cannot write it as `{fmt}`: {e}"))
}

/// A strftime format written in the template: it must format an instant.
fn check_format(v: &Val<'_>) -> Result<(), (String, String)> {
    let Val::Str(fmt) = v else { return Ok(()) };
    let probe = Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC);
    match strtime::format(fmt.as_bytes(), &probe) {
        Ok(_) => Ok(()),
        Err(e) => Err((
            format!(
                "`'{fmt}'` is not a date format: {}",
                e.to_string()
                    .trim_start_matches("strftime formatting failed: ")
            ),
            "use strftime directives: %Y-%m-%d, %H:%M:%S, %.3f (milliseconds), %z or %:z \
             (the offset), %Z (the zone's abbreviation), %A %B (names), %s (Unix seconds); \
             %% for a literal %"
                .into(),
        )),
    }
}

/// `2026-01-05T08:19:25.261+07:00`: RFC 3339 with milliseconds and the zone's offset at
/// that instant, `Z` when the offset is zero (as the timeline's `ts`).
fn rfc3339(z: &Zoned) -> String {
    let off = z.offset().seconds();
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        z.year(),
        z.month(),
        z.day(),
        z.hour(),
        z.minute(),
        z.second(),
        z.millisecond()
    );
    if off == 0 {
        out.push('Z');
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let (h, m) = (off.abs() / 3600, off.abs() % 3600 / 60);
        out.push_str(&format!("{sign}{h:02}:{m:02}"));
    }
    out
}

fn check_zoned(a: &[Type], result: Type) -> Result<Type, ArgError> {
    match a[0].ty {
        Ty::Ts | Ty::Any => {}
        t => {
            return Err(ArgError::new(
                0,
                format!("expects a timestamp (such as ts), not {}", t.words()),
            ));
        }
    }
    want_text(a, a.len() - 1, "`tz`").map(|_| result)
}

/// `n` units as milliseconds (fractions allowed: `hours(1.5)`).
fn span(v: &Val<'_>, unit: i64) -> Result<Val<'static>, String> {
    match v {
        Val::Int(n) => n
            .checked_mul(unit)
            .map(Val::Int)
            .ok_or_else(|| "the duration does not fit".into()),
        v => {
            let ms = number_of(v, "the amount")? * unit as f64;
            finite(ms).and_then(|_| to_int(ms.round()).map(Val::Int))
        }
    }
}

pub const FUNCS: &[Func] = &[
    Func {
        name: "unix",
        params: &[req("ts")],
        variadic: false,
        null_in_null_out: true,
        check: check_instant,
        eval: |a| Ok(Val::Int(instant(&a[0])?.div_euclid(SECOND))),
    },
    Func {
        name: "unix_ms",
        params: &[req("ts")],
        variadic: false,
        null_in_null_out: true,
        check: check_instant,
        eval: |a| Ok(Val::Int(instant(&a[0])?)),
    },
    Func {
        name: "days",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], DAY),
    },
    Func {
        name: "hours",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], HOUR),
    },
    Func {
        name: "minutes",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], MINUTE),
    },
    Func {
        name: "seconds",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], SECOND),
    },
    Func {
        name: "date",
        params: &[req("ts"), FMT, TZ],
        variadic: false,
        null_in_null_out: true,
        check: |a| {
            match a[0].ty {
                Ty::Ts | Ty::Date | Ty::Any => {}
                t => {
                    return Err(ArgError::new(
                        0,
                        format!("expects a timestamp or a date, not {}", t.words()),
                    ));
                }
            }
            want_text(a, 1, "`fmt`")?;
            want_text(a, 2, "`tz`").map(|_| Type::STR)
        },
        eval: format_date,
    },
    Func {
        name: "rfc3339",
        params: &[req("ts"), TZ],
        variadic: false,
        null_in_null_out: true,
        check: |a| check_zoned(a, Type::STR),
        eval: |a| match zoned(&a[0], &a[1])? {
            Some(z) => owned(rfc3339(&z)),
            None => Ok(Val::Null),
        },
    },
    Func {
        name: "start_of_day",
        params: &[req("ts"), TZ],
        variadic: false,
        null_in_null_out: true,
        check: |a| check_zoned(a, Type::of(Ty::Ts)),
        eval: |a| match zoned(&a[0], &a[1])? {
            Some(z) => z
                .start_of_day()
                .map(|d| Val::Ts(d.timestamp().as_millisecond()))
                .map_err(|e| e.to_string()),
            None => Ok(Val::Null),
        },
    },
];
