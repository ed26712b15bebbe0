//! Shards: which users' requests one of N replaying processes sends (`--shard I/N`).
//!
//! Every shard simulates the whole world and paces the whole timeline, so all map a
//! simulated instant to the same wall instant; it then sends only the requests of its own
//! users. A user belongs to shard `1 + h(user_id) mod N`, with `h` a fixed keyed hash
//! (FNV-1a 64 of a key and the id, then SplitMix64's finalizer): never split by time, so a
//! user's requests stay in order on one shard, and N shards together send each request of
//! one process exactly once. The hash is written out here rather than taken from `std`,
//! whose hashers may change between Rust releases: shards built apart must agree.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The key mixed into every user's hash (a new key would be a new assignment).
const KEY: &[u8] = b"simulate-shard-v1:";

/// One shard of N: `index` from 1 to `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Most shards a run may be cut into.
pub const MAX_SHARDS: u32 = 10_000;

impl Shard {
    /// `I/N`, 1-based (Playwright's and Jest's `--shard 1/3`).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not I/N"))?;
        let num = |s: &str, what: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{text}`: the {what} `{s}` is not a whole number"))
        };
        let (index, count) = (num(i, "index")?, num(n, "count")?);
        Shard::new(index, count).map_err(|m| format!("`{text}`: {m}"))
    }

    /// Shard `index` (1-based) of `count`, checked.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("the count must be 1 to {MAX_SHARDS}, not {count}"));
        }
        if index == 0 || index > count {
            return Err(format!("the index must be 1 to {count}, not {index}"));
        }
        Ok(Shard { index, count })
    }

    /// A Kubernetes Indexed Job's pod: `JOB_COMPLETION_INDEX` (0-based, `completion`)
    /// of `count` shards.
    pub fn of_completion_index(completion: Option<&str>, count: u32) -> Result<Shard, String> {
        // The count first: with an invalid one no index is in range.
        Shard::new(1, count)?;
        let text = completion.ok_or(
            "JOB_COMPLETION_INDEX is not set (an Indexed Job sets it in each pod)".to_string(),
        )?;
        let i: u32 = text
            .trim()
            .parse()
            .map_err(|_| format!("JOB_COMPLETION_INDEX `{text}` is not a whole number from 0"))?;
        if i >= count {
            return Err(format!(
                "JOB_COMPLETION_INDEX {i} is out of range for {count} shards (0 to {})",
                count.saturating_sub(1)
            ));
        }
        Shard::new(i + 1, count)
    }

    /// Whether this shard sends the requests of `user_id`.
    pub fn owns(&self, user_id: &str) -> bool {
        bucket(user_id, self.count) == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The 0-based shard of `user_id` among `count`.
pub fn bucket(user_id: &str, count: u32) -> u32 {
    (hash(user_id.as_bytes()) % u64::from(count.max(1))) as u32
}

/// FNV-1a 64 over the key and the id, finished by SplitMix64's mixer so that ids
/// differing in one digit land far apart.
fn hash(id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in KEY.iter().chain(id) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        assert!(Shard::parse("0/3").unwrap_err().contains("1 to 3"));
        assert!(Shard::parse("4/3").unwrap_err().contains("1 to 3"));
        assert!(Shard::parse("3").unwrap_err().contains("I/N"));
        assert!(Shard::parse("a/3").unwrap_err().contains("whole number"));
        assert_eq!(
            Shard::of_completion_index(Some("0"), 3),
            Ok(Shard { index: 1, count: 3 })
        );
        assert!(
            Shard::of_completion_index(Some("3"), 3)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            Shard::of_completion_index(None, 3)
                .unwrap_err()
                .contains("not set")
        );
        let zero = Shard::of_completion_index(Some("0"), 0).unwrap_err();
        assert!(zero.contains("the count must be 1 to"), "{zero}");
    }

    /// Each user on exactly one shard, and the shards within a few percent of each other
    /// for ids like the engine's (`u1` …).
    #[test]
    fn every_user_on_one_shard_balanced() {
        let n = 4;
        let shards: Vec<Shard> = (1..=n).map(|i| Shard::new(i, n).unwrap()).collect();
        let mut sizes = [0u32; 4];
        for u in 1..=40_000 {
            let id = format!("u{u}");
            let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(&id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0].index as usize - 1] += 1;
        }
        for s in sizes {
            assert!((9_500..=10_500).contains(&s), "{sizes:?}");
        }
    }

    /// The assignment is part of the format: shards built apart must agree.
    #[test]
    fn assignment_is_pinned() {
        let got: Vec<u32> = (1..=8).map(|u| bucket(&format!("u{u}"), 3)).collect();
        assert_eq!(got, PINNED);
    }

    const PINNED: [u32; 8] = [2, 2, 2, 0, 0, 0, 2, 0];
}
