//! One request over HTTP/1.1, turned into an [`Outcome`].

use std::time::Duration;

use http::Request;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::outcome::{Outcome, TransportError, Variant};

/// The most of an answer's body that is read: a prediction is a few hundred bytes, and a run
/// with hundreds of requests in flight should not hold megabytes each.
const MAX_BODY: usize = 64 * 1024;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client(timeout: Duration, max_in_flight: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    // Small requests and answers: Nagle's algorithm would only add latency to measure.
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(timeout));
    Client::builder(TokioExecutor::new())
        // Keep every connection a full in-flight window needs, so a steady rate reuses them
        // instead of opening a connection per request.
        .pool_max_idle_per_host(max_in_flight)
        .build(connector)
}

/// Sends `request` and reads the whole answer, within `timeout`.
pub(crate) async fn send(
    client: &HttpClient,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Outcome {
    tokio::time::timeout(timeout, exchange(client, request))
        .await
        .unwrap_or(Outcome::Failed(TransportError::TimedOut))
}

async fn exchange(client: &HttpClient, request: Request<Full<Bytes>>) -> Outcome {
    let response = match client.request(request).await {
        Ok(response) => response,
        Err(error) => return Outcome::Failed(TransportError::of(&error)),
    };
    let status = response.status();
    let body = match Limited::new(response.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            // An answer came, only too long to be a prediction: it is not a version's.
            let variant = if status.is_success() {
                Variant::Unparsed
            } else {
                Variant::Error
            };
            return Outcome::Answered {
                status: status.as_u16(),
                variant,
            };
        }
        Err(error) => return Outcome::Failed(TransportError::of(&*error)),
    };
    Outcome::Answered {
        status: status.as_u16(),
        variant: Variant::of(status, &body),
    }
}
