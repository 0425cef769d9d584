//! Keeping credentials out of messages: errors from HTTP clients quote request URLs, and a
//! presigned URL's query string or a URL's user info is a credential.

/// Replaces the query string and user info of every `scheme://…` URL in `text` with
/// `<redacted>`.
#[must_use]
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .unwrap_or(after.len());
        let (url, tail) = after.split_at(end);
        out.push_str(&redact_one(url));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `url` is what follows `scheme://`.
fn redact_one(url: &str) -> String {
    let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, path) = url.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("<redacted>@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    // An empty query is left alone, which also keeps redacting already redacted text a no-op.
    let path = match path.find('?') {
        Some(q) if q + 1 < path.len() => format!("{}?<redacted>", &path[..q]),
        _ => path.to_owned(),
    };
    authority + &path
}

/// Replaces each of `secrets` (credential values from the environment) found in `text`.
/// Values shorter than 8 characters are skipped: they would blank out ordinary words.
#[must_use]
pub fn redact_values<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if secret.len() >= 8 && out.contains(secret) {
            out = out.replace(secret, "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_user_info_are_redacted() {
        assert_eq!(
            redact_urls("GET https://h:9/a/b.zip?sig=1&x=2 failed (https://u:p@h/x)"),
            "GET https://h:9/a/b.zip?<redacted> failed (https://<redacted>@h/x)"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
        assert_eq!(redact_urls("s3://bucket/key"), "s3://bucket/key");
        let once = redact_urls("GET http://h/b?list-type=2 in 1ms");
        assert_eq!(once, "GET http://h/b?<redacted> in 1ms");
        assert_eq!(redact_urls(&once), once);
    }

    #[test]
    fn secret_values_are_redacted() {
        assert_eq!(
            redact_values("key wJalrXUtnFEMI rejected", ["wJalrXUtnFEMI", "short"]),
            "key <redacted> rejected"
        );
    }
}
