//! The providers against real HTTP servers on loopback: answers, refusals, timeouts and
//! documents that are not what the metric expects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use modeldeploy_api::v1alpha1::{
    Duration as ApiDuration, KeyReference, Metric, MetricProvider, MinSamples, PrometheusMetric,
    ValueSource, WebMetric, WebMetricHeader,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Lookup, Measurer, Values};
use crate::plan::analysis::{Due, Measured, MeasuredValue};
use crate::registry::HttpClient;

/// Serves `status` and `body` to every request after `delay`, and returns its address and the
/// requests it saw (as text).
async fn server(
    status: u16,
    body: &'static str,
    delay: Duration,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (seen, requests) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0; 8192];
                let n = stream.read(&mut buffer).await.unwrap_or(0);
                let _ = seen.send(String::from_utf8_lossy(&buffer[..n]).into_owned());
                tokio::time::sleep(delay).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (address, requests)
}

fn metric(provider: MetricProvider) -> Metric {
    Metric {
        name: "m".into(),
        interval: Some(ApiDuration("1m".into())),
        count: None,
        initial_delay: None,
        success_condition: Some("result < 1".into()),
        failure_condition: None,
        failure_limit: None,
        inconclusive_limit: None,
        consecutive_error_limit: None,
        no_data: None,
        dry_run: None,
        min_samples: None,
        provider,
    }
}

fn web(url: &str, json_path: Option<&str>) -> Metric {
    metric(MetricProvider {
        prometheus: None,
        web: Some(WebMetric {
            url: url.into(),
            json_path: json_path.map(str::to_owned),
            headers: vec![WebMetricHeader {
                name: "authorization".into(),
                value: None,
                value_from: Some(ValueSource {
                    secret_key_ref: Some(KeyReference {
                        name: "api".into(),
                        key: "token".into(),
                    }),
                    config_map_key_ref: None,
                }),
            }],
            timeout: Some(ApiDuration("500ms".into())),
        }),
    })
}

struct Fixed;

impl Values for Fixed {
    async fn secret(&self, _: &KeyReference) -> Result<String, String> {
        Ok("Bearer s3cr3t".into())
    }
    async fn config_map(&self, _: &KeyReference) -> Result<String, String> {
        Ok("5..".into())
    }
}

async fn measure(metric: Metric) -> Result<MeasuredValue, String> {
    measured(metric).await.value
}

async fn measured(metric: Metric) -> Measured {
    let due = Due {
        analysis: "background".into(),
        metric,
        args: Vec::new(),
        variables: BTreeMap::from([
            ("revision".to_owned(), "abc".to_owned()),
            ("interval".to_owned(), "1m".to_owned()),
        ]),
    };
    let lookup = Lookup::read(&Fixed, std::slice::from_ref(&due)).await;
    let measurer = Measurer::new(HttpClient::new(Duration::from_secs(30)).unwrap(), None);
    let mut measured = measurer
        .measure(&lookup, &[due], Timestamp::UNIX_EPOCH)
        .await;
    measured.pop().unwrap()
}

#[tokio::test]
async fn web_metrics_read_the_number_at_the_path_with_headers_from_secrets() {
    let (address, mut seen) = server(200, r#"{"data": {"errorRate": 0.02}}"#, Duration::ZERO).await;
    let value = measure(web(
        &format!("{address}/stats/{{{{revision}}}}"),
        Some("$.data.errorRate"),
    ))
    .await;
    assert_eq!(value, Ok(MeasuredValue::Scalar(0.02)));
    let request = seen.recv().await.unwrap();
    assert!(request.starts_with("GET /stats/abc "), "{request}");
    assert!(
        request.contains("authorization: Bearer s3cr3t"),
        "{request}"
    );
}

#[tokio::test]
async fn web_metrics_fail_plainly_on_refusals_timeouts_and_unexpected_documents() {
    let cases = [
        (
            500,
            r#"{"data": {}}"#,
            Duration::ZERO,
            Some("$.data.x"),
            "answered 500",
        ),
        (200, "<html>oops</html>", Duration::ZERO, None, "not JSON"),
        (
            200,
            r#"{"data": {}}"#,
            Duration::ZERO,
            Some("$.data.errorRate"),
            "selects nothing",
        ),
        (
            200,
            r#"{"data": 1}"#,
            Duration::from_secs(3),
            None,
            "no answer within 0.5s",
        ),
    ];
    for (status, body, delay, path, expected) in cases {
        let (address, _seen) = server(status, body, delay).await;
        let error = measure(web(&address, path)).await.unwrap_err();
        assert!(error.contains(expected), "{expected}: {error}");
        assert!(!error.contains("s3cr3t"), "{error}");
    }
}

#[tokio::test]
async fn prometheus_queries_are_rendered_and_sent_with_the_bearer_token() {
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}"#;
    let (address, mut seen) = server(200, body, Duration::ZERO).await;
    let value = measure(metric(MetricProvider {
        prometheus: Some(PrometheusMetric {
            address: Some(address.clone()),
            query: "rate(x{rev=\"{{revision}}\"}[{{interval}}])".into(),
            timeout: None,
            bearer_token_secret_ref: Some(KeyReference {
                name: "prom".into(),
                key: "token".into(),
            }),
        }),
        web: None,
    }))
    .await;
    assert_eq!(value, Ok(MeasuredValue::Scalar(0.5)));
    let request = seen.recv().await.unwrap();
    assert!(
        request.contains("query=rate%28x%7Brev%3D%22abc%22%7D%5B1m%5D%29"),
        "{request}"
    );
    assert!(
        request.contains("authorization: Bearer Bearer s3cr3t"),
        "{request}"
    );

    let (address, _seen) = server(
        503,
        r#"{"status":"error","error":"overloaded"}"#,
        Duration::ZERO,
    )
    .await;
    let error = measure(metric(MetricProvider {
        prometheus: Some(PrometheusMetric {
            address: Some(address),
            query: "up".into(),
            timeout: None,
            bearer_token_secret_ref: None,
        }),
        web: None,
    }))
    .await
    .unwrap_err();
    assert_eq!(error, "Prometheus answered 503: overloaded");
}

#[tokio::test]
async fn a_metric_with_min_samples_counts_them_with_its_own_query_beside_the_value() {
    // The server answers both queries alike: a value of 3, and 3 samples.
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"3"]}]}}"#;
    let (address, mut seen) = server(200, body, Duration::ZERO).await;
    let mut counted = metric(MetricProvider {
        prometheus: Some(PrometheusMetric {
            address: Some(address),
            query: "errors".into(),
            timeout: None,
            bearer_token_secret_ref: None,
        }),
        web: None,
    });
    counted.min_samples = Some(MinSamples {
        query: "requests{rev=\"{{revision}}\"}".into(),
        count: 10,
    });
    let measured = measured(counted).await;
    assert_eq!(measured.value, Ok(MeasuredValue::Scalar(3.0)));
    assert_eq!(measured.samples, Some(3.0));
    let mut queries = vec![seen.recv().await.unwrap(), seen.recv().await.unwrap()];
    queries.sort();
    assert!(queries[0].contains("query=errors "), "{queries:?}");
    assert!(
        queries[1].contains("query=requests%7Brev%3D%22abc%22%7D "),
        "{queries:?}"
    );
}

#[tokio::test]
async fn a_failing_sample_count_is_a_measurement_error_not_a_pass() {
    let (address, _seen) = server(503, r#"{"error":"down"}"#, Duration::ZERO).await;
    let mut counted = metric(MetricProvider::prometheus("errors"));
    if let Some(p) = counted.provider.prometheus.as_mut() {
        p.address = Some(address);
    }
    counted.min_samples = Some(MinSamples {
        query: "requests".into(),
        count: 1,
    });
    let measured = measured(counted).await;
    let error = measured.value.unwrap_err();
    assert!(error.contains("Prometheus answered 503"), "{error}");
    assert_eq!(measured.samples, None);
}
