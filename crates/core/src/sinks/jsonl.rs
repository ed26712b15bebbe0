//! The behaviour log: events.jsonl (or .jsonl.zst), and the SHA-256 of the plain stream.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::timeline::{Event, Sink};

/// How the event stream is written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    JsonlZst,
    /// Engine only: nothing written, the checksum still computed.
    None,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "jsonl" => Some(Format::Jsonl),
            "jsonl.zst" => Some(Format::JsonlZst),
            "none" => Some(Format::None),
            _ => None,
        }
    }
    pub fn file_name(self) -> Option<&'static str> {
        match self {
            Format::Jsonl => Some("events.jsonl"),
            Format::JsonlZst => Some("events.jsonl.zst"),
            Format::None => None,
        }
    }
}

pub struct JsonlSink {
    out: Option<Box<dyn Write + Send>>,
    hasher: Sha256,
    pub bytes: u64,
    pub events: u64,
}

impl JsonlSink {
    pub fn create(path: Option<&Path>, format: Format) -> io::Result<JsonlSink> {
        let out: Option<Box<dyn Write + Send>> = match (format, path) {
            (Format::None, _) | (_, None) => None,
            (Format::Jsonl, Some(p)) => Some(Box::new(BufWriter::with_capacity(
                1 << 20,
                File::create(p)?,
            ))),
            (Format::JsonlZst, Some(p)) => {
                let enc = zstd::stream::Encoder::new(
                    BufWriter::with_capacity(1 << 20, File::create(p)?),
                    3,
                )?;
                Some(Box::new(enc.auto_finish()))
            }
        };
        Ok(JsonlSink {
            out,
            hasher: Sha256::new(),
            bytes: 0,
            events: 0,
        })
    }

    /// Writes to any writer (used for stdout and tests).
    pub fn to_writer(w: Box<dyn Write + Send>) -> JsonlSink {
        JsonlSink {
            out: Some(w),
            hasher: Sha256::new(),
            bytes: 0,
            events: 0,
        }
    }

    pub fn checksum(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Sink for JsonlSink {
    fn event(&mut self, _e: &Event, line: &[u8]) -> io::Result<bool> {
        self.hasher.update(line);
        self.bytes += line.len() as u64;
        self.events += 1;
        if let Some(o) = &mut self.out {
            o.write_all(line)?;
        }
        Ok(true)
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(o) = &mut self.out {
            o.flush()?;
        }
        // Dropping the zstd encoder writes its final frame.
        self.out = None;
        Ok(())
    }
}
