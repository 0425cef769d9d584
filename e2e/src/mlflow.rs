//! A real MLflow tracking server for tests: installed from PyPI by `e2e/registry/mlflow.sh`
//! (cached by version; the first run takes about half a minute) and started on a free loopback
//! port in a directory of its own. Tests that run at the same time may share one; it stops, with
//! its worker, when the last of them drops it — also when a test panics.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use modeldeploy_operator::registry::mlflow::MlflowRegistry;
use modeldeploy_operator::registry::{Credentials, HttpClient};
use serde_json::{Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/registry/mlflow.sh");
/// A cold start on a busy two-core machine takes tens of seconds; a healthy one about eight.
const READY_WITHIN: Duration = Duration::from_secs(180);

/// One `mlflow server` process group.
#[derive(Debug)]
pub struct MlflowServer {
    pub pid: u32,
    /// `http://127.0.0.1:PORT`, as the registry names itself in errors.
    pub base: String,
    pub dir: PathBuf,
    /// Sent with the API calls that set models up.
    admin: Option<String>,
}

/// The server the plain tests share: started by the first, stopped when the last drops it.
pub fn shared_server() -> Arc<MlflowServer> {
    static SHARED: Mutex<Weak<MlflowServer>> = Mutex::new(Weak::new());
    // A test that panicked while starting one leaves the lock poisoned; the next one tries
    // again and reports its own reason.
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server = Arc::new(MlflowServer::start(&[], &[]));
    *shared = Arc::downgrade(&server);
    server
}

impl MlflowServer {
    /// Installs MLflow if needed and starts a server; panics with the reason when either fails.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> MlflowServer {
        install();
        let admin = env
            .iter()
            .find(|(key, _)| *key == "MLFLOW_AUTH_ADMIN_PASSWORD")
            .map(|(_, password)| basic_header("admin", password));
        let mut failures = Vec::new();
        // The free port is free when chosen, not necessarily when the server binds it.
        for _ in 0..3 {
            let port = free_port();
            let dir = test_dir();
            let output = Command::new(SCRIPT)
                .arg("start")
                .arg(port.to_string())
                .arg(&dir)
                .args(args)
                .envs(env.iter().copied())
                .env(
                    "MODELDEPLOY_MLFLOW_OWNER_PID",
                    std::process::id().to_string(),
                )
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|error| panic!("cannot run {SCRIPT}: {error}"));
            assert!(
                output.status.success(),
                "{SCRIPT} start failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            let pid: u32 = String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .unwrap_or_else(|_| {
                    panic!(
                        "{SCRIPT} start printed no PID:\n{}",
                        String::from_utf8_lossy(&output.stdout)
                    )
                });
            let server = MlflowServer {
                pid,
                base: format!("http://127.0.0.1:{port}"),
                dir,
                admin: admin.clone(),
            };
            match server.wait_until_ready() {
                Ok(elapsed) => {
                    eprintln!(
                        "mlflow server {} ready in {:.1}s",
                        server.base,
                        elapsed.as_secs_f64()
                    );
                    return server;
                }
                Err(reason) => failures.push(reason),
            }
        }
        panic!(
            "the MLflow server did not start:\n{}",
            failures.join("\n\n")
        );
    }

    /// Polls `GET /health` until it answers 200, the process dies or the deadline passes.
    pub fn wait_until_ready(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let address = self.base.trim_start_matches("http://");
        while started.elapsed() < READY_WITHIN {
            if health(address) {
                return Ok(started.elapsed());
            }
            if !alive(self.pid) {
                return Err(format!(
                    "mlflow server (pid {}) exited before it answered; {}:\n{}",
                    self.pid,
                    self.log().display(),
                    tail(&self.log(), 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "mlflow server at {} did not answer /health within {}s; {}:\n{}",
            self.base,
            READY_WITHIN.as_secs(),
            self.log().display(),
            tail(&self.log(), 30)
        ))
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("mlflow.log")
    }

    pub fn registry(&self, credentials: &Credentials) -> MlflowRegistry {
        let http = HttpClient::new(Duration::from_secs(10)).unwrap();
        MlflowRegistry::new(http, &self.base, credentials).unwrap()
    }

    /// Registers a model named after `prefix` (unique per test) with `versions` versions whose
    /// sources are `s3://models/<model>/<n>`.
    pub async fn model_with_versions(&self, prefix: &str, versions: u32) -> String {
        let model = format!("{prefix}-{}", std::process::id());
        self.post("registered-models/create", json!({"name": model}))
            .await;
        for n in 1..=versions {
            let created = self
                .post(
                    "model-versions/create",
                    json!({"name": model, "source": format!("s3://models/{model}/{n}")}),
                )
                .await;
            assert_eq!(created["model_version"]["version"], n.to_string());
        }
        model
    }

    pub async fn set_alias(&self, model: &str, alias: &str, version: &str) {
        self.post(
            "registered-models/alias",
            json!({"name": model, "alias": alias, "version": version}),
        )
        .await;
    }

    /// POSTs to `/api/2.0/mlflow/<path>`; panics unless the answer is 200.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/api/2.0/mlflow/{path}", self.base))
            .header("content-type", "application/json");
        if let Some(admin) = &self.admin {
            request = request.header("authorization", admin);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            status.is_success(),
            "POST {path} {body}: HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap()
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let stopped = Command::new(SCRIPT)
            .args(["stop", &self.pid.to_string()])
            .stdin(Stdio::null())
            .status();
        if !matches!(stopped, Ok(status) if status.success()) {
            eprintln!("cannot stop mlflow server {}: {stopped:?}", self.pid);
        }
        if std::thread::panicking() {
            eprintln!("mlflow server log kept in {}", self.log().display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs the installer once per test process; a failure fails the test with the reason.
pub fn install() {
    static INSTALLED: OnceLock<Result<String, String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let started = Instant::now();
        let output = Command::new(SCRIPT)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run {SCRIPT}: {error}"))?;
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            return Err(format!("{SCRIPT} failed ({}):\n{log}", output.status));
        }
        eprint!("{log}");
        eprintln!(
            "MLflow available in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    });
    if let Err(reason) = installed {
        panic!("cannot install the MLflow tracking server these tests need:\n{reason}");
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn test_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mlflow-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A blocking `GET /health`, so that readiness can be awaited while holding the shared lock.
fn health(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /health HTTP/1.0\r\nHost: {address}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// Whether the process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            // The state follows the parenthesised command name.
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn basic_header(username: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
