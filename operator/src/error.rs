//! Errors of a reconcile, each with the object it concerns.

use kube::Resource;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {kind} {name}: {source}")]
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
    NotOwned { kind: &'static str, name: String },

    #[error("the ModelDeployment has no {0}; it cannot own children")]
    MissingMetadata(&'static str),
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

    /// A short, bounded label for metrics and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "KubeApi",
            Error::Serialize { .. } => "Serialize",
            Error::NotOwned { .. } => "NotOwned",
            Error::MissingMetadata(_) => "MissingMetadata",
        }
    }
}
