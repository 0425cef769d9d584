//! A Prometheus of one test's own, scraping what the shared one scrapes (the same targets
//! directory), so that a test can stop and start it without disturbing the others.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running (or stopped) private Prometheus; killed when dropped.
#[derive(Debug)]
pub struct PrivatePrometheus {
    port: u16,
    data: PathBuf,
    child: Option<Child>,
}

impl PrivatePrometheus {
    /// Starts one on a free loopback port and waits until it is ready.
    pub async fn start(name: &str) -> PrivatePrometheus {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = crate::process::test_dir(name).join("prometheus");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        let mut prometheus = PrivatePrometheus {
            port,
            data,
            child: None,
        };
        prometheus.resume().await;
        prometheus
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills it: queries fail with connection refused until [`resume`](Self::resume).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data, and waits until it is ready.
    pub async fn resume(&mut self) {
        let targets = std::env::var("MODELDEPLOY_PROMETHEUS_TARGETS").expect(
            "MODELDEPLOY_PROMETHEUS_TARGETS is not set: run the tests under e2e/controlplane/run.sh",
        );
        let prometheus_dir = PathBuf::from(targets).parent().unwrap().to_owned();
        let config = prometheus_dir.join("prometheus.yml");
        let log = std::fs::File::create(self.data.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.data.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus is installed");
        // Listed with the control plane's processes, so that its teardown stops this one too
        // when the test process dies without dropping it (an abort).
        if let Some(run) = prometheus_dir.parent() {
            use std::io::Write;
            if let Ok(mut pids) = std::fs::OpenOptions::new()
                .append(true)
                .open(run.join("pids"))
            {
                let _ = writeln!(pids, "{} private-prometheus", child.id());
            }
        }
        self.child = Some(child);
        let ready = format!("{}/-/ready", self.url());
        crate::wait::until(
            Duration::from_secs(60),
            "the private Prometheus is ready",
            || {
                let ready = ready.clone();
                async move { answers_ok(&ready).await.then_some(()) }
            },
        )
        .await;
    }
}

impl Drop for PrivatePrometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `url` answers 2xx.
async fn answers_ok(url: &str) -> bool {
    use http_body_util::Empty;
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return false;
    };
    client
        .get(uri)
        .await
        .is_ok_and(|response| response.status().is_success())
}
