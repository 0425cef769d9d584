use std::fmt;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A span of time written the way Kubernetes users write them: `30s`, `5m`, `1h30m`, `250ms`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(transparent)]
pub struct Duration(pub String);

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // A CEL rule rather than `pattern`, so that a typo gets an example of the fix.
        json_schema!({
            "type": "string",
            "maxLength": 32,
            "x-kubernetes-validations": [{
                "rule": "self.matches('^([0-9]+(ms|s|m|h))+$')",
                "message": "must be a duration such as 30s, 5m or 1h30m (units ms, s, m, h)",
            }],
        })
    }
}

/// Why a [`Duration`] string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: expected a sequence of <number><unit> with unit ms, s, m or h, such as 90s or 1h30m"
)]
pub struct DurationError {
    input: String,
}

impl Duration {
    /// Parses the duration into a [`std::time::Duration`].
    pub fn to_std(&self) -> Result<std::time::Duration, DurationError> {
        parse(&self.0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse(input: &str) -> Result<std::time::Duration, DurationError> {
    let error = || DurationError {
        input: input.to_owned(),
    };
    if input.is_empty() {
        return Err(error());
    }
    let mut total_ms: u64 = 0;
    let mut rest = input;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(error());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| error())?;
        rest = &rest[digits..];
        let (unit_ms, unit_len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else {
            return Err(error());
        };
        rest = &rest[unit_len..];
        total_ms = value
            .checked_mul(unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(error)?;
    }
    Ok(std::time::Duration::from_millis(total_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        let cases = [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("1m30s500ms", 90_500),
        ];
        for (input, millis) in cases {
            assert_eq!(
                Duration(input.into()).to_std(),
                Ok(std::time::Duration::from_millis(millis)),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for input in ["", "5", "m", "1d", "1.5s", "-3s", "5 m"] {
            assert!(Duration(input.into()).to_std().is_err(), "{input}");
        }
    }
}
