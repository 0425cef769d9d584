//! `{{variable}}` substitution in queries and URLs.
//!
//! Hand-written rather than a template engine: the language is a fixed set of names and
//! nothing else, and every template must be checked for unknown names before traffic moves; an
//! engine would accept (and need us to refuse) loops, filters and expressions.

use std::collections::BTreeMap;

/// The names every template may use besides `args.<name>`.
pub const BUILT_IN: [&str; 6] = [
    "name",
    "namespace",
    "revision",
    "stableRevision",
    "service",
    "interval",
];

/// A `{{...}}` placeholder: the trimmed name, and where it starts (in characters, from 1).
#[derive(Debug, PartialEq, Eq)]
struct Placeholder<'a> {
    name: &'a str,
    start: usize,
    end: usize,
}

/// Placeholders of `text`, in order, or where an unclosed `{{` starts.
fn placeholders(text: &str) -> Result<Vec<Placeholder<'_>>, String> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find("{{") {
        let start = rest + open;
        let Some(close) = text[start + 2..].find("}}") else {
            return Err(format!(
                "unclosed `{{{{` at character {}",
                text[..start].chars().count() + 1
            ));
        };
        let end = start + 2 + close + 2;
        found.push(Placeholder {
            name: text[start + 2..end - 2].trim(),
            start,
            end,
        });
        rest = end;
    }
    Ok(found)
}

/// Checks that `text` uses only the built-in names and `args.<name>` for a declared argument.
/// `has_interval` says whether `{{interval}}` has a value.
pub fn check(text: &str, args: &[&str], has_interval: bool) -> Result<(), String> {
    check_with(text, args, has_interval, &[])
}

/// Checks a query of an A/B decision, which may also use `{{elapsed}}` (the time since the test
/// started) and has no arguments.
pub fn check_decision(text: &str) -> Result<(), String> {
    check_with(text, &[], true, &["elapsed"])
}

fn check_with(text: &str, args: &[&str], has_interval: bool, extra: &[&str]) -> Result<(), String> {
    for placeholder in placeholders(text)? {
        let name = placeholder.name;
        let position = text[..placeholder.start].chars().count() + 1;
        if name == "interval" && !has_interval {
            return Err(format!(
                "`{{{{interval}}}}` at character {position} needs the metric's interval"
            ));
        }
        let known = BUILT_IN.contains(&name)
            || extra.contains(&name)
            || name
                .strip_prefix("args.")
                .is_some_and(|arg| args.contains(&arg));
        if !known {
            return Err(format!(
                "unknown variable `{{{{{name}}}}}` at character {position}; known: {}{}",
                BUILT_IN
                    .iter()
                    .chain(extra)
                    .map(|n| format!("{{{{{n}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if args.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {}",
                        args.iter()
                            .map(|a| format!("{{{{args.{a}}}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        }
    }
    Ok(())
}

/// `text` with every placeholder replaced by its value in `values` (keys as written inside the
/// braces, e.g. `revision`, `args.budget`). A name without a value is left as written; [`check`]
/// refuses such templates before any is rendered.
pub fn render(text: &str, values: &BTreeMap<String, String>) -> String {
    let Ok(found) = placeholders(text) else {
        return text.to_owned();
    };
    let mut rendered = String::with_capacity(text.len());
    let mut last = 0;
    for placeholder in found {
        rendered.push_str(&text[last..placeholder.start]);
        match values.get(placeholder.name) {
            Some(value) => rendered.push_str(value),
            None => rendered.push_str(&text[placeholder.start..placeholder.end]),
        }
        last = placeholder.end;
    }
    rendered.push_str(&text[last..]);
    rendered
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn built_in_names_and_declared_arguments_are_substituted() {
        let values: BTreeMap<String, String> = [
            ("revision", "abc"),
            ("namespace", "models"),
            ("interval", "1m"),
            ("args.code", "5.."),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let text = r#"rate(x{ns="{{namespace}}",rev="{{ revision }}",code=~"{{args.code}}"}[{{interval}}])"#;
        assert_eq!(check(text, &["code"], true), Ok(()));
        assert_eq!(
            render(text, &values),
            r#"rate(x{ns="models",rev="abc",code=~"5.."}[1m])"#
        );
    }

    #[test]
    fn unknown_names_are_refused_with_their_position() {
        let error = check("sum(x{rev=\"{{revison}}\"})", &[], true).unwrap_err();
        assert!(
            error.starts_with("unknown variable `{{revison}}` at character 12"),
            "{error}"
        );
        let error = check("{{args.budget}}", &["limit"], true).unwrap_err();
        assert!(error.contains("{{args.limit}}"), "{error}");
        assert!(check("x[{{interval}}]", &[], false).is_err());
        assert!(
            check("x{{revision", &[], true)
                .unwrap_err()
                .contains("unclosed")
        );
    }

    #[test]
    fn text_without_placeholders_is_unchanged() {
        assert_eq!(render("up == 1", &BTreeMap::new()), "up == 1");
        assert_eq!(check("up == 1 and {x}", &[], false), Ok(()));
    }
}
