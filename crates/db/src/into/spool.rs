//! The projection's rows kept on disk while the engine runs, one COPY text file per
//! source table, so that each of the team's rows is written once and parents go before
//! children: a user's row needs the end-of-window balance, known only after the last
//! event, while its events stream out from the first day.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use crate::projection::{RowSink, Table};

/// Spool files in a folder of their own, removed when dropped.
pub struct Spool {
    dir: PathBuf,
    files: Vec<(Table, BufWriter<File>)>,
    pub rows: Vec<(Table, u64)>,
}

impl Spool {
    /// A spool keeping the rows of `tables` (others are dropped).
    pub fn create(tables: &[Table]) -> std::io::Result<Spool> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "simulate-into-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir)?;
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
