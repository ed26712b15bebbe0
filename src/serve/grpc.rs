//! The reference target's gRPC side: seed 001's `EventService/OnMessage`, applying the
//! event to the same ledger as the HTTP side. Messages are derived from
//! proto/event_service.proto by hand (`prost::Message`), as tonic's generated code would
//! be: no protoc here, and two small messages do not justify a build script.

use std::collections::HashMap;
use std::convert::Infallible;

use serde_json::Value;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};

use super::{Delivery, Shared};

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    #[prost(string, tag = "1")]
    pub(crate) event_name: String,
    #[prost(string, tag = "2")]
    pub(crate) namespace: String,
    #[prost(string, tag = "3")]
    pub(crate) user_id: String,
    #[prost(map = "string, string", tag = "4")]
    pub(crate) payload: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EventResponse {
    #[prost(bool, tag = "1")]
    pub(crate) success: bool,
    #[prost(string, tag = "2")]
    pub(crate) error: String,
}

#[derive(Clone)]
pub(crate) struct EventService(pub Shared);

impl NamedService for EventService {
    const NAME: &'static str = "simulate.events.v1.EventService";
}

struct OnMessage(Shared);

impl UnaryService<Event> for OnMessage {
    type Response = EventResponse;
    type Future = BoxFuture<tonic::Response<EventResponse>, tonic::Status>;
    fn call(&mut self, req: tonic::Request<Event>) -> Self::Future {
        let ledger = self.0.clone();
        Box::pin(async move {
            let id = req
                .metadata()
                .get("x-sim-event")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let e = req.into_inner();
            // The payload's strings back to JSON values, numbers as numbers.
            let props: serde_json::Map<String, Value> = e
                .payload
                .iter()
                .map(|(k, v)| {
                    let val = v
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::String(v.clone()));
                    (k.clone(), val)
                })
                .collect();
            let delivery = ledger.lock().expect("ledger lock").receive(
                id.as_deref(),
                &e.event_name,
                &e.user_id,
                &Value::Object(props),
            );
            let (success, error) = match delivery {
                Delivery::Applied(_) | Delivery::Duplicate => (true, String::new()),
                Delivery::Refused(m) => (false, m),
            };
            Ok(tonic::Response::new(EventResponse { success, error }))
        })
    }
}

impl<B> Service<http::Request<B>> for EventService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let ledger = self.0.clone();
        Box::pin(async move {
            if req.uri().path() == "/simulate.events.v1.EventService/OnMessage" {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(OnMessage(ledger), req).await)
            } else {
                Ok(tonic::Status::unimplemented("EventService has OnMessage only").into_http())
            }
        })
    }
}

/// Serves the gRPC side on `listener` until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, ledger: Shared) -> Result<(), String> {
    tonic::transport::Server::builder()
        .add_service(EventService(ledger))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
        .map_err(|e| e.to_string())
}
