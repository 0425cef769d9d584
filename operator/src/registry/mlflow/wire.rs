//! MLflow's REST API 2.0 as data: endpoint URIs, the JSON it answers with, and what its
//! error answers mean. No I/O here.

use http::{StatusCode, Uri};
use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub(super) const ALIAS: &str = "/api/2.0/mlflow/registered-models/alias";
pub(super) const MODEL_VERSION: &str = "/api/2.0/mlflow/model-versions/get";
pub(super) const DOWNLOAD_URI: &str = "/api/2.0/mlflow/model-versions/get-download-uri";
pub(super) const REGISTERED_MODEL: &str = "/api/2.0/mlflow/registered-models/get";
pub(super) const RUN: &str = "/api/2.0/mlflow/runs/get";

/// The tracking server's base URI, checked, with any path prefix (a server behind a reverse
/// proxy, or started with `--static-prefix`) kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Base {
    scheme: String,
    authority: String,
    prefix: String,
}

impl Base {
    /// Parses the `uri` of a registry reference. Errors never repeat the URI, which could hold
    /// a password.
    pub(super) fn parse(raw: &str) -> Result<Base, String> {
        let uri: Uri = raw.trim().parse().map_err(|_| {
            "the MLflow registry URI is not a valid absolute http(s) URI".to_owned()
        })?;
        let scheme = match uri.scheme_str() {
            Some("http") => "http",
            Some("https") => "https",
            _ => {
                return Err(
                    "the MLflow registry URI must start with http:// or https://".to_owned(),
                );
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "the MLflow registry URI has no host".to_owned())?;
        if authority.as_str().contains('@') {
            return Err("the MLflow registry URI must not carry credentials; put them in the Secret it references".to_owned());
        }
        if uri.query().is_some() {
            return Err("the MLflow registry URI must not have a query string".to_owned());
        }
        Ok(Base {
            scheme: scheme.to_owned(),
            authority: authority.as_str().to_owned(),
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The URI of API `path` with `query` percent-encoded.
    pub(super) fn endpoint(&self, path: &str, query: &[(&str, &str)]) -> Result<Uri, String> {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let text = format!(
            "{}://{}{}{path}?{query}",
            self.scheme, self.authority, self.prefix
        );
        text.parse()
            .map_err(|error| format!("cannot build the URI of {path}: {error}"))
    }
}

/// How the registry is named in messages and logs.
impl std::fmt::Display for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// The answer of [`ALIAS`] and [`MODEL_VERSION`].
#[derive(Debug, Deserialize)]
pub(super) struct ModelVersionAnswer {
    pub model_version: ModelVersion,
}

/// A model version. MLflow leaves out fields that are empty, so all but the identity default.
#[derive(Debug, Deserialize)]
pub(super) struct ModelVersion {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub run_id: String,
    /// `READY`, `PENDING_REGISTRATION` or `FAILED_REGISTRATION`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub creation_timestamp: Option<Millis>,
    #[serde(default)]
    pub last_updated_timestamp: Option<Millis>,
}

/// Milliseconds since the epoch. MLflow writes int64 fields as JSON numbers; protobuf's own
/// JSON mapping (used by some MLflow-compatible servers) writes them as strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Millis {
    Number(i64),
    Text(String),
}

impl Millis {
    /// `None` for a value that is not a timestamp; a bad date is no reason to fail resolution.
    pub(super) fn timestamp(&self) -> Option<Timestamp> {
        let millis = match self {
            Millis::Number(millis) => *millis,
            Millis::Text(text) => text.parse().ok()?,
        };
        Timestamp::from_millisecond(millis).ok()
    }
}

/// The answer of [`DOWNLOAD_URI`].
#[derive(Debug, Deserialize)]
pub(super) struct DownloadUriAnswer {
    pub artifact_uri: String,
}

/// The answer of [`RUN`], reduced to what resolution needs.
#[derive(Debug, Deserialize)]
pub(super) struct RunAnswer {
    pub run: Run,
}

#[derive(Debug, Deserialize)]
pub(super) struct Run {
    pub info: RunInfo,
}

#[derive(Debug, Deserialize)]
pub(super) struct RunInfo {
    pub artifact_uri: String,
}

/// MLflow's error body: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error_code: String,
    #[serde(default)]
    message: String,
}

/// What a non-200 answer means, before the caller adds what it was looking for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// `RESOURCE_DOES_NOT_EXIST`, with MLflow's message.
    DoesNotExist(String),
    /// `INVALID_PARAMETER_VALUE` (HTTP 400), with MLflow's message. MLflow also answers a
    /// missing alias this way.
    InvalidParameter(String),
    /// HTTP 401 or 403.
    Unauthorized { status: u16, detail: Option<String> },
    /// HTTP 5xx or 429: the server is there but failing.
    Unavailable(String),
    /// Anything else, described.
    Unexpected(String),
}

/// Classifies a non-success answer. Only MLflow's own `message` is quoted: other bodies (an
/// ingress' HTML page, say) could echo request headers.
pub(super) fn classify(status: StatusCode, body: &[u8]) -> Failure {
    let error: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let code = error.as_ref().map(|error| error.error_code.as_str());
    let message = error
        .as_ref()
        .map(|error| one_line(&error.message))
        .filter(|message| !message.is_empty());
    let described = || match (&code, &message) {
        (Some(code), Some(message)) => format!("HTTP {status}: {code}: {message}"),
        (Some(code), None) => format!("HTTP {status}: {code}"),
        _ => format!("HTTP {status}"),
    };
    match (status, code) {
        (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => Failure::Unauthorized {
            status: status.as_u16(),
            detail: message,
        },
        (_, Some("RESOURCE_DOES_NOT_EXIST")) => Failure::DoesNotExist(message.unwrap_or_default()),
        (_, Some("INVALID_PARAMETER_VALUE")) => {
            Failure::InvalidParameter(message.unwrap_or_default())
        }
        (status, _) if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
            Failure::Unavailable(format!("it answered {}", described()))
        }
        (StatusCode::NOT_FOUND, None) => Failure::Unexpected(format!(
            "{} without an MLflow error; is this the address of an MLflow tracking server?",
            described()
        )),
        (status, _) if status.is_redirection() => Failure::Unexpected(format!(
            "{}: it redirects; use the address it redirects to",
            described()
        )),
        _ => Failure::Unexpected(described()),
    }
}

/// Parses a 200 answer of `path`.
pub(super) fn parse<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|error| format!("cannot parse the answer of {path}: {error}"))
}

/// Splits `runs:/<run id>/<path>` into the run and the path inside its artifacts.
pub(super) fn runs_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("runs:/")?;
    let rest = rest.trim_start_matches('/');
    let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
    (!run_id.is_empty()).then_some((run_id, path.trim_matches('/')))
}

/// Joins a run's artifact root and a path inside it.
pub(super) fn join(root: &str, path: &str) -> String {
    if path.is_empty() {
        root.to_owned()
    } else {
        format!("{}/{path}", root.trim_end_matches('/'))
    }
}

/// Keeps messages on one line and short; they go into status conditions.
fn one_line(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_prefix_and_encode_the_query() {
        let base = Base::parse("https://mlflow.example.com/tracking/").unwrap();
        assert_eq!(base.to_string(), "https://mlflow.example.com/tracking");
        let uri = base
            .endpoint(
                ALIAS,
                &[("name", "fraud detector/v2 & co"), ("alias", "chämpion#1")],
            )
            .unwrap();
        assert_eq!(
            uri.to_string(),
            "https://mlflow.example.com/tracking/api/2.0/mlflow/registered-models/alias?name=fraud+detector%2Fv2+%26+co&alias=ch%C3%A4mpion%231"
        );
        let plain = Base::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            plain
                .endpoint(MODEL_VERSION, &[("name", "m"), ("version", "3")])
                .unwrap()
                .to_string(),
            "http://127.0.0.1:5000/api/2.0/mlflow/model-versions/get?name=m&version=3"
        );
    }

    #[test]
    fn bad_base_uris_are_refused_without_repeating_them() {
        for (raw, expected) in [
            ("ftp://mlflow", "must start with http:// or https://"),
            ("mlflow.example.com", "must start with http:// or https://"),
            (
                "https://alice:s3cret@mlflow.example.com",
                "must not carry credentials",
            ),
            (
                "https://mlflow.example.com/?x=1",
                "must not have a query string",
            ),
            ("not a uri", "not a valid absolute http(s) URI"),
        ] {
            let error = Base::parse(raw).unwrap_err();
            assert!(error.contains(expected), "{raw}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn parses_a_model_version_as_mlflow_3_writes_it() {
        let body = br#"{"model_version": {"name": "fraud", "version": "1",
            "creation_timestamp": 1796046705247, "last_updated_timestamp": 1796046705247,
            "current_stage": "None", "description": "", "source": "s3://models/fraud/1",
            "run_id": "abc123", "status": "READY", "run_link": "", "aliases": ["champion"]}}"#;
        let answer: ModelVersionAnswer = parse(ALIAS, body).unwrap();
        let version = answer.model_version;
        assert_eq!(version.name, "fraud");
        assert_eq!(version.version, "1");
        assert_eq!(version.source, "s3://models/fraud/1");
        assert_eq!(version.run_id, "abc123");
        assert_eq!(version.status.as_deref(), Some("READY"));
        assert_eq!(
            version.creation_timestamp.and_then(|t| t.timestamp()),
            Some(Timestamp::from_millisecond(1_796_046_705_247).unwrap())
        );
    }

    #[test]
    fn timestamps_may_be_strings_and_fields_may_be_missing() {
        let body = br#"{"model_version": {"name": "m", "version": "2",
            "creation_timestamp": "1700000000000"}}"#;
        let version = parse::<ModelVersionAnswer>(MODEL_VERSION, body)
            .unwrap()
            .model_version;
        assert_eq!(version.source, "");
        assert_eq!(version.status, None);
        assert_eq!(
            version.creation_timestamp.and_then(|t| t.timestamp()),
            Some(Timestamp::from_millisecond(1_700_000_000_000).unwrap())
        );
        assert!(Millis::Text("soon".into()).timestamp().is_none());
    }

    #[test]
    fn an_unparsable_answer_names_the_endpoint() {
        let error = parse::<ModelVersionAnswer>(ALIAS, b"<html>").unwrap_err();
        assert!(
            error
                .starts_with("cannot parse the answer of /api/2.0/mlflow/registered-models/alias:"),
            "{error}"
        );
        let error = parse::<DownloadUriAnswer>(DOWNLOAD_URI, b"{}").unwrap_err();
        assert!(error.contains("artifact_uri"), "{error}");
    }

    #[test]
    fn classifies_mlflow_errors() {
        // The bodies are what MLflow 3.17 answers.
        assert_eq!(
            classify(
                StatusCode::NOT_FOUND,
                br#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=nope not found", "sqlstate": "KAM00", "error_class": "RESOURCE_NOT_FOUND"}"#
            ),
            Failure::DoesNotExist("Registered Model with name=nope not found".into())
        );
        assert_eq!(
            classify(
                StatusCode::BAD_REQUEST,
                br#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "Registered model alias nope not found."}"#
            ),
            Failure::InvalidParameter("Registered model alias nope not found.".into())
        );
        assert_eq!(
            classify(
                StatusCode::UNAUTHORIZED,
                b"You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html"
            ),
            Failure::Unauthorized {
                status: 401,
                detail: None
            }
        );
        assert_eq!(
            classify(
                StatusCode::FORBIDDEN,
                br#"{"error_code": "PERMISSION_DENIED", "message": "Permission denied"}"#
            ),
            Failure::Unauthorized {
                status: 403,
                detail: Some("Permission denied".into())
            }
        );
        assert_eq!(
            classify(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error_code": "INTERNAL_ERROR", "message": "database\n is locked"}"#
            ),
            Failure::Unavailable(
                "it answered HTTP 500 Internal Server Error: INTERNAL_ERROR: database is locked"
                    .into()
            )
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, b""),
            Failure::Unavailable("it answered HTTP 429 Too Many Requests".into())
        );
    }

    #[test]
    fn foreign_bodies_are_not_quoted() {
        let failure = classify(
            StatusCode::NOT_FOUND,
            b"<html>Authorization: Bearer t0ken</html>",
        );
        let Failure::Unexpected(text) = failure else {
            panic!("{failure:?}");
        };
        assert_eq!(
            text,
            "HTTP 404 Not Found without an MLflow error; is this the address of an MLflow tracking server?"
        );
        let Failure::Unexpected(text) = classify(StatusCode::FOUND, b"") else {
            panic!("a redirect is unexpected");
        };
        assert!(text.contains("redirects"), "{text}");
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(1000);
        let body = format!(r#"{{"error_code": "INVALID_PARAMETER_VALUE", "message": "{long}"}}"#);
        let Failure::InvalidParameter(text) = classify(StatusCode::BAD_REQUEST, body.as_bytes())
        else {
            panic!("not an invalid parameter");
        };
        assert_eq!(text.chars().count(), 301);
    }

    #[test]
    fn runs_uris_split_into_run_and_path() {
        assert_eq!(runs_uri("runs:/abc/model"), Some(("abc", "model")));
        assert_eq!(runs_uri("runs:/abc/sub/dir/"), Some(("abc", "sub/dir")));
        assert_eq!(runs_uri("runs:/abc"), Some(("abc", "")));
        assert_eq!(runs_uri("runs:/"), None);
        assert_eq!(runs_uri("s3://bucket/x"), None);
        assert_eq!(
            join("s3://b/0/abc/artifacts/", "model"),
            "s3://b/0/abc/artifacts/model"
        );
        assert_eq!(join("s3://b/0/abc/artifacts", ""), "s3://b/0/abc/artifacts");
    }
}
