//! Errors of a reconcile, each with the object it concerns.

use kube::Resource;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {kind} {name}: {}", describe(source))]
    Kube {
        action: &'static str,
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },

    #[error("cannot serialize {kind} {name}: {source}")]
    Serialize {
        kind: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "{kind} {name} already exists and is not owned by this ModelDeployment; rename the ModelDeployment or remove the {kind}"
    )]
    NotOwned { kind: String, name: String },

    #[error(
        "no runtime preset serves model.format {format:?} and runtime.image is not set: set runtime.image, or runtime.preset to a preset of this cluster"
    )]
    NoRuntime { format: String },

    #[error("model.registry {reference}: {source}")]
    Registry {
        reference: String,
        #[source]
        source: crate::registry::RegistryError,
    },

    #[error(
        "traffic.provider {provider} needs the {kind} API, which this cluster does not serve (or the operator may not use); install its CRDs, or choose another traffic.provider"
    )]
    ApiMissing { kind: String, provider: String },

    #[error("the ModelDeployment has no {0}; it cannot own children")]
    MissingMetadata(&'static str),
}

/// The API server's own sentence when there is one; the debug dump of its Status is noise in a
/// condition message.
fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

impl Error {
    pub(crate) fn kube<K>(action: &'static str, name: &str, source: kube::Error) -> Self
    where
        K: Resource,
        K::DynamicType: Default,
    {
        Error::Kube {
            action,
            kind: K::kind(&K::DynamicType::default()).into_owned(),
            name: name.to_owned(),
            source,
        }
    }

    /// Every reason [`Error::status_reason`] gives.
    pub const STATUS_REASONS: [&'static str; 13] = [
        "RuntimeNotFound",
        "RegistryModelNotFound",
        "RegistryModelNotReady",
        "RegistryUnauthorized",
        "RegistryUnreachable",
        "RegistryInvalidResponse",
        "RegistryMisconfigured",
        "NameConflict",
        "TrafficApiMissing",
        "ChildRejected",
        "Forbidden",
        "AllocationFailed",
        "ReconcileFailed",
    ];

    /// The reason of the `Degraded` condition this error sets, for errors that need a person to
    /// fix the manifest or the cluster. Transient errors (the API server busy or briefly away, a
    /// write conflict) set none: the retry usually succeeds.
    pub fn status_reason(&self) -> Option<&'static str> {
        match self {
            Error::NotOwned { .. } => Some("NameConflict"),
            Error::NoRuntime { .. } => Some("RuntimeNotFound"),
            // Shown even when it may pass (an unreachable registry): nothing can be deployed
            // until the reference resolves, and the user should know why.
            Error::Registry { source, .. } => Some(source.reason()),
            Error::ApiMissing { .. } => Some("TrafficApiMissing"),
            Error::Kube {
                source: kube::Error::Api(status),
                ..
            } => match status.code {
                400 | 422 => Some("ChildRejected"),
                401 | 403 => Some("Forbidden"),
                // The cluster ran out of something (Service IPs: "range is full"); retrying
                // alone does not help, a person must.
                500 if status.message.contains("failed to allocate") => Some("AllocationFailed"),
                _ => None,
            },
            Error::Serialize { .. } | Error::MissingMetadata(_) => Some("ReconcileFailed"),
            Error::Kube { .. } => None,
        }
    }

    /// A short, bounded label for metrics and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "KubeApi",
            Error::Serialize { .. } => "Serialize",
            Error::NotOwned { .. } => "NotOwned",
            Error::NoRuntime { .. } => "NoRuntime",
            Error::Registry { .. } => "Registry",
            Error::ApiMissing { .. } => "ApiMissing",
            Error::MissingMetadata(_) => "MissingMetadata",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> Error {
        let status: kube::core::Status =
            serde_json::from_value(serde_json::json!({"code": code, "message": message})).unwrap();
        Error::Kube {
            action: "apply",
            kind: "Service".into(),
            name: "iris-canary".into(),
            source: kube::Error::Api(Box::new(status)),
        }
    }

    #[test]
    fn refusals_a_person_must_fix_are_shown_and_passing_faults_are_not() {
        let full = api_error(
            500,
            "Internal error occurred: failed to allocate a serviceIP: range is full",
        );
        assert_eq!(full.status_reason(), Some("AllocationFailed"));
        assert!(full.to_string().contains("range is full"));
        assert_eq!(
            api_error(422, "spec.ports: Invalid").status_reason(),
            Some("ChildRejected")
        );
        assert_eq!(
            api_error(500, "etcdserver: request timed out").status_reason(),
            None
        );
        assert_eq!(
            api_error(409, "the object has been modified").status_reason(),
            None
        );
    }
}
