//! `replacements`: copy a field of one object into fields of others.
//!
//! Field paths are dot-separated: `spec.template.spec.containers.[name=app].image`,
//! `spec.ports.0.port`, `metadata.labels.*` (every entry), with `[key=value]` selecting list
//! elements.

use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::select::Selector;
use crate::value::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Match(String, String),
    Index(usize),
    All,
}

fn parse_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut raw = Vec::new();
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                raw.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    raw.push(cur);
    for s in raw.into_iter().filter(|s| !s.is_empty()) {
        if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            match inner.split_once('=') {
                Some((k, v)) => segs.push(Seg::Match(k.to_string(), v.to_string())),
                None => segs.push(Seg::Key(inner.to_string())),
            }
        } else if s == "*" {
            segs.push(Seg::All);
        } else if let Ok(i) = s.parse::<usize>() {
            segs.push(Seg::Index(i));
        } else {
            segs.push(Seg::Key(s));
        }
    }
    segs
}

/// Reads the value at a dot-separated field path (first match).
pub fn get_field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in parse_path(path) {
        cur = match (&seg, cur) {
            (Seg::Key(k), Value::Map(m)) => m.get(k)?,
            (Seg::Index(i), Value::Seq(items)) => items.get(*i)?,
            (Seg::Key(k), Value::Seq(items)) => items.get(k.parse::<usize>().ok()?)?,
            (Seg::Match(k, val), Value::Seq(items)) => items
                .iter()
                .find(|e| e.get(k).and_then(Value::scalar_text).as_deref() == Some(val))?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Sets every node at `segs`; returns how many were set. With `create`, missing maps (and
/// list elements selected by `[k=v]`) are created.
fn set_field(node: &mut Value, segs: &[Seg], create: bool, f: &mut dyn FnMut(&mut Value)) -> usize {
    let Some((first, rest)) = segs.split_first() else {
        f(node);
        return 1;
    };
    match (first, node) {
        (Seg::Key(k), Value::Map(m)) => {
            if !m.contains_key(k) {
                if !create {
                    return 0;
                }
                let fresh = match rest.first() {
                    None => Value::Null,
                    Some(Seg::Match(..)) | Some(Seg::Index(_)) => Value::Seq(Vec::new()),
                    Some(_) => Value::Map(Map::new()),
                };
                m.insert(k.clone(), fresh);
            }
            match m.get_mut(k) {
                Some(child) => set_field(child, rest, create, f),
                None => 0,
            }
        }
        (Seg::Key(k), Value::Seq(items)) => {
            match k.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(child) => set_field(child, rest, create, f),
                None => 0,
            }
        }
        (Seg::Index(i), Value::Seq(items)) => match items.get_mut(*i) {
            Some(child) => set_field(child, rest, create, f),
            None => 0,
        },
        (Seg::All, Value::Seq(items)) => items
            .iter_mut()
            .map(|c| set_field(c, rest, create, f))
            .sum(),
        (Seg::All, Value::Map(m)) => {
            m.0.iter_mut()
                .map(|(_, c)| set_field(c, rest, create, f))
                .sum()
        }
        (Seg::Match(k, v), Value::Seq(items)) => {
            let mut n = 0;
            for e in items.iter_mut() {
                if e.get(k).and_then(Value::scalar_text).as_deref() == Some(v) {
                    n += set_field(e, rest, create, f);
                }
            }
            if n == 0 && create {
                let mut m = Map::new();
                m.insert(k.clone(), Value::String(v.clone()));
                items.push(Value::Map(m));
                if let Some(last) = items.last_mut() {
                    n += set_field(last, rest, create, f);
                }
            }
            n
        }
        (_, node) if node.is_null() && create => {
            *node = match first {
                Seg::Key(_) | Seg::All => Value::new_map(),
                _ => Value::Seq(Vec::new()),
            };
            set_field(node, segs, create, f)
        }
        _ => 0,
    }
}

fn split_part(value: &str, delimiter: &str, index: i64) -> Result<String, String> {
    let parts: Vec<&str> = value.split(delimiter).collect();
    if index < 0 || index as usize >= parts.len() {
        return Err(format!(
            "options.index {index} is out of bounds for value '{value}'"
        ));
    }
    Ok(parts[index as usize].to_string())
}

fn opt_str<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v.and_then(|o| o.get(key)).and_then(Value::as_str)
}
fn opt_int(v: Option<&Value>, key: &str) -> i64 {
    match v.and_then(|o| o.get(key)) {
        Some(Value::Int(i)) => *i,
        _ => 0,
    }
}

/// Applies one replacement (`{source, targets}`).
pub fn apply(ctx: &str, resources: &mut [Resource], spec: &Value) -> Result<()> {
    let source = spec
        .get("source")
        .ok_or_else(|| Error::invalid(ctx, "replacement has no source"))?;
    let sel = Selector::from_value(ctx, &exact_name(source))?;
    let found: Vec<&Resource> = resources.iter().filter(|r| sel.matches(r)).collect();
    let src = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::invalid(
                ctx,
                format!("nothing selected by replacement source {}", brief(source)),
            ));
        }
        _ => {
            return Err(Error::invalid(
                ctx,
                format!("multiple matches for replacement source {}", brief(source)),
            ));
        }
    };
    let field_path = source.get_str(&["fieldPath"]).unwrap_or("metadata.name");
    let mut value = get_field(src.object(), field_path)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(
                ctx,
                format!(
                    "fieldPath `{field_path}` is missing for replacement source {}",
                    brief(source)
                ),
            )
        })?;
    let sopts = source.get("options");
    if let Some(delim) = opt_str(sopts, "delimiter") {
        let text = value.scalar_text().unwrap_or_default();
        value = Value::String(
            split_part(&text, delim, opt_int(sopts, "index"))
                .map_err(|m| Error::invalid(ctx, m))?,
        );
    }
    let targets = spec
        .get("targets")
        .and_then(Value::as_seq)
        .cloned()
        .unwrap_or_default();
    for t in &targets {
        let select = t
            .get("select")
            .ok_or_else(|| Error::invalid(ctx, "replacement target has no select"))?;
        let sel = Selector::from_value(ctx, &exact_name(select))?;
        let rejects: Vec<Selector> = t
            .get("reject")
            .and_then(Value::as_seq)
            .map(|s| {
                s.iter()
                    .map(|r| Selector::from_value(ctx, &exact_name(r)))
                    .collect::<Result<_>>()
            })
            .transpose()?
            .unwrap_or_default();
        let topts = t.get("options");
        let create = matches!(topts.and_then(|o| o.get("create")), Some(Value::Bool(true)));
        let paths: Vec<String> = t
            .get("fieldPaths")
            .and_then(Value::as_seq)
            .map(|s| s.iter().filter_map(Value::scalar_text).collect())
            .unwrap_or_else(|| vec!["metadata.name".to_string()]);
        for r in resources.iter_mut() {
            if !sel.matches(r) || rejects.iter().any(|rej| rej.matches(r)) {
                continue;
            }
            for path in &paths {
                let segs = parse_path(path);
                let mut err = None;
                let mut setter = |node: &mut Value| {
                    if let Some(delim) = opt_str(topts, "delimiter") {
                        let cur = node.scalar_text().unwrap_or_default();
                        let mut parts: Vec<String> = cur.split(delim).map(str::to_string).collect();
                        let idx = opt_int(topts, "index");
                        let new = value.scalar_text().unwrap_or_default();
                        if idx < 0 {
                            parts.insert(0, new);
                        } else if idx as usize >= parts.len() {
                            parts.push(new);
                        } else {
                            parts[idx as usize] = new;
                        }
                        *node = Value::String(parts.join(delim));
                    } else if matches!(node, Value::Map(_) | Value::Seq(_))
                        && !matches!(value, Value::Map(_) | Value::Seq(_))
                        && !create
                    {
                        err = Some("cannot replace a map or list with a scalar".to_string());
                    } else {
                        *node = value.clone();
                    }
                };
                let n = set_field(&mut r.obj, &segs, create, &mut setter);
                if let Some(e) = err {
                    return Err(Error::invalid(ctx, e));
                }
                if n == 0 && !create {
                    return Err(Error::invalid(
                        ctx,
                        format!(
                            "unable to find field \"{path}\" in replacement target {}",
                            r.id_string()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Replacement selectors match names exactly; escape them for our regex selector.
fn exact_name(sel: &Value) -> Value {
    let mut sel = sel.clone();
    if let Value::Map(m) = &mut sel {
        for key in ["name", "namespace"] {
            if let Some(Value::String(s)) = m.get_mut(key) {
                *s = regex::escape(s);
            }
        }
    }
    sel
}

fn brief(sel: &Value) -> String {
    format!(
        "{}/{}",
        sel.get_str(&["kind"]).unwrap_or("*"),
        sel.get_str(&["name"]).unwrap_or("*")
    )
}
