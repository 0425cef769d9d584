//! One ModelDeployment's routing table, compiled from the operator's traffic plan: weights in
//! range, header names valid and regular expressions compiled, so that choosing a revision per
//! request cannot fail. A plan that does not compile is refused and the last good table stays.

use http::HeaderName;
use modeldeploy_api::routing::TrafficPlan;
use modeldeploy_api::v1alpha1::{HeaderMatchType, Stickiness};
use regex::Regex;

/// Why a plan cannot become a table.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TableError {
    #[error("the plan names no stable revision")]
    NoStable,
    #[error("the candidate's weight {0} is not a percentage from 0 to 100")]
    Weight(i32),
    #[error("the candidate's mirror percentage {0} is not from 1 to 100")]
    Mirror(i32),
    #[error("{0:?} is not a valid header name")]
    HeaderName(String),
    #[error("the regular expression for header {header}: {error}")]
    Regex { header: String, error: String },
    #[error("stickiness names neither a header nor a cookie")]
    Stickiness,
}

/// Where requests of one ModelDeployment go.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    pub stable: String,
    pub candidate: Option<Candidate>,
    /// Salts user keys, so that users land in different buckets in different experiments.
    pub salt: String,
}

/// The candidate revision and what sends requests to it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub revision: String,
    pub weight: u8,
    /// Percent of requests copied to the candidate, if any.
    pub mirror_percent: Option<u8>,
    /// Copy requests of every method; otherwise only idempotent ones. Off unless the routes
    /// say so.
    pub mirror_all_methods: bool,
    /// Requests matching any of these always go to the candidate.
    pub matches: Vec<Match>,
    pub sticky_key: Option<StickyKey>,
}

/// Requests that carry every header condition.
#[derive(Clone, Debug)]
pub struct Match {
    pub headers: Vec<(HeaderName, Matcher)>,
}

#[derive(Clone, Debug)]
pub enum Matcher {
    Exact(String),
    /// Matches the whole value, as Gateway API implementations do.
    Regex(Regex),
}

/// Where the user key of a sticky split is read.
#[derive(Clone, Debug, PartialEq)]
pub enum StickyKey {
    Header(HeaderName),
    Cookie(String),
}

impl RoutingTable {
    /// The table of `plan`, with user keys salted by `salt`.
    pub fn compile(plan: &TrafficPlan, salt: &str) -> Result<RoutingTable, TableError> {
        if plan.stable.is_empty() {
            return Err(TableError::NoStable);
        }
        let candidate = plan
            .candidate
            .as_ref()
            .map(|c| {
                let weight = u8::try_from(c.weight)
                    .ok()
                    .filter(|w| *w <= 100)
                    .ok_or(TableError::Weight(c.weight))?;
                let mirror_percent = c
                    .mirror_percent
                    .map(|m| {
                        u8::try_from(m)
                            .ok()
                            .filter(|m| (1..=100).contains(m))
                            .ok_or(TableError::Mirror(m))
                    })
                    .transpose()?;
                let matches = c
                    .matches
                    .iter()
                    .map(|m| {
                        let headers = m
                            .headers
                            .iter()
                            .map(|h| Ok((header_name(&h.name)?, matcher(h)?)))
                            .collect::<Result<_, TableError>>()?;
                        Ok(Match { headers })
                    })
                    .collect::<Result<_, TableError>>()?;
                let sticky_key = c.stickiness.as_ref().map(sticky_key).transpose()?;
                Ok(Candidate {
                    revision: c.revision.clone(),
                    weight,
                    mirror_percent,
                    mirror_all_methods: false,
                    matches,
                    sticky_key,
                })
            })
            .transpose()?;
        Ok(RoutingTable {
            stable: plan.stable.clone(),
            candidate,
            salt: salt.to_owned(),
        })
    }
}

fn header_name(name: &str) -> Result<HeaderName, TableError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| TableError::HeaderName(name.to_owned()))
}

fn matcher(header: &modeldeploy_api::v1alpha1::HeaderMatch) -> Result<Matcher, TableError> {
    match header.match_type {
        HeaderMatchType::Exact => Ok(Matcher::Exact(header.value.clone())),
        HeaderMatchType::RegularExpression => Regex::new(&format!("^(?:{})$", header.value))
            .map(Matcher::Regex)
            .map_err(|e| TableError::Regex {
                header: header.name.clone(),
                error: e.to_string(),
            }),
    }
}

fn sticky_key(stickiness: &Stickiness) -> Result<StickyKey, TableError> {
    match (&stickiness.header, &stickiness.cookie) {
        (Some(header), _) => Ok(StickyKey::Header(header_name(header)?)),
        (None, Some(cookie)) => Ok(StickyKey::Cookie(cookie.clone())),
        (None, None) => Err(TableError::Stickiness),
    }
}
