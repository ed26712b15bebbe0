//! How the world names things, the same wherever a name is rendered (event lines, replay
//! requests, database rows): user ids, event ids, trace ids, and people's names and emails.

use fake::Fake;
use fake::faker::name::raw::Name;
use fake::locales;

use crate::engine::rng::{Purpose, stream};

/// `u<n>`: a user's id in the timeline.
pub fn user_id(user: u32) -> String {
    let mut id = String::with_capacity(10);
    id.push('u');
    id.push_str(itoa::Buffer::new().format(user));
    id
}

/// The number in a user id (`u42` → 42); `None` for an id this version did not write.
pub fn user_number(user_id: &str) -> Option<u32> {
    user_id.strip_prefix('u')?.parse().ok()
}

/// `<user_id>/<seq>`: every request carries it (`x-sim-event`), whatever the protocol.
pub fn event_id(user_id: &str, seq: u32) -> String {
    let mut id = String::with_capacity(user_id.len() + 8);
    id.push_str(user_id);
    id.push('/');
    id.push_str(itoa::Buffer::new().format(seq));
    id
}

/// A W3C `traceparent`: one trace per user session, one span per event, derived from
/// the ids, so the same timeline always carries the same trace ids and a target's
/// traces can be joined back to the events.
pub fn traceparent(user_id: &str, session: u32, seq: u32) -> String {
    // splitmix64's finaliser over FNV-1a: stable across versions, unlike std's hasher.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let user = user_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let session = user ^ ((session as u64) << 1 | 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let (hi, lo) = (mix(session), mix(session ^ 0x5851_f42d_4c95_7f2d));
    let span = mix(user ^ (seq as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)).max(1);
    // Hex by hand: `format!` was a visible share of the I/O thread's CPU per request.
    let mut out = String::with_capacity(55);
    out.push_str("00-");
    for (i, v) in [hi, lo, span].into_iter().enumerate() {
        if i == 2 {
            out.push('-');
        }
        for shift in (0..16).rev() {
            out.push(char::from(
                b"0123456789abcdef"[(v >> (shift * 4)) as usize & 15],
            ));
        }
    }
    out.push_str("-01");
    out
}

/// A deterministic name for a user, in the user's locale where `fake` has one.
pub fn user_name(seed: u64, id: u32, locale: &str) -> String {
    let mut rng = stream(seed, Purpose::Name, id as u64);
    match locale.to_ascii_lowercase().replace('-', "_").as_str() {
        "zh_cn" | "zh" => Name(locales::ZH_CN).fake_with_rng(&mut rng),
        "zh_tw" => Name(locales::ZH_TW).fake_with_rng(&mut rng),
        "fr" | "fr_fr" => Name(locales::FR_FR).fake_with_rng(&mut rng),
        "de" | "de_de" => Name(locales::DE_DE).fake_with_rng(&mut rng),
        "ja" | "ja_jp" => Name(locales::JA_JP).fake_with_rng(&mut rng),
        "pt" | "pt_br" => Name(locales::PT_BR).fake_with_rng(&mut rng),
        "it" | "it_it" => Name(locales::IT_IT).fake_with_rng(&mut rng),
        _ => Name(locales::EN).fake_with_rng(&mut rng),
    }
}

/// `first.last.<id>@example.com`, ASCII-folded so every locale gives a usable address.
pub fn user_email(name: &str, id: u32) -> String {
    let folded = deunicode::deunicode(name).to_ascii_lowercase();
    let local: String = folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    format!(
        "{}.{id}@example.com",
        if local.is_empty() { "user" } else { &local }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trace ids are part of what a target sees: they must not change between versions.
    /// The expected values come from an independent implementation (Python).
    #[test]
    fn traceparents_are_stable_w3c_ids() {
        assert_eq!(
            traceparent("u12", 1, 4),
            "00-17c9018c89094a1927242d9385b26aa9-53141a22a4645836-01"
        );
        assert_eq!(
            traceparent("u7", 0, 0),
            "00-b14de8a77382d0e9011cc220e516192a-c12e8662d1e867b9-01"
        );
        assert_eq!(event_id(&user_id(42), 7), "u42/7");
    }

    #[test]
    fn names_are_deterministic_and_emails_ascii() {
        assert_eq!(user_name(42, 7, "zh_CN"), user_name(42, 7, "zh_CN"));
        assert_ne!(user_name(42, 7, "en"), user_name(42, 8, "en"));
        let email = user_email(&user_name(42, 7, "zh_CN"), 7);
        assert!(
            email.is_ascii() && email.ends_with(".7@example.com"),
            "{email}"
        );
    }
}
