//! A checked spec, turned into what the sending loop needs: a URI, headers built once, how many
//! requests and how far apart.

use std::time::Duration;

use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use hyper::body::Bytes;

use super::error::LoadError;
use super::spec::{
    LoadSpec, MAX_DURATION, MAX_IN_FLIGHT, MAX_RATE, MAX_TIMEOUT, MAX_USERS, Stop,
    TIMELINE_CAPACITY,
};

const USER_HEADER: HeaderName = HeaderName::from_static("x-user-id");

#[derive(Debug)]
pub(crate) struct Plan {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    user_ids: Vec<HeaderValue>,
    pub(crate) period: Duration,
    pub(crate) planned: u64,
    pub(crate) timeout: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) record_timeline: bool,
}

impl Plan {
    pub(crate) fn new(spec: &LoadSpec) -> Result<Plan, LoadError> {
        if !spec.target.ip().is_loopback() {
            return Err(LoadError::NotLoopback {
                target: spec.target,
            });
        }
        if !(spec.rate.is_finite() && spec.rate > 0.0 && spec.rate <= MAX_RATE) {
            return Err(LoadError::Rate {
                rate: spec.rate,
                max: MAX_RATE,
            });
        }
        let planned = planned(spec.rate, &spec.stop)?;
        if spec.timeout.is_zero() || spec.timeout > MAX_TIMEOUT {
            return Err(LoadError::Timeout {
                timeout: spec.timeout,
                max: MAX_TIMEOUT,
            });
        }
        if !(1..=MAX_IN_FLIGHT).contains(&spec.max_in_flight) {
            return Err(LoadError::InFlight {
                value: spec.max_in_flight,
                max: MAX_IN_FLIGHT,
            });
        }
        if spec.record_timeline && planned > TIMELINE_CAPACITY {
            return Err(LoadError::TimelineTooLong {
                planned,
                cap: TIMELINE_CAPACITY,
            });
        }
        Ok(Plan {
            method: spec.method.clone(),
            uri: uri(spec)?,
            headers: headers(spec)?,
            body: spec.body.clone(),
            user_ids: user_ids(spec)?,
            period: Duration::from_secs_f64(1.0 / spec.rate),
            planned,
            timeout: spec.timeout,
            max_in_flight: spec.max_in_flight,
            record_timeline: spec.record_timeline,
        })
    }

    /// The request numbered `index` (from 0); only the user id differs between requests.
    pub(crate) fn request(&self, index: u64) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let users = self.user_ids.len() as u64;
        if users > 0
            && let Some(user) = usize::try_from(index % users)
                .ok()
                .and_then(|k| self.user_ids.get(k))
        {
            request.headers_mut().insert(USER_HEADER, user.clone());
        }
        request
    }
}

fn planned(rate: f64, stop: &Stop) -> Result<u64, LoadError> {
    let (planned, lasts) = match stop {
        Stop::After(duration) => {
            // Whole requests only: a run never sends more than its rate over its duration. The
            // nudge keeps 100/s for 1.2 s at 120 although 1.2 is a shade under 1.2 in binary.
            let planned = (rate * duration.as_secs_f64() + 1e-9).floor();
            (planned as u64, *duration)
        }
        Stop::Requests(count) => {
            let lasts = Duration::try_from_secs_f64(*count as f64 / rate).unwrap_or(Duration::MAX);
            (*count, lasts)
        }
    };
    if lasts > MAX_DURATION {
        return Err(LoadError::TooLong {
            planned: lasts,
            limit: MAX_DURATION,
        });
    }
    if planned == 0 {
        return Err(LoadError::Nothing);
    }
    Ok(planned)
}

fn uri(spec: &LoadSpec) -> Result<Uri, LoadError> {
    let invalid = |reason: String| LoadError::Path {
        path: spec.path.clone(),
        reason,
    };
    if !spec.path.starts_with('/') {
        return Err(invalid("it must start with /".to_owned()));
    }
    Uri::builder()
        .scheme("http")
        .authority(spec.target.to_string())
        .path_and_query(spec.path.as_str())
        .build()
        .map_err(|e| invalid(e.to_string()))
}

fn headers(spec: &LoadSpec) -> Result<HeaderMap, LoadError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &spec.headers {
        let invalid = |reason: String| LoadError::Header {
            name: name.clone(),
            reason,
        };
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|e| invalid(format!("not a header name: {e}")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|e| invalid(format!("value {value:?} is not a header value: {e}")))?;
        headers.append(header, value);
    }
    if let Some(host) = &spec.host {
        let value = HeaderValue::from_str(host).map_err(|e| LoadError::Header {
            name: "host".to_owned(),
            reason: format!("{host:?} is not a header value: {e}"),
        })?;
        headers.insert(HOST, value);
    }
    if !spec.body.is_empty() && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(headers)
}

fn user_ids(spec: &LoadSpec) -> Result<Vec<HeaderValue>, LoadError> {
    let Some(users) = spec.users else {
        return Ok(Vec::new());
    };
    if users.get() > MAX_USERS {
        return Err(LoadError::Users {
            value: users.get(),
            max: MAX_USERS,
        });
    }
    (0..users.get())
        .map(|k| {
            HeaderValue::try_from(format!("user-{k}")).map_err(|e| LoadError::Header {
                name: USER_HEADER.to_string(),
                reason: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::num::NonZeroU32;

    fn spec() -> LoadSpec {
        LoadSpec::new(SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    #[test]
    fn counts_whole_requests_and_bounds_the_run() {
        let plan = |rate, stop| {
            Plan::new(&LoadSpec {
                rate,
                stop,
                ..spec()
            })
            .map(|p| p.planned)
        };
        assert_eq!(
            plan(200.0, Stop::After(Duration::from_secs(10))).ok(),
            Some(2000)
        );
        assert_eq!(
            plan(3.0, Stop::After(Duration::from_millis(900))).ok(),
            Some(2)
        );
        assert!(matches!(
            plan(1.0, Stop::After(Duration::from_millis(900))),
            Err(LoadError::Nothing)
        ));
        assert!(matches!(
            plan(1.0, Stop::After(Duration::from_secs(601))),
            Err(LoadError::TooLong { .. })
        ));
        assert!(matches!(
            plan(1.0, Stop::Requests(601)),
            Err(LoadError::TooLong { .. })
        ));
        assert!(matches!(
            plan(f64::NAN, Stop::Requests(1)),
            Err(LoadError::Rate { .. })
        ));
    }

    #[test]
    fn cycles_user_ids_and_keeps_the_host() {
        let plan = Plan::new(&LoadSpec {
            host: Some("iris.example".into()),
            users: NonZeroU32::new(3),
            headers: vec![("x-canary".into(), "always".into())],
            ..spec()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let users: Vec<_> = (0..4)
            .map(|i| plan.request(i).headers()["x-user-id"].clone())
            .collect();
        assert_eq!(users, ["user-0", "user-1", "user-2", "user-0"]);
        let request = plan.request(0);
        assert_eq!(request.headers()[HOST], "iris.example");
        assert_eq!(request.headers()["x-canary"], "always");
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(request.uri().to_string(), "http://127.0.0.1:8080/predict");
    }

    #[test]
    fn refuses_bad_paths_and_headers() {
        assert!(matches!(
            Plan::new(&LoadSpec {
                path: "predict".into(),
                ..spec()
            }),
            Err(LoadError::Path { .. })
        ));
        assert!(matches!(
            Plan::new(&LoadSpec {
                headers: vec![("bad name".into(), "v".into())],
                ..spec()
            }),
            Err(LoadError::Header { .. })
        ));
    }
}
