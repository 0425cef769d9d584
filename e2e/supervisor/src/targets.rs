//! Prometheus scrape targets for the served pods, as a `file_sd_configs` file. Debian's
//! Prometheus is built without Kubernetes service discovery, so the supervisor, which knows every
//! pod it runs, tells Prometheus about them instead.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::pod::ServedPod;

/// The file's content: one target group per pod, labelled as Kubernetes discovery with a
/// `labelmap` of the pod labels would label it.
pub fn render<'a>(pods: impl IntoIterator<Item = &'a ServedPod>) -> Value {
    let mut groups: Vec<Value> = pods
        .into_iter()
        .map(|pod| {
            let mut labels: BTreeMap<String, String> = pod
                .labels
                .iter()
                .map(|(k, v)| (label_name(k), v.clone()))
                .collect();
            labels.insert("namespace".to_owned(), pod.namespace.clone());
            labels.insert("pod".to_owned(), pod.name.clone());
            json!({"targets": [format!("{}:{}", ip_for_url(pod), pod.metrics_port)], "labels": labels})
        })
        .collect();
    groups.sort_by_key(|g| g["targets"][0].as_str().map(str::to_owned));
    Value::Array(groups)
}

/// Replaces the file at once (write, then rename), so that Prometheus never reads half of it.
pub fn write(path: &Path, content: &Value) -> std::io::Result<()> {
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_vec_pretty(content)?)?;
    std::fs::rename(&partial, path)
}

fn ip_for_url(pod: &ServedPod) -> String {
    match pod.ip {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    }
}

/// A Kubernetes label key as a Prometheus label name: what is not `[a-zA-Z0-9_]` becomes `_`.
fn label_name(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_pod_is_a_target_labelled_with_its_namespace_name_and_labels() {
        let pod = ServedPod {
            labels: [("modeldeploy.io/revision".to_owned(), "abc".to_owned())].into(),
            ..crate::pod::fixture()
        };
        let rendered = render([&pod]);
        assert_eq!(rendered[0]["targets"][0], "198.18.0.7:8080");
        assert_eq!(rendered[0]["labels"]["namespace"], "models");
        assert_eq!(rendered[0]["labels"]["pod"], "iris-1");
        assert_eq!(rendered[0]["labels"]["modeldeploy_io_revision"], "abc");
    }
}
