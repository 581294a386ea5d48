//! Flux's post-build variable substitution: `${var}`, `${var:=default}` (and `:-`, `=`, `-`).
//!
//! Runs on an object's YAML text, as Flux does, so a value can become a number or a boolean
//! (`replicas: ${count}`). `$${var}` escapes to a literal `${var}`. A variable that is neither
//! defined nor defaulted is an error naming it (Flux's strict mode): an object silently
//! missing a value is worse than a failed reconcile.

use std::collections::BTreeMap;

/// Opt-out annotation: `kustomize.toolkit.fluxcd.io/substitute: disabled`.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Replaces the variables in `text`.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
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
            "" => value.ok_or_else(|| format!("variable not set (strict mode): {name:?}"))?,
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

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app".into(), "web".into()),
            ("empty".into(), String::new()),
        ])
    }

    #[test]
    fn replaces_defined_and_defaulted_variables() {
        let v = vars();
        assert_eq!(
            substitute("name: ${app}-x", &v).as_deref(),
            Ok("name: web-x")
        );
        assert_eq!(substitute("r: ${count:=3}", &v).as_deref(), Ok("r: 3"));
        assert_eq!(substitute("r: ${empty:=d}", &v).as_deref(), Ok("r: d"));
        assert_eq!(substitute("r: ${empty=d}", &v).as_deref(), Ok("r: "));
        assert_eq!(substitute("r: ${app:-d}", &v).as_deref(), Ok("r: web"));
    }

    #[test]
    fn leaves_other_dollars_alone_and_honours_escapes() {
        let v = vars();
        assert_eq!(
            substitute("a $b $ {c} $$", &v).as_deref(),
            Ok("a $b $ {c} $$")
        );
        assert_eq!(substitute("keep $${app}", &v).as_deref(), Ok("keep ${app}"));
        assert_eq!(substitute("open ${app", &v).as_deref(), Ok("open ${app"));
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_it() {
        let err = substitute("x: ${nope}", &vars()).expect_err("strict");
        assert!(err.contains("\"nope\""), "{err}");
        assert!(substitute("x: ${app?}", &vars()).is_err());
    }
}
