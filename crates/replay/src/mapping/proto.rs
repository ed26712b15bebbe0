//! The gRPC contract of a mapping: a .proto compiled at run time (protox: no protoc), or
//! the shipped one, into descriptors the requests are checked and built against.

use std::path::Path;

use prost_reflect::DescriptorPool;
use simulate_core::bounded;

/// The shipped contract (seed 001's EventService).
pub(crate) const SHIPPED_PROTO: (&str, &str) = (
    "event_service.proto",
    include_str!("../../../../proto/event_service.proto"),
);

/// Serves the shipped proto from memory, so the default needs no file on disk.
struct Shipped;

impl protox::file::FileResolver for Shipped {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if name == SHIPPED_PROTO.0 {
            protox::file::File::from_source(name, SHIPPED_PROTO.1)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

/// A .proto's folder as its include path, each file read with a size limit: protox's own
/// resolver reads up to 2 GB, so `proto = "/dev/zero"` allocated until the process died.
/// Holds the folder and the top file's name (an import's errors name the import).
struct Bounded(std::path::PathBuf, String);

impl protox::file::FileResolver for Bounded {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        let path = self.0.join(name);
        match bounded::read_to_string(&path, bounded::PROTO_FILE) {
            Ok(text) => protox::file::File::from_source(name, &text),
            Err(bounded::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(protox::Error::file_not_found(name))
            }
            Err(e) if name == self.1 => Err(protox::Error::new(e.to_string())),
            Err(e) => Err(protox::Error::new(format!("import {name}: {e}"))),
        }
    }
}

/// Compiles a .proto file (its folder is the include path), or the shipped one.
pub fn load(proto: Option<&Path>) -> Result<DescriptorPool, String> {
    let fds = match proto {
        None => {
            let mut c = protox::Compiler::with_file_resolver(Shipped);
            c.include_imports(true);
            c.open_file(SHIPPED_PROTO.0)
                .map_err(|e| format!("the shipped proto: {e}"))?;
            c.file_descriptor_set()
        }
        Some(p) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = p
                .file_name()
                .ok_or_else(|| format!("{}: not a file", p.display()))?;
            let mut resolver = protox::file::ChainFileResolver::new();
            resolver.add(Bounded(
                dir.to_path_buf(),
                name.to_string_lossy().into_owned(),
            ));
            resolver.add(protox::file::GoogleFileResolver::new());
            let mut c = protox::Compiler::with_file_resolver(resolver);
            c.include_imports(true);
            c.open_file(name)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            c.file_descriptor_set()
        }
    };
    DescriptorPool::from_file_descriptor_set(fds).map_err(|e| e.to_string())
}
