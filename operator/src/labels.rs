//! Labels and names shared by every child object, so that children can be found and pruned.

use std::collections::BTreeMap;

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "modeldeploy-operator";
/// Value of `app.kubernetes.io/managed-by` on children.
pub const MANAGED_BY: &str = "modeldeploy-operator";

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_DEPLOYMENT: &str = "modeldeploy.io/deployment";
pub const LABEL_REVISION: &str = "modeldeploy.io/revision";
pub const LABEL_MODEL_VERSION: &str = "modeldeploy.io/model-version";

/// Name of the Deployment that runs `revision` of ModelDeployment `name`.
pub fn deployment_name(name: &str, revision: &str) -> String {
    format!("{name}-{revision}")
}

/// Selects every child of ModelDeployment `name`.
pub fn children_selector(name: &str) -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_DEPLOYMENT}={name}")
}

/// Labels every child carries. Not `app.kubernetes.io/instance`: Argo CD tracks the resources
/// of an application by that label, and children carrying it would show as out of sync.
pub fn common(name: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_owned(), name.to_owned()),
        (LABEL_COMPONENT.to_owned(), component.to_owned()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (LABEL_DEPLOYMENT.to_owned(), name.to_owned()),
    ])
}

/// Labels that select the pods of one revision.
pub fn revision_selector(name: &str, revision: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_DEPLOYMENT.to_owned(), name.to_owned()),
        (LABEL_REVISION.to_owned(), revision.to_owned()),
    ])
}

/// Labels that select the pods of every revision of ModelDeployment `name`.
pub fn all_revisions_selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_DEPLOYMENT.to_owned(), name.to_owned())])
}

/// Whether an object with these owner references is controlled by the object with `owner_uid`:
/// the one rule for "this child is ours".
pub fn controlled_by(
    owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    owner_uid: &str,
) -> bool {
    owners
        .iter()
        .any(|o| o.uid == owner_uid && o.controller == Some(true))
}
