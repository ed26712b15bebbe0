//! Reading what the user hands us with a ceiling: every file the tool reads has a size
//! limit, and an event log is streamed a line at a time with a limit per line, so a wrong
//! path (`/dev/zero`, a disk image, a video) gives a clear error instead of exhausting
//! memory. Pure std.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::Path;

/// A persona, scenario or mapping file: the shipped ones are a few kB.
pub const CONFIG_FILE: u64 = 1 << 20;
/// A .proto file (each import too).
pub const PROTO_FILE: u64 = 1 << 20;
/// A mapping's `tokens_file`: one token per user, ~100-300 bytes each, so room for a
/// million users.
pub const TOKENS_FILE: u64 = 256 << 20;
/// A `--ca-cert` PEM file: a certificate chain is a few kB.
pub const CERT_FILE: u64 = 1 << 20;
/// A team's data file a scenario names (users, a pool's ids, a catalog export).
pub const DATA_FILE: u64 = 64 << 20;
/// The run.json beside a replayed log.
pub const RUN_RECORD: u64 = 1 << 20;
/// A replay summary (`report merge` reads the shards'): per-second series of long runs.
pub const SUMMARY: u64 = 512 << 20;
/// One line of an event log: `simulate run` writes lines of a few hundred bytes.
pub const LOG_LINE: usize = 1 << 20;

/// Why a bounded read failed.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// The file holds more than `limit` bytes (or never ends: a device, a pipe).
    TooLarge {
        limit: u64,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read it: {e}"),
            ReadError::TooLarge { limit } => write!(
                f,
                "it is larger than {} (the most this kind of file may hold)",
                size(*limit)
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// `1 MiB`, `256 MiB`: limits are powers of two.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// The whole file, if it holds at most `limit` bytes. Reads at most `limit + 1` bytes
/// whatever the file is, so a device or a pipe that never ends costs nothing.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut buf = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(buf)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?).map_err(|_| {
        ReadError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line is in the buffer (without its `\n`).
    Read,
    /// The end of the input.
    End,
    /// A line longer than the limit: nothing more was read of it.
    TooLong,
}

/// Reads one line into `buf` (cleared first), stopping at `limit` bytes.
pub fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    buf.clear();
    let n = r.take(limit as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > limit {
        return Ok(Line::TooLong);
    }
    Ok(Line::Read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_files_and_lines_stop_at_the_limit() {
        let e = read(Path::new("/dev/zero"), 1 << 10).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { limit: 1024 }));
        assert!(e.to_string().contains("larger than 1 KiB"), "{e}");
        let mut zeros = io::BufReader::new(std::fs::File::open("/dev/zero").unwrap());
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut zeros, &mut buf, 4096).unwrap(),
            Line::TooLong
        );
        assert!(buf.len() <= 4097);
        let mut text: &[u8] = b"ab\ncd\n\nlast";
        let mut lines = Vec::new();
        while read_line(&mut text, &mut buf, 4).unwrap() == Line::Read {
            lines.push(String::from_utf8(buf.clone()).unwrap());
        }
        assert_eq!(lines, ["ab", "cd", "", "last"]);
        let mut long: &[u8] = b"abcdef\n";
        assert_eq!(read_line(&mut long, &mut buf, 4).unwrap(), Line::TooLong);
        let mut exact: &[u8] = b"abcd\n";
        assert_eq!(read_line(&mut exact, &mut buf, 4).unwrap(), Line::Read);
        assert_eq!(buf, b"abcd");
        assert_eq!(size(256 << 20), "256 MiB");
    }
}
