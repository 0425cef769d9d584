//! The demo model server's API, over real HTTP on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use modeldeploy_demo_model::server::spawn_on_loopback;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts a server with the given environment on a free loopback port.
async fn start(env: &[(&str, &str)]) -> std::net::SocketAddr {
    spawn_on_loopback(env).await.unwrap()
}

/// One HTTP/1.1 request; returns the status code and the body.
async fn call(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: model\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn infer_body(rows: &[[f64; 4]]) -> Value {
    let data: Vec<f64> = rows.iter().flatten().copied().collect();
    json!({"id": "r1", "inputs": [{"name": "input-0", "shape": [rows.len(), 4], "datatype": "FP64", "data": data}]})
}

#[tokio::test]
async fn speaks_the_open_inference_protocol() {
    let address = start(&[("MODEL_NAME", "iris"), ("MODEL_VERSION", "2.0.0")]).await;
    assert_eq!(call(address, "GET", "/v2/health/live", None).await.0, 200);
    assert_eq!(call(address, "GET", "/v2/health/ready", None).await.0, 200);
    assert_eq!(
        call(address, "GET", "/v2/models/iris/ready", None).await.0,
        200
    );
    let (status, metadata) = call(address, "GET", "/v2/models/iris", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&metadata).unwrap()["versions"],
        json!(["2.0.0"])
    );
    let (status, body) = call(
        address,
        "POST",
        "/v2/models/iris/infer",
        Some(infer_body(&[[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]])),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["model_version"], "2.0.0");
    assert_eq!(body["id"], "r1");
    assert_eq!(body["outputs"][0]["data"], json!(["setosa", "virginica"]));
    let (status, body) = call(
        address,
        "POST",
        "/predict",
        Some(json!({"instances": [[6.4, 3.2, 4.5, 1.5]]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["predictions"],
        json!(["versicolor"])
    );
    assert_eq!(call(address, "GET", "/v2/models/other", None).await.0, 404);
    assert_eq!(
        call(address, "POST", "/predict", Some(json!({"rows": 1})))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn fails_exactly_the_configured_share_of_requests_and_counts_them() {
    let address = start(&[("ERROR_RATE", "0.2"), ("SEED", "11")]).await;
    let mut failed = 0;
    for _ in 0..500 {
        let (status, _) = call(
            address,
            "POST",
            "/predict",
            Some(json!({"instances": [[5.0, 3.0, 1.5, 0.2]]})),
        )
        .await;
        if status == 500 {
            failed += 1;
        }
    }
    assert!((75..125).contains(&failed), "{failed} of 500 failed");
    let (_, metrics) = call(address, "GET", "/metrics", None).await;
    assert!(
        metrics.contains(&format!(
            "demo_model_inference_requests_total{{model=\"demo\",model_version=\"1\",code=\"500\"}} {failed}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("demo_model_inference_duration_seconds_bucket"));
    // The same seed fails the same requests: a second server agrees request by request.
    let again = start(&[("ERROR_RATE", "0.2"), ("SEED", "11")]).await;
    let mut failed_again = 0;
    for _ in 0..500 {
        if call(
            again,
            "POST",
            "/predict",
            Some(json!({"instances": [[5.0, 3.0, 1.5, 0.2]]})),
        )
        .await
        .0 == 500
        {
            failed_again += 1;
        }
    }
    assert_eq!(failed, failed_again);
}

#[tokio::test]
async fn is_not_ready_until_its_start_up_delay_has_passed() {
    let address = start(&[("STARTUP_DELAY_MS", "400")]).await;
    assert_eq!(call(address, "GET", "/v2/health/ready", None).await.0, 503);
    assert_eq!(call(address, "GET", "/v2/health/live", None).await.0, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while call(address, "GET", "/v2/health/ready", None).await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn adds_the_configured_latency() {
    let address = start(&[("LATENCY_MS", "150")]).await;
    let started = std::time::Instant::now();
    call(
        address,
        "POST",
        "/predict",
        Some(json!({"instances": [[5.0, 3.0, 1.5, 0.2]]})),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}
