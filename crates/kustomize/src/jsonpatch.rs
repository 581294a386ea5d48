//! RFC 6902 JSON Patch on our order-preserving value (kustomize's `patchesJson6902` and the
//! JSON-patch form of `patches`).

use crate::value::Value;

/// Applies a JSON patch (a sequence of operations) to `doc`.
pub fn apply(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let Value::Seq(ops) = ops else {
        return Err("a JSON patch must be a list of operations".into());
    };
    for (i, op) in ops.iter().enumerate() {
        apply_op(doc, op).map_err(|e| {
            let name = op.get("op").and_then(Value::as_str).unwrap_or("?");
            let path = op.get("path").and_then(Value::as_str).unwrap_or("?");
            format!("operation {i} ({name} {path}): {e}")
        })?;
    }
    Ok(())
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a str, String> {
    op.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing '{name}'"))
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), String> {
    let kind = field(op, "op")?;
    let path = parse_pointer(field(op, "path")?)?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| "missing 'value'".to_string())
    };
    match kind {
        "add" => add(doc, &path, value()?),
        "remove" => remove(doc, &path).map(|_| ()),
        "replace" => {
            let target = get_mut(doc, &path)?;
            *target = value()?;
            Ok(())
        }
        "move" => {
            let from = parse_pointer(field(op, "from")?)?;
            let v = remove(doc, &from)?;
            add(doc, &path, v)
        }
        "copy" => {
            let from = parse_pointer(field(op, "from")?)?;
            let v = get_mut(doc, &from)?.clone();
            add(doc, &path, v)
        }
        "test" => {
            if *get_mut(doc, &path)? == value()? {
                Ok(())
            } else {
                Err(format!("test failed at '{}'", field(op, "path")?))
            }
        }
        other => Err(format!("unknown op '{other}'")),
    }
}

fn parse_pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer '{p}'"));
    };
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for seg in path {
        cur = match cur {
            Value::Map(m) => m
                .get_mut(seg)
                .ok_or_else(|| format!("path segment '{seg}' not found"))?,
            Value::Seq(items) => {
                let len = items.len();
                let i: usize = seg.parse().map_err(|_| format!("invalid index '{seg}'"))?;
                items
                    .get_mut(i)
                    .ok_or_else(|| format!("index {i} out of range (len {len})"))?
            }
            _ => return Err(format!("cannot descend into scalar at '{seg}'")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    ensure_parents(doc, parent);
    match get_mut(doc, parent)? {
        Value::Map(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Seq(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index '{last}'"))?;
            if i > items.len() {
                return Err(format!("index {i} out of range"));
            }
            items.insert(i, value);
            Ok(())
        }
        _ => Err("parent is not a container".into()),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, String> {
    let Some((last, parent)) = path.split_last() else {
        return Err("cannot remove the document root".into());
    };
    match get_mut(doc, parent)? {
        Value::Map(m) => m
            .remove(last)
            .ok_or_else(|| format!("path segment '{last}' not found")),
        Value::Seq(items) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index '{last}'"))?;
            if i >= items.len() {
                return Err(format!("index {i} out of range"));
            }
            Ok(items.remove(i))
        }
        _ => Err("parent is not a container".into()),
    }
}

/// kustomize's JSON patch creates missing parent maps on `add`.
fn ensure_parents(doc: &mut Value, parent: &[String]) {
    let mut cur = doc;
    for seg in parent {
        cur = match cur {
            Value::Map(m) => m.entry_or(seg, Value::new_map),
            Value::Seq(items) => match seg.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
}
