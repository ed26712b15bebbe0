//! `simulate replay` over gRPC against a real tonic server on loopback. The server is
//! written the way tonic's generated code is, with prost messages derived by hand from
//! proto/event_service.proto: independent of the replay's run-time (reflection) codec.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::server::{NamedService, UnaryService};

use crate::common::bin;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    #[prost(string, tag = "1")]
    pub(crate) event_name: String,
    #[prost(string, tag = "2")]
    namespace: String,
    #[prost(string, tag = "3")]
    pub(crate) user_id: String,
    #[prost(map = "string, string", tag = "4")]
    pub(crate) payload: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EventResponse {
    #[prost(bool, tag = "1")]
    success: bool,
    #[prost(string, tag = "2")]
    error: String,
}

#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) calls: Mutex<Vec<(String, Event)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Clone)]
struct EventService {
    seen: Arc<Seen>,
    /// How long each call takes.
    delay: Duration,
}

impl NamedService for EventService {
    const NAME: &'static str = "simulate.events.v1.EventService";
}

struct OnMessage(EventService);

impl UnaryService<Event> for OnMessage {
    type Response = EventResponse;
    type Future = BoxFuture<tonic::Response<EventResponse>, tonic::Status>;
    fn call(&mut self, req: tonic::Request<Event>) -> Self::Future {
        let svc = self.0.clone();
        Box::pin(async move {
            let now = svc.seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            svc.seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(svc.delay).await;
            svc.seen.in_flight.fetch_sub(1, Ordering::SeqCst);
            let id = req
                .metadata()
                .get("x-sim-event")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let event = req.into_inner();
            // Users whose id ends in 7 are refused by the application.
            let success = !event.user_id.ends_with('7');
            svc.seen.calls.lock().unwrap().push((id, event));
            Ok(tonic::Response::new(EventResponse {
                success,
                error: if success {
                    String::new()
                } else {
                    "refused".into()
                },
            }))
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
        let svc = self.clone();
        Box::pin(async move {
            if req.uri().path() == "/simulate.events.v1.EventService/OnMessage" {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(OnMessage(svc), req).await)
            } else {
                Ok(tonic::Status::unimplemented("no such method").into_http())
            }
        })
    }
}

pub(crate) struct GrpcServer {
    pub(crate) addr: SocketAddr,
    pub(crate) seen: Arc<Seen>,
    _rt: tokio::runtime::Runtime,
}

pub(crate) fn start(delay: Duration) -> GrpcServer {
    start_with(delay, None)
}

/// With `tls` (certificate and key, PEM), the server speaks gRPC over TLS only.
fn start_with(delay: Duration, tls: Option<(String, String)>) -> GrpcServer {
    let (rt, listener) = crate::common::server_runtime(2, "127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Seen> = Arc::default();
    let svc = EventService {
        seen: Arc::clone(&seen),
        delay,
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some((cert, key)) = tls {
        let identity = tonic::transport::Identity::from_pem(cert, key);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .unwrap();
    }
    rt.spawn(async move {
        builder
            .concurrency_limit_per_connection(2000)
            .add_service(svc)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    GrpcServer {
        addr,
        seen,
        _rt: rt,
    }
}

use crate::replay::even_log as stat_log;

use crate::common::read_json as summary;

#[test]
fn events_go_through_on_message_once_with_payload_metadata_and_checked_answers() {
    let dir = tempfile::tempdir().unwrap();
    let log = stat_log(dir.path(), 200, 5);
    let server = start(Duration::ZERO);
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/grpc-events.toml");
    let out = dir.path().join("s.json");
    // No HTTP request is due in this log: the HTTP target is never contacted.
    let o = crate::common::replay_log(&log, &mapping, "http://127.0.0.1:9", "4x")
        .args(["--grpc-target", &format!("http://{}", server.addr)])
        .args([
            "--threshold",
            "errors{protocol:grpc}<15%",
            "--summary-export",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let calls = server.seen.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 200, "each event exactly once");
    let mut ids: Vec<&str> = calls.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    let (id, e) = calls.iter().find(|(_, e)| e.user_id == "u42").unwrap();
    assert_eq!(id, "u42/0");
    assert_eq!(e.event_name, "stat.updated");
    assert_eq!(e.namespace, "simulate");
    assert_eq!(e.payload["statCode"], "enemy_kills");
    assert_eq!(
        e.payload["value"], "42",
        "typed props become the map's strings"
    );
    assert!(
        !e.payload.contains_key("amount"),
        "absent props are left out"
    );

    let s = summary(&out);
    let refused = (0..200).filter(|i| i % 10 == 7).count() as u64;
    assert_eq!(s["overall"]["error_classes"]["app"].as_u64(), Some(refused));
    assert_eq!(s["totals"]["ok"].as_u64(), Some(200 - refused));
    // Statuses by their gRPC names, in the summary and the table (issue 18), never "0".
    assert_eq!(
        s["overall"]["statuses"],
        serde_json::json!({"OK": 200 - refused})
    );
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains(&format!(
            "answers: OK {}; other errors: app {refused}",
            200 - refused
        )),
        "{table}"
    );
    assert!(
        s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["tags"]["protocol"] == "grpc")
    );
    assert_eq!(s["thresholds"][0]["ok"], true);
}

/// Seed 001's event load on its own (its scenario 2): a mapping of gRPC requests alone
/// sends nothing over HTTP, so it needs no `--target`; it was refused with "no target to
/// send to" though `--grpc-target` named its server.
#[test]
fn a_mapping_of_grpc_requests_alone_needs_no_http_target() {
    let dir = tempfile::tempdir().unwrap();
    let log = stat_log(dir.path(), 50, 5);
    let server = start(Duration::ZERO);
    let mapping = dir.path().join("events.toml");
    std::fs::write(
        &mapping,
        "[[request]]\nprotocol = \"grpc\"\nevent = \"stat.updated\"\nmethod = \"simulate.events.v1.EventService/OnMessage\"\nmessage = { event_name = \"{event}\", user_id = \"{user_id}\" }\nclass = \"event\"\n",
    )
    .unwrap();
    let out = dir.path().join("s.json");
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .arg("--mapping")
        .arg(&mapping)
        .args(["-q", "--compress", "4x", "--no-default-threshold"])
        .args(["--grpc-target", &format!("http://{}", server.addr)])
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        server.seen.calls.lock().unwrap().len(),
        50,
        "each event once"
    );
    assert_eq!(summary(&out)["totals"]["sent"].as_u64(), Some(50));

    // A mapping with an HTTP request still needs its target.
    std::fs::write(
        &mapping,
        "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .arg("--mapping")
        .arg(&mapping)
        .args(["-q", "--compress", "4x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no target to send to"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn one_channel_carries_hundreds_of_calls_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // 600 events due at the same instant; each call takes 400 ms.
    let log = stat_log(dir.path(), 600, 0);
    let server = start(Duration::from_millis(400));
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/grpc-events.toml");
    let out = dir.path().join("s.json");
    let o = crate::common::replay_log(&log, &mapping, "http://127.0.0.1:9", "1x")
        .args(["--max-in-flight", "500"])
        .args(["--grpc-target", &format!("http://{}", server.addr)])
        // The server refuses one call in ten (app errors): what counts here is the channel.
        .arg("--no-default-threshold")
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let max = server.seen.max_in_flight.load(Ordering::SeqCst);
    assert!(max >= 400, "the server saw {max} calls at once");
    let s = summary(&out);
    assert_eq!(
        s["totals"]["late"].as_u64(),
        Some(100),
        "the 100 beyond the cap waited"
    );
    assert_eq!(server.seen.calls.lock().unwrap().len(), 600);
}

#[test]
fn grpc_mapping_errors_name_the_method_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let log = stat_log(dir.path(), 3, 5);
    let m = dir.path().join("g.toml");
    std::fs::write(
        &m,
        "[grpc]\ntarget = \"http://127.0.0.1:9\"\n\n[[request]]\nprotocol = \"grpc\"\nevent = \"stat.updated\"\nmethod = \"simulate.events.v1.EventService/OnMesage\"\n\n[[request]]\nprotocol = \"grpc\"\nevent = \"points.earned\"\nmethod = \"simulate.events.v1.EventService/OnMessage\"\ncheck = { field = \"sucess\", equals = true }\n",
    )
    .unwrap();
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .arg("--mapping")
        .arg(&m)
        .args(["--target", "http://127.0.0.1:9", "-q"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("g.toml:7: field `request[0].method`") && err.contains("no method `OnMesage`"),
        "{err}"
    );
    assert!(
        err.contains("g.toml:13: field `request[1].check`") && err.contains("no field `sucess`"),
        "{err}"
    );
}

#[test]
fn one_session_sends_some_events_over_http_and_some_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::replay::run_log(dir.path(), "150", "1");
    let grpc = start(Duration::ZERO);
    let http = crate::replay::Server::start(None);
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/grpc-events.toml");
    let out = dir.path().join("s.json");
    let o = crate::common::replay_log(&log, &mapping, &http.url(), "1d:3s")
        .args(["--grpc-target", &format!("http://{}", grpc.addr)])
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    let (mut by_grpc, mut by_http) = (0, 0);
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["event"].as_str().unwrap() {
            "stat.updated" | "user.logged_in" | "points.earned" => by_grpc += 1,
            "nudge.sent" | "goal.completed" | "user.churned" => {}
            _ => by_http += 1,
        }
    }
    assert_eq!(grpc.seen.calls.lock().unwrap().len(), by_grpc);
    assert_eq!(http.arrivals().len(), by_http);
    let s = summary(&out);
    let protocols: std::collections::BTreeSet<&str> = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["tags"]["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols.into_iter().collect::<Vec<_>>(), ["grpc", "http"]);
}

#[test]
fn the_reference_target_applies_grpc_and_http_events_to_one_ledger() {
    let (_rt, http_url, grpc_url, ledger) =
        crate::replay::reference_target(Default::default(), true);
    let grpc_url = grpc_url.unwrap();
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/grpc-events.toml");
    let o = bin()
        .args([
            "replay",
            "--users",
            "300",
            "--days",
            "1",
            "--compress",
            "1d:3s",
            "-q",
        ])
        .arg("--mapping")
        .arg(&mapping)
        .args(["--target", &http_url, "--grpc-target", &grpc_url])
        .args(["--threshold", "errors<1%"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let stats = ledger.lock().unwrap().to_json();
    assert!(
        stats["received"]["points.earned"].as_u64().unwrap() > 100,
        "{stats}"
    );
    assert!(
        stats["received"]["session.started"].as_u64().unwrap() > 100,
        "{stats}"
    );
    assert_eq!(
        stats["out_of_order"], 0,
        "one user's order holds across protocols"
    );
    assert_eq!(stats["duplicates"], 0);
    assert_eq!(stats["unlabelled"], 0);
    assert_eq!(
        stats["balance_mismatches"], 0,
        "balances sent over gRPC add up: {stats}"
    );
}

#[test]
fn grpc_over_tls_is_trusted_with_ca_cert_and_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let log = stat_log(dir.path(), 40, 5);
    let tls = crate::common::self_signed(dir.path());
    let pem = tls.ca_file.clone();
    let server = start_with(Duration::ZERO, Some((tls.cert_pem, tls.key_pem)));
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/grpc-events.toml");
    let target = format!("https://localhost:{}", server.addr.port());
    let replay = |extra: &[&str], out: &Path| {
        crate::common::replay_log(&log, &mapping, "http://127.0.0.1:9", "10x")
            .args(["--grpc-target", &target, "--summary-export"])
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    let trusted = dir.path().join("t.json");
    // The server refuses one call in ten (app errors): what counts here is TLS.
    let trusted_args = ["--ca-cert", pem.to_str().unwrap(), "--no-default-threshold"];
    let o = replay(&trusted_args, &trusted);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(server.seen.calls.lock().unwrap().len(), 40);
    assert_eq!(
        summary(&trusted)["overall"]["error_classes"]["tls"],
        Value::Null
    );

    // Without the CA the certificate is unknown: every call fails as a TLS error.
    let refused = dir.path().join("r.json");
    let o = replay(&[], &refused);
    assert_eq!(o.status.code(), Some(99), "the default errors<5% fails");
    let s = summary(&refused);
    assert_eq!(s["overall"]["error_classes"]["tls"], 40, "{}", s["overall"]);
    assert_eq!(server.seen.calls.lock().unwrap().len(), 40);
}

#[test]
fn grpc_answers_feed_captures_outcomes_and_a_second_step() {
    let dir = tempfile::tempdir().unwrap();
    let log = stat_log(dir.path(), 50, 2);
    let server = start(Duration::ZERO);
    let mapping = dir.path().join("flow.toml");
    // Step 1's `success` (a bool of the response) is counted as the outcome and
    // captured; step 2 sends it back. Users ending in 7 fail step 1's check: their
    // step 2 is not sent.
    std::fs::write(
        &mapping,
        r#"[grpc]
[[request]]
event = "stat.updated"
[[request.steps]]
protocol = "grpc"
method = "simulate.events.v1.EventService/OnMessage"
message = { event_name = "{event}", namespace = "simulate", user_id = "{user_id}" }
check = { field = "success", equals = true }
outcome = "success"
capture = [{ into = "vars.ok", field = "success" }]
kind = "first"
[[request.steps]]
protocol = "grpc"
method = "simulate.events.v1.EventService/OnMessage"
message = { event_name = "second-{vars.ok}", namespace = "simulate", user_id = "{user_id}" }
kind = "second"
"#,
    )
    .unwrap();
    let out = dir.path().join("s.json");
    let o = crate::common::replay_log(&log, &mapping, "http://127.0.0.1:9", "4x")
        .args(["--grpc-target", &format!("http://{}", server.addr)])
        .args(["--no-default-threshold", "--summary-export"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    let refused = (0..50).filter(|i| i % 10 == 7).count() as u64;
    assert_eq!(
        s["outcomes"][0]["counts"],
        serde_json::json!({"false": refused, "true": 50 - refused}),
        "{}",
        s["outcomes"]
    );
    assert_eq!(s["totals"]["skipped_dependency"], refused);
    let calls = server.seen.calls.lock().unwrap().clone();
    assert_eq!(calls.len() as u64, 50 + 50 - refused);
    let (_, second) = calls.iter().find(|(id, _)| id == "u42/0/2").unwrap();
    assert_eq!(second.event_name, "second-true");
    assert!(!calls.iter().any(|(id, _)| id == "u47/0/2"));
}
