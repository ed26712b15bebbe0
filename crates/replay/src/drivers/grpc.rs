//! gRPC without code generation: messages are built from the mapping's JSON templates
//! against the descriptors of its .proto (compiled at run time, see
//! [`crate::mapping::proto`]), and calls go through tonic with a codec for dynamic
//! messages. One HTTP/2 channel carries every call, as the platform in seed 001 does.

use bytes::Buf;
use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor};
use serde_json::Value;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

use simulate_core::diagnostic::Problem;
use simulate_core::template::Ctx;

use super::Answer;
use crate::mapping::GrpcRequest;
use crate::outcome::{ErrorClass, Outcome, Status, transport_class};
use crate::source::Due;
use crate::tls::Tls;

/// A JSON value as a message of `desc`. Scalars are turned into strings where the
/// contract wants strings (a `map<string, string>` payload from typed event props).
fn message(desc: &MessageDescriptor, mut v: Value) -> Result<DynamicMessage, String> {
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
struct DynCodec {
    output: MessageDescriptor,
}

struct DynEncoder;
struct DynDecoder(MessageDescriptor);

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

/// The channel to a gRPC target.
#[derive(Clone)]
pub(crate) struct Client {
    channel: Channel,
}

impl Client {
    /// Connects lazily: the first call opens the HTTP/2 connection, a broken one reopens.
    /// `https://` targets are verified against the web PKI roots and `ca_cert` (PEM).
    pub(crate) fn new(
        url: &str,
        timeout: std::time::Duration,
        tls: &Tls,
    ) -> Result<Client, Problem> {
        let shown = simulate_core::redact::mask_url(url);
        let bad = |e: tonic::transport::Error| {
            Problem::new(
                format!("the gRPC target `{shown}`: {e}"),
                "write it like http://127.0.0.1:50051",
            )
        };
        let mut ep = Endpoint::from_shared(url.to_string())
            .map_err(bad)?
            .timeout(timeout)
            .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
            .tcp_nodelay(true);
        if url.starts_with("https://") {
            ep = ep.tls_config(tls.tonic()).map_err(bad)?;
        }
        Ok(Client {
            channel: ep.connect_lazy(),
        })
    }

    /// Renders the request's message and calls its method; the response's check decides
    /// whether an answer is ok.
    pub(crate) async fn call(
        &self,
        due: &Due,
        r: &GrpcRequest,
        ctx: &Ctx<'_>,
        suffix: Option<&str>,
    ) -> (Outcome, Option<Answer>) {
        let call = &r.call;
        let msg = match message(&call.input, r.message.render(ctx)) {
            Ok(m) => m,
            Err(_) => return (Outcome::Failed(ErrorClass::Other), None),
        };
        let (mut id, traceparent) = (due.event_id(), due.traceparent());
        if let Some(s) = suffix {
            id.push('/');
            id.push_str(s);
        }
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Err(e) = grpc.ready().await {
            return (Outcome::Failed(transport_class(&e)), None);
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
                // The response as proto3 JSON, with every field (defaults included), so a
                // check or a capture reads `false` and `0` as the server meant them.
                let json = (call.keep || !call.check.is_empty()).then(|| {
                    let opts = prost_reflect::SerializeOptions::new()
                        .skip_default_fields(false)
                        .use_proto_field_name(true);
                    resp.get_ref()
                        .serialize_with_options(serde_json::value::Serializer, &opts)
                        .unwrap_or(Value::Null)
                });
                let ok = json
                    .as_ref()
                    .is_none_or(|j| crate::mapping::Check::all(&call.check, j));
                let answer = call.keep.then(|| Answer {
                    json: json.map(crate::mapping::json_path::Json::Whole),
                    headers: Vec::new(),
                    broadcasts: Vec::new(),
                });
                if ok {
                    (Outcome::Ok(Status::Grpc(0)), answer)
                } else {
                    (Outcome::Failed(ErrorClass::Application), answer)
                }
            }
            Err(status) => (
                match status.code() {
                    tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
                        if std::error::Error::source(&status).is_some() =>
                    {
                        Outcome::Failed(transport_class(&status))
                    }
                    tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                        Outcome::Failed(ErrorClass::Timeout)
                    }
                    code => Outcome::Status(Status::Grpc(code as u16)),
                },
                None,
            ),
        }
    }
}
