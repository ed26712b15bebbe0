//! Files written whole or not at all: each output goes to a temporary name beside its
//! destination and is renamed into place only once complete and on disk, so a full disk,
//! a crash or Ctrl-C leaves the previous file (or none), never a truncated one. Pure std.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A file being written beside its destination. [`Pending::commit`] renames it into
/// place; dropped uncommitted, it is removed (it is ours: created exclusively, under a
/// name of its own).
#[derive(Debug)]
pub struct Pending {
    tmp: PathBuf,
    dest: PathBuf,
    done: bool,
}

impl Pending {
    /// Creates `<dest>.simulate-<pid>-<n>.tmp` exclusively (O_EXCL) in `dest`'s folder, so
    /// the rename stays on one file system and never replaces a file it did not create.
    pub fn create(dest: &Path) -> io::Result<(Pending, File)> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = dest
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let mut tmp_name = name.to_os_string();
        tmp_name.push(format!(
            ".simulate-{}-{}.tmp",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = dest.with_file_name(tmp_name);
        let file = File::options().write(true).create_new(true).open(&tmp)?;
        Ok((
            Pending {
                tmp,
                dest: dest.to_path_buf(),
                done: false,
            },
            file,
        ))
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Renames the temporary file into place, once its file is completely written and
    /// closed (and, for a small document, [`finish`]ed).
    pub fn commit(mut self) -> io::Result<()> {
        std::fs::rename(&self.tmp, &self.dest)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Puts a written file on disk: a full disk shows here at the latest (some file systems
/// report it only when the data is flushed, not at `write`).
pub fn finish(file: File) -> io::Result<()> {
    file.sync_all()
}

/// `bytes` written and synced beside `dest`, not yet in place: for several files that
/// should appear together (commit them one after the other once all are ready).
pub fn prepare(dest: &Path, bytes: &[u8]) -> io::Result<Pending> {
    let (pending, mut file) = Pending::create(dest)?;
    file.write_all(bytes)?;
    finish(file)?;
    Ok(pending)
}

/// Writes `bytes` to `dest` whole, or leaves what was there.
pub fn write(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    prepare(dest, bytes)?.commit()
}

/// What a failed write left at `dest`, for the error message.
pub fn left_behind(dest: &Path) -> String {
    if dest.is_file() {
        format!("the previous {} is unchanged", dest.display())
    } else {
        format!("nothing was written to {}", dest.display())
    }
}

/// Whether a write failed for want of space (ENOSPC).
pub fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// The fix for a failed write: a full disk wants space, anything else the path checked.
pub fn fix_for(e: &io::Error) -> &'static str {
    if is_disk_full(e) {
        "free space on that disk, or write elsewhere"
    } else {
        "check that the folder exists and is writable, or write elsewhere"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("simulate-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("out.json");
        write(&dest, b"first").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        // Abandoned half-way: the previous file stands and no temporary file is left.
        {
            let (pending, mut f) = Pending::create(&dest).unwrap();
            f.write_all(b"half").unwrap();
            drop(pending);
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        assert!(left_behind(&dest).contains("previous"));
        write(&dest, b"second").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"second");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(left_behind(&dest).contains("nothing was written"));
    }
}
