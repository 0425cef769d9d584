//! Credentials for an HTTP registry, as values the caller read from a Secret.
//!
//! Secrets stay in [`SecretString`]s, whose `Debug` prints `[REDACTED]`, and become an
//! `Authorization` header marked sensitive only when a request is built.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// How to authenticate to a registry.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// No `Authorization` header.
    #[default]
    Anonymous,
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// `Authorization: Basic <base64(username:password)>`.
    Basic {
        username: String,
        password: SecretString,
    },
}

/// The credentials hold a byte that an HTTP header cannot carry (a line break, say).
#[derive(Debug, thiserror::Error)]
#[error("the {0} contains characters that cannot be sent in an HTTP header")]
pub struct UnusableCredentials(&'static str);

impl Credentials {
    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Credentials::Bearer(SecretString::from(token.into()))
    }

    /// A username and password for HTTP basic authentication.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// The `Authorization` header to send, if any.
    pub(crate) fn authorization(&self) -> Result<Option<HeaderValue>, UnusableCredentials> {
        let (value, what) = match self {
            Credentials::Anonymous => return Ok(None),
            Credentials::Bearer(token) => {
                (format!("Bearer {}", token.expose_secret()), "bearer token")
            }
            Credentials::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose_secret());
                (
                    format!("Basic {}", STANDARD.encode(pair)),
                    "basic-auth credentials",
                )
            }
        };
        let mut header = HeaderValue::from_str(&value).map_err(|_| UnusableCredentials(what))?;
        // Keeps the value out of hyper's and http's Debug output.
        header.set_sensitive(true);
        Ok(Some(header))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_headers() {
        let bearer = Credentials::bearer("t0ken")
            .authorization()
            .unwrap()
            .unwrap();
        assert_eq!(bearer, "Bearer t0ken");
        assert!(bearer.is_sensitive());
        let basic = Credentials::basic("alice", "s3cret")
            .authorization()
            .unwrap()
            .unwrap();
        // base64("alice:s3cret")
        assert_eq!(basic, "Basic YWxpY2U6czNjcmV0");
        assert!(Credentials::Anonymous.authorization().unwrap().is_none());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let text = format!(
            "{:?} {:?}",
            Credentials::bearer("t0ken"),
            Credentials::basic("alice", "s3cret")
        );
        assert!(!text.contains("t0ken"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn a_token_with_a_line_break_is_refused_without_echoing_it() {
        let error = Credentials::bearer("abc\ndef").authorization().unwrap_err();
        assert_eq!(
            error.to_string(),
            "the bearer token contains characters that cannot be sent in an HTTP header"
        );
    }
}
