//! `kubectl modeldeploy list`.

use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::ModelDeployment;

use crate::args::Output;
use crate::error::Error;
use crate::{stdout, table};

pub async fn run(
    client: kube::Client,
    namespace: &str,
    all_namespaces: bool,
    output: Output,
) -> Result<(), Error> {
    let api: Api<ModelDeployment> = if all_namespaces {
        Api::all(client)
    } else {
        Api::namespaced(client, namespace)
    };
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|source| match &source {
            kube::Error::Api(status) if status.code == 404 => Error::ApiMissing,
            _ => Error::Kube {
                action: "list",
                target: if all_namespaces {
                    "modelDeployments in all namespaces".to_owned()
                } else {
                    format!("modelDeployments in namespace {namespace}")
                },
                source,
            },
        })?;
    let deployments = list.items;
    match output {
        Output::Json => stdout::write_json(&table::entries(&deployments), "the list"),
        Output::Text if deployments.is_empty() => {
            // Like kubectl: the table is empty, so say so where people look, not in the data.
            if all_namespaces {
                eprintln!("No ModelDeployments found.");
            } else {
                eprintln!("No ModelDeployments found in namespace {namespace}.");
            }
            Ok(())
        }
        Output::Text => stdout::write(&table::render(&deployments, all_namespaces)),
    }
}
