//! Everything that can go wrong, each with what was being done and what to try, and the exit
//! code it ends the plugin with.

use std::path::PathBuf;
use std::time::Duration;

use crate::durations;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read kubeconfig {}: {source}", path.display())]
    ReadKubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("cannot use kubeconfig {}: {source}", path.display())]
    UseKubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("cannot use kubeconfig context {context}: {source}")]
    UseContext {
        context: String,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error(
        "found no kubeconfig ($KUBECONFIG or ~/.kube/config) and no in-cluster config: {source}"
    )]
    NoConfig {
        #[source]
        source: kube::config::InferConfigError,
    },

    #[error("cannot create a Kubernetes client: {source}")]
    Client {
        #[source]
        source: kube::Error,
    },

    #[error("modelDeployment {name} not found in namespace {namespace}")]
    NotFound { name: String, namespace: String },

    #[error(
        "this cluster does not serve modeldeployments.modeldeploy.io/v1alpha1; install the modeldeploy CRD (helm install modeldeploy charts/modeldeploy, or kubectl apply -k config/default)"
    )]
    ApiMissing,

    #[error("cannot {action} {target}: {}", describe(source))]
    Kube {
        action: &'static str,
        target: String,
        #[source]
        source: kube::Error,
    },

    #[error("cannot watch {target}: {source}")]
    Watch {
        target: String,
        #[source]
        source: kube::runtime::watcher::Error,
    },

    #[error("cannot encode {what} as JSON: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "the operator did not acknowledge the request within {}; is modeldeploy-operator running?",
        durations::exact(*after)
    )]
    Timeout { after: Duration },

    #[error("the operator refused {action}: {message}")]
    Refused { action: String, message: String },

    #[error(
        "request {ours} was replaced by request {theirs} before the operator answered it; see `kubectl modeldeploy status {name}` for where the rollout stands"
    )]
    Replaced {
        name: String,
        ours: String,
        theirs: String,
    },

    #[error("cannot write to standard output: {source}")]
    Stdout {
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The exit code documented in `--help` and in the README.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotFound { .. } => 3,
            Error::Timeout { .. } => 4,
            Error::ReadKubeconfig { .. }
            | Error::UseKubeconfig { .. }
            | Error::UseContext { .. }
            | Error::NoConfig { .. }
            | Error::Client { .. }
            | Error::ApiMissing
            | Error::Kube { .. }
            | Error::Watch { .. }
            | Error::Json { .. }
            | Error::Refused { .. }
            | Error::Replaced { .. }
            | Error::Stdout { .. } => 1,
        }
    }

    /// Tells a missing ModelDeployment (exit 3) from a missing API and from other failures.
    ///
    /// The API server names the object in a 404 for a missing object; a 404 without a name
    /// means the resource type itself is not served, i.e. the CRD is not installed.
    pub fn from_kube(
        action: &'static str,
        name: &str,
        namespace: &str,
        source: kube::Error,
    ) -> Self {
        match &source {
            kube::Error::Api(status) if status.code == 404 => {
                let names_object = status
                    .details
                    .as_ref()
                    .is_some_and(|details| !details.name.is_empty());
                if names_object {
                    Error::NotFound {
                        name: name.to_owned(),
                        namespace: namespace.to_owned(),
                    }
                } else {
                    Error::ApiMissing
                }
            }
            _ => Error::Kube {
                action,
                target: target(name, namespace),
                source,
            },
        }
    }
}

/// How messages name one ModelDeployment.
pub fn target(name: &str, namespace: &str) -> String {
    format!("modelDeployment {name} in namespace {namespace}")
}

/// The API server's own sentence when there is one; the debug dump of its Status is noise.
fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use kube::core::Status;
    use kube::core::response::StatusDetails;

    use super::*;

    fn api_error(code: u16, object: Option<&str>) -> kube::Error {
        let mut status = Status::failure("the message", "NotFound").with_code(code);
        if let Some(name) = object {
            status = status.with_details(StatusDetails {
                name: name.to_owned(),
                group: "modeldeploy.io".to_owned(),
                kind: "modeldeployments".to_owned(),
                uid: String::new(),
                causes: Vec::new(),
                retry_after_seconds: 0,
            });
        }
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        let not_found = Error::from_kube("get", "iris", "ml", api_error(404, Some("iris")));
        assert_eq!(not_found.exit_code(), 3);
        assert_eq!(
            not_found.to_string(),
            "modelDeployment iris not found in namespace ml"
        );

        let timeout = Error::Timeout {
            after: Duration::from_secs(30),
        };
        assert_eq!(timeout.exit_code(), 4);
        assert_eq!(
            timeout.to_string(),
            "the operator did not acknowledge the request within 30s; is modeldeploy-operator running?"
        );

        let refused = Error::Refused {
            action: "promote".into(),
            message: "there is no rollout to promote".into(),
        };
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(
            refused.to_string(),
            "the operator refused promote: there is no rollout to promote"
        );

        let forbidden = Error::from_kube("patch", "iris", "ml", api_error(403, None));
        assert_eq!(forbidden.exit_code(), 1);
        assert_eq!(
            forbidden.to_string(),
            "cannot patch modelDeployment iris in namespace ml: the message"
        );
    }

    #[test]
    fn a_404_without_an_object_name_means_the_crd_is_missing() {
        let error = Error::from_kube("get", "iris", "ml", api_error(404, None));
        assert!(matches!(error, Error::ApiMissing), "{error:?}");
        assert_eq!(error.exit_code(), 1);
    }
}
