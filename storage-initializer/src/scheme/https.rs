//! `https://host/path` (and `http://` when allowed): one file or archive.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::http::HttpBuilder;
use object_store::path::Path as StorePath;
use url::Url;

use crate::error::{ErrorKind, Failure};
use crate::objects::Target;
use crate::options::Options;
use crate::transport::client_options;

/// A client for exactly `url` and the [`Target`] that fetches it.
///
/// The store's base URL is the whole URL and the object path is empty, so a query string
/// (a presigned URL's signature) is sent as is.
pub(crate) fn store(
    url: &Url,
    options: &Options,
) -> Result<(Arc<dyn ObjectStore>, Target), Failure> {
    if url.scheme() == "http" && !options.allow_insecure_http {
        return Err(Failure::new(
            ErrorKind::Config,
            "plain http:// is refused; use https://, or pass --allow-insecure-http (MODELDEPLOY_ALLOW_INSECURE_HTTP=true)",
        ));
    }
    let name = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .filter(|name| !name.is_empty())
        .map(|name| {
            percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .into_owned()
        })
        .ok_or_else(|| {
            Failure::new(
                ErrorKind::InvalidUri,
                "the URL path does not end in a file name",
            )
        })?;
    let client = client_options(options)?.with_allow_http(options.allow_insecure_http);
    let store = HttpBuilder::new()
        .with_url(url.as_str())
        .with_client_options(client)
        .build()
        .map_err(|error| Failure::from_error(ErrorKind::Config, &error))?;
    Ok((
        Arc::new(store),
        Target::Object {
            location: StorePath::default(),
            name,
        },
    ))
}
