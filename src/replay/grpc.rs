//! gRPC without code generation: the .proto is compiled at run time (protox, no protoc),
//! messages are built from JSON templates against its descriptors (prost-reflect), and
//! calls go through tonic with a codec for dynamic messages. One HTTP/2 channel carries
//! every call, as the platform in seed 001 does.

use std::path::Path;

use bytes::Buf;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor};
use serde_json::Value;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

use super::stats::{ErrorClass, Outcome};

/// The shipped contract (seed 001's EventService).
pub const SHIPPED_PROTO: (&str, &str) = (
    "event_service.proto",
    include_str!("../../proto/event_service.proto"),
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
        match crate::bounded::read_to_string(&path, crate::bounded::PROTO_FILE) {
            Ok(text) => protox::file::File::from_source(name, &text),
            Err(crate::bounded::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
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

/// A JSON value as a message of `desc`. Scalars are turned into strings where the
/// contract wants strings (a `map<string, string>` payload from typed event props).
pub fn message(desc: &MessageDescriptor, mut v: Value) -> Result<DynamicMessage, String> {
    coerce(desc, &mut v);
    DynamicMessage::deserialize(desc.clone(), v).map_err(|e| e.to_string())
}

fn coerce(desc: &MessageDescriptor, v: &mut Value) {
    let Value::Object(map) = v else { return };
    for (k, x) in map.iter_mut() {
        let Some(f) = desc
            .get_field_by_name(k)
            .or_else(|| desc.get_field_by_json_name(k))
        else {
            continue;
        };
        let stringify = |x: &mut Value| {
            if matches!(x, Value::Number(_) | Value::Bool(_)) {
                *x = Value::String(x.to_string());
            }
        };
        match f.kind() {
            Kind::String if !f.is_list() => stringify(x),
            Kind::Message(m) if f.is_map() => {
                let value_field = m.map_entry_value_field();
                if let (Kind::String, Value::Object(entries)) = (value_field.kind(), &mut *x) {
                    // A template field the event does not have renders null: leave it out.
                    entries.retain(|_, e| !e.is_null());
                    entries.values_mut().for_each(stringify);
                } else if let (Kind::Message(inner), Value::Object(entries)) =
                    (value_field.kind(), &mut *x)
                {
                    entries.values_mut().for_each(|e| coerce(&inner, e));
                }
            }
            Kind::Message(m) if !f.is_list() => coerce(&m, x),
            _ => {}
        }
    }
}

/// tonic's codec for messages known only at run time.
#[derive(Clone)]
pub struct DynCodec {
    output: MessageDescriptor,
}

pub struct DynEncoder;
pub struct DynDecoder(MessageDescriptor);

impl Encoder for DynEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;
    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Decoder for DynDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Self::Error> {
        let bytes = src.copy_to_bytes(src.remaining());
        DynamicMessage::decode(self.0.clone(), bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Codec for DynCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynEncoder;
    type Decoder = DynDecoder;
    fn encoder(&mut self) -> DynEncoder {
        DynEncoder
    }
    fn decoder(&mut self) -> DynDecoder {
        DynDecoder(self.output.clone())
    }
}

/// One method of the contract, with its request template and response check.
#[derive(Debug)]
pub struct Call {
    pub path: http::uri::PathAndQuery,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
    /// `field == value` on the response; a response that fails it is an application error.
    pub check: Option<(String, Value)>,
}

/// The channel to a gRPC target.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
}

impl Client {
    /// Connects lazily: the first call opens the HTTP/2 connection, a broken one reopens.
    /// `https://` targets are verified against the web PKI roots and `ca_cert` (PEM).
    pub fn new(
        url: &str,
        timeout: std::time::Duration,
        ca_cert: Option<&[u8]>,
    ) -> Result<Client, String> {
        let shown = crate::redact::mask_url(url);
        let mut ep = Endpoint::from_shared(url.to_string())
            .map_err(|e| format!("the gRPC target `{shown}`: {e}"))?
            .timeout(timeout)
            .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
            .tcp_nodelay(true);
        if url.starts_with("https://") {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
            if let Some(pem) = ca_cert {
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            ep = ep
                .tls_config(tls)
                .map_err(|e| format!("the gRPC target `{shown}`: {e}"))?;
        }
        Ok(Client {
            channel: ep.connect_lazy(),
        })
    }

    pub async fn call(
        &self,
        call: &Call,
        msg: DynamicMessage,
        id: &str,
        traceparent: &str,
    ) -> Outcome {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Err(e) = grpc.ready().await {
            return Outcome::Failed(transport_class(&e));
        }
        let mut req = tonic::Request::new(msg);
        if let Ok(v) = id.parse() {
            req.metadata_mut().insert("x-sim-event", v);
        }
        if let Ok(v) = traceparent.parse() {
            req.metadata_mut().insert("traceparent", v);
        }
        let codec = DynCodec {
            output: call.output.clone(),
        };
        match grpc.unary(req, call.path.clone(), codec).await {
            Ok(resp) => {
                let ok = call.check.as_ref().is_none_or(|(field, want)| {
                    resp.get_ref()
                        .get_field_by_name(field)
                        .map(|v| value_json(&v) == *want)
                        .unwrap_or(false)
                });
                if ok {
                    Outcome::Ok(0)
                } else {
                    Outcome::Failed(ErrorClass::Application)
                }
            }
            Err(status) => match status.code() {
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
                    if std::error::Error::source(&status).is_some() =>
                {
                    Outcome::Failed(transport_class(&status))
                }
                tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                    Outcome::Failed(ErrorClass::Timeout)
                }
                code => Outcome::Status(code as u16),
            },
        }
    }
}

fn value_json(v: &prost_reflect::Value) -> Value {
    use prost_reflect::Value as V;
    match v {
        V::Bool(b) => Value::Bool(*b),
        V::I32(n) => Value::from(*n),
        V::I64(n) => Value::from(*n),
        V::U32(n) => Value::from(*n),
        V::U64(n) => Value::from(*n),
        V::F32(n) => Value::from(*n as f64),
        V::F64(n) => Value::from(*n),
        V::String(s) => Value::String(s.clone()),
        V::EnumNumber(n) => Value::from(*n),
        _ => Value::Null,
    }
}

/// A transport failure's class from the error chain (refused, reset, timeout, …).
fn transport_class(e: &(dyn std::error::Error + 'static)) -> ErrorClass {
    super::http::chain_class(Some(e)).unwrap_or(ErrorClass::Connect)
}
