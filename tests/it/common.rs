//! Helpers of the command tests: the binary, servers on loopback, TLS, summaries.

use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_simulate"))
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

/// `simulate replay --from-log LOG --mapping MAPPING --target URL -q --compress C`.
pub fn replay_log(
    log: &Path,
    mapping: &Path,
    target: &str,
    compress: &str,
) -> std::process::Command {
    let mut c = bin();
    c.args(["replay", "--from-log"])
        .arg(log)
        .arg("--mapping")
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

/// A document we write conforms to its published schema (schema/NAME) and reads back
/// as its type `T` unchanged: the type and the schema describe the same document.
pub fn conforms<T: serde::Serialize + serde::de::DeserializeOwned>(doc: &Value, schema: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(schema);
    let schema: Value = serde_json::from_slice(&std::fs::read(&file).expect("schema")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "against {}: {errors:?}", file.display());
    let typed: T = serde_json::from_value(doc.clone()).expect("reads back as its type");
    assert_eq!(
        &serde_json::to_value(&typed).unwrap(),
        doc,
        "read back and written again, the document is the same"
    );
}

/// A program a test needs (a browser, a Prometheus server): the path in the environment
/// variable `var`, else the first of `defaults` that exists. Missing, the test fails: CI
/// must run it, and `script` (which scripts/test.sh runs first) installs it.
pub fn required_program(var: &str, defaults: &[&str], what: &str, script: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .into_iter()
        .chain(defaults.iter().map(PathBuf::from))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("no {what}: run `bash {script}` (scripts/test.sh does) or set {var} to its path")
        })
}
