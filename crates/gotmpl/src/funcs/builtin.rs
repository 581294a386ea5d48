//! Go's builtin template functions (`text/template/funcs.go`).

use std::collections::HashMap;

use super::{Body, sig};
use crate::format;
use crate::value::Value;
use crate::{FuncError, Function};

pub(super) fn table() -> HashMap<&'static str, Function> {
    let list: [(&str, &str, Body); 19] = [
        ("and", "R R*", |_, a| {
            Ok(a.into_iter().last().unwrap_or_default())
        }),
        ("or", "R R*", |_, a| {
            Ok(a.into_iter().last().unwrap_or_default())
        }),
        ("not", "R", |_, a| Ok(Value::Bool(!a[0].is_truthy()))),
        ("len", "R", |_, a| length(&a[0]).map(Value::Int)),
        ("index", "R R*", |_, a| index(&a[0], &a[1..])),
        ("slice", "R R*", |_, a| slice(&a[0], &a[1..])),
        ("call", "R R*", |_, a| match &a[0] {
            Value::Nil => Err("call of nil".into()),
            v => Err(format!("non-function {v} of type {}", v.type_name()).into()),
        }),
        ("html", "A*", |_, a| {
            Ok(Value::str(html_escape(&eval_args(&a))))
        }),
        ("js", "A*", |_, a| Ok(Value::str(js_escape(&eval_args(&a))))),
        ("urlquery", "A*", |_, a| {
            Ok(Value::str(query_escape(&eval_args(&a))))
        }),
        ("print", "A*", |_, a| Ok(Value::str(format::sprint(&a)))),
        ("println", "A*", |_, a| Ok(Value::str(format::sprintln(&a)))),
        ("printf", "S A*", |_, a| {
            Ok(Value::str(format::sprintf(super::s(&a, 0), &a[1..])))
        }),
        ("eq", "R R*", |_, a| {
            if a.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for b in &a[1..] {
                if eq(&a[0], b)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }),
        ("ne", "R R", |_, a| Ok(Value::Bool(!eq(&a[0], &a[1])?))),
        ("lt", "R R", |_, a| Ok(Value::Bool(less(&a[0], &a[1])?))),
        ("le", "R R", |_, a| {
            Ok(Value::Bool(less(&a[0], &a[1])? || eq(&a[0], &a[1])?))
        }),
        ("gt", "R R", |_, a| {
            Ok(Value::Bool(!(less(&a[0], &a[1])? || eq(&a[0], &a[1])?)))
        }),
        ("ge", "R R", |_, a| Ok(Value::Bool(!less(&a[0], &a[1])?))),
    ];
    list.into_iter().map(|(n, s, b)| (n, sig(s, b))).collect()
}

/// Go's `evalArgs`: a lone string as is, otherwise `fmt.Sprint` of the printable values, in
/// which a nil argument (a missing key) is `<no value>` rather than `fmt`'s `<nil>`.
fn eval_args(a: &[Value]) -> String {
    if let [Value::String(s)] = a {
        return s.to_string();
    }
    if a.iter().any(Value::is_nil) {
        let a: Vec<Value> = a
            .iter()
            .map(|v| match v {
                Value::Nil => Value::str("<no value>"),
                v => v.clone(),
            })
            .collect();
        return format::sprint(&a);
    }
    format::sprint(a)
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::String,
        _ => Kind::Other,
    }
}

/// Go's `eq` for two values.
pub(crate) fn eq(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (kind(a), kind(b));
    if k1 != k2 {
        if k1 != Kind::Invalid && k2 != Kind::Invalid {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            )
            .into());
        }
        return Ok(false);
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (x, y) if x.as_int().is_some() => x.as_int() == y.as_int(),
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        (Value::Map(_) | Value::List(_) | Value::Bytes(_), _) if a.type_name() == b.type_name() => {
            return Err(format!("non-comparable type {a}: {}", b.type_name()).into());
        }
        (Value::Object(x), Value::Object(y)) => std::sync::Arc::ptr_eq(x, y),
        _ => {
            return Err(format!(
                "non-comparable types {a}: {}, {}: {b}",
                a.type_name(),
                b.type_name()
            )
            .into());
        }
    })
}

fn less(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (kind(a), kind(b));
    let bad_type = || FuncError::from("invalid type for comparison");
    if matches!(k1, Kind::Invalid | Kind::Other) || matches!(k2, Kind::Invalid | Kind::Other) {
        return Err(bad_type());
    }
    if k1 != k2 {
        return Err(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        )
        .into());
    }
    match (a, b) {
        (x, y) if x.as_int().is_some() => Ok(x.as_int() < y.as_int()),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        _ => Err(bad_type()),
    }
}

fn length(v: &Value) -> Result<i64, FuncError> {
    Ok(match &*v.as_collection() {
        Value::Nil => return Err("len of nil pointer".into()),
        Value::String(s) => s.len() as i64,
        Value::Bytes(b) => b.len() as i64,
        v if v.string_bytes().is_some() => v.string_bytes().map_or(0, |b| b.len() as i64),
        Value::List(l) => l.len() as i64,
        Value::Map(m) => m.len() as i64,
        v => return Err(format!("len of type {}", v.type_name()).into()),
    })
}

fn index_arg(i: &Value, cap: usize) -> Result<usize, FuncError> {
    let x = match i {
        Value::Int(x) | Value::Int64(x) => *x,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        v => return Err(format!("cannot index slice/array with type {}", v.type_name()).into()),
    };
    if x < 0 || x as usize > cap {
        return Err(format!("index out of range: {x}").into());
    }
    Ok(x as usize)
}

fn index(item: &Value, idx: &[Value]) -> Result<Value, FuncError> {
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    let mut cur = item.as_collection().into_owned();
    for i in idx {
        cur = match &cur {
            Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l) => {
                let x = index_arg(i, l.len())?;
                l.get(x)
                    .cloned()
                    .ok_or_else(|| FuncError::from("reflect: slice index out of range"))?
            }
            Value::Bytes(b) => {
                let x = index_arg(i, b.len())?;
                Value::Int(i64::from(*b.get(x).ok_or_else(|| {
                    FuncError::from("reflect: slice index out of range")
                })?))
            }
            Value::String(s) => {
                let x = index_arg(i, s.len())?;
                Value::Int(i64::from(*s.as_bytes().get(x).ok_or_else(|| {
                    FuncError::from("reflect: string index out of range")
                })?))
            }
            Value::Map(m) => match i {
                Value::String(k) => m.get(k).unwrap_or(Value::Nil),
                Value::Nil => m.get("").unwrap_or(Value::Nil),
                v => {
                    return Err(
                        format!("value has type {}; should be string", v.type_name()).into(),
                    );
                }
            },
            v => return Err(format!("can't index item of type {}", v.type_name()).into()),
        };
    }
    Ok(cur)
}

fn slice(item: &Value, idx: &[Value]) -> Result<Value, FuncError> {
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()).into());
    }
    let len = match item {
        Value::String(s) => {
            if idx.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        v => return Err(format!("can't slice item of type {}", v.type_name()).into()),
    };
    let mut ix = [0usize, len, len];
    for (i, v) in idx.iter().enumerate() {
        ix[i] = index_arg(v, len)?;
    }
    if ix[0] > ix[1] {
        return Err(format!("invalid slice index: {} > {}", ix[0], ix[1]).into());
    }
    Ok(match item {
        Value::String(s) => Value::str(String::from_utf8_lossy(&s.as_bytes()[ix[0]..ix[1]])),
        Value::List(l) => Value::list(l[ix[0]..ix[1]].to_vec()),
        Value::Bytes(b) => Value::Bytes(b[ix[0]..ix[1]].into()),
        _ => Value::Nil,
    })
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\0' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

fn js_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '"' => o.push_str("\\\""),
            '<' => o.push_str("\\u003C"),
            '>' => o.push_str("\\u003E"),
            '&' => o.push_str("\\u0026"),
            '=' => o.push_str("\\u003D"),
            // Go escapes every rune that `unicode.IsPrint` refuses; the line and paragraph
            // separators end a JavaScript string literal.
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                o.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => o.push(c),
        }
    }
    o
}

pub(crate) fn query_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}
