//! Rendering: the child objects a plan asks for, as pure functions of the ModelDeployment.

mod deployment;
mod history;
mod service;
mod storage;

pub use deployment::{deployment, rescaled};
pub use history::template_record;
pub use service::{selected_revision, service};
pub use storage::{STORAGE_INITIALIZER_IMAGE, initializer_image, model_storage, restricted};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// Who a child belongs to: the ModelDeployment's name, namespace and controller reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Owner {
    pub name: String,
    pub namespace: String,
    pub reference: OwnerReference,
}
