//! Helm's own template functions (`pkg/engine/funcs.go` and `engine.go`).

use std::collections::HashMap;

use super::sig;
use crate::value::Value;
use crate::{FuncError, Function};

pub(super) fn register(m: &mut HashMap<String, Function>) {
    m.remove("env");
    m.remove("expandenv");
    let list: [(&str, &str, super::Body); 6] = [
        ("include", "S A", |c, a| {
            Ok(Value::str(c.include(super::s(&a, 0), a[1].clone())?))
        }),
        ("tpl", "S A", |c, a| {
            Ok(Value::str(c.tpl(super::s(&a, 0), a[1].clone())?))
        }),
        ("required", "S A", |_, a| match &a[1] {
            Value::Nil => Err(FuncError::Fail(super::s(&a, 0).to_string())),
            Value::String(s) if s.is_empty() => Err(FuncError::Fail(super::s(&a, 0).to_string())),
            v => Ok(v.clone()),
        }),
        ("fail", "S", |_, a| {
            Err(FuncError::Fail(super::s(&a, 0).to_string()))
        }),
        ("lookup", "S S S S", |_, _| Ok(Value::empty_map())),
        ("getHostByName", "S", |_, _| Ok(Value::str(""))),
    ];
    for (n, s, b) in list {
        m.insert(n.to_string(), sig(s, b));
    }
}
