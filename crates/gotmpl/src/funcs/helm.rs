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
    let codecs: [(&str, &str, super::Body); 9] = [
        ("toYaml", "A", |_, a| Ok(Value::str(to_yaml(&a[0])))),
        ("toYamlPretty", "A", |_, a| Ok(Value::str(to_yaml(&a[0])))),
        ("fromYaml", "S", |_, a| Ok(from_yaml_map(super::s(&a, 0)))),
        ("fromYamlArray", "S", |_, a| {
            Ok(from_yaml_array(super::s(&a, 0)))
        }),
        ("toJson", "A", |_, a| Ok(Value::str(to_json(&a[0])))),
        ("fromJson", "S", |_, a| Ok(from_json_map(super::s(&a, 0)))),
        ("fromJsonArray", "S", |_, a| {
            Ok(from_json_array(super::s(&a, 0)))
        }),
        ("toToml", "A", |_, a| {
            Ok(Value::str(crate::toml::to_toml(&a[0])))
        }),
        ("fromToml", "S", |_, a| {
            Ok(crate::toml::from_toml_map(super::s(&a, 0)))
        }),
    ];
    for (n, s, b) in codecs {
        m.insert(n.to_string(), sig(s, b));
    }
}

/// Helm's `toYaml`: `sigs.k8s.io/yaml.Marshal` without the final newline; "" on error.
fn to_yaml(v: &Value) -> String {
    let y = crate::yaml::to_yaml(&v.to_json());
    y.strip_suffix('\n').unwrap_or(&y).to_string()
}

/// Helm's `toJson`: `json.Marshal`; "" when Go could not marshal (NaN, infinities).
fn to_json(v: &Value) -> String {
    super::sprig::json_or_empty(v)
}

fn kind_word(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Null => "null",
    }
}

fn error_map(msg: String) -> Value {
    let mut m = crate::Map::new();
    m.insert("Error".into(), Value::str(msg));
    Value::map(m)
}

fn from_yaml_map(s: &str) -> Value {
    match crate::yaml::from_yaml(s) {
        Ok(serde_json::Value::Null) => Value::empty_map(),
        Ok(v @ serde_json::Value::Object(_)) => Value::from_json(&v),
        Ok(v) => error_map(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            kind_word(&v)
        )),
        Err(e) => error_map(format!("error converting YAML to JSON: yaml: {e}")),
    }
}

fn from_yaml_array(s: &str) -> Value {
    match crate::yaml::from_yaml(s) {
        Ok(serde_json::Value::Null) => Value::list(Vec::new()),
        Ok(v @ serde_json::Value::Array(_)) => Value::from_json(&v),
        Ok(v) => Value::list(vec![Value::str(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            kind_word(&v)
        ))]),
        Err(e) => Value::list(vec![Value::str(format!(
            "error converting YAML to JSON: yaml: {e}"
        ))]),
    }
}

fn from_json_map(s: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Null) => Value::empty_map(),
        Ok(v @ serde_json::Value::Object(_)) => Value::from_json(&v),
        Ok(v) => error_map(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            kind_word(&v)
        )),
        Err(e) => error_map(super::sprig::go_json_error(s, &e)),
    }
}

fn from_json_array(s: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Null) => Value::list(Vec::new()),
        Ok(v @ serde_json::Value::Array(_)) => Value::from_json(&v),
        Ok(v) => Value::list(vec![Value::str(format!(
            "json: cannot unmarshal {} into Go value of type []interface {{}}",
            kind_word(&v)
        ))]),
        Err(e) => Value::list(vec![Value::str(super::sprig::go_json_error(s, &e))]),
    }
}
