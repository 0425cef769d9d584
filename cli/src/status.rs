//! `kubectl modeldeploy status`: one summary, or a new one whenever the object changes.

use std::pin::pin;

use futures::TryStreamExt;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::runtime::watcher::watch_object;
use modeldeploy_api::v1alpha1::ModelDeployment;

use crate::args::Output;
use crate::error::{Error, target};
use crate::{events, show, stdout};

pub async fn run(
    client: kube::Client,
    namespace: &str,
    name: &str,
    output: Output,
    watch: bool,
) -> Result<(), Error> {
    let api: Api<ModelDeployment> = Api::namespaced(client.clone(), namespace);
    // A plain get first, so that a missing object or API is reported at once (exit 3) rather
    // than as an empty watch.
    let deployment = api
        .get(name)
        .await
        .map_err(|source| Error::from_kube("get", name, namespace, source))?;
    print(&client, &deployment, output).await?;
    if !watch {
        return Ok(());
    }
    tokio::select! {
        result = follow(&client, api, namespace, name, deployment, output) => result,
        // Ctrl-C is how people stop watching, not a failure.
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// Prints the object again after each change, until the watch fails.
async fn follow(
    client: &kube::Client,
    api: Api<ModelDeployment>,
    namespace: &str,
    name: &str,
    shown: ModelDeployment,
    output: Output,
) -> Result<(), Error> {
    let mut shown_version = shown.metadata.resource_version;
    let mut updates = pin!(watch_object(api, name));
    while let Some(update) = updates.try_next().await.map_err(|source| Error::Watch {
        target: target(name, namespace),
        source,
    })? {
        match update {
            // The watch lists the object again whenever it reconnects; only changes are news.
            Some(deployment) if deployment.metadata.resource_version != shown_version => {
                if output == Output::Text {
                    stdout::write("\n")?;
                }
                print(client, &deployment, output).await?;
                shown_version = deployment.metadata.resource_version;
            }
            Some(_) => {}
            None if shown_version.is_some() => {
                eprintln!(
                    "{} was deleted; still watching in case it comes back",
                    target(name, namespace)
                );
                shown_version = None;
            }
            None => {}
        }
    }
    Ok(())
}

async fn print(
    client: &kube::Client,
    deployment: &ModelDeployment,
    output: Output,
) -> Result<(), Error> {
    match output {
        Output::Json => {
            stdout::write_json(&deployment.status.clone().unwrap_or_default(), "the status")
        }
        Output::Text => {
            let events = recent_events(client, deployment).await;
            stdout::write(&show::render(deployment, &events, jiff::Timestamp::now()))
        }
    }
}

/// The events, or none with a warning: people may be allowed to read ModelDeployments but
/// not events, and the status is worth showing anyway.
async fn recent_events(client: &kube::Client, deployment: &ModelDeployment) -> Vec<Event> {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let namespace = deployment.metadata.namespace.as_deref().unwrap_or_default();
    match events::recent(client, namespace, name).await {
        Ok(events) => events,
        Err(error) => {
            eprintln!("warning: {error}");
            Vec::new()
        }
    }
}
