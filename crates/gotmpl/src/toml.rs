//! TOML as Helm's `toToml` writes it (BurntSushi/toml's encoder: plain keys first, then
//! tables, keys sorted, nested tables indented by two spaces).

use crate::value::Value;

/// `toToml`: the encoding of a map; Go's error text for anything else.
pub(crate) fn to_toml(v: &Value) -> String {
    match v {
        Value::Map(_) => {
            let mut out = String::new();
            write_table(&mut out, v, &mut Vec::new(), 0);
            out
        }
        Value::Nil => String::new(),
        other => format!(
            "toml: top-level values must be Go maps or structs, not {}",
            other.kind_name()
        ),
    }
}

/// `fromToml` is not supported: returns a map with an `Error` entry, as Helm does on failure.
pub(crate) fn from_toml_map(_s: &str) -> Value {
    let mut m = crate::Map::new();
    m.insert(
        "Error".into(),
        Value::str("fromToml is not supported by driftless"),
    );
    Value::map(m)
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn is_table_array(v: &Value) -> bool {
    matches!(v, Value::List(l) if !l.is_empty() && l.iter().all(is_table))
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

fn quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Nil => return None,
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                "nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            } else if f.fract() == 0.0 && f.abs() < 1e21 {
                format!("{f:.1}")
            } else {
                crate::format::format_float(*f, 'g', None)
            }
        }
        Value::String(s) => quote(s),
        Value::Bytes(b) => quote(&String::from_utf8_lossy(b)),
        Value::List(l) => {
            let parts: Vec<String> = l.iter().filter_map(scalar).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Map(m) => {
            let parts: Vec<String> = m
                .read()
                .iter()
                .filter_map(|(k, v)| scalar(v).map(|s| format!("{} = {s}", key(k))))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Object(o) => return scalar(&o.to_value()),
    })
}

fn write_table(out: &mut String, v: &Value, path: &mut Vec<String>, depth: usize) {
    let Value::Map(m) = v else { return };
    let entries: Vec<(String, Value)> = m
        .read()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let indent = "  ".repeat(depth);
    for (k, v) in &entries {
        if is_table(v) || is_table_array(v) {
            continue;
        }
        if let Some(s) = scalar(v) {
            out.push_str(&format!("{indent}{} = {s}\n", key(k)));
        }
    }
    for (k, v) in &entries {
        if is_table(v) {
            path.push(key(k));
            let ind = "  ".repeat(depth);
            if !out.is_empty() && depth == 0 {
                out.push('\n');
            }
            out.push_str(&format!("{ind}[{}]\n", path.join(".")));
            write_table(out, v, path, depth + 1);
            path.pop();
        } else if is_table_array(v) {
            path.push(key(k));
            let ind = "  ".repeat(depth);
            for item in v.as_list().unwrap_or(&[]) {
                if !out.is_empty() && depth == 0 {
                    out.push('\n');
                }
                out.push_str(&format!("{ind}[[{}]]\n", path.join(".")));
                write_table(out, item, path, depth + 1);
            }
            path.pop();
        }
    }
}
