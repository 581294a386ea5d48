//! The function libraries: Go's builtins, Sprig, Helm's functions.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::value::Value;
use crate::{Call, FuncError, Function, Library, Param};

mod builtin;
mod certs;
mod helm;
mod secrets;
pub(crate) mod sprig;
mod sprig_more;

pub(crate) type Body = fn(&mut Call<'_, '_>, Vec<Value>) -> Result<Value, FuncError>;

/// A function from a compact Go signature: one letter a parameter — `S` string, `I` int,
/// `F` float64, `B` bool, `A` interface{}, `M` map[string]interface{}, `L` []interface{},
/// `R` reflect.Value — and a trailing `*` making the last one variadic.
pub(crate) fn sig(spec: &str, body: Body) -> Function {
    let mut params = Vec::new();
    let mut variadic = None;
    for tok in spec.split_whitespace() {
        let p = match tok.trim_end_matches('*') {
            "S" => Param::String,
            "I" => Param::Int,
            "F" => Param::Float,
            "B" => Param::Bool,
            "M" => Param::Map,
            "L" => Param::List,
            "R" => Param::Reflect,
            _ => Param::Any,
        };
        if tok.ends_with('*') {
            variadic = Some(p);
        } else {
            params.push(p);
        }
    }
    Function::new(params, variadic, body)
}

fn builtins() -> &'static HashMap<&'static str, Function> {
    static B: OnceLock<HashMap<&'static str, Function>> = OnceLock::new();
    B.get_or_init(builtin::table)
}

/// Whether `name` is one of Go's builtin functions.
pub(crate) fn is_builtin(name: &str) -> bool {
    builtins().contains_key(name)
}

/// Go's builtin function `name`.
pub(crate) fn builtin(name: &str) -> Option<&'static Function> {
    builtins().get(name)
}

/// The function map of a library (Go's builtins are looked up separately, after it, as Go
/// does: a library function of the same name wins).
pub(crate) fn library(lib: Library) -> HashMap<String, Function> {
    let mut m = HashMap::new();
    match lib {
        Library::Go => {}
        Library::Sprig => sprig::register(&mut m),
        Library::Helm => {
            sprig::register(&mut m);
            helm::register(&mut m);
        }
    }
    m
}

/// Sprig's `strval`: strings as is, bytes as text, everything else as `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        v => {
            let mut s = String::new();
            crate::format::write_value(&mut s, v, false);
            s
        }
    }
}

/// The string argument `i` (the executor has checked the type).
pub(crate) fn s(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

/// The int argument `i` (the executor has checked the type).
pub(crate) fn int(args: &[Value], i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}
