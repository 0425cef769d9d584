//! Reading command-line values: durations such as `10s` and headers such as `k=v`.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArgError {
    #[error("{0:?} is not a duration: give a number with ms, s or m, such as 500ms, 10s or 2m")]
    Duration(String),
    #[error("{0:?} is not a header: give name=value, such as x-canary=always")]
    Header(String),
}

/// `500ms`, `10s`, `1.5s`, `2m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, ArgError> {
    let invalid = || ArgError::Duration(text.to_owned());
    let trimmed = text.trim();
    let (number, unit) = match trimmed.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(invalid()),
    };
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !value.is_finite() || value < 0.0 {
        return Err(invalid());
    }
    Duration::try_from_secs_f64(value * scale).map_err(|_| invalid())
}

/// `name=value` (or `name: value`, as curl takes it); the value may itself contain `=`.
pub fn parse_header(text: &str) -> Result<(String, String), ArgError> {
    let split = match (text.find('='), text.find(':')) {
        (Some(eq), Some(colon)) => text.split_at(eq.min(colon)),
        (Some(at), None) | (None, Some(at)) => text.split_at(at),
        (None, None) => return Err(ArgError::Header(text.to_owned())),
    };
    let (name, value) = (split.0.trim(), split.1.get(1..).unwrap_or("").trim());
    if name.is_empty() {
        return Err(ArgError::Header(text.to_owned()));
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        for bad in ["", "s", "10h", "-1s", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_headers() {
        let header = |n: &str, v: &str| Ok((n.to_owned(), v.to_owned()));
        assert_eq!(
            parse_header("x-canary=always"),
            header("x-canary", "always")
        );
        assert_eq!(parse_header("x-a: b=c"), header("x-a", "b=c"));
        assert_eq!(parse_header("x-q=a:b"), header("x-q", "a:b"));
        assert!(parse_header("novalue").is_err());
        assert!(parse_header("=v").is_err());
    }
}
