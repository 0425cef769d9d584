//! A Kubernetes client and the namespace to work in, chosen the way kubectl chooses them.

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::args::Connection;
use crate::error::Error;

/// A client for the cluster of `connection`, and the namespace: `--namespace`, else the
/// context's namespace, else `default`.
pub async fn connect(connection: &Connection) -> Result<(kube::Client, String), Error> {
    let config = config(connection).await?;
    let namespace = connection
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).map_err(|source| Error::Client { source })?;
    Ok((client, namespace))
}

async fn config(connection: &Connection) -> Result<kube::Config, Error> {
    let options = KubeConfigOptions {
        context: connection.context.clone(),
        ..KubeConfigOptions::default()
    };
    match (&connection.kubeconfig, &connection.context) {
        (Some(path), _) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|source| Error::ReadKubeconfig {
                    path: path.clone(),
                    source,
                })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|source| Error::UseKubeconfig {
                    path: path.clone(),
                    source,
                })
        }
        // A named context only exists in a kubeconfig; falling back to the in-cluster config
        // would silently talk to another cluster.
        (None, Some(context)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|source| Error::UseContext {
                context: context.clone(),
                source,
            }),
        (None, None) => kube::Config::infer()
            .await
            .map_err(|source| Error::NoConfig { source }),
    }
}
