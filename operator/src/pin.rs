//! Pinning a registry reference: `model.registry` resolves to a version and the URI of its
//! artifacts, which are recorded in `status.registry` and deployed as `model.version` and
//! `model.storageUri`. An alias is looked up again every minute; when it moves, the new version
//! is rolled out through the strategy if `followAlias` says so, and otherwise only announced as
//! available. Pure: the lookup itself is the caller's.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, RegistryReference, RegistryStatus};

use crate::registry;

/// How often an alias is looked up again.
pub const ALIAS_INTERVAL: Duration = Duration::from_secs(60);

/// What `reference` asks the registry for: its alias, else its version (admission requires
/// exactly one).
pub fn wanted(reference: &RegistryReference) -> registry::RegistryReference {
    match (&reference.alias, &reference.version) {
        (Some(alias), _) => registry::RegistryReference::alias(&reference.name, alias),
        (None, version) => registry::RegistryReference::version(
            &reference.name,
            version.clone().unwrap_or_default(),
        ),
    }
}

/// `reference` as MLflow writes it: `fraud@champion` or `fraud/3`.
pub fn reference_text(reference: &RegistryReference) -> String {
    wanted(reference).to_string()
}

/// When to look `reference` up: `None` now, else after the given wait.
pub fn due(
    reference: &RegistryReference,
    pinned: Option<&RegistryStatus>,
    now: Timestamp,
) -> Option<Duration> {
    let pinned = pinned.filter(|p| p.reference == reference_text(reference))?;
    if reference.alias.is_none() {
        // A fixed version never moves: one lookup is enough, until the reference changes.
        return Some(Duration::MAX);
    }
    let since = Duration::try_from(now.duration_since(pinned.resolved_at.0)).unwrap_or_default();
    ALIAS_INTERVAL
        .checked_sub(since)
        .filter(|left| !left.is_zero())
}

/// The pin after a lookup found `version` stored at `source`.
pub fn pin(
    reference: &RegistryReference,
    previous: Option<&RegistryStatus>,
    version: &str,
    source: &str,
    now: Timestamp,
) -> RegistryStatus {
    let text = reference_text(reference);
    let kept =
        previous.filter(|p| p.reference == text && p.version != version && !reference.follow_alias);
    let (pinned_version, pinned_source, available) = match kept {
        Some(previous) => (
            previous.version.clone(),
            previous.source.clone(),
            Some(version.to_owned()),
        ),
        None => (version.to_owned(), source.to_owned(), None),
    };
    let pinned = match &available {
        Some(newer) => format!("{text}={pinned_version} ({newer} available)"),
        None => format!("{text}={pinned_version}"),
    };
    RegistryStatus {
        reference: text,
        version: pinned_version,
        source: pinned_source,
        available,
        pinned,
        resolved_at: Time(now),
    }
}

/// `spec` with the pinned version and its artifacts as `model.version` and `model.storageUri`.
pub fn applied(spec: &ModelDeploymentSpec, pinned: &RegistryStatus) -> ModelDeploymentSpec {
    let mut spec = spec.clone();
    spec.model.version = pinned.version.clone();
    spec.model.storage_uri = Some(pinned.source.clone());
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use modeldeploy_api::v1alpha1::RegistryKind;

    fn alias(follow: bool) -> RegistryReference {
        RegistryReference {
            kind: RegistryKind::Mlflow,
            uri: "http://mlflow:5000".into(),
            name: "fraud".into(),
            alias: Some("champion".into()),
            version: None,
            follow_alias: follow,
            secret_name: None,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn an_alias_is_pinned_then_looked_up_again_every_minute() {
        let reference = alias(false);
        assert_eq!(due(&reference, None, at(0)), None);
        let first = pin(&reference, None, "1", "s3://models/fraud/1", at(0));
        assert_eq!(first.pinned, "fraud@champion=1");
        assert_eq!(
            due(&reference, Some(&first), at(20)),
            Some(Duration::from_secs(40))
        );
        assert_eq!(due(&reference, Some(&first), at(60)), None);
    }

    #[test]
    fn a_moved_alias_is_followed_only_when_asked() {
        let first = pin(&alias(false), None, "1", "s3://models/fraud/1", at(0));
        let kept = pin(
            &alias(false),
            Some(&first),
            "2",
            "s3://models/fraud/2",
            at(60),
        );
        assert_eq!(
            (kept.version.as_str(), kept.available.as_deref()),
            ("1", Some("2"))
        );
        assert_eq!(kept.source, "s3://models/fraud/1");
        assert_eq!(kept.pinned, "fraud@champion=1 (2 available)");
        let followed = pin(
            &alias(true),
            Some(&first),
            "2",
            "s3://models/fraud/2",
            at(60),
        );
        assert_eq!((followed.version.as_str(), followed.available), ("2", None));
    }

    #[test]
    fn a_fixed_version_is_looked_up_once() {
        let mut reference = alias(false);
        reference.alias = None;
        reference.version = Some("3".into());
        let pinned = pin(&reference, None, "3", "s3://models/fraud/3", at(0));
        assert_eq!(pinned.reference, "fraud/3");
        assert_eq!(
            due(&reference, Some(&pinned), at(3600)),
            Some(Duration::MAX)
        );
        let spec = applied(&crate::testing::spec("ignored"), &pinned);
        assert_eq!(spec.model.version, "3");
        assert_eq!(
            spec.model.storage_uri.as_deref(),
            Some("s3://models/fraud/3")
        );
    }
}
