//! Flux's post-build variable substitution: `${var}`, `${var:=default}` (and `:-`, `=`, `-`).
//!
//! Runs on an object's YAML text, as Flux does, so a value can become a number or a boolean
//! (`replicas: ${count}`). `$${var}` escapes to a literal `${var}`. A variable that is neither
//! defined nor defaulted becomes the empty string, as in Flux (envsubst's default); with the
//! `StrictPostBuildSubstitutions` feature gate it is instead an error naming it.

use std::collections::BTreeMap;

/// Opt-out annotation: `kustomize.toolkit.fluxcd.io/substitute: disabled`.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Replaces the variables in `text`; `strict` makes an unset variable without default an error.
pub fn substitute(
    text: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            // `$${` is a literal `${`.
            out.push_str("${");
            rest = escaped;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_start.find('}') else {
            out.push('$');
            rest = after;
            continue;
        };
        let body = &body_start[..end];
        let name_len = body
            .char_indices()
            .take_while(|(i, c)| {
                c == &'_' || c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())
            })
            .count();
        let (name, op) = body.split_at(name_len);
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        let value = vars.get(name).cloned();
        let resolved = match op {
            "" => match value {
                Some(v) => v,
                None if strict => return Err(format!("variable not set (strict mode): {name:?}")),
                None => String::new(),
            },
            _ => {
                let (default, use_if_empty) =
                    if let Some(d) = op.strip_prefix(":=").or(op.strip_prefix(":-")) {
                        (d, true)
                    } else if let Some(d) = op.strip_prefix('=').or(op.strip_prefix('-')) {
                        (d, false)
                    } else {
                        return Err(format!("unsupported substitution ${{{body}}}"));
                    };
                match value {
                    Some(v) if !(use_if_empty && v.is_empty()) => v,
                    _ => default.to_owned(),
                }
            }
        };
        out.push_str(&resolved);
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flux's default, non-strict mode.
    fn sub(text: &str, v: &BTreeMap<String, String>) -> Result<String, String> {
        substitute(text, v, false)
    }

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app".into(), "web".into()),
            ("empty".into(), String::new()),
        ])
    }

    #[test]
    fn replaces_defined_and_defaulted_variables() {
        let v = vars();
        assert_eq!(sub("name: ${app}-x", &v).as_deref(), Ok("name: web-x"));
        assert_eq!(sub("r: ${count:=3}", &v).as_deref(), Ok("r: 3"));
        assert_eq!(sub("r: ${empty:=d}", &v).as_deref(), Ok("r: d"));
        assert_eq!(sub("r: ${empty=d}", &v).as_deref(), Ok("r: "));
        assert_eq!(sub("r: ${app:-d}", &v).as_deref(), Ok("r: web"));
    }

    #[test]
    fn leaves_other_dollars_alone_and_honours_escapes() {
        let v = vars();
        assert_eq!(sub("a $b $ {c} $$", &v).as_deref(), Ok("a $b $ {c} $$"));
        assert_eq!(sub("keep $${app}", &v).as_deref(), Ok("keep ${app}"));
        assert_eq!(sub("open ${app", &v).as_deref(), Ok("open ${app"));
    }

    #[test]
    fn a_missing_variable_is_empty_unless_strict() {
        let v = vars();
        assert_eq!(sub("x: ${nope}.", &v).as_deref(), Ok("x: ."));
        assert_eq!(substitute("x: ${nope:=d}", &v, true).as_deref(), Ok("x: d"));
        let err = substitute("x: ${nope}", &v, true).expect_err("strict");
        assert!(err.contains("\"nope\""), "{err}");
        assert!(sub("x: ${app?}", &v).is_err());
    }
}
