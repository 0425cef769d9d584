//! What became of one request: which version answered, or how it failed.

use std::error::Error;
use std::fmt;
use std::io;

use http::StatusCode;
use serde::Deserialize;

/// One request's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer arrived in time, whatever its status.
    Answered { status: u16, variant: Variant },
    /// No complete answer: the connection failed or the request timed out.
    Failed(TransportError),
}

/// Who answered, from the body of an answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// A success whose JSON body named its `model_version`.
    Version(String),
    /// A status other than 2xx. Its body is not read for a version: a gateway's own errors
    /// carry none, and a split between versions is a split of the answers that worked.
    Error,
    /// A success without a readable `model_version`: not JSON, no such field, or too large.
    Unparsed,
}

impl Variant {
    pub(crate) fn of(status: StatusCode, body: &[u8]) -> Variant {
        if !status.is_success() {
            return Variant::Error;
        }
        #[derive(Deserialize)]
        struct Versioned {
            model_version: Option<serde_json::Value>,
        }
        match serde_json::from_slice::<Versioned>(body).map(|b| b.model_version) {
            Ok(Some(serde_json::Value::String(version))) => Variant::Version(version),
            // Some servers write a version such as 2 as a number; it is still a version.
            Ok(Some(serde_json::Value::Number(version))) => Variant::Version(version.to_string()),
            _ => Variant::Unparsed,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Variant::Version(version) => f.write_str(version),
            Variant::Error => f.write_str("error"),
            Variant::Unparsed => f.write_str("unparsed"),
        }
    }
}

/// Why no answer arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransportError {
    /// Nothing listens at the target (or the gateway's listener is gone).
    Refused,
    /// The connection was reset or closed before the answer was complete.
    Reset,
    /// No complete answer within the request timeout.
    TimedOut,
    /// Connecting failed for another reason.
    Connect,
    /// The answer was not valid HTTP.
    Protocol,
    Other,
}

impl TransportError {
    /// Classifies an error from the client or from reading a body, by the most specific cause
    /// in its chain: an I/O error's kind says more than hyper's wrapper around it.
    pub(crate) fn of(error: &(dyn Error + 'static)) -> TransportError {
        let chain = || std::iter::successors(Some(error), |&e| e.source());
        let by_kind = chain()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            // An I/O error that wraps another hides it from `source()`; look inside too.
            .flat_map(|io| [Some(io), io.get_ref().and_then(|e| e.downcast_ref())])
            .flatten()
            .find_map(|io| match io.kind() {
                io::ErrorKind::ConnectionRefused => Some(TransportError::Refused),
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => Some(TransportError::Reset),
                io::ErrorKind::TimedOut => Some(TransportError::TimedOut),
                _ => None,
            });
        if let Some(kind) = by_kind {
            return kind;
        }
        if let Some(hyper) = chain().find_map(|e| e.downcast_ref::<hyper::Error>()) {
            if hyper.is_timeout() {
                return TransportError::TimedOut;
            }
            if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
                return TransportError::Reset;
            }
            if hyper.is_parse() || hyper.is_parse_status() {
                return TransportError::Protocol;
            }
        }
        let connecting = chain().any(|e| {
            e.downcast_ref::<hyper_util::client::legacy::Error>()
                .is_some_and(|e| e.is_connect())
        });
        if connecting {
            TransportError::Connect
        } else {
            TransportError::Other
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportError::Refused => "connection refused",
            TransportError::Reset => "connection reset",
            TransportError::TimedOut => "timed out",
            TransportError::Connect => "connect failed",
            TransportError::Protocol => "invalid HTTP",
            TransportError::Other => "other",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_successes_only() {
        let ok = StatusCode::OK;
        let v = |s: &str| Variant::Version(s.to_owned());
        assert_eq!(
            Variant::of(ok, br#"{"predictions":["setosa"],"model_version":"2"}"#),
            v("2")
        );
        assert_eq!(Variant::of(ok, br#"{"model_version":3}"#), v("3"));
        assert_eq!(Variant::of(ok, br#"{"predictions":[]}"#), Variant::Unparsed);
        assert_eq!(Variant::of(ok, b"not json"), Variant::Unparsed);
        assert_eq!(
            Variant::of(StatusCode::BAD_GATEWAY, br#"{"model_version":"2"}"#),
            Variant::Error
        );
    }

    #[test]
    fn classifies_by_the_deepest_io_error() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(TransportError::of(&refused), TransportError::Refused);
        let wrapped = io::Error::other(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(TransportError::of(&wrapped), TransportError::Reset);
        assert_eq!(
            TransportError::of(&io::Error::other("odd")),
            TransportError::Other
        );
    }
}
