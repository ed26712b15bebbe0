//! An answer's JSON read only at the field paths its checks, captures and outcome name.
//!
//! Why by hand: parsing a whole HTTP body into a `serde_json::Value` (a `BTreeMap` and a
//! `String` per object and field) was the largest part of what a checking and capturing
//! request costs beyond a plain one (docs/PERFORMANCE.md, "Flows"); walking it with
//! serde_json's `Deserializer` and a tree of the wanted paths still cost ~2,400
//! instructions for a 52-byte answer (callgrind), most of it serde's visitor machinery
//! and a `String` per wanted leaf. No crate validates JSON exactly as `serde_json` does
//! while handing back where the wanted values lie. So [`read`] scans the body once here:
//! it validates every byte with serde_json's rules, keeps a wanted string that has no
//! escape as a range of the body (a check compares it in place, a capture copies it
//! once), builds `true`, `false`, `null` and small integers directly, and hands every
//! other wanted value (and every string with an escape, every number that is not a
//! small integer) to serde_json itself, so those answers are serde_json's own.
//!
//! The answers are exactly those of `serde_json::from_slice::<Value>` followed by
//! [`crate::mapping::flow::pick`] (the tests compare the two on thousands of generated
//! bodies, valid and broken): the same syntax, UTF-8, escape, number-range and
//! nesting-depth errors make the whole body "not JSON"; a key given twice keeps its last
//! value (a `Value` map's rule); a path component indexes an array when it parses as a
//! `usize`, as `pick` does.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::flow::{pick, text_of};

/// The distinct field paths read from one request's answers, as a tree.
#[derive(Debug, Default)]
pub(crate) struct Paths {
    /// Each distinct path once, in the order first named.
    paths: Vec<Vec<String>>,
    /// For each path: the slot whose value holds it, and how many of its components
    /// lead to that slot (a path that extends another is read inside the shorter one's
    /// value).
    holder: Vec<(usize, usize)>,
    root: Node,
    /// How many values a read keeps.
    slots: usize,
}

#[derive(Debug, Default)]
struct Node {
    /// The slot this node's whole value is kept in: a path ends here.
    slot: Option<usize>,
    children: Vec<Child>,
    /// Every slot at or under this node: emptied when a key given twice is read again.
    under: Vec<usize>,
}

#[derive(Debug)]
struct Child {
    key: String,
    /// The key as an array index (`pick`'s rule: `str::parse::<usize>`).
    index: Option<usize>,
    node: Node,
}

/// A node that wants nothing: what a skipped value is walked with.
static NOTHING: Node = Node {
    slot: None,
    children: Vec::new(),
    under: Vec::new(),
};

impl Paths {
    /// The tree of `paths` (repeats are read once).
    pub(crate) fn new<'p>(paths: impl IntoIterator<Item = &'p [String]>) -> Paths {
        let mut all: Vec<Vec<String>> = Vec::new();
        for p in paths {
            if !all.iter().any(|q| q[..] == *p) {
                all.push(p.to_vec());
            }
        }
        // A path with a shorter one of the set before it is read inside that one's value.
        let mut tops: Vec<usize> = (0..all.len()).collect();
        tops.sort_by_key(|&i| all[i].len());
        let mut root = Node::default();
        let mut slot_of: Vec<(usize, usize)> = Vec::new();
        let mut holder = vec![(0, 0); all.len()];
        for &i in &tops {
            let held = slot_of
                .iter()
                .find(|&&(j, _)| all[i].starts_with(&all[j]))
                .copied();
            holder[i] = match held {
                Some((j, slot)) => (slot, all[j].len()),
                None => {
                    let slot = slot_of.len();
                    slot_of.push((i, slot));
                    root.insert(&all[i], slot);
                    (slot, all[i].len())
                }
            };
        }
        root.gather();
        Paths {
            paths: all,
            holder,
            root,
            slots: slot_of.len(),
        }
    }
}

impl Paths {
    /// The number of `path` among the paths read, for [`Json::at_known`].
    pub(crate) fn index_of(&self, path: &[String]) -> Option<usize> {
        self.paths.iter().position(|p| p[..] == *path)
    }
}

impl Node {
    fn insert(&mut self, path: &[String], slot: usize) {
        let Some((first, rest)) = path.split_first() else {
            self.slot = Some(slot);
            return;
        };
        let i = match self.children.iter().position(|c| c.key == *first) {
            Some(i) => i,
            None => {
                self.children.push(Child {
                    key: first.clone(),
                    index: first.parse().ok(),
                    node: Node::default(),
                });
                self.children.len() - 1
            }
        };
        self.children[i].node.insert(rest, slot);
    }

    /// Fills `under` at every node.
    fn gather(&mut self) -> Vec<usize> {
        let mut under: Vec<usize> = self.slot.into_iter().collect();
        for c in &mut self.children {
            under.extend(c.node.gather());
        }
        self.under = under.clone();
        under
    }

    /// Keeps this node's slots from an already built value (an array element two paths
    /// index alike, `1` and `01`).
    fn fill(&self, v: &Value, values: &mut [Option<Slot>]) {
        if let Some(s) = self.slot {
            values[s] = Some(Slot::Value(v.clone()));
            return;
        }
        for c in &self.children {
            let Some(inner) = pick(v, std::slice::from_ref(&c.key)) else {
                continue;
            };
            for &s in &c.node.under {
                values[s] = None;
            }
            c.node.fill(inner, values);
        }
    }
}

/// What a read keeps at one of its paths.
#[derive(Clone, Debug)]
enum Slot {
    /// A string without escapes: the byte range of its text in the body.
    Str(usize, usize),
    Value(Value),
}

/// The values at a body's wanted paths.
#[derive(Clone, Debug)]
pub(crate) struct Picked {
    paths: Arc<Paths>,
    /// The whole body: [`Slot::Str`]'s ranges are in it.
    body: String,
    /// By slot. (Inline in a `SmallVec` they cost more than their allocation saved: the
    /// answer is moved through several futures, callgrind +370 instructions of `memcpy`.)
    values: Vec<Option<Slot>>,
}

impl Picked {
    /// The value at `path`, as `pick` finds it in the whole body (`None` when the body
    /// has nothing there, and for a path not among those the tree was built from).
    pub(crate) fn at(&self, path: &[String]) -> Option<Found<'_>> {
        let i = self.paths.index_of(path);
        debug_assert!(
            i.is_some(),
            "{path:?} was not among the answer's read paths"
        );
        self.nth(i?, path)
    }

    /// The value at `path`, the `i`th path read ([`Paths::index_of`]).
    fn nth(&self, i: usize, path: &[String]) -> Option<Found<'_>> {
        debug_assert_eq!(self.paths.paths.get(i).map(|p| &p[..]), Some(path));
        let (slot, depth) = self.paths.holder[i];
        match self.values[slot].as_ref()? {
            // A string has no fields and no elements.
            Slot::Str(a, b) => (path.len() == depth).then(|| Found::Str(&self.body[*a..*b])),
            Slot::Value(v) => pick(v, &path[depth..]).map(Found::Value),
        }
    }
}

/// A value found in an answer: a JSON value, or an HTTP body's string that has no
/// escape, borrowed from the body (no `String` built for a check that compares it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Found<'a> {
    Str(&'a str),
    Value(&'a Value),
}

impl<'a> Found<'a> {
    pub(crate) fn is_null(self) -> bool {
        matches!(self, Found::Value(Value::Null))
    }

    /// Its text: a string as is (borrowed), anything else as JSON ([`text_of`]).
    pub(crate) fn text(self) -> Cow<'a, str> {
        match self {
            Found::Str(s) => Cow::Borrowed(s),
            Found::Value(Value::String(s)) => Cow::Borrowed(s),
            Found::Value(v) => Cow::Owned(text_of(v)),
        }
    }

    /// As an owned `Value` (what `pick` finds in the whole body).
    #[cfg(test)]
    pub(crate) fn owned(self) -> Value {
        match self {
            Found::Str(s) => Value::from(s),
            Found::Value(v) => v.clone(),
        }
    }
}

/// An answer's JSON as a flow reads it: whole (a gRPC response, a Socket.IO ack), or an
/// HTTP body read only at the paths its step names.
#[derive(Clone, Debug)]
pub(crate) enum Json {
    Whole(Value),
    Picked(Picked),
}

impl Json {
    /// The value at `path` (`pick`'s rule).
    pub(crate) fn at(&self, path: &[String]) -> Option<Found<'_>> {
        match self {
            Json::Whole(v) => pick(v, path).map(Found::Value),
            Json::Picked(p) => p.at(path),
        }
    }

    /// [`Json::at`], with the path's number among an HTTP step's read paths when the
    /// mapping knows it (`read_as`): found without comparing paths (callgrind: the
    /// comparisons were ~450 instructions of a request with two checks and a capture).
    pub(crate) fn at_known(&self, read_as: Option<usize>, path: &[String]) -> Option<Found<'_>> {
        match (self, read_as) {
            (Json::Picked(p), Some(i)) => p.nth(i, path),
            _ => self.at(path),
        }
    }
}

/// The body's values at `paths`; `None` when the body is not JSON. The body is kept
/// (moved, not copied): the strings found are read from it.
pub(crate) fn read(body: Vec<u8>, paths: &Arc<Paths>) -> Option<Picked> {
    let body = String::from_utf8(body).ok()?;
    let mut values = vec![None; paths.slots];
    let mut scan = Scan {
        s: body.as_bytes(),
        text: &body,
        i: 0,
        depth: DEPTH,
    };
    scan.value(&paths.root, &mut values)?;
    scan.ws();
    if scan.i != body.len() {
        return None;
    }
    Some(Picked {
        paths: Arc::clone(paths),
        body,
        values,
    })
}

/// The bytes that end a run of a string's text: its closing quote, an escape, and the
/// control characters JSON does not allow in a string.
static STOPS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// JSON's brackets, named: in byte literals inside a function they unbalance the
/// brace counting of the project's function-length check.
const OBJECT: u8 = b'{';
const OBJECT_END: u8 = b'}';
const ARRAY: u8 = b'[';
const ARRAY_END: u8 = b']';

/// serde_json's nesting limit: an array or object 128 deep is an error, 127 is not.
const DEPTH: usize = 128;

/// A pass over a body that is valid UTF-8, value by value. Every method returns `None`
/// at the first byte serde_json would refuse.
struct Scan<'b> {
    s: &'b [u8],
    text: &'b str,
    i: usize,
    /// What is left of [`DEPTH`] (serde_json's `remaining_depth`).
    depth: usize,
}

/// What [`Scan::skip`] passed over.
enum Kind {
    /// A string that began at this quote; `true` when it has escapes.
    Str(usize, bool),
    True,
    False,
    Null,
    /// A number; `true` when it is a non-negative integer of at most 18 digits.
    Number(bool),
    Container,
}

impl Scan<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// JSON's whitespace, as serde_json skips it.
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// One value (after whitespace) walked at `node`: kept whole where a path ends,
    /// entered where a path goes on, passed over elsewhere.
    fn value(&mut self, node: &Node, values: &mut [Option<Slot>]) -> Option<()> {
        self.ws();
        if let Some(s) = node.slot {
            let start = self.i;
            let kind = self.skip()?;
            values[s] = Some(self.slot(start, kind)?);
            return Some(());
        }
        match self.peek()? {
            OBJECT if !node.children.is_empty() => self.object(node, values),
            ARRAY if !node.children.is_empty() => self.array(node, values),
            _ => self.skip().map(drop),
        }
    }

    /// A kept value from what [`Scan::skip`] passed over since `start`.
    #[inline(always)]
    fn slot(&self, start: usize, kind: Kind) -> Option<Slot> {
        Some(match kind {
            Kind::Str(open, false) => Slot::Str(open + 1, self.i - 1),
            Kind::Str(open, true) => Slot::Value(Value::String(self.unescaped(open)?)),
            Kind::True => Slot::Value(Value::Bool(true)),
            Kind::False => Slot::Value(Value::Bool(false)),
            Kind::Null => Slot::Value(Value::Null),
            Kind::Number(true) => {
                Slot::Value(Value::from(self.text[start..self.i].parse::<u64>().ok()?))
            }
            // serde_json's own reading: its number types, float rounding and maps.
            Kind::Number(false) | Kind::Container => {
                Slot::Value(serde_json::from_str(&self.text[start..self.i]).ok()?)
            }
        })
    }

    /// Passes over one value (no whitespace before it), validated.
    #[inline(always)]
    fn skip(&mut self) -> Option<Kind> {
        match self.peek()? {
            OBJECT => self.object(&NOTHING, &mut []).map(|()| Kind::Container),
            ARRAY => self.array(&NOTHING, &mut []).map(|()| Kind::Container),
            b'"' => {
                let open = self.i;
                self.string().map(|escaped| Kind::Str(open, escaped))
            }
            b't' => self.literal(b"true", Kind::True),
            b'f' => self.literal(b"false", Kind::False),
            b'n' => self.literal(b"null", Kind::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    #[inline]
    fn literal(&mut self, word: &[u8], kind: Kind) -> Option<Kind> {
        if !self.s[self.i..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        Some(kind)
    }

    /// A number: the longest run of number characters (JSON lets none of them follow a
    /// number, so a longer run is an error either way). A non-negative integer of up to
    /// 18 digits is plainly valid; anything else is serde_json's to judge (its range
    /// and syntax errors: `1e400`, `01`, `1.`, `-`).
    fn number(&mut self) -> Option<Kind> {
        let start = self.i;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.i += 1;
        }
        let run = &self.s[start..self.i];
        let small = run.len() <= 18
            && run.iter().all(u8::is_ascii_digit)
            && (run[0] != b'0' || run.len() == 1);
        if small || serde_json::from_str::<Value>(&self.text[start..self.i]).is_ok() {
            Some(Kind::Number(small))
        } else {
            None
        }
    }

    /// A string (at its opening quote): to its closing quote; a control character in it
    /// is an error. One with an escape is checked by serde_json (its escapes, surrogate
    /// pairs and their errors). `true` when it has escapes; its text is then
    /// [`Scan::unescaped`], else the bytes between the quotes.
    #[inline(always)]
    fn string(&mut self) -> Option<bool> {
        let open = self.i;
        let mut i = open + 1;
        let mut escaped = false;
        loop {
            // The bytes that end a plain run, found by table (callgrind: a third of
            // the per-byte cost of a `match` on each).
            i += self
                .s
                .get(i..)?
                .iter()
                .position(|&b| STOPS[usize::from(b)])?;
            match self.s[i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => return None,
            }
        }
        self.i = i + 1;
        if escaped {
            self.unescaped(open)?;
        }
        Some(escaped)
    }

    /// The text of the string with escapes that began at `open` and ends before
    /// `self.i`, as serde_json reads it (`None` where serde_json refuses it).
    #[cold]
    fn unescaped(&self, open: usize) -> Option<String> {
        serde_json::from_str(self.text.get(open..self.i)?).ok()
    }

    /// Into an array or object at its opening byte (serde_json's nesting limit); `true`
    /// when it closes at once with `close` (`[]`, `{}`), and is left.
    fn open(&mut self, close: u8) -> Option<bool> {
        self.depth -= 1;
        if self.depth == 0 {
            return None;
        }
        self.i += 1;
        self.ws();
        let empty = self.peek()? == close;
        if empty {
            self.leave();
        }
        Some(empty)
    }

    fn leave(&mut self) {
        self.depth += 1;
        self.i += 1;
    }

    /// An object walked at `node`: a key it names is read at that child. A key given
    /// twice: its last value stands, as in a `Value` map.
    fn object(&mut self, node: &Node, values: &mut [Option<Slot>]) -> Option<()> {
        if self.open(OBJECT_END)? {
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let open = self.i;
            let child = if self.string()? {
                let key = self.unescaped(open)?;
                node.children.iter().find(|c| c.key == key)
            } else {
                let key = &self.s[open + 1..self.i - 1];
                node.children.iter().find(|c| c.key.as_bytes() == key)
            };
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            let next = match child {
                Some(c) => {
                    for &s in &c.node.under {
                        values[s] = None;
                    }
                    &c.node
                }
                None => &NOTHING,
            };
            self.value(next, values)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                OBJECT_END => break,
                _ => return None,
            }
        }
        self.leave();
        Some(())
    }

    /// An array walked at `node`: an element whose index a child names is read there.
    fn array(&mut self, node: &Node, values: &mut [Option<Slot>]) -> Option<()> {
        if self.open(ARRAY_END)? {
            return Some(());
        }
        let mut i = 0;
        loop {
            let mut wanted = node.children.iter().filter(|c| c.index == Some(i));
            match (wanted.next(), wanted.next()) {
                (None, _) => self.value(&NOTHING, values)?,
                (Some(c), None) => self.value(&c.node, values)?,
                // Two keys index this element (`1`, `01`): built whole, then read.
                (Some(_), Some(_)) => {
                    self.ws();
                    let start = self.i;
                    self.skip()?;
                    let v: Value = serde_json::from_str(&self.text[start..self.i]).ok()?;
                    for c in node.children.iter().filter(|c| c.index == Some(i)) {
                        c.node.fill(&v, values);
                    }
                }
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                ARRAY_END => break,
                _ => return None,
            }
            i += 1;
        }
        self.leave();
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Vec<String> {
        s.split('.').map(String::from).collect()
    }

    /// Every path read both ways: here, and `pick` in the whole `Value`.
    fn same_as_whole(body: &str, wanted: &[&str]) {
        let ps: Vec<Vec<String>> = wanted.iter().map(|s| path(s)).collect();
        let paths = Arc::new(Paths::new(ps.iter().map(Vec::as_slice)));
        let whole = serde_json::from_str::<Value>(body).ok();
        let picked = read(body.as_bytes().to_vec(), &paths);
        assert_eq!(picked.is_some(), whole.is_some(), "is it JSON: {body}");
        if let (Some(whole), Some(picked)) = (whole, picked) {
            for p in &ps {
                assert_eq!(
                    picked.at(p).map(Found::owned),
                    pick(&whole, p).cloned(),
                    "{p:?} in {body}"
                );
            }
        }
    }

    #[test]
    fn nested_paths_read_what_the_whole_value_holds() {
        let body =
            r#"{"ok":true,"data":{"id":"s-42","status":"accepted","n":{"m":[1,2]}},"x":[{"y":1}]}"#;
        same_as_whole(body, &["ok", "data.id", "data.status", "data.n.m", "nope"]);
        same_as_whole(body, &["data", "data.id", "data.n.m.1", "ok.deeper", "x.y"]);
        let p = read(
            body.as_bytes().to_vec(),
            &Arc::new(Paths::new([&path("data.id")[..]])),
        )
        .unwrap();
        assert_eq!(p.at(&path("data.id")), Some(Found::Str("s-42")));
    }

    #[test]
    fn array_elements_are_indexed_as_pick_parses_them() {
        let body = r#"{"a":[{"id":7},{"id":8},"s",null],"o":{"0":"zero"}}"#;
        same_as_whole(
            body,
            &[
                "a.0.id", "a.1.id", "a.01.id", "a.+1.id", "a.2", "a.3", "a.9", "a.x", "o.0",
            ],
        );
        same_as_whole(r#"[[1,[2,3]],4]"#, &["0.1.0", "1", "0.0", "2"]);
    }

    #[test]
    fn escaped_strings_and_keys_match_unescaped() {
        let body = r#"{"k\u00e9y":"v\n\"q\"","pl\u0061in":"\ud83d\ude00","skip":"a\\b\/c"}"#;
        same_as_whole(body, &["kéy", "plain"]);
        let p = read(
            body.as_bytes().to_vec(),
            &Arc::new(Paths::new([&path("plain")[..]])),
        )
        .unwrap();
        assert_eq!(p.at(&path("plain")), Some(Found::Value(&Value::from("😀"))));
    }

    #[test]
    fn numbers_keep_their_kind_and_value() {
        let body = r#"{"i":-3,"u":18446744073709551615,"f":1.5,"e":2e3,"z":0,"s":"1"}"#;
        same_as_whole(body, &["i", "u", "f", "e", "z", "s"]);
        let ps = [path("u"), path("f")];
        let p = read(
            body.as_bytes().to_vec(),
            &Arc::new(Paths::new(ps.iter().map(Vec::as_slice))),
        )
        .unwrap();
        assert_eq!(p.at(&ps[0]), Some(Found::Value(&Value::from(u64::MAX))));
        assert_eq!(p.at(&ps[1]), Some(Found::Value(&Value::from(1.5))));
    }

    #[test]
    fn a_body_that_is_not_json_reads_nothing_even_where_it_is_skipped() {
        for bad in [
            "not json",
            "",
            r#"{"ok":true"#,
            r#"{"ok":true} trailing"#,
            r#"{"ok":true,"skip":1e400}"#,
            r#"{"ok":true,"skip":"\ud800"}"#,
            r#"{"ok":true,"skip":"\x"}"#,
            r#"{"ok":true,"skip":01}"#,
            r#"{"ok":true,"skip":[1,]}"#,
        ] {
            same_as_whole(bad, &["ok"]);
        }
        // Invalid UTF-8 in a skipped string, and nesting past serde_json's limit (128).
        let paths = Arc::new(Paths::new([&path("ok")[..]]));
        assert!(read(b"{\"ok\":true,\"skip\":\"\xff\"}".to_vec(), &paths).is_none());
        let deep = format!(
            r#"{{"ok":true,"skip":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        same_as_whole(&deep, &["ok"]);
        let fine = format!(
            r#"{{"ok":true,"skip":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        same_as_whole(&fine, &["ok"]);
    }

    /// serde_json's nesting limit, at its edge: 127 deep is JSON, 128 is not.
    #[test]
    fn nesting_stops_where_serde_jsons_does() {
        for depth in [126, 127, 128, 129] {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                same_as_whole(&body, &["a", "0", "a.a"]);
                let wrapped = format!(r#"{{"ok":true,"skip":{body}}}"#);
                same_as_whole(&wrapped, &["ok"]);
            }
        }
    }

    /// A small, seeded generator (xorshift), so a failure names a case that repeats.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// A random JSON text, with serde_json's edge cases among its pieces.
    fn random_json(rng: &mut Rng, depth: usize, out: &mut String) {
        const WS: &[&str] = &["", "", " ", "\n", "\t ", "\r\n"];
        const KEYS: &[&str] = &[
            r#""a""#,
            r#""b""#,
            r#""0""#,
            r#""1""#,
            r#""01""#,
            r#""\u0061""#,
            r#""a\"b""#,
            r#""k\u00e9y""#,
            r#""kéy""#,
            r#""""#,
        ];
        const LEAVES: &[&str] = &[
            "true",
            "false",
            "null",
            "0",
            "-0",
            "7",
            "-3",
            "1.5",
            "2e3",
            "1E-2",
            "-0.0",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678",
            "1234567890123456789",
            "1e400",
            "1e-400",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "1e+",
            r#""s-42""#,
            r#""accepted""#,
            r#""""#,
            r#""a\nb""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\x""#,
            r#""\u12""#,
            "\"tab\there\"",
            r#""é☃""#,
            r#""a\/b\\c""#,
            "tru",
            "nul",
            "falsey",
        ];
        out.push_str(rng.pick(WS));
        match (depth, rng.below(4)) {
            (0, _) | (_, 0 | 1) => out.push_str(rng.pick(LEAVES)),
            (_, 2) => {
                out.push('[');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    random_json(rng, depth - 1, out);
                }
                out.push_str(rng.pick(WS));
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(rng.pick(WS));
                    out.push_str(rng.pick(KEYS));
                    out.push_str(rng.pick(WS));
                    out.push(':');
                    random_json(rng, depth - 1, out);
                }
                out.push_str(rng.pick(WS));
                out.push('}');
            }
        }
        out.push_str(rng.pick(WS));
    }

    /// Thousands of generated bodies, valid and broken (a byte dropped, added or
    /// changed), read here and by serde_json whole: the same "is it JSON", the same
    /// values at every path.
    #[test]
    fn generated_bodies_read_as_serde_json_reads_them() {
        const BYTES: &[u8] = b"{}[],:\"\\ 0123456789eE.+-tfnul\t\x01\x1f\x7f";
        const WANTED: &[&str] = &[
            "a", "b", "0", "1", "01", "a.b", "a.0", "a.1", "0.a", "1.0", "a.a.a", "b.01", "kéy",
            "a\"b", "",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut valid, mut broken) = (0, 0);
        for _ in 0..20_000 {
            let mut body = String::new();
            random_json(&mut rng, 4, &mut body);
            let mut bytes = body.into_bytes();
            for _ in 0..rng.below(3) {
                let at = rng.below(bytes.len() + 1);
                let b = BYTES[rng.below(BYTES.len())];
                match rng.below(3) {
                    0 if at < bytes.len() => drop(bytes.remove(at)),
                    1 if at < bytes.len() => bytes[at] = b,
                    _ => bytes.insert(at, b),
                }
            }
            // A mutation inside a multi-byte character leaves bytes that are not UTF-8.
            let Ok(body) = String::from_utf8(bytes) else {
                continue;
            };
            let wanted: Vec<&str> = (0..1 + rng.below(4)).map(|_| rng.pick(WANTED)).collect();
            same_as_whole(&body, &wanted);
            match serde_json::from_str::<Value>(&body) {
                Ok(_) => valid += 1,
                Err(_) => broken += 1,
            }
        }
        assert!(
            valid > 3_000 && broken > 3_000,
            "{valid} valid, {broken} broken"
        );
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_value_as_serde_does() {
        same_as_whole(r#"{"a":1,"a":2}"#, &["a"]);
        same_as_whole(r#"{"a":{"b":1},"a":{"c":2}}"#, &["a.b", "a.c"]);
        same_as_whole(r#"{"a":{"b":1},"a":3}"#, &["a.b"]);
        same_as_whole(r#"{"a":[1,[5]],"a":[9]}"#, &["a.0", "a.1.0", "a.01.0"]);
    }

    #[test]
    fn repeated_and_overlapping_paths_are_read_once() {
        let ps = [path("a"), path("a.b"), path("a"), path("c")];
        let paths = Paths::new(ps.iter().map(Vec::as_slice));
        assert_eq!(paths.paths.len(), 3);
        assert_eq!(paths.slots, 2, "a.b is read inside a");
        same_as_whole(r#"{"a":{"b":[1]},"c":null}"#, &["a.b", "a", "c"]);
    }
}
