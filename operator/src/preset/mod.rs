//! Runtime presets: the image, arguments, port, environment and probes a model server needs for
//! a model format, so that the simple case is `model: {name, version, format, storageUri}`.
//!
//! A preset applies when `runtime.preset` names one, or when `runtime.image` is unset and
//! `model.format` has one. What the user sets always wins. A ModelDeployment with its own image
//! and no preset name is served exactly as written, so manifests from before presets keep their
//! revisions. The preset is part of the revision: an operator release that moves a preset's
//! image rolls it out through the ModelDeployment's strategy, like any other change.

mod builtin;

use k8s_openapi::api::core::v1::{EnvVar, HTTPGetAction, Probe, SecurityContext};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, RuntimeSpec};

pub use builtin::{BUILTIN, preset_named};

/// What a model server needs, with `{name}`, `{modelDir}` and `{port}` filled in from the spec.
#[derive(Debug)]
pub struct Preset {
    pub name: &'static str,
    /// Model formats it serves.
    pub formats: &'static [&'static str],
    pub image: &'static str,
    pub command: &'static [&'static str],
    pub args: &'static [&'static str],
    pub port: i32,
    pub env: &'static [(&'static str, &'static str)],
    /// Environment that depends on the format, e.g. MLServer's implementation class.
    pub format_env: &'static [(&'static str, &'static str, &'static str)],
    /// Answers 200 only once the model is loaded.
    pub ready_path: &'static str,
    /// How long the start-up probe waits for the model to load, in 10 s periods.
    pub startup_periods: i32,
    /// The image's non-root user, when the server runs as one: the container then gets a
    /// security context that the `restricted` Pod Security level admits. The kubelet can only
    /// check a numeric user, so the image's own user name is not enough.
    pub run_as_user: Option<i64>,
}

/// The preset `spec` asks for, if any.
pub fn preset_for(spec: &ModelDeploymentSpec) -> Option<&'static Preset> {
    match spec.runtime.preset.as_deref() {
        Some("custom") => None,
        Some(name) => preset_named(name),
        None if spec.runtime.image.is_none() => {
            let format = spec.model.format.as_deref()?;
            BUILTIN.iter().find(|p| p.formats.contains(&format))
        }
        None => None,
    }
}

/// `spec` with its runtime completed from its preset; `spec` itself when none applies.
pub fn effective(spec: &ModelDeploymentSpec) -> ModelDeploymentSpec {
    let Some(preset) = preset_for(spec) else {
        return spec.clone();
    };
    let user = &spec.runtime;
    let port = user.port.unwrap_or(preset.port);
    let fill = |text: &str| {
        text.replace("{name}", &spec.model.name)
            .replace("{modelDir}", user.model_dir())
            .replace("{port}", &port.to_string())
    };
    let listed = |items: &[&str]| items.iter().map(|a| fill(a)).collect::<Vec<_>>();
    let format = spec.model.format.as_deref().unwrap_or_default();
    let mut env: Vec<EnvVar> = preset
        .env
        .iter()
        .map(|(name, value)| (*name, *value))
        .chain(
            preset
                .format_env
                .iter()
                .filter(|(f, _, _)| *f == format)
                .map(|(_, name, value)| (*name, *value)),
        )
        .filter(|(name, _)| !user.env.iter().any(|e| e.name == *name))
        .map(|(name, value)| EnvVar {
            name: name.to_owned(),
            value: Some(fill(value)),
            ..EnvVar::default()
        })
        .collect();
    env.extend(user.env.iter().cloned());
    let probe = |failure_threshold: i32, period_seconds: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(fill(preset.ready_path)),
            port: IntOrString::String(user.protocol.port_name().to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    };
    let runtime = RuntimeSpec {
        image: Some(
            user.image
                .clone()
                .unwrap_or_else(|| preset.image.to_owned()),
        ),
        command: if user.command.is_empty() {
            listed(preset.command)
        } else {
            user.command.clone()
        },
        args: if user.args.is_empty() {
            listed(preset.args)
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
