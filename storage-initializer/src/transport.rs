//! HTTP client settings shared by the s3://, gs:// and https:// stores.

use std::time::Duration;

use object_store::{Certificate, ClientOptions};

use crate::error::{ErrorKind, Failure};
use crate::options::Options;

/// A model file can take many minutes to stream, so there is no cap on a whole request; a
/// connection that stops delivering bytes for this long is retried instead.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Installs ring as rustls' process-wide crypto provider.
///
/// reqwest is built with `rustls-no-provider` (see Cargo.toml for why it is ring and not
/// aws-lc-rs) and looks the provider up when a client is built. Installing twice is harmless.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// Client options for object_store: timeouts, user agent, and the extra CA certificates.
pub(crate) fn client_options(options: &Options) -> Result<ClientOptions, Failure> {
    let mut client = ClientOptions::new()
        .with_timeout_disabled()
        .with_read_timeout(READ_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_user_agent(object_store::HeaderValue::from_static(concat!(
            "modeldeploy-storage-initializer/",
            env!("CARGO_PKG_VERSION")
        )));
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path).map_err(|error| {
            Failure::new(
                ErrorKind::Config,
                format!("cannot read CA file {}: {error}", path.display()),
            )
        })?;
        let certificates = Certificate::from_pem_bundle(&pem).map_err(|error| {
            Failure::new(
                ErrorKind::Config,
                format!(
                    "CA file {} holds no usable PEM certificate: {error}",
                    path.display()
                ),
            )
        })?;
        if certificates.is_empty() {
            return Err(Failure::new(
                ErrorKind::Config,
                format!("CA file {} holds no PEM certificate", path.display()),
            ));
        }
        for certificate in certificates {
            client = client.with_root_certificate(certificate);
        }
    }
    Ok(client)
}
