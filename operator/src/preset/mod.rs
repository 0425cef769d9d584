//! Runtime presets: the image, arguments, port, environment and probes a model server needs for
//! a model format, so that the simple case is `model: {name, version, format, storageUri}`.
//!
//! A preset applies when `runtime.preset` names one, or when `runtime.image` is unset and
//! `model.format` has one. What the user sets always wins. A ModelDeployment with its own image
//! and no preset name is served exactly as written, so manifests from before presets keep their
//! revisions. The preset is part of the revision: a change to it (a release of the operator that
//! moves a pinned image, an admin's edit) rolls out through the ModelDeployment's strategy, like
//! any other change. Presets are data: a cluster admin adds or replaces them with a file
//! (`--runtime-presets`, the chart's `runtimePresets`); an admin's preset comes before a
//! built-in one for the formats both serve.

mod builtin;
mod file;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, HTTPGetAction, Probe, SecurityContext};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, RuntimeSpec};

pub use builtin::builtin;
pub use file::{PresetError, load};

/// What a model server needs, with `{name}`, `{modelDir}` and `{port}` filled in from the spec.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    /// Model formats it serves.
    pub formats: Vec<String>,
    pub image: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default = "default_port")]
    pub port: i32,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment that depends on the format, e.g. MLServer's implementation class.
    #[serde(default)]
    pub format_env: BTreeMap<String, BTreeMap<String, String>>,
    /// Answers 200 only once the model is loaded.
    pub ready_path: String,
    /// How long the start-up probe waits for the model to load, in 10 s periods.
    #[serde(default = "default_startup_periods")]
    pub startup_periods: i32,
    /// The image's non-root user, when the server runs as one: the container then gets a
    /// security context that the `restricted` Pod Security level admits. The kubelet can only
    /// check a numeric user, so the image's own user name is not enough.
    #[serde(default)]
    pub run_as_user: Option<i64>,
}

fn default_port() -> i32 {
    8080
}

fn default_startup_periods() -> i32 {
    60
}

/// The presets in force: an admin's first, then the built-in ones they do not replace.
#[derive(Clone, Debug, PartialEq)]
pub struct Presets(Vec<Preset>);

impl Presets {
    /// The built-in presets alone.
    pub fn builtin() -> Presets {
        Presets(builtin())
    }

    /// `extra` first, replacing built-in presets of the same name.
    pub fn with(extra: Vec<Preset>) -> Presets {
        let builtin: Vec<Preset> = builtin()
            .into_iter()
            .filter(|b| !extra.iter().any(|e| e.name == b.name))
            .collect();
        Presets(extra.into_iter().chain(builtin).collect())
    }

    /// The preset called `name`.
    pub fn named(&self, name: &str) -> Option<&Preset> {
        self.0.iter().find(|p| p.name == name)
    }

    /// The first preset that serves `format`.
    pub fn for_format(&self, format: &str) -> Option<&Preset> {
        self.0
            .iter()
            .find(|p| p.formats.iter().any(|f| f == format))
    }
}

/// The preset `spec` asks for, if any.
pub fn preset_for<'a>(spec: &ModelDeploymentSpec, presets: &'a Presets) -> Option<&'a Preset> {
    match spec.runtime.preset.as_deref() {
        Some("custom") => None,
        Some(name) => presets.named(name),
        None if spec.runtime.image.is_none() => presets.for_format(spec.model.format.as_deref()?),
        None => None,
    }
}

/// `spec` with its runtime completed from its preset; `spec` itself when none applies.
pub fn effective(spec: &ModelDeploymentSpec, presets: &Presets) -> ModelDeploymentSpec {
    let Some(preset) = preset_for(spec, presets) else {
        return spec.clone();
    };
    let user = &spec.runtime;
    let port = user.port.unwrap_or(preset.port);
    let fill = |text: &str| {
        text.replace("{name}", &spec.model.name)
            .replace("{modelDir}", user.model_dir())
            .replace("{port}", &port.to_string())
    };
    let listed = |items: &[String]| items.iter().map(|a| fill(a)).collect::<Vec<_>>();
    let format = spec.model.format.as_deref().unwrap_or_default();
    let mut env: Vec<EnvVar> = preset
        .env
        .iter()
        .chain(preset.format_env.get(format).into_iter().flatten())
        .filter(|(name, _)| !user.env.iter().any(|e| &e.name == *name))
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(fill(value)),
            ..EnvVar::default()
        })
        .collect();
    env.extend(user.env.iter().cloned());
    let probe = |failure_threshold: i32, period_seconds: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(fill(&preset.ready_path)),
            port: IntOrString::String(user.protocol.port_name().to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    };
    let runtime = RuntimeSpec {
        image: Some(user.image.clone().unwrap_or_else(|| preset.image.clone())),
        command: if user.command.is_empty() {
            listed(&preset.command)
        } else {
            user.command.clone()
        },
        args: if user.args.is_empty() {
            listed(&preset.args)
        } else {
            user.args.clone()
        },
        port: Some(port),
        env,
        readiness_probe: user.readiness_probe.clone().or_else(|| Some(probe(3, 5))),
        startup_probe: user
            .startup_probe
            .clone()
            .or_else(|| Some(probe(preset.startup_periods, 10))),
        security_context: user.security_context.clone().or_else(|| {
            preset.run_as_user.map(|uid| SecurityContext {
                run_as_user: Some(uid),
                ..crate::render::restricted()
            })
        }),
        ..user.clone()
    };
    ModelDeploymentSpec {
        runtime,
        ..spec.clone()
    }
}

#[cfg(test)]
mod tests;
