//! `s3://bucket/prefix`: AWS S3 and S3-compatible stores.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

use crate::error::{ErrorKind, Failure};
use crate::options::Options;
use crate::transport::client_options;

/// An S3 client for `bucket`, configured from `AWS_*` variables exactly as
/// `AmazonS3Builder::from_env` would (endpoint, region, static keys, session token,
/// web-identity and container credentials for IRSA and EKS Pod Identity, `AWS_ALLOW_HTTP`),
/// but from `options.env` instead of the process environment.
pub(crate) fn store(bucket: &str, options: &Options) -> Result<Arc<dyn ObjectStore>, Failure> {
    let mut builder = AmazonS3Builder::new().with_client_options(client_options(options)?);
    for (key, value) in &options.env {
        if key.starts_with("AWS_")
            && let Ok(config_key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>()
        {
            builder = builder.with_config(config_key, value);
        }
    }
    let store = builder
        .with_bucket_name(bucket)
        .build()
        .map_err(|error| Failure::from_error(ErrorKind::Config, &error))?;
    Ok(Arc::new(store))
}
