//! The projection's rows kept on disk while the engine runs, one COPY text file per
//! source table, so that each of the team's rows is written once and parents go before
//! children: a user's row needs the end-of-window balance, known only after the last
//! event, while its events stream out from the first day.
//!
//! A spool is removed when its seed ends, Ctrl-C included. A seed killed outright
//! (`kill -9`, the machine's OOM killer) cannot remove its own, and at 250k users a spool
//! is gigabytes: so each spool holds a lock on a file inside it for as long as its process
//! lives (the kernel drops the lock when the process dies, however it dies), and the next
//! seed removes every spool of ours whose lock it can take. A spool still being made is
//! not yet under its final name, so it is never mistaken for a dead one.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::projection::{RowSink, Table};

/// What every spool folder's name starts with, in the system's temporary folder.
const PREFIX: &str = "simulate-into-";

/// The file a live spool keeps locked.
const LOCK: &str = "lock";

/// Spool files in a folder of their own, removed when dropped.
pub struct Spool {
    dir: PathBuf,
    files: Vec<(Table, BufWriter<File>)>,
    pub rows: Vec<(Table, u64)>,
    /// Held for the spool's life: tells a later seed this spool is not a dead one's.
    _lock: File,
}

impl Spool {
    /// A spool keeping the rows of `tables` (others are dropped), made after the spools
    /// of seeds that died without removing theirs are removed ([`sweep`]).
    pub fn create(tables: &[Table]) -> std::io::Result<Spool> {
        Spool::create_in(&std::env::temp_dir(), tables)
    }

    fn create_in(tmp: &Path, tables: &[Table]) -> std::io::Result<Spool> {
        sweep(tmp);
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        // Locked before it takes its name, so a sweep never sees it unlocked.
        let making = tmp.join(format!("{name}.partial"));
        std::fs::create_dir_all(&making)?;
        let lock = File::create(making.join(LOCK))?;
        lock.try_lock().map_err(std::io::Error::other)?;
        let dir = tmp.join(name);
        std::fs::rename(&making, &dir)?;
        let mut files = Vec::new();
        for t in tables {
            if files.iter().any(|(x, _)| x == t) {
                continue;
            }
            let f = File::create(dir.join(format!("{}.copy", t.name())))?;
            files.push((*t, BufWriter::with_capacity(1 << 20, f)));
        }
        Ok(Spool {
            dir,
            files,
            rows: Vec::new(),
            _lock: lock,
        })
    }

    /// Flushes the files; the rows can then be read.
    pub fn finish(&mut self) -> std::io::Result<()> {
        for (_, f) in &mut self.files {
            f.flush()?;
        }
        Ok(())
    }

    /// The rows of `t` in timeline order, as COPY text lines.
    pub fn lines(
        &self,
        t: Table,
    ) -> std::io::Result<impl Iterator<Item = std::io::Result<Vec<u8>>>> {
        let f = File::open(self.dir.join(format!("{}.copy", t.name())))?;
        let mut r = BufReader::with_capacity(1 << 20, f);
        Ok(std::iter::from_fn(move || {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) => None,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    Some(Ok(line))
                }
                Err(e) => Some(Err(e)),
            }
        }))
    }

    pub fn count(&self, t: Table) -> u64 {
        self.rows.iter().find(|(x, _)| *x == t).map_or(0, |x| x.1)
    }
}

/// Removes the spools in `tmp` whose seed died without removing them: those whose lock
/// file nobody holds. A folder without one (a spool still being made has another name; an
/// older version's spool has none) is left alone, and so is anything that fails.
fn sweep(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(PREFIX) || name.ends_with(".partial") {
            continue;
        }
        let dir = e.path();
        let Ok(lock) = File::open(dir.join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.files.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RowSink for Spool {
    fn rows(
        &mut self,
        table: Table,
        _lane: usize,
        chunk: Vec<u8>,
        rows: u64,
    ) -> std::io::Result<()> {
        let Some((_, f)) = self.files.iter_mut().find(|(t, _)| *t == table) else {
            return Ok(());
        };
        f.write_all(&chunk)?;
        match self.rows.iter_mut().find(|(t, _)| *t == table) {
            Some((_, n)) => *n += rows,
            None => self.rows.push((table, rows)),
        }
        Ok(())
    }

    fn lanes(&self, _table: Table) -> usize {
        1
    }

    fn binary(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_seeds_spool_is_removed_by_the_next_and_a_live_ones_is_kept() {
        let tmp = std::env::temp_dir().join(format!("spool-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        // A dead seed's spool: its lock file there, held by nobody; and its rows.
        let dead = tmp.join(format!("{PREFIX}999999-0"));
        std::fs::create_dir_all(&dead).unwrap();
        File::create(dead.join(LOCK)).unwrap();
        std::fs::write(dead.join("events.copy"), b"rows").unwrap();
        // An older version's spool (no lock file) and a spool still being made.
        let old = tmp.join(format!("{PREFIX}999998-0"));
        std::fs::create_dir_all(&old).unwrap();
        let making = tmp.join(format!("{PREFIX}999997-0.partial"));
        std::fs::create_dir_all(&making).unwrap();
        File::create(making.join(LOCK)).unwrap();
        // A live one, this process's own, and something else of the user's.
        let live = Spool::create_in(&tmp, &[]).unwrap();
        let theirs = tmp.join("simulate-notes");
        std::fs::create_dir_all(&theirs).unwrap();
        File::create(theirs.join(LOCK)).unwrap();

        let next = Spool::create_in(&tmp, &[]).unwrap();
        assert!(!dead.exists(), "the dead seed's spool is removed");
        assert!(live.dir.exists(), "a live spool is kept: its lock is held");
        assert!(old.exists() && making.exists() && theirs.exists());
        assert!(next.dir.exists());
        drop((live, next));
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            left.len(),
            3,
            "the two spools removed when dropped: {left:?}"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
