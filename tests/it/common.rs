//! Runs the engine in-process and keeps what it wrote, for assertions.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde_json::Value;
use simulate::config::{Overrides, Scenario, Source};
use simulate::engine::{Engine, RunTotals, World};
use simulate::persona::{self, Persona};
use simulate::sinks::fanout::Fanout;
use simulate::sinks::jsonl::JsonlSink;
use simulate::sinks::metrics::Metrics;
use simulate::timeline::{Event, Sink};

#[derive(Default)]
pub struct Capture {
    pub events: Vec<Event>,
    pub lines: Vec<u8>,
}

impl Sink for Capture {
    fn event(&mut self, e: &Event, line: &[u8]) -> std::io::Result<bool> {
        self.events.push(*e);
        self.lines.extend_from_slice(line);
        Ok(true)
    }
}

pub struct Run {
    pub events: Vec<Event>,
    pub lines: Vec<u8>,
    pub checksum: String,
    pub totals: RunTotals,
    pub metrics: Value,
    pub personas: Vec<Persona>,
}

pub struct Spec<'a> {
    pub users: u32,
    pub days: u32,
    pub seed: u64,
    pub threads: usize,
    pub personas: Option<&'a Path>,
    pub scenario: Option<&'a str>,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            users: 500,
            days: 3,
            seed: 42,
            threads: 1,
            personas: None,
            scenario: None,
        }
    }
}

pub fn simulate(spec: Spec) -> Run {
    let personas = persona::load(spec.personas).expect("personas load");
    let over = Overrides {
        users: Some(spec.users),
        days: Some(spec.days),
        seed: Some(spec.seed),
        start: None,
    };
    let scenario = match spec.scenario {
        Some(text) => {
            let src = Source::new("test-scenario.toml", text);
            Scenario::validate(
                src.parse().expect("scenario parses"),
                &src,
                &over,
                &personas,
            )
            .expect("scenario valid")
        }
        None => Scenario::load(None, &over, &personas).expect("default scenario"),
    };
    let world = World::new(personas.clone(), scenario.clone(), true).expect("world");
    let mut engine = Engine::new(world, spec.threads);
    let mut capture = Capture::default();
    let mut log = JsonlSink::create(None, simulate::sinks::jsonl::Format::None).expect("sink");
    let mut metrics = Metrics::new(&scenario, &personas);
    let totals = {
        let mut fan = Fanout(vec![&mut capture, &mut log, &mut metrics]);
        engine.run(&mut fan, &AtomicBool::new(false)).expect("run")
    };
    Run {
        events: capture.events,
        lines: capture.lines,
        checksum: log.checksum(),
        totals,
        metrics: metrics.to_json(&scenario),
        personas,
    }
}

/// A copy of the shipped personas in a temp folder, each file passed through `edit`.
pub fn personas_copy(edit: impl Fn(&str, &str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in persona::SHIPPED {
        let file = Path::new(name).file_name().expect("file name");
        std::fs::write(dir.path().join(file), edit(name, text)).expect("write persona");
    }
    dir
}

pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_simulate"))
}

/// A folder with one test persona that never churns and ignores nudges: `platforms` is a
/// weighted table body, `gap` the session-gap distribution, `machine` the [session] and
/// [states.*] tables.
pub fn one_persona(name: &str, platforms: &str, gap: &str, machine: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "name = \"{name}\"\nshare = 1.0\n[attributes]\nplatform = {{ dist = \"weighted\", table = {{ {platforms} }} }}\n\
         locale = {{ dist = \"weighted\", table = {{ en = 1 }} }}\n[timing]\nsession_gap = {gap}\n[habit]\ninitial = 0.5\n\
         half_life = \"3d\"\ninvestment_gain = 0.05\nchurn_hazard = 0.0\nnudge_response = 0.0\n{machine}"
    );
    std::fs::write(dir.path().join(format!("{name}.toml")), text).expect("write persona");
    dir
}

/// A server's own runtime (so it keeps running while the test blocks on a child process)
/// and a listener bound to `addr` on it.
pub fn server_runtime(
    workers: usize,
    addr: &str,
) -> (tokio::runtime::Runtime, tokio::net::TcpListener) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .expect("bind");
    (rt, listener)
}

/// `simulate replay --from-log LOG --targets MAPPING --target URL -q --compress C`.
pub fn replay_log(
    log: &Path,
    mapping: &Path,
    target: &str,
    compress: &str,
) -> std::process::Command {
    let mut c = bin();
    c.args(["replay", "--from-log"])
        .arg(log)
        .arg("--targets")
        .arg(mapping)
        .args(["--target", target, "-q", "--compress", compress]);
    c
}

/// A JSON file (a summary, metrics) as a value.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// A self-signed certificate for `localhost`, its CA file for `--ca-cert`, and a TLS
/// acceptor offering HTTP/2 and HTTP/1.1.
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_file: std::path::PathBuf,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

pub fn self_signed(dir: &Path) -> SelfSigned {
    use tokio_rustls::rustls;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ck.cert.pem()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![ck.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into()),
    )
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    SelfSigned {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
        ca_file,
        acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
    }
}

/// Serves `app` over TLS on `listener` (HTTP/1.1 with upgrades, for WebSockets, and HTTP/2).
pub fn serve_tls(
    rt: &tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
) {
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), svc)
                .await;
            });
        }
    });
}
