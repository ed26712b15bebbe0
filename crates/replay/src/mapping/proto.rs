//! The gRPC contract of a mapping: a .proto compiled at run time (protox: no protoc), or
//! the shipped one, into descriptors the requests are checked and built against.

use std::path::Path;

use prost_reflect::DescriptorPool;

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
            protox::compile([p], [dir]).map_err(|e| format!("{}: {e}", p.display()))?
        }
    };
    DescriptorPool::from_file_descriptor_set(fds).map_err(|e| e.to_string())
}
