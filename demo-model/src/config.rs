//! Settings from the environment (set through `runtime.env` of a ModelDeployment), checked at
//! start-up so that a typo fails the pod at once with a message naming the variable.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How the server behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `HOST` and `PORT`; `0.0.0.0:8080` by default.
    pub address: SocketAddr,
    /// `MODEL_NAME`, default `demo`.
    pub model_name: String,
    /// `MODEL_VERSION`, default `1`.
    pub model_version: String,
    /// `LATENCY_MS`: mean added latency, default 0.
    pub latency: Duration,
    /// `LATENCY_JITTER_MS`: latency varies uniformly by up to this much around the mean.
    pub jitter: Duration,
    /// `ERROR_RATE`: share of inference requests answered with 500, in [0, 1].
    pub error_rate: f64,
    /// `PERTURBATION`: share of inputs whose class differs from the base classifier, in [0, 1].
    pub perturbation: f64,
    /// `SEED`: makes errors, latency and perturbation repeatable.
    pub seed: u64,
    /// `STARTUP_DELAY_MS`: the model is not ready until this long after start.
    pub startup_delay: Duration,
    /// `FAIL_TO_START=true`: exit at start-up, as a model that cannot load.
    pub fail_to_start: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name}={value:?} is not {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in the binary).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let host: IpAddr = parse(&lookup, "HOST", "an IP address such as 0.0.0.0")?
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let port: u16 = parse(&lookup, "PORT", "a TCP port")?.unwrap_or(8080);
        let share = |name: &'static str| -> Result<f64, ConfigError> {
            let value: f64 =
                parse(&lookup, name, "a share from 0 to 1, such as 0.05")?.unwrap_or(0.0);
            if (0.0..=1.0).contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    value: value.to_string(),
                    expected: "a share from 0 to 1, such as 0.05",
                })
            }
        };
        let millis = |name: &'static str| -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(
                parse(&lookup, name, "a whole number of milliseconds")?.unwrap_or(0),
            ))
        };
        Ok(Settings {
            address: SocketAddr::new(host, port),
            model_name: lookup("MODEL_NAME").unwrap_or_else(|| "demo".to_owned()),
            model_version: lookup("MODEL_VERSION").unwrap_or_else(|| "1".to_owned()),
            latency: millis("LATENCY_MS")?,
            jitter: millis("LATENCY_JITTER_MS")?,
            error_rate: share("ERROR_RATE")?,
            perturbation: share("PERTURBATION")?,
            seed: parse(&lookup, "SEED", "a whole number")?.unwrap_or(0),
            startup_delay: millis("STARTUP_DELAY_MS")?,
            fail_to_start: parse(&lookup, "FAIL_TO_START", "true or false")?.unwrap_or(false),
        })
    }
}

fn parse<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    match lookup(name) {
        None => Ok(None),
        Some(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::Invalid {
                name,
                value,
                expected,
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = Settings::from_lookup(env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(defaults.address.to_string(), "0.0.0.0:8080");
        assert_eq!(defaults.model_name, "demo");
        let set = Settings::from_lookup(env(&[
            ("HOST", "198.18.0.7"),
            ("PORT", "9000"),
            ("ERROR_RATE", "0.25"),
            ("LATENCY_MS", "20"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.address.to_string(), "198.18.0.7:9000");
        assert_eq!(set.error_rate, 0.25);
        assert_eq!(set.latency, Duration::from_millis(20));
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let error = Settings::from_lookup(env(&[("ERROR_RATE", "5%")])).err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("ERROR_RATE=\"5%\" is not a share from 0 to 1, such as 0.05".to_owned())
        );
        assert!(Settings::from_lookup(env(&[("PERTURBATION", "1.5")])).is_err());
    }
}
