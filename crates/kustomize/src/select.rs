//! Target selectors (`patches[].target`, `replacements` select/reject).

use regex::Regex;

use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::value::Value;

/// A parsed selector: exact group/version/kind, anchored regexes for name and namespace,
/// label and annotation selectors.
#[derive(Debug, Default)]
pub struct Selector {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

#[derive(Debug)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn anchored(context: &str, pattern: &str) -> Result<Regex> {
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::invalid(context, format!("invalid regex '{pattern}': {e}")))
}

impl Selector {
    pub fn from_value(context: &str, v: &Value) -> Result<Selector> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::scalar_text)
                .filter(|s| !s.is_empty())
        };
        Ok(Selector {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
            name: s("name").map(|p| anchored(context, &p)).transpose()?,
            namespace: s("namespace").map(|p| anchored(context, &p)).transpose()?,
            labels: s("labelSelector")
                .map(|p| parse_requirements(context, &p))
                .transpose()?
                .unwrap_or_default(),
            annotations: s("annotationSelector")
                .map(|p| parse_requirements(context, &p))
                .transpose()?
                .unwrap_or_default(),
        })
    }

    /// Matches a plain object (no build history: its current name and namespace), for
    /// selectors applied after the build, such as Flux's drift-ignore rule targets.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(&Resource::new(obj.clone()))
    }

    /// Matches against the current or the original name and namespace, as kustomize does.
    pub fn matches(&self, r: &Resource) -> bool {
        if self.kind.as_deref().is_some_and(|k| k != r.kind())
            || self.group.as_deref().is_some_and(|g| g != r.group())
            || self.version.as_deref().is_some_and(|v| v != r.version())
        {
            return false;
        }
        if let Some(re) = &self.name
            && !re.is_match(r.name())
            && !re.is_match(r.original_name())
        {
            return false;
        }
        if let Some(re) = &self.namespace
            && !re.is_match(r.namespace())
            && !re.is_match(r.original_namespace())
        {
            return false;
        }
        let meta = |field: &str| {
            r.object()
                .get_path(&["metadata", field])
                .cloned()
                .unwrap_or_default()
        };
        reqs_match(&self.labels, &meta("labels"))
            && reqs_match(&self.annotations, &meta("annotations"))
    }
}

fn reqs_match(reqs: &[Requirement], map: &Value) -> bool {
    let get = |k: &str| map.get(k).and_then(Value::scalar_text);
    reqs.iter().all(|req| match req {
        Requirement::Eq(k, v) => get(k).as_deref() == Some(v),
        Requirement::NotEq(k, v) => get(k).as_deref() != Some(v),
        Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::NotExists(k) => get(k).is_none(),
    })
}

/// Parses a Kubernetes label selector string (`a=b,c!=d,e in (x,y),!f,g`).
fn parse_requirements(context: &str, text: &str) -> Result<Vec<Requirement>> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    let bad = || Error::invalid(context, format!("invalid selector '{text}'"));
    let list = |s: &str| -> Result<Vec<String>> {
        let inner = s
            .trim()
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(bad)?;
        Ok(inner.split(',').map(|x| x.trim().to_string()).collect())
    };
    let mut out = Vec::new();
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if let Some((k, v)) = p.split_once("!=") {
            out.push(Requirement::NotEq(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
            out.push(Requirement::Eq(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = p.split_once(" notin ") {
            out.push(Requirement::NotIn(k.trim().into(), list(v)?));
        } else if let Some((k, v)) = p.split_once(" in ") {
            out.push(Requirement::In(k.trim().into(), list(v)?));
        } else if let Some(k) = p.strip_prefix('!') {
            out.push(Requirement::NotExists(k.trim().into()));
        } else if p.contains(char::is_whitespace) {
            return Err(bad());
        } else {
            out.push(Requirement::Exists(p.into()));
        }
    }
    Ok(out)
}
