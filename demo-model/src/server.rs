//! The HTTP API: the Open Inference Protocol v2 (REST) and a plain JSON predict endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::metrics::{Metrics, PredictionLabels, RequestLabels};
use crate::model::{CLASSES, classify};
use crate::{Settings, chance};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One server's state.
#[derive(Debug)]
pub struct Model {
    settings: Settings,
    started: Instant,
    requests: AtomicU64,
    metrics: Metrics,
}

impl Model {
    pub fn new(settings: Settings) -> Arc<Model> {
        Arc::new(Model {
            metrics: Metrics::new(&settings.model_name, &settings.model_version),
            settings,
            started: Instant::now(),
            requests: AtomicU64::new(0),
        })
    }

    fn ready(&self) -> bool {
        self.started.elapsed() >= self.settings.startup_delay
    }
}

pub fn router(model: Arc<Model>) -> Router {
    Router::new()
        .route("/v2/health/live", get(|| async { StatusCode::OK }))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/predict", post(predict))
        .route("/metrics", get(metrics))
        .with_state(model)
}

async fn ready(State(model): State<Arc<Model>>) -> StatusCode {
    if model.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn model_ready(State(model): State<Arc<Model>>, Path(name): Path<String>) -> Response {
    if name != model.settings.model_name {
        return unknown(&name);
    }
    ready(State(model)).await.into_response()
}

async fn metadata(State(model): State<Arc<Model>>, Path(name): Path<String>) -> Response {
    if name != model.settings.model_name {
        return unknown(&name);
    }
    Json(json!({
        "name": model.settings.model_name,
        "versions": [model.settings.model_version],
        "platform": "modeldeploy-demo",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
    }))
    .into_response()
}

fn unknown(name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("model {name} is not served here")})),
    )
        .into_response()
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

/// An Open Inference Protocol v2 request: one FP64 input of shape [n, 4].
#[derive(Deserialize)]
struct InferRequest {
    id: Option<String>,
    inputs: Vec<InferInput>,
}

#[derive(Deserialize)]
struct InferInput {
    shape: Vec<i64>,
    data: Vec<f64>,
}

async fn infer(
    State(model): State<Arc<Model>>,
    Path(name): Path<String>,
    body: Result<Json<InferRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if name != model.settings.model_name {
        return unknown(&name);
    }
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(rejection.body_text()),
    };
    let Some(input) = request.inputs.first() else {
        return bad_request("the request has no inputs".to_owned());
    };
    let width = input.shape.last().copied().unwrap_or(4).max(1);
    let Ok(width) = usize::try_from(width) else {
        return bad_request("the input shape must be positive".to_owned());
    };
    let rows: Vec<&[f64]> = input.data.chunks(width).collect();
    answer(&model, &rows, |classes| {
        json!({
            "model_name": model.settings.model_name,
            "model_version": model.settings.model_version,
            "id": request.id,
            "outputs": [{
                "name": "predict",
                "datatype": "BYTES",
                "shape": [classes.len()],
                "data": classes,
            }],
        })
    })
    .await
}

/// `{"instances": [[5.1, 3.5, 1.4, 0.2], ...]}`
#[derive(Deserialize)]
struct PredictRequest {
    instances: Vec<Vec<f64>>,
}

async fn predict(
    State(model): State<Arc<Model>>,
    body: Result<Json<PredictRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_request(rejection.body_text()),
    };
    let rows: Vec<&[f64]> = request.instances.iter().map(Vec::as_slice).collect();
    answer(&model, &rows, |classes| {
        json!({
            "predictions": classes,
            "model_name": model.settings.model_name,
            "model_version": model.settings.model_version,
        })
    })
    .await
}

/// Classifies `rows` after the configured latency, or fails as configured; counts it all.
async fn answer(model: &Model, rows: &[&[f64]], body: impl FnOnce(&[&str]) -> Value) -> Response {
    let started = Instant::now();
    let settings = &model.settings;
    let n = model.requests.fetch_add(1, Ordering::Relaxed);
    let delay = latency(settings, n);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = if !model.ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "the model is still loading"})),
        )
            .into_response()
    } else if settings.error_rate > 0.0
        && chance::draw(settings.seed ^ 0xe7, n) < settings.error_rate
    {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "injected failure (ERROR_RATE)"})),
        )
            .into_response()
    } else {
        let classes: Vec<&str> = rows
            .iter()
            .map(|row| CLASSES[classify(row, settings.perturbation, settings.seed)])
            .collect();
        for class in &classes {
            model
                .metrics
                .predictions
                .get_or_create(&PredictionLabels { class })
                .inc();
        }
        Json(body(&classes)).into_response()
    };
    model
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            code: response.status().as_u16(),
        })
        .inc();
    model
        .metrics
        .latency
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The mean latency, moved by up to the jitter either way, the same for request `n` every run.
fn latency(settings: &Settings, n: u64) -> Duration {
    let jitter =
        settings.jitter.as_secs_f64() * (2.0 * chance::draw(settings.seed ^ 0x1a7, n) - 1.0);
    Duration::from_secs_f64((settings.latency.as_secs_f64() + jitter).max(0.0))
}

async fn metrics(State(model): State<Arc<Model>>) -> Response {
    match model.metrics.encode() {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Why a server could not be started in-process.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error(transparent)]
    Settings(#[from] crate::ConfigError),
    #[error("cannot listen on a loopback port: {0}")]
    Listen(#[from] std::io::Error),
}

/// Serves a model in the background on a free loopback port, with the settings `env` gives
/// (`HOST` and `PORT` are chosen here); its address. For tests and tools that want a real server
/// without a process of its own.
pub async fn spawn_on_loopback(
    env: &[(&str, &str)],
) -> Result<std::net::SocketAddr, LocalServerError> {
    let settings = Settings::from_lookup(|name| match name {
        "HOST" => Some("127.0.0.1".to_owned()),
        "PORT" => Some("0".to_owned()),
        _ => env
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned()),
    })?;
    let listener = tokio::net::TcpListener::bind(settings.address).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router(Model::new(settings))).await });
    Ok(address)
}
