//! The display fields of the status: ready counts, traffic and the revision list.

use modeldeploy_api::v1alpha1::{MirrorTarget, RevisionStatus, TrafficTarget};

use super::Observed;

/// `ready/desired`, as `kubectl get` shows for Deployments.
pub(super) fn ready(ready: i32, desired: i32) -> String {
    format!("{ready}/{desired}")
}

/// One line such as `3f2a9c01bd=100%`, `3f2a9c01bd=90% 77c1e0aa42=10%` or
/// `3f2a9c01bd=100% mirror:77c1e0aa42=50%`.
pub(super) fn traffic(targets: &[TrafficTarget], mirror: Option<&MirrorTarget>) -> Option<String> {
    if targets.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = targets
        .iter()
        .map(|t| format!("{}={}%", t.revision, t.weight))
        .collect();
    if let Some(m) = mirror {
        parts.push(format!("mirror:{}={}%", m.revision, m.percent));
    }
    Some(parts.join(" "))
}

/// The revisions that keep pods after this plan, `first` leading.
pub(super) fn revisions(
    observed: &Observed,
    first: &[(&str, i32, Option<&str>)],
    deleted: &[String],
) -> Vec<RevisionStatus> {
    let mut list: Vec<RevisionStatus> = Vec::new();
    for &(name, replicas, model_version) in first {
        if list.iter().any(|r| r.name == name) {
            continue;
        }
        let seen = observed.revisions.get(name);
        list.push(RevisionStatus {
            name: name.to_owned(),
            model_version: model_version
                .map(str::to_owned)
                .or_else(|| seen.and_then(|s| s.model_version.clone())),
            replicas,
            ready_replicas: seen.map_or(0, |s| s.ready_replicas),
        });
    }
    for (name, seen) in &observed.revisions {
        if list.iter().any(|r| &r.name == name) || deleted.contains(name) {
            continue;
        }
        list.push(RevisionStatus {
            name: name.clone(),
            model_version: seen.model_version.clone(),
            replicas: seen.replicas,
            ready_replicas: seen.ready_replicas,
        });
    }
    list
}
