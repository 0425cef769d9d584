//! A Markdown reference of the API, generated from the same schema as the CRD so that it can
//! never drift from what the API server enforces.

use std::fmt::Write;

use serde_json::Value;

/// Fields whose type is a Kubernetes core type, documented upstream rather than here.
const UPSTREAM: &[(&str, &str)] = &[
    (
        "spec.runtime.env",
        "[EnvVar](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#environment-variables)",
    ),
    (
        "spec.runtime.resources",
        "[ResourceRequirements](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#resources)",
    ),
    (
        "spec.runtime.readinessProbe",
        "[Probe](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Probe)",
    ),
    (
        "spec.runtime.livenessProbe",
        "[Probe](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Probe)",
    ),
    (
        "spec.runtime.startupProbe",
        "[Probe](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Probe)",
    ),
    (
        "spec.runtime.tolerations",
        "[Toleration](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#scheduling)",
    ),
    (
        "status.conditions",
        "[Condition](https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/)",
    ),
];

/// Renders the reference of one CRD version's `openAPIV3Schema`.
pub fn markdown(kind: &str, api_version: &str, schema: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {kind} API reference\n");
    let _ = writeln!(
        out,
        "Generated from the Rust types by `make generate`; the API server enforces exactly these fields and rules.\n"
    );
    let _ = writeln!(out, "`apiVersion: {api_version}`, `kind: {kind}`\n");
    let properties = &schema["properties"];
    for root in ["spec", "status"] {
        object(&mut out, root, &properties[root]);
    }
    let rules = rules(schema);
    if !rules.is_empty() {
        let _ = writeln!(out, "## Rules across fields\n");
        for (rule, message) in rules {
            let _ = writeln!(out, "- {message} (`{rule}`)");
        }
        out.push('\n');
    }
    out
}

fn object(out: &mut String, path: &str, schema: &Value) {
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "## `{path}`\n");
    if let Some(description) = schema["description"].as_str() {
        let _ = writeln!(out, "{}\n", one_line(description));
    }
    let _ = writeln!(out, "| Field | Type | Description |\n| --- | --- | --- |");
    let mut nested = Vec::new();
    for (name, field) in properties {
        let field_path = format!("{path}.{name}");
        let upstream = UPSTREAM
            .iter()
            .find(|(p, _)| *p == field_path)
            .map(|(_, t)| *t);
        let (type_name, child) = type_of(field, upstream);
        let mut description = field["description"]
            .as_str()
            .map(one_line)
            .unwrap_or_default();
        if required.contains(&name.as_str()) {
            description = format!("**Required.** {description}");
        }
        for extra in constraints(field) {
            let _ = write!(description, " {extra}.");
        }
        let _ = writeln!(
            out,
            "| `{name}` | {type_name} | {} |",
            description.replace('|', "\\|")
        );
        if let (None, Some(child)) = (upstream, child) {
            nested.push((field_path, child));
        }
    }
    out.push('\n');
    for (field_path, child) in nested {
        object(out, &field_path, child);
    }
}

/// The displayed type and, for objects, the schema to document next.
fn type_of<'a>(field: &'a Value, upstream: Option<&str>) -> (String, Option<&'a Value>) {
    let item = &field["items"];
    match (field["type"].as_str(), upstream) {
        (Some("array"), Some(name)) => (format!("list of {name}"), None),
        (_, Some(name)) => (name.to_owned(), None),
        (Some("array"), None) if item["type"] == "object" => {
            ("list of objects".to_owned(), Some(item))
        }
        (Some("array"), None) => (
            format!("list of {}", item["type"].as_str().unwrap_or("values")),
            None,
        ),
        (Some("object"), None) if field["properties"].is_object() => {
            ("object".to_owned(), Some(field))
        }
        (Some("object"), None) => ("map of string".to_owned(), None),
        (Some(other), None) => match field["enum"].as_array() {
            Some(values) => {
                let values: Vec<String> = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|v| format!("`{v}`"))
                    .collect();
                (format!("{other}: {}", values.join(", ")), None)
            }
            None => (other.to_owned(), None),
        },
        (None, None) if field["x-kubernetes-int-or-string"] == true => {
            ("int or string".to_owned(), None)
        }
        (None, None) => ("any".to_owned(), None),
    }
}

fn constraints(field: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(default) = field.get("default") {
        let shown = default
            .as_str()
            .map_or_else(|| default.to_string(), str::to_owned);
        found.push(format!("Default `{shown}`"));
    }
    match (
        field.get("minimum").map(number),
        field.get("maximum").map(number),
    ) {
        (Some(min), Some(max)) => found.push(format!("From {min} to {max}")),
        (Some(min), None) => found.push(format!("At least {min}")),
        (None, Some(max)) => found.push(format!("At most {max}")),
        (None, None) => {}
    }
    if let Some(max) = field.get("maxItems") {
        found.push(format!("At most {max} items"));
    }
    for (_, message) in rules(field) {
        found.push(format!("Rule: {}", message.trim_end_matches('.')));
    }
    found
}

fn rules(schema: &Value) -> Vec<(String, String)> {
    schema["x-kubernetes-validations"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    (
                        r["rule"].as_str().unwrap_or_default().to_owned(),
                        r["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whole numbers without a trailing `.0`: schemars writes every bound as a float.
fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", n as i64),
        _ => value.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
