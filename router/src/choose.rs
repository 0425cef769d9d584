//! Choosing the revision of one request: a request that matches the candidate's conditions goes
//! to it; a request that carries the user key goes where the user's bucket says; any other goes
//! by the per-request split.

use http::HeaderMap;
use http::header::COOKIE;

use crate::split::{Counter, bucket, sticky_to_candidate};
use crate::table::{Match, Matcher, RoutingTable, StickyKey};

/// Why a request went where it went, for the response header and the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Only the stable revision serves.
    Stable,
    /// The request matched the candidate's conditions.
    Match,
    /// By the user key's bucket.
    Sticky,
    /// By the per-request split.
    Weight,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice<'a> {
    pub revision: &'a str,
    pub reason: Reason,
}

impl RoutingTable {
    /// Where the request with `headers` goes; `counter` carries the per-request split.
    pub fn choose(&self, headers: &HeaderMap, counter: &Counter) -> Choice<'_> {
        let stable = |reason| Choice {
            revision: &self.stable,
            reason,
        };
        let Some(candidate) = &self.candidate else {
            return stable(Reason::Stable);
        };
        let to_candidate = |reason| Choice {
            revision: &candidate.revision,
            reason,
        };
        if candidate.matches.iter().any(|m| matches(m, headers)) {
            return to_candidate(Reason::Match);
        }
        if let Some(key) = candidate
            .sticky_key
            .as_ref()
            .and_then(|k| user_key(k, headers))
        {
            return if sticky_to_candidate(bucket(&self.salt, key), candidate.weight) {
                to_candidate(Reason::Sticky)
            } else {
                stable(Reason::Sticky)
            };
        }
        if counter.next_to_candidate(candidate.weight) {
            to_candidate(Reason::Weight)
        } else {
            stable(Reason::Weight)
        }
    }
}

fn matches(m: &Match, headers: &HeaderMap) -> bool {
    m.headers.iter().all(|(name, matcher)| {
        headers.get_all(name).iter().any(|value| {
            let Ok(value) = value.to_str() else {
                return false;
            };
            match matcher {
                Matcher::Exact(expected) => value == expected,
                Matcher::Regex(regex) => regex.is_match(value),
            }
        })
    })
}

/// The user key of a request, if it carries one. Cookies are read by hand rather than with a
/// cookie crate: a `Cookie` header is `name=value` pairs split by `;`, and the router needs one
/// value from it, not parsing of attributes or encodings.
fn user_key<'h>(key: &StickyKey, headers: &'h HeaderMap) -> Option<&'h str> {
    match key {
        StickyKey::Header(name) => headers.get(name)?.to_str().ok().filter(|v| !v.is_empty()),
        StickyKey::Cookie(cookie) => headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| name == cookie && !value.is_empty())
            .map(|(_, value)| value),
    }
}

#[cfg(test)]
mod tests;
