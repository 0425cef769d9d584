//! The `modeldeploy.io` Kubernetes API: Rust types, the CRD generated from them, and a Markdown
//! reference generated from the same schema.

pub mod reference;
pub mod routing;
pub mod v1alpha1;
