//! An answer's JSON read only at the field paths its checks, captures and outcome name.
//!
//! Why: parsing a whole HTTP body into a `serde_json::Value` (a `BTreeMap` and a `String`
//! per object and field) was the largest part of what a checking and capturing request
//! costs beyond a plain one (docs/PERFORMANCE.md, "Flows"). Here the body is walked once
//! with a tree of the wanted paths: the values at those paths are built as `Value`s and
//! everything else is only validated, never allocated (strings are borrowed, numbers
//! parsed and dropped).
//!
//! The answers are exactly those of `serde_json::from_slice::<Value>` followed by
//! [`crate::mapping::flow::pick`]: the same syntax, UTF-8, escape, number-range and
//! nesting-depth errors make the whole body "not JSON" (skipped parts go through
//! `deserialize_any` like a `Value`, not serde_json's lenient `ignored_any`); a key given
//! twice keeps its last value (a `Value` map's rule); a path component indexes an array
//! when it parses as a `usize`, as `pick` does.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::flow::pick;

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
    fn fill(&self, v: &Value, values: &mut [Option<Value>]) {
        if let Some(s) = self.slot {
            values[s] = Some(v.clone());
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

/// The values at a body's wanted paths.
#[derive(Clone, Debug)]
pub(crate) struct Picked {
    paths: Arc<Paths>,
    values: Vec<Option<Value>>,
}

impl Picked {
    /// The value at `path`, as `pick` finds it in the whole body (`None` when the body
    /// has nothing there, and for a path not among those the tree was built from).
    pub(crate) fn at(&self, path: &[String]) -> Option<&Value> {
        let i = self.paths.index_of(path);
        debug_assert!(
            i.is_some(),
            "{path:?} was not among the answer's read paths"
        );
        self.nth(i?, path)
    }

    /// The value at `path`, the `i`th path read ([`Paths::index_of`]).
    fn nth(&self, i: usize, path: &[String]) -> Option<&Value> {
        debug_assert_eq!(self.paths.paths.get(i).map(|p| &p[..]), Some(path));
        let (slot, depth) = self.paths.holder[i];
        pick(self.values[slot].as_ref()?, &path[depth..])
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
    pub(crate) fn at(&self, path: &[String]) -> Option<&Value> {
        match self {
            Json::Whole(v) => pick(v, path),
            Json::Picked(p) => p.at(path),
        }
    }

    /// [`Json::at`], with the path's number among an HTTP step's read paths when the
    /// mapping knows it (`read_as`): found without comparing paths (callgrind: the
    /// comparisons were ~450 instructions of a request with two checks and a capture).
    pub(crate) fn at_known(&self, read_as: Option<usize>, path: &[String]) -> Option<&Value> {
        match (self, read_as) {
            (Json::Picked(p), Some(i)) => p.nth(i, path),
            _ => self.at(path),
        }
    }
}

/// The body's values at `paths`; `None` when the body is not JSON.
///
/// The body's UTF-8 is checked once, whole, and then read as a `str`: serde_json's
/// slice reader checks each string again (callgrind: ~400 of a 52-byte answer's ~2,700
/// instructions). The answer is the same: a byte that is not UTF-8 fails `from_slice`
/// inside a string, and outside one it is not JSON's syntax either.
pub(crate) fn read(body: &[u8], paths: &Arc<Paths>) -> Option<Picked> {
    let body = std::str::from_utf8(body).ok()?;
    let mut values = vec![None; paths.slots];
    let mut de = serde_json::Deserializer::from_str(body);
    At {
        node: &paths.root,
        values: &mut values,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(Picked {
        paths: Arc::clone(paths),
        values,
    })
}

/// One value of the body, walked at `node` of the tree.
struct At<'n, 'v> {
    node: &'n Node,
    values: &'v mut [Option<Value>],
}

impl<'de> DeserializeSeed<'de> for At<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.node.slot {
            Some(s) => {
                self.values[s] = Some(Value::deserialize(d)?);
                Ok(())
            }
            None => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for At<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let At { node, values } = self;
        let mut i = 0;
        loop {
            let mut wanted = node.children.iter().filter(|c| c.index == Some(i));
            let more = match (wanted.next(), wanted.next()) {
                (None, _) => seq.next_element_seed(At {
                    node: &NOTHING,
                    values: &mut *values,
                })?,
                (Some(c), None) => seq.next_element_seed(At {
                    node: &c.node,
                    values: &mut *values,
                })?,
                // Two keys index this element (`1`, `01`): built whole, then read.
                (Some(_), Some(_)) => seq.next_element::<Value>()?.map(|v| {
                    for c in node.children.iter().filter(|c| c.index == Some(i)) {
                        c.node.fill(&v, values);
                    }
                }),
            };
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let At { node, values } = self;
        while let Some(child) = map.next_key_seed(Key(node))? {
            let node = match child {
                Some(c) => {
                    // A key given twice: its last value stands, as in a `Value` map.
                    for &s in &c.node.under {
                        values[s] = None;
                    }
                    &c.node
                }
                None => &NOTHING,
            };
            map.next_value_seed(At {
                node,
                values: &mut *values,
            })?;
        }
        Ok(())
    }
}

/// An object's key: which child of the node it names, if any.
struct Key<'n>(&'n Node);

impl<'de, 'n> DeserializeSeed<'de> for Key<'n> {
    type Value = Option<&'n Child>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'n> Visitor<'de> for Key<'n> {
    type Value = Option<&'n Child>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self.0.children.iter().find(|c| c.key == s))
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
        let picked = read(body.as_bytes(), &paths);
        assert_eq!(picked.is_some(), whole.is_some(), "is it JSON: {body}");
        if let (Some(whole), Some(picked)) = (whole, picked) {
            for p in &ps {
                assert_eq!(picked.at(p), pick(&whole, p), "{p:?} in {body}");
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
            body.as_bytes(),
            &Arc::new(Paths::new([&path("data.id")[..]])),
        )
        .unwrap();
        assert_eq!(p.at(&path("data.id")), Some(&Value::from("s-42")));
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
        let p = read(body.as_bytes(), &Arc::new(Paths::new([&path("plain")[..]]))).unwrap();
        assert_eq!(p.at(&path("plain")), Some(&Value::from("😀")));
    }

    #[test]
    fn numbers_keep_their_kind_and_value() {
        let body = r#"{"i":-3,"u":18446744073709551615,"f":1.5,"e":2e3,"z":0,"s":"1"}"#;
        same_as_whole(body, &["i", "u", "f", "e", "z", "s"]);
        let ps = [path("u"), path("f")];
        let p = read(
            body.as_bytes(),
            &Arc::new(Paths::new(ps.iter().map(Vec::as_slice))),
        )
        .unwrap();
        assert_eq!(p.at(&ps[0]), Some(&Value::from(u64::MAX)));
        assert_eq!(p.at(&ps[1]), Some(&Value::from(1.5)));
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
        assert!(read(b"{\"ok\":true,\"skip\":\"\xff\"}", &paths).is_none());
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
