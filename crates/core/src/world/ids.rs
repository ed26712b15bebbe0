//! Ids in the team's format (`[ids]` and `[pools.*]` of a scenario): a template over the
//! member's 1-based number (`"c-{pad(n, 4)}"`, `"t-{n}"`), a UUID derived from the seed
//! and the timeline id, or a list the team supplies. Rendered here only, so a replay
//! request, a `user.signed_up` line and (issue 20) a seed row name a user the same way.
//!
//! The format is a small language of its own, not the template language: it runs before
//! any event exists and has one input, the number. Holes: `{n}`, `{pad(n, W)}` (n
//! zero-padded to W digits), `{user_id}` (the timeline id, `u<n - 1>`) and
//! `{uuid(user_id)}` (a UUID derived from the seed and that id; `{uuid}` is the same).

use sha2::{Digest, Sha256};

/// One part of an id format.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Lit(String),
    /// The 1-based number.
    N,
    /// The number zero-padded to this many digits.
    Pad(usize),
    /// The timeline's id of the n-th member (`u<n - 1>`).
    UserId,
    /// A UUID from the seed and the timeline id.
    Uuid,
    /// The timeline's own id of what a session or entity format names (`s42-3`, `g3-1`).
    Own,
}

/// A parsed id format such as `"c-{pad(n, 4)}"`.
#[derive(Clone, Debug, PartialEq)]
pub struct IdFormat {
    pieces: Vec<Piece>,
}

/// The holes a session format may hold, for fixes.
pub const SESSION_HELP: &str = "write a format such as \"sess-{uuid}\" or \"{user_id}-s{n}\"; holes: {n} and {pad(n, W)} (the user's session number, from 1), {user_id} (the user's id in the team's format), {session_id} (the timeline's, s42-3), {uuid} (derived from the seed and the timeline's session id)";

/// The holes an entity's format may hold, for fixes (`gift_id` its own).
pub fn entity_help(own: &str) -> String {
    format!(
        "write a format such as \"gift-{{pad(n, 6)}}\" (gift-000001) or \"{{uuid}}\"; holes: {{n}} and {{pad(n, W)}} (the entity's number in the world, from 1, in timeline order), {{user_id}} (its owner's id in the team's format), {{{own}}} (the timeline's), {{uuid}} (derived from the seed and the timeline's id)"
    )
}

/// The holes an id format may hold, for fixes.
pub const FORMAT_HELP: &str = "write a format such as \"c-{pad(n, 4)}\" (c-0001), \"t-{n}\" (t-1) or \"{uuid(user_id)}\"; holes: {n}, {pad(n, W)}, {user_id}, {uuid(user_id)}";

impl IdFormat {
    /// Parses a format; the message says which hole is wrong.
    pub fn parse(text: &str) -> Result<IdFormat, String> {
        IdFormat::parse_with(text, None)
    }

    /// Parses `[ids] session`: `{n}` is the user's session number, `{user_id}` the
    /// user's id in the team's format, `{session_id}` and `{uuid}` the timeline's session
    /// ([`IdFormat::render_session`]).
    pub fn parse_session(text: &str) -> Result<IdFormat, String> {
        IdFormat::parse_with(text, Some("session_id"))
    }

    /// Parses `[ids] gift` (an entity's format, `own` its timeline id's hole, `gift_id`):
    /// `{n}` is the entity's number in the world, `{user_id}` its owner's id in the
    /// team's format, `{gift_id}` and `{uuid}` the timeline's id
    /// ([`IdFormat::render_session`] renders it). A format must tell two entities apart:
    /// one holding only `{user_id}` would give every gift of a user the same id.
    pub fn parse_entity(text: &str, own: &str) -> Result<IdFormat, String> {
        let f = IdFormat::parse_with(text, Some(own))?;
        let unique = f
            .pieces
            .iter()
            .any(|p| matches!(p, Piece::N | Piece::Pad(_) | Piece::Uuid | Piece::Own));
        if !unique {
            return Err(format!(
                "`{text}` has neither {{n}}, {{pad(n, W)}}, {{uuid}} nor {{{own}}}: every entity of a user would get the same id"
            ));
        }
        Ok(f)
    }

    /// `own`: the hole naming the timeline's id of a session or entity format
    /// (`session_id`, `gift_id`); `None` for user and pool formats.
    fn parse_with(text: &str, own: Option<&str>) -> Result<IdFormat, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            lit.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                return Err(format!(
                    "`{text}` opens a hole with `{{` and never closes it"
                ));
            };
            let hole = &rest[open + 1..open + close];
            let piece = Self::hole(hole, own).ok_or_else(|| {
                format!("`{{{hole}}}` in `{text}` is not a hole an id format knows")
            })?;
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(piece);
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("`{text}` closes a hole it never opened"));
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        if !pieces.iter().any(|p| !matches!(p, Piece::Lit(_))) {
            return Err(format!(
                "`{text}` has no hole: every member would get the same id"
            ));
        }
        Ok(IdFormat { pieces })
    }

    fn hole(hole: &str, own: Option<&str>) -> Option<Piece> {
        let compact: String = hole.chars().filter(|c| !c.is_whitespace()).collect();
        let of_own = |inner: &str| own == Some(inner);
        match compact.as_str() {
            "n" => Some(Piece::N),
            "user_id" => Some(Piece::UserId),
            "uuid" => Some(Piece::Uuid),
            "uuid(user_id)" if own.is_none() => Some(Piece::Uuid),
            c if c
                .strip_prefix("uuid(")
                .and_then(|c| c.strip_suffix(')'))
                .is_some_and(of_own) =>
            {
                Some(Piece::Uuid)
            }
            c if of_own(c) => Some(Piece::Own),
            _ => {
                let width = compact.strip_prefix("pad(n,")?.strip_suffix(')')?;
                width
                    .parse::<usize>()
                    .ok()
                    .filter(|w| (1..=20).contains(w))
                    .map(Piece::Pad)
            }
        }
    }

    /// The 1-based number an id of this format was rendered from, when the format is
    /// literals around one `{n}` or `{pad(n, W)}` (`t-7` of `t-{n}` → 7), checked by
    /// rendering it again; `None` for other formats (a UUID is searched instead).
    pub fn number_of(&self, seed: u64, id: &str) -> Option<u64> {
        let (mut head, mut tail) = (String::new(), String::new());
        let mut seen = false;
        for p in &self.pieces {
            match p {
                Piece::Lit(s) if seen => tail.push_str(s),
                Piece::Lit(s) => head.push_str(s),
                Piece::N | Piece::Pad(_) if !seen => seen = true,
                _ => return None,
            }
        }
        let digits = id.strip_prefix(&head)?.strip_suffix(&tail)?;
        let n: u64 = digits.parse().ok()?;
        (n >= 1 && self.render(seed, n) == id).then_some(n)
    }

    /// The id of the `n`-th member (1-based) in a world of this seed.
    pub fn render(&self, seed: u64, n: u64) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::N => out.push_str(itoa::Buffer::new().format(n)),
                Piece::Pad(w) => {
                    let digits = itoa::Buffer::new().format(n).to_string();
                    out.extend(std::iter::repeat_n('0', w.saturating_sub(digits.len())));
                    out.push_str(&digits);
                }
                Piece::UserId => out.push_str(&timeline_id(n)),
                Piece::Uuid => out.push_str(&uuid(seed, &timeline_id(n))),
                Piece::Own => {}
            }
        }
        out
    }

    /// A session's (or an entity's) id by its format: `n` is the user's session number
    /// from 1 (the entity's number in the world), `user_id` the user's (owner's) id as
    /// the team names it, `own` the timeline's id (`s42-3`, `g3-1`), whose UUID `{uuid}`
    /// is (derived with the seed, as users' are).
    pub fn render_session(&self, seed: u64, user_id: &str, own: &str, n: u64) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::UserId => out.push_str(user_id),
                Piece::Own => out.push_str(own),
                Piece::Uuid => out.push_str(&uuid(seed, own)),
                Piece::Lit(_) | Piece::N | Piece::Pad(_) => {
                    let one = IdFormat {
                        pieces: vec![p.clone()],
                    };
                    out.push_str(&one.render(seed, n));
                }
            }
        }
        out
    }
}

/// `u<n - 1>`: the timeline's id of the n-th (1-based) user.
fn timeline_id(n: u64) -> String {
    format!("u{}", n.saturating_sub(1))
}

/// A UUID (version 5 layout, RFC 9562) derived from the seed and a text: SHA-256 of
/// `simulate-id`, the seed (8 bytes, little-endian) and the text, its first 16 bytes with
/// the version and variant bits set. The same seed and text give the same UUID on every
/// machine and version.
pub fn uuid(seed: u64, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"simulate-id\0");
    h.update(seed.to_le_bytes());
    h.update(text.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(b"0123456789abcdef"[(byte >> 4) as usize]));
        out.push(char::from(b"0123456789abcdef"[(byte & 15) as usize]));
    }
    out
}

/// Where a pool's or the users' ids come from.
#[derive(Clone, Debug, PartialEq)]
pub enum IdSource {
    /// Rendered from a format: as many as asked for.
    Format(IdFormat),
    /// A list (inline or read from a file): `from` names it in messages.
    List { ids: Vec<String>, from: String },
}

impl IdSource {
    /// The id of the member at 0-based `index`; a list wraps around past its end (only
    /// members beyond what validation counted, such as users who sign up later, do).
    pub fn get(&self, seed: u64, index: u64) -> String {
        match self {
            IdSource::Format(f) => f.render(seed, index + 1),
            IdSource::List { ids, .. } => ids[(index % ids.len() as u64) as usize].clone(),
        }
    }

    /// How many ids a list holds; `None` for a format (any number).
    pub fn listed(&self) -> Option<usize> {
        match self {
            IdSource::Format(_) => None,
            IdSource::List { ids, .. } => Some(ids.len()),
        }
    }

    /// The member index of an id, for lookups: a list's position, a number format's
    /// number, or another format (a UUID) rendered for each candidate up to `limit`.
    pub fn position(&self, seed: u64, id: &str, limit: u64) -> Option<u64> {
        match self {
            IdSource::List { ids, .. } => ids.iter().position(|x| x == id).map(|i| i as u64),
            // A number format is read back, however far (users who sign up later join
            // members beyond those the first users need); other formats are searched.
            IdSource::Format(f) => match f.number_of(seed, id) {
                Some(n) => Some(n - 1),
                None => (0..limit).find(|i| f.render(seed, i + 1) == id),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_render_the_teams_ids() {
        let f = IdFormat::parse("c-{pad(n, 4)}").unwrap();
        assert_eq!(f.render(1, 1), "c-0001");
        assert_eq!(f.render(1, 12345), "c-12345");
        assert_eq!(IdFormat::parse("t-{n}").unwrap().render(1, 7), "t-7");
        assert_eq!(IdFormat::parse("{user_id}").unwrap().render(1, 1), "u0");
        let u = IdFormat::parse("{uuid(user_id)}").unwrap();
        let a = u.render(1, 1);
        assert_eq!(a, uuid(1, "u0"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5", "{a}");
        assert!("89ab".contains(&a[19..20]), "{a}");
        assert_ne!(a, u.render(2, 1), "the seed changes it");
        assert_ne!(a, u.render(1, 2));
    }

    #[test]
    fn session_formats_name_a_users_sessions() {
        let f = IdFormat::parse_session("{user_id}-s{pad(n, 2)}").unwrap();
        assert_eq!(f.render_session(1, "c-0001", "s0-3", 3), "c-0001-s03");
        let u = IdFormat::parse_session("sess-{uuid}").unwrap();
        let a = u.render_session(1, "c-0001", "s0-3", 3);
        assert_eq!(a, format!("sess-{}", uuid(1, "s0-3")));
        assert_ne!(a, u.render_session(1, "c-0001", "s0-4", 4));
        assert_eq!(
            IdFormat::parse_session("{session_id}")
                .unwrap()
                .render_session(1, "c", "s0-3", 3),
            "s0-3"
        );
        // `{session_id}` is a session's hole only.
        assert!(IdFormat::parse("t-{session_id}").is_err());
        assert!(IdFormat::parse_session("x-{uuid(user_id)}").is_err());
    }

    #[test]
    fn entity_formats_number_a_worlds_gifts() {
        let f = IdFormat::parse_entity("gift-{pad(n, 6)}", "gift_id").unwrap();
        assert_eq!(f.render_session(1, "c-0001", "g0-1", 123), "gift-000123");
        let own = IdFormat::parse_entity("{user_id}/{gift_id}", "gift_id").unwrap();
        assert_eq!(own.render_session(1, "c-0001", "g0-1", 1), "c-0001/g0-1");
        let u = IdFormat::parse_entity("{uuid(gift_id)}", "gift_id").unwrap();
        assert_eq!(u.render_session(1, "x", "g0-1", 1), uuid(1, "g0-1"));
        let e = IdFormat::parse_entity("{user_id}-gift", "gift_id").unwrap_err();
        assert!(e.contains("the same id"), "{e}");
        assert!(IdFormat::parse_entity("g-{session_id}", "gift_id").is_err());
        assert!(IdFormat::parse_entity("g-{nudge_id}", "gift_id").is_err());
    }

    #[test]
    fn bad_formats_say_what_is_wrong() {
        for (text, says) in [
            ("c-{pad(n)}", "not a hole"),
            ("c-{m}", "not a hole"),
            ("c-{n", "never closes"),
            ("c-n}", "never opened"),
            ("client", "no hole"),
            ("c-{pad(n, 0)}", "not a hole"),
        ] {
            let e = IdFormat::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn lists_wrap_and_find_positions() {
        let l = IdSource::List {
            ids: vec!["a".into(), "b".into()],
            from: "list".into(),
        };
        assert_eq!(l.get(1, 3), "b");
        assert_eq!(l.position(1, "b", 10), Some(1));
        let f = IdSource::Format(IdFormat::parse("t-{n}").unwrap());
        assert_eq!(f.position(1, "t-3", 10), Some(2));
        assert_eq!(
            f.position(1, "t-30", 10),
            Some(29),
            "read back, not searched"
        );
        assert_eq!(f.position(1, "t-x", 10), None);
        assert_eq!(f.position(1, "t-0", 10), None);
        let padded = IdSource::Format(IdFormat::parse("c-{pad(n, 4)}").unwrap());
        assert_eq!(padded.position(1, "c-0042", 100), Some(41));
        assert_eq!(
            padded.position(1, "c-42", 100),
            None,
            "c-42 is not how 42 is written"
        );
        let u = IdSource::Format(IdFormat::parse("{uuid(user_id)}").unwrap());
        assert_eq!(u.position(1, &uuid(1, "u3"), 10), Some(3));
    }
}
