//! The processes a run starts (model servers, the router, nginx), each killed when its handle
//! drops, so that a failed run leaves nothing listening.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a process has to start answering.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A started process, killed on drop.
#[derive(Debug)]
pub struct Running {
    pub address: SocketAddr,
    _child: Child,
}

/// A loopback address nothing listens on yet. Another process could take the port before the
/// child binds it; on a benchmark machine that is not worth a handshake with each child.
pub fn free_address() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(listener.local_addr()?)
}

/// A binary built beside this one (`cargo build --release` puts the workspace's binaries in one
/// directory).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this benchmark's own path")?;
    let path = exe.with_file_name(name);
    if !path.is_file() {
        bail!(
            "{} is not built; run `make bench-router`, which builds it",
            path.display()
        );
    }
    Ok(path)
}

/// Starts `command`, serving on `address`, and waits until `GET ready_path` there answers 200.
pub async fn start(
    mut command: Command,
    address: SocketAddr,
    ready_path: &str,
) -> anyhow::Result<Running> {
    let program = format!("{:?}", command.as_std().get_program());
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if get_status(address, ready_path).await == Some(200) {
            return Ok(Running {
                address,
                _child: child,
            });
        }
        if let Some(status) = child.try_wait()? {
            bail!("{program} exited with {status} before answering on {address}");
        }
        if Instant::now() > deadline {
            bail!(
                "{program} did not answer GET {ready_path} on {address} within {START_DEADLINE:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The status of `GET path` at `address`, or none when nothing answers.
async fn get_status(address: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A demo model server of `version` on a free loopback port, answering after `latency_ms`.
pub async fn model(version: &str, latency_ms: u64) -> anyhow::Result<Running> {
    let address = free_address()?;
    let mut command = Command::new(sibling_binary("modeldeploy-demo-model")?);
    command
        .env("HOST", address.ip().to_string())
        .env("PORT", address.port().to_string())
        .env("MODEL_VERSION", version)
        .env("LATENCY_MS", latency_ms.to_string())
        .env("RUST_LOG", "error");
    start(command, address, "/v2/health/ready").await
}

/// The router serving the routes file at `routes`.
pub async fn router(routes: &Path) -> anyhow::Result<Running> {
    let (address, metrics) = (free_address()?, free_address()?);
    let mut command = Command::new(sibling_binary("modeldeploy-router")?);
    command
        .arg("--routes")
        .arg(routes)
        .arg("--address")
        .arg(address.ip().to_string())
        .arg("--port")
        .arg(address.port().to_string())
        .arg("--metrics-port")
        .arg(metrics.port().to_string())
        .env("RUST_LOG", "error");
    let running = start(command, metrics, "/readyz").await?;
    Ok(Running { address, ..running })
}

/// nginx from the system, run in the foreground with the configuration at `config`, whose
/// server listens on `address`.
pub async fn nginx(prefix: &Path, config: &Path, address: SocketAddr) -> anyhow::Result<Running> {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .context("nginx is not installed (Debian package nginx-light)")?;
    let mut command = Command::new(binary);
    command
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(config)
        .arg("-e")
        .arg(prefix.join("error.log"))
        .args(["-g", "daemon off;"]);
    start(command, address, "/v2/health/ready").await
}
