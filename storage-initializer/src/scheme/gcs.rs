//! `gs://bucket/prefix`: Google Cloud Storage.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};

use crate::error::{ErrorKind, Failure};
use crate::options::Options;
use crate::transport::client_options;

/// A GCS client for `bucket`, configured from `GOOGLE_*` variables (and `SERVICE_ACCOUNT`)
/// exactly as `GoogleCloudStorageBuilder::from_env` would: `GOOGLE_APPLICATION_CREDENTIALS`
/// (a service account key or authorized-user JSON file), `GOOGLE_SERVICE_ACCOUNT_KEY`
/// (the JSON itself), else the metadata server (GKE Workload Identity); `GOOGLE_SKIP_SIGNATURE=true`
/// reads a public bucket anonymously.
pub(crate) fn store(bucket: &str, options: &Options) -> Result<Arc<dyn ObjectStore>, Failure> {
    let mut builder =
        GoogleCloudStorageBuilder::new().with_client_options(client_options(options)?);
    if let Some(path) = options.var("SERVICE_ACCOUNT") {
        builder = builder.with_service_account_path(path);
    }
    for (key, value) in &options.env {
        // The operator names the key file of a credentials Secret whether or not the Secret has
        // one; a Secret that holds only GOOGLE_SKIP_SIGNATURE (a public bucket) must still work.
        if key == "GOOGLE_APPLICATION_CREDENTIALS" && !std::path::Path::new(value).exists() {
            continue;
        }
        if key.starts_with("GOOGLE_")
            && let Ok(config_key) = key.to_ascii_lowercase().parse::<GoogleConfigKey>()
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
