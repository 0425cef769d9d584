//! The HTTP transport that registry clients share: one connection pool, https with the
//! platform's trust store (as the Kubernetes client does) or plain http, a deadline on every
//! request and a cap on the size of answers.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{ACCEPT, AUTHORIZATION, HeaderName, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_platform_verifier::BuilderVerifierExt;
use tracing::debug;

use super::RegistryError;

/// Registry answers are small JSON documents; anything bigger is not one.
const MAX_BODY_BYTES: usize = 1024 * 1024;

const AGENT: &str = concat!("modeldeploy-operator/", env!("CARGO_PKG_VERSION"));

/// An HTTP client for registry APIs. Cloning is cheap and shares the connection pool, so the
/// operator needs one for all registries.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
}

/// An answer, read in full.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Why no answer came back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("no answer within {}s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("the answer is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Failed(String),
}

impl HttpClient {
    /// How long one request may take, connection included, unless told otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A client whose requests each give up after `timeout`.
    ///
    /// Fails only when the platform's certificate verifier cannot be set up.
    pub fn new(timeout: Duration) -> Result<Self, RegistryError> {
        // The provider is named rather than taken from the process default so that this works
        // whether or not something installed one, and whichever rustls features are unified.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_platform_verifier())
            .map_err(|error| RegistryError::Misconfigured {
                reason: format!("cannot set up TLS for registry clients: {error}"),
            })?
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        // The https connector below handles both schemes; it needs the inner one to pass https
        // URIs through.
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpClient { client, timeout })
    }

    /// The per-request deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GETs `uri`, asking for JSON. Any status is an [`Answer`]; only a missing or oversized
    /// answer is an error.
    pub(crate) async fn get(
        &self,
        uri: Uri,
        authorization: Option<&HeaderValue>,
    ) -> Result<Answer, TransportError> {
        let headers: Vec<(HeaderName, HeaderValue)> = authorization
            .map(|value| (AUTHORIZATION, value.clone()))
            .into_iter()
            .collect();
        self.get_with(uri, &headers).await
    }

    /// GETs `uri` with `headers`, asking for JSON; as [`HttpClient::get`].
    pub(crate) async fn get_with(
        &self,
        uri: Uri,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Answer, TransportError> {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, AGENT);
        for (name, value) in headers {
            request = request.header(name, value.clone());
        }
        let request = request.body(Empty::new()).map_err(|error| {
            TransportError::Failed(format!("cannot build the request: {error}"))
        })?;
        let path = request.uri().path().to_owned();
        let started = Instant::now();
        let answer = tokio::time::timeout(self.timeout, self.exchange(request))
            .await
            .map_err(|_| TransportError::Timeout(self.timeout))?;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &answer {
            Ok(answer) => {
                debug!(%path, status = answer.status.as_u16(), elapsed_ms, "HTTP request")
            }
            Err(error) => debug!(%path, %error, elapsed_ms, "HTTP request failed"),
        }
        answer
    }

    async fn exchange(&self, request: Request<Empty<Bytes>>) -> Result<Answer, TransportError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| TransportError::Failed(describe(&error)))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    TransportError::TooLarge
                } else {
                    TransportError::Failed(format!("cannot read the answer: {error}"))
                }
            })?
            .to_bytes();
        Ok(Answer { status, body })
    }
}

/// The useful part of an error chain: hyper's outer "client error (Connect)" says less than the
/// causes below it ("tcp connect error: Connection refused (os error 111)").
fn describe(error: &hyper_util::client::legacy::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = error.source();
    while let Some(current) = cause {
        let text = current.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cause = current.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_in_seconds() {
        assert_eq!(
            TransportError::Timeout(Duration::from_millis(1500)).to_string(),
            "no answer within 1.5s"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error_with_its_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = HttpClient::new(Duration::from_secs(5)).unwrap();
        let uri: Uri = format!("http://{address}/health").parse().unwrap();
        let error = client.get(uri, None).await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains("refused"), "{text}");
    }

    #[tokio::test]
    async fn https_uris_speak_tls() {
        // A plain-HTTP peer: the TLS handshake must fail, which shows TLS was attempted.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let client = HttpClient::new(Duration::from_secs(5)).unwrap();
        let uri: Uri = format!("https://{address}/health").parse().unwrap();
        let error = client.get(uri, None).await.unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, TransportError::Failed(_)), "{text}");
        // rustls' words for a peer that does not speak TLS.
        assert!(text.contains("corrupt message"), "{text}");
    }
}
