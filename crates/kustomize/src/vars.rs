//! `vars`: `$(NAME)` placeholders in well-known string fields, replaced at the end of the build
//! by a field of another object. Deprecated in kustomize in favour of replacements, but honoured.

use crate::error::{Error, Result};
use crate::fieldspec::{POD_SPEC_ROOTS, visit};
use crate::replacements::get_field;
use crate::resource::Resource;
use crate::value::Value;

#[derive(Debug, Clone)]
pub struct Var {
    name: String,
    kind: String,
    obj_name: String,
    api_version: Option<String>,
    field_path: String,
}

impl Var {
    pub fn from_value(ctx: &str, v: &Value) -> Result<Var> {
        let s = |p: &[&str]| v.get_str(p).map(str::to_string);
        Ok(Var {
            name: s(&["name"]).ok_or_else(|| Error::invalid(ctx, "var without a name"))?,
            kind: s(&["objref", "kind"])
                .ok_or_else(|| Error::invalid(ctx, "var objref needs a kind"))?,
            obj_name: s(&["objref", "name"])
                .ok_or_else(|| Error::invalid(ctx, "var objref needs a name"))?,
            api_version: s(&["objref", "apiVersion"]),
            field_path: s(&["fieldref", "fieldpath"]).unwrap_or_else(|| "metadata.name".into()),
        })
    }
}

fn var_fields() -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for (kind, root) in POD_SPEC_ROOTS {
        for c in ["containers", "initContainers"] {
            for f in ["command", "args", "env/value"] {
                out.push((Some(kind.to_string()), format!("{root}/{c}/{f}")));
            }
        }
    }
    for path in ["spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"] {
        out.push((Some("Ingress".to_string()), path.to_string()));
    }
    out.push((None, "metadata/annotations".into()));
    out
}

pub fn resolve(
    resources: &mut [Resource],
    vars: &[Var],
    extra: &[crate::fieldspec::FieldSpec],
) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values = Vec::new();
    for v in vars {
        let matches: Vec<&Resource> = resources
            .iter()
            .filter(|r| r.kind() == v.kind && r.had_name(&v.obj_name))
            .filter(|r| {
                v.api_version
                    .as_deref()
                    .is_none_or(|a| a == r.api_version())
            })
            .collect();
        let [r] = matches.as_slice() else {
            return Err(Error::invalid(
                format!("var '{}'", v.name),
                format!(
                    "found {} objects for {} {}, expected one",
                    matches.len(),
                    v.kind,
                    v.obj_name
                ),
            ));
        };
        let path = v.field_path.trim_start_matches('$').trim_start_matches('.');
        let value = get_field(r.object(), path)
            .and_then(|x| x.scalar_text())
            .ok_or_else(|| {
                Error::invalid(
                    format!("var '{}'", v.name),
                    format!("field '{path}' not found"),
                )
            })?;
        values.push((format!("$({})", v.name), value));
    }
    let mut fields = var_fields();
    fields.extend(extra.iter().map(|fs| (fs.kind.clone(), fs.path.clone())));
    for r in resources.iter_mut() {
        let kind = r.kind().to_string();
        for (k, path) in &fields {
            if k.as_ref().is_some_and(|k| *k != kind) {
                continue;
            }
            visit(&mut r.obj, path, false, &mut |node| {
                substitute(node, &values)
            });
        }
    }
    Ok(())
}

fn substitute(node: &mut Value, values: &[(String, String)]) {
    match node {
        Value::String(s) => {
            for (k, v) in values {
                if s.contains(k.as_str()) {
                    *s = s.replace(k.as_str(), v);
                }
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|i| substitute(i, values)),
        Value::Map(m) => m.0.iter_mut().for_each(|(_, v)| substitute(v, values)),
        _ => {}
    }
}
