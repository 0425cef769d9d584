//! Maps object_store errors onto [`ErrorKind`]s.

use object_store::client::{HttpError, HttpErrorKind};

use crate::error::{ErrorKind, Failure, chain, is_no_space};

/// S3, GCS and STS error codes and phrases that mean "your credentials are wrong or lack
/// permission". Listing errors reach us as `Generic` with the HTTP status only in the text:
/// object_store's `RetryError`, which carries the status, is not public.
const DENIED: [&str; 12] = [
    "403 Forbidden",
    "401 Unauthorized",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
    "credential",
    "Credential",
];

const MISSING: [&str; 3] = ["404 Not Found", "NoSuchBucket", "NoSuchKey"];

/// A [`Failure`] for an object_store error about `object`.
pub(crate) fn store_failure(error: &object_store::Error, object: &str) -> Failure {
    let mut failure = Failure::from_error(kind(error), error);
    if failure.cause.contains("invalid peer certificate") {
        failure.cause.push_str(
            " (to trust a private CA, pass --ca-file or set MODELDEPLOY_CA_FILE to its PEM file)",
        );
    }
    if object.is_empty() {
        failure
    } else {
        failure.object(object)
    }
}

fn kind(error: &object_store::Error) -> ErrorKind {
    use object_store::Error as E;
    match error {
        E::NotFound { .. } => return ErrorKind::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => return ErrorKind::AccessDenied,
        E::UnknownConfigurationKey { .. } => return ErrorKind::Config,
        _ => {}
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(http) = current.downcast_ref::<HttpError>() {
            match http.kind() {
                HttpErrorKind::Connect
                | HttpErrorKind::Request
                | HttpErrorKind::Timeout
                | HttpErrorKind::Interrupted => return ErrorKind::Network,
                HttpErrorKind::Decode | HttpErrorKind::Unknown | _ => {}
            }
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && is_no_space(io)
        {
            return ErrorKind::NoSpace;
        }
        source = current.source();
    }
    let text = chain(error);
    if DENIED.iter().any(|needle| text.contains(needle)) {
        ErrorKind::AccessDenied
    } else if MISSING.iter().any(|needle| text.contains(needle)) {
        ErrorKind::NotFound
    } else if text.contains("builder error") || text.contains("Configuration") {
        ErrorKind::Config
    } else {
        ErrorKind::Remote
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_and_denied_variants() {
        let not_found = object_store::Error::NotFound {
            path: "k".into(),
            source: "gone".into(),
        };
        assert_eq!(store_failure(&not_found, "k").kind, ErrorKind::NotFound);
        assert_eq!(store_failure(&not_found, "k").object.as_deref(), Some("k"));
        let denied = object_store::Error::Unauthenticated {
            path: "k".into(),
            source: "no".into(),
        };
        assert_eq!(store_failure(&denied, "").kind, ErrorKind::AccessDenied);
    }

    #[test]
    fn generic_errors_are_classified_by_their_text() {
        let generic = |text: &str| object_store::Error::Generic {
            store: "S3",
            source: text.to_owned().into(),
        };
        let kind_of = |text: &str| store_failure(&generic(text), "").kind;
        assert_eq!(
            kind_of(
                "Server returned non-2xx status code: 403 Forbidden: <Code>SignatureDoesNotMatch</Code>"
            ),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind_of("Server returned non-2xx status code: 404 Not Found: NoSuchBucket"),
            ErrorKind::NotFound
        );
        assert_eq!(kind_of("Server returned 500"), ErrorKind::Remote);
    }

    #[test]
    fn connection_errors_are_network() {
        let error = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(
                HttpErrorKind::Connect,
                std::io::Error::other("refused"),
            )),
        };
        assert_eq!(store_failure(&error, "").kind, ErrorKind::Network);
    }
}
