//! The Socket.IO 5 packets inside Engine.IO 4 messages, as far as a client needs them:
//! `4` + packet type, an optional `/namespace,`, an optional ack id, then the JSON data.

/// A Socket.IO packet inside an Engine.IO MESSAGE (`4…`).
#[derive(Debug, PartialEq)]
pub(super) struct Packet<'a> {
    /// `0` connect, `1` disconnect, `2` event, `3` ack, `4` connect error.
    pub(super) kind: u8,
    pub(super) ns: &'a str,
    pub(super) id: Option<u64>,
    pub(super) data: &'a str,
}

impl<'a> Packet<'a> {
    pub(super) fn parse(text: &'a str) -> Option<Packet<'a>> {
        let b = text.as_bytes();
        if b.len() < 2 || b[0] != b'4' {
            return None;
        }
        let kind = b[1];
        let mut rest = &text[2..];
        let mut ns = "/";
        if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            ns = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or("");
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = rest[..digits].parse().ok();
        Some(Packet {
            kind,
            ns,
            id,
            data: &rest[digits..],
        })
    }
}

/// `/nsp,` before a packet's payload, empty for the main namespace.
pub(super) fn nsp_prefix(ns: &str) -> String {
    if ns == "/" {
        String::new()
    } else {
        format!("{ns},")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_parse_with_and_without_namespace_and_ack_id() {
        assert_eq!(
            Packet::parse(r#"42["gift",{"id":1}]"#),
            Some(Packet {
                kind: b'2',
                ns: "/",
                id: None,
                data: r#"["gift",{"id":1}]"#
            })
        );
        assert_eq!(
            Packet::parse(r#"43/chat,17[{"ok":true}]"#),
            Some(Packet {
                kind: b'3',
                ns: "/chat",
                id: Some(17),
                data: r#"[{"ok":true}]"#
            })
        );
        assert_eq!(
            Packet::parse(r#"40/chat,{"sid":"x"}"#).map(|p| (p.kind, p.ns)),
            Some((b'0', "/chat"))
        );
        assert_eq!(
            Packet::parse("41").map(|p| (p.kind, p.ns)),
            Some((b'1', "/"))
        );
        assert_eq!(Packet::parse("2"), None);
    }
}
