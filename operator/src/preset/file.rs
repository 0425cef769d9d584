//! An admin's presets, from a YAML file (a list of presets, as the chart's `runtimePresets`
//! writes it into a ConfigMap). Read once at start-up: a file the operator cannot use stops it
//! with a message naming the file and the preset, before anything is deployed with it.

use std::path::Path;

use super::{Preset, Presets};

/// Why a presets file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("cannot read the runtime presets file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the runtime presets file {path} is not a list of presets: {reason}")]
    Parse { path: String, reason: String },
    #[error("runtime preset {name:?} in {path}: {problem}")]
    Invalid {
        path: String,
        name: String,
        problem: String,
    },
}

/// The presets in force with the admin's file at `path` (the built-in ones alone without one).
pub fn load(path: Option<&Path>) -> Result<Presets, PresetError> {
    let Some(path) = path else {
        return Ok(Presets::builtin());
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PresetError::Read {
        path: shown.clone(),
        source,
    })?;
    let extra = parse(&text).map_err(|reason| PresetError::Parse {
        path: shown.clone(),
        reason,
    })?;
    for preset in &extra {
        check(preset).map_err(|problem| PresetError::Invalid {
            path: shown.clone(),
            name: preset.name.clone(),
            problem,
        })?;
    }
    Ok(Presets::with(extra))
}

fn parse(text: &str) -> Result<Vec<Preset>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

/// What the API's own validation would refuse in a ModelDeployment that set these fields.
fn check(preset: &Preset) -> Result<(), String> {
    let dns_label = !preset.name.is_empty()
        && preset.name.len() <= 63
        && preset
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !preset.name.starts_with('-')
        && !preset.name.ends_with('-');
    if !dns_label || preset.name == "custom" {
        return Err("the name must be a DNS label other than custom, e.g. my-sklearn".to_owned());
    }
    if preset.formats.is_empty() {
        return Err("formats must list at least one model format".to_owned());
    }
    if preset.image.trim().is_empty() || preset.image.contains(' ') {
        return Err("image must be a container image reference".to_owned());
    }
    if !(1..=65535).contains(&preset.port) {
        return Err(format!("port {} is not a TCP port", preset.port));
    }
    if !preset.ready_path.starts_with('/') {
        return Err(
            "readyPath must be an absolute path such as /v2/models/{name}/ready".to_owned(),
        );
    }
    if preset.startup_periods < 1 {
        return Err("startupPeriods must be at least 1".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(text: &str) -> tempfile_path::Scratch {
        tempfile_path::Scratch::new(text)
    }

    /// A file that is removed when dropped.
    mod tempfile_path {
        pub struct Scratch(pub std::path::PathBuf);
        impl Scratch {
            pub fn new(text: &str) -> Scratch {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "modeldeploy-presets-{}-{}.yaml",
                    std::process::id(),
                    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ));
                std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
                Scratch(path)
            }
        }
        impl Drop for Scratch {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn an_admin_preset_replaces_a_builtin_and_adds_formats() {
        let presets = file(
            "- name: mlserver\n  formats: [sklearn]\n  image: registry.internal/mlserver:1.7.1-hardened\n  readyPath: /v2/models/{name}/ready\n- name: pmml\n  formats: [pmml]\n  image: registry.internal/pmml-server:2\n  port: 9000\n  readyPath: /health\n",
        );
        let loaded = load(Some(&presets.0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            loaded.for_format("sklearn").map(|p| p.image.as_str()),
            Some("registry.internal/mlserver:1.7.1-hardened")
        );
        assert_eq!(loaded.named("pmml").map(|p| p.port), Some(9000));
        assert_eq!(
            loaded.for_format("onnx").map(|p| p.name.as_str()),
            Some("triton"),
            "the other built-ins stay"
        );
    }

    #[test]
    fn a_file_the_operator_cannot_use_names_the_file_and_the_preset() {
        let bad = file("- name: Broken\n  formats: [x]\n  image: a\n  readyPath: /\n");
        let message = load(Some(&bad.0)).map(|_| ()).unwrap_err().to_string();
        assert!(
            message.contains("\"Broken\"") && message.contains("DNS label"),
            "{message}"
        );
        let typo = file("- name: a\n  formats: [x]\n  image: a\n  readyPath: /\n  imag: b\n");
        let message = load(Some(&typo.0)).map(|_| ()).unwrap_err().to_string();
        assert!(message.contains("imag"), "{message}");
    }
}
