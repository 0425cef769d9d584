//! Reading the operator's `/metrics` over real HTTP.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The body of `GET /metrics`.
pub async fn scrape(address: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: operator\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// The sum of the samples of `metric` whose labels contain `labels`.
pub fn sample_sum(text: &str, metric: &str, labels: &str) -> u64 {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{metric} ")) || line.starts_with(&format!("{metric}{{"))
        })
        .filter(|line| line.contains(labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}
