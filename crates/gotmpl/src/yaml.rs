//! (This module's home is here, below `crates/helm`: Helm's template functions `toYaml`,
//! `fromYaml`, `toJson`, `fromJson` need it, and `crates/helm` (which depends on this crate)
//! can use `driftless_gotmpl::yaml` for values files and `Chart.yaml`. It started as
//! `crates/helm/src/yaml.rs`.)
//!
//! YAML and JSON exactly as Helm reads and writes them.
//!
//! Helm reads values and `Chart.yaml` with `sigs.k8s.io/yaml`: YAML 1.1 scalars are resolved
//! by go-yaml v2 (`yes`/`on` are booleans, `0777` is octal, `1_000` is a number), then the tree
//! goes through JSON, so every number becomes a float64 and every map key a string. It writes
//! `toYaml` the same way backwards: JSON first, then go-yaml v2's emitter (keys in go-yaml's
//! "natural" order, block sequences not indented under their key, long plain strings folded at
//! column 80, strings that would read back as something else quoted). No YAML crate reproduces
//! these rules, so the resolver and the emitter are written here; the tokenizer is
//! `granit-parser`.
//!
//! Values are `serde_json::Value`: a Go `float64` is a `Number` holding an f64, a Go `int64`
//! (from `--set`) a `Number` holding an i64.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// A YAML document Helm could not read.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The text is not YAML.
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// The document is YAML but has no JSON equivalent (e.g. a map used as a key).
    #[error("{0}")]
    Unsupported(String),
    /// Aliases expand to more nodes than we accept (a "billion laughs" document).
    #[error("document expands to more than {0} nodes through aliases")]
    TooLarge(usize),
}

/// The most nodes a document may expand to through aliases.
const MAX_NODES: usize = 5_000_000;

/// Reads the first YAML document of `text` as `sigs.k8s.io/yaml.Unmarshal` into an
/// `interface{}` does. An empty document is `null`.
pub fn from_yaml(text: &str) -> Result<Value, YamlError> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
    };
    loop {
        match reader.next()? {
            None => return Ok(Value::Null),
            Some((Event::DocumentStart(..), _)) => break,
            Some(_) => {}
        }
    }
    match reader.next()? {
        None | Some((Event::DocumentEnd, _)) | Some((Event::StreamEnd, _)) => Ok(Value::Null),
        Some((event, line)) => reader.node(event, line),
    }
}

/// Reads the first document and requires a map (or nothing), as Helm does for values files.
pub fn from_yaml_map(text: &str) -> Result<Map<String, Value>, YamlError> {
    match from_yaml(text)? {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m),
        other => Err(YamlError::Unsupported(format!(
            "cannot unmarshal {} into a map",
            go_type_name(&other)
        ))),
    }
}

fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

struct Reader<'a> {
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    anchors: HashMap<usize, Value>,
    nodes: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<Option<(Event<'a>, usize)>, YamlError> {
        loop {
            match self.parser.next_event() {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(YamlError::Syntax {
                        line: e.marker().line(),
                        message: e.info().to_string(),
                    });
                }
                Some(Ok((event, span))) => {
                    if matches!(
                        event,
                        Event::Scalar(..)
                            | Event::SequenceStart(..)
                            | Event::SequenceEnd
                            | Event::MappingStart(..)
                            | Event::MappingEnd
                            | Event::Alias(_)
                            | Event::DocumentStart(..)
                            | Event::DocumentEnd
                            | Event::StreamEnd
                            | Event::StreamStart
                    ) {
                        return Ok(Some((event, span.start.line())));
                    }
                }
            }
        }
    }

    fn count(&mut self, n: usize) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(YamlError::TooLarge(MAX_NODES));
        }
        Ok(())
    }

    fn expect_node(&mut self) -> Result<(Event<'a>, usize), YamlError> {
        match self.next()? {
            Some(e) => Ok(e),
            None => Err(YamlError::Syntax {
                line: 0,
                message: "unexpected end of document".into(),
            }),
        }
    }

    /// Reads one node whose first event is `event`, returning its value.
    fn node(&mut self, event: Event<'a>, line: usize) -> Result<Value, YamlError> {
        self.count(1)?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix().to_string());
                let v = resolve_scalar(&text, style, tag.as_deref())?;
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(v) => {
                    let v = v.clone();
                    self.count(node_count(&v))?;
                    Ok(v)
                }
                None => Err(YamlError::Syntax {
                    line,
                    message: "unknown anchor".into(),
                }),
            },
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, l) = self.expect_node()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, l)?);
                }
                let v = Value::Array(items);
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::MappingStart(_, anchor, _) => {
                let mut map = Map::new();
                loop {
                    let (ev, l) = self.expect_node()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge =
                        matches!(&ev, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
                    let key = self.node(ev, l)?;
                    let (vev, vl) = self.expect_node()?;
                    let value = self.node(vev, vl)?;
                    if is_merge {
                        merge_into(&mut map, value, l)?;
                        continue;
                    }
                    let key = key_string(key, l)?;
                    map.insert(key, value);
                }
                let v = Value::Object(map);
                if anchor != 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            _ => Err(YamlError::Syntax {
                line,
                message: "unexpected event".into(),
            }),
        }
    }
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(node_count).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// go-yaml v2 merge keys: `<<: *base` or `<<: [*a, *b]` (earlier maps win).
fn merge_into(map: &mut Map<String, Value>, value: Value, line: usize) -> Result<(), YamlError> {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                map.insert(k, v);
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items.into_iter().rev() {
                match item {
                    Value::Object(m) => {
                        for (k, v) in m {
                            map.insert(k, v);
                        }
                    }
                    _ => {
                        return Err(YamlError::Syntax {
                            line,
                            message: "map merge requires map or sequence of maps as the value"
                                .into(),
                        });
                    }
                }
            }
            Ok(())
        }
        _ => Err(YamlError::Syntax {
            line,
            message: "map merge requires map or sequence of maps as the value".into(),
        }),
    }
}

/// Map keys become strings the way `sigs.k8s.io/yaml` converts them.
fn key_string(key: Value, line: usize) -> Result<String, YamlError> {
    match key {
        Value::String(s) => Ok(s),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                Ok(format!("{}", f as i64))
            } else {
                Ok(go_format_float(f, 'g', 32))
            }
        }
        other => Err(YamlError::Unsupported(format!(
            "line {line}: unsupported map key of type {}",
            go_type_name(&other)
        ))),
    }
}

/// Resolves a scalar as go-yaml v2 does for an `interface{}` target, then as JSON would see it.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, YamlError> {
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    match tag {
        Some("str") | Some("binary") => return Ok(Value::String(text.to_string())),
        Some("null") => return Ok(Value::Null),
        _ => {}
    }
    Ok(match resolve_plain(text) {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => float_value(i as f64),
        Resolved::Float(f) => {
            if f.is_finite() {
                float_value(f)
            } else {
                return Err(YamlError::Unsupported(format!(
                    "cannot represent {text} in JSON"
                )));
            }
        }
        Resolved::Str => Value::String(text.to_string()),
    })
}

/// A Go float64 as a JSON value.
pub fn float_value(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// What go-yaml v2 makes of a plain scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str,
}

pub fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    match first {
        b'.' => match text.parse::<f64>() {
            Ok(f) if go_float_syntax(text) => Resolved::Float(f),
            _ => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int_base0(&plain) {
                return Resolved::Int(i);
            }
            if is_yaml_style_float(&plain)
                && let Ok(f) = plain.parse::<f64>()
            {
                return Resolved::Float(f);
            }
            if let Some(bits) = plain.strip_prefix("0b")
                && let Ok(i) = i128::from_str_radix(bits, 2)
                && i <= u64::MAX as i128
            {
                return Resolved::Int(i);
            }
            if let Some(bits) = plain.strip_prefix("-0b")
                && let Ok(i) = i128::from_str_radix(bits, 2)
                && i <= i64::MAX as i128 + 1
            {
                return Resolved::Int(-i);
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseFloat` accepts a few spellings Rust's parser also accepts (and vice
/// versa: Rust takes "inf"); keep to decimal floats.
fn go_float_syntax(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `strconv.ParseInt(s, 0, 64)` falling back to `ParseUint(s, 0, 64)`.
fn go_parse_int_base0(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        if v > i64::MAX as u128 + 1 {
            return None;
        }
        Some(-(v as i128))
    } else {
        if v > u64::MAX as u128 {
            return None;
        }
        Some(v as i128)
    }
}

// ---------------------------------------------------------------------------------------------
// Float formatting as Go's strconv.FormatFloat.

/// Formats `f` as Go's `strconv.FormatFloat(f, fmt, -1, bits)` for `fmt` in `'g'`, `'e'`, `'f'`.
pub fn go_format_float(f: f64, fmt: char, bits: u32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Shortest round-trip digits and decimal exponent.
    let sci = if bits == 32 {
        format!("{:e}", f as f32)
    } else {
        format!("{f:e}")
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = if digits.chars().all(|c| c == '0') {
        "0".to_string()
    } else {
        digits
    };
    let sign = if neg { "-" } else { "" };
    let e_form = |digits: &str| {
        let mut s = String::from(sign);
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            s.push('0');
        }
        s.push_str(&a.to_string());
        s
    };
    let f_form = |digits: &str| {
        let mut s = String::from(sign);
        let dp = exp + 1; // digits before the decimal point
        if dp <= 0 {
            s.push_str("0.");
            for _ in 0..(-dp) {
                s.push('0');
            }
            s.push_str(digits);
        } else if dp as usize >= digits.len() {
            s.push_str(digits);
            for _ in 0..(dp as usize - digits.len()) {
                s.push('0');
            }
        } else {
            s.push_str(&digits[..dp as usize]);
            s.push('.');
            s.push_str(&digits[dp as usize..]);
        }
        s
    };
    match fmt {
        'e' => e_form(&digits),
        'f' => {
            if digits == "0" {
                format!("{sign}0")
            } else {
                f_form(&digits)
            }
        }
        _ => {
            if digits == "0" {
                return format!("{sign}0");
            }
            if !(-4..6).contains(&exp) {
                e_form(&digits)
            } else {
                f_form(&digits)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON as Go's encoding/json writes it.

/// `json.Marshal`: sorted keys, no spaces, HTML characters escaped, Go's float spelling.
pub fn to_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

/// `json.Marshal` of a template value: like [`to_json`] of [`crate::Value::to_json`], except
/// that objects with [`crate::Object::json_fields`] keep their Go struct field order.
pub fn template_value_to_json(v: &crate::Value) -> String {
    let mut out = String::new();
    write_template_json(&mut out, v, 0);
    out
}

fn write_template_json(out: &mut String, v: &crate::Value, depth: usize) {
    use crate::Value as V;
    // Past this depth (a map that contains itself) the plain conversion cuts the cycle.
    if depth > 200 {
        write_json(out, &v.to_json());
        return;
    }
    match v {
        V::Object(o) => match o.json_fields() {
            Some(fields) => write_template_object(out, &fields, depth),
            None => write_template_json(out, &o.to_value(), depth + 1),
        },
        V::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_template_json(out, item, depth + 1);
            }
            out.push(']');
        }
        V::Map(m) => {
            // A snapshot (sorted keys): the lock is not held while nested values are written.
            let entries: Vec<(String, crate::Value)> = m.snapshot().into_iter().collect();
            write_template_object(out, &entries, depth);
        }
        other => write_json(out, &other.to_json()),
    }
}

/// A JSON object of `fields` in the given order.
fn write_template_object(out: &mut String, fields: &[(String, crate::Value)], depth: usize) {
    out.push('{');
    for (i, (k, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, k);
        out.push(':');
        write_template_json(out, field, depth + 1);
    }
    out.push('}');
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&json_number(n)),
        Value::String(s) => write_json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, &m[k]);
            }
            out.push('}');
        }
    }
}

/// A number as Go's JSON encoder spells it.
pub fn json_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        if n.is_f64() {
            return json_float(i as f64);
        }
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    json_float(n.as_f64().unwrap_or(0.0))
}

fn json_float(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = go_format_float(f, 'e', 64);
        // Go cleans e-07 up to e-7.
        if let Some(pos) = s.find("e-0") {
            return format!("{}e-{}", &s[..pos], &s[pos + 3..]);
        }
        if let Some(pos) = s.find("e+0") {
            return format!("{}e+{}", &s[..pos], &s[pos + 3..]);
        }
        s
    } else {
        go_format_float(f, 'f', 64)
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// YAML as sigs.k8s.io/yaml.Marshal writes it (JSON, then go-yaml v2's emitter).

const BEST_WIDTH: usize = 80;

/// `sigs.k8s.io/yaml.Marshal(v)`: the text ends with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
    };
    e.node(v, -1, Ctx::Root);
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    e.out
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Root,
    /// The value after `key:`.
    MapValue,
    /// The item after `- `.
    SeqItem,
}

struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.out.push_str(s);
    }

    fn newline_indent(&mut self, indent: usize) {
        self.out.push('\n');
        self.column = 0;
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.column = indent;
    }

    fn is_empty_collection(v: &Value) -> bool {
        match v {
            Value::Array(a) => a.is_empty(),
            Value::Object(m) => m.is_empty(),
            _ => true,
        }
    }

    /// `indent` is the indentation of the parent collection (-1 at the root).
    fn node(&mut self, v: &Value, indent: isize, ctx: Ctx) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                // A block mapping is indented one step from its parent, and starts on a new
                // line unless it is a sequence item.
                let my = if indent < 0 { 0 } else { indent as usize + 2 };
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_by(|a, b| natural_cmp(a, b));
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 || ctx == Ctx::MapValue {
                        self.newline_indent(my);
                    } else if ctx == Ctx::Root {
                        // At the start of output.
                    }
                    self.key(k);
                    self.put(":");
                    let child = &m[k.as_str()];
                    match child {
                        Value::Array(a) if !a.is_empty() => {
                            // Indentless sequence under a key.
                            self.node(child, my as isize - 2, Ctx::MapValue);
                        }
                        _ => {
                            if (Self::is_empty_collection(child) && !child.is_null())
                                || !matches!(child, Value::Object(_))
                            {
                                self.put(" ");
                            }
                            self.node(child, my as isize, Ctx::MapValue);
                        }
                    }
                }
            }
            Value::Array(a) if !a.is_empty() => {
                // Under a key the sequence is indentless: its dashes line up with the key.
                let my = if indent < 0 { 0 } else { indent as usize + 2 };
                for (i, item) in a.iter().enumerate() {
                    if i > 0 || ctx == Ctx::MapValue {
                        self.newline_indent(my);
                    }
                    self.put("-");
                    match item {
                        Value::Object(m) if !m.is_empty() => {
                            self.put(" ");
                            self.node(item, my as isize, Ctx::SeqItem);
                        }
                        Value::Array(inner) if !inner.is_empty() => {
                            self.put(" ");
                            self.node(item, my as isize, Ctx::SeqItem);
                        }
                        _ => {
                            self.put(" ");
                            self.node(item, my as isize, Ctx::SeqItem);
                        }
                    }
                }
            }
            Value::Object(_) => self.put("{}"),
            Value::Array(_) => self.put("[]"),
            Value::Null => self.put("null"),
            Value::Bool(b) => self.put(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let s = yaml_number(n);
                self.put(&s);
            }
            Value::String(s) => {
                let scalar_indent = if indent < 0 { 2 } else { indent as usize + 2 };
                self.string(s, scalar_indent, false);
            }
        }
    }

    fn key(&mut self, k: &str) {
        self.string(k, 0, true);
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        let a = analyze(s);
        let can_plain = resolve_plain(s) == Resolved::Str && !is_base60_float(s);
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if can_plain {
            Style::Plain
        } else {
            Style::Double
        };
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, indent, allow_breaks),
            Style::Single => self.write_single(s, indent, allow_breaks),
            Style::Double => self.write_double(s, indent, allow_breaks),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn write_plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.newline_indent(indent);
                } else {
                    self.put(" ");
                }
                spaces = true;
            } else {
                let mut b = [0u8; 4];
                self.put(c.encode_utf8(&mut b));
                spaces = false;
            }
            i += 1;
        }
    }

    fn write_single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.put("'");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.newline_indent(indent);
                } else {
                    self.put(" ");
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put("'");
                }
                let mut b = [0u8; 4];
                self.put(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
        self.put("'");
    }

    fn write_double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.put("\"");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                let esc = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".to_string(),
                    '\u{8}' => "\\b".to_string(),
                    '\t' => "\\t".to_string(),
                    '\n' => "\\n".to_string(),
                    '\u{b}' => "\\v".to_string(),
                    '\u{c}' => "\\f".to_string(),
                    '\r' => "\\r".to_string(),
                    '\u{1b}' => "\\e".to_string(),
                    '"' => "\\\"".to_string(),
                    '\\' => "\\\\".to_string(),
                    '\u{85}' => "\\N".to_string(),
                    '\u{a0}' => "\\_".to_string(),
                    '\u{2028}' => "\\L".to_string(),
                    '\u{2029}' => "\\P".to_string(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.put(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.newline_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put("\\");
                    }
                } else {
                    self.put(" ");
                }
                spaces = true;
            } else {
                let mut b = [0u8; 4];
                self.put(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
        self.put("\"");
    }

    fn write_literal(&mut self, s: &str, indent: usize) {
        self.put("|");
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.put("2");
        }
        let n = chars.len();
        if !is_break(chars[n - 1]) {
            self.put("-");
        } else if n == 1 || is_break(chars[n - 2]) {
            self.put("+");
        }
        // put_break, then lines; empty lines carry no indentation.
        self.out.push('\n');
        self.column = 0;
        let mut at_line_start = true;
        for &c in &chars {
            if is_break(c) {
                self.out.push('\n');
                self.column = 0;
                at_line_start = true;
            } else {
                if at_line_start {
                    for _ in 0..indent {
                        self.out.push(' ');
                    }
                    self.column = indent;
                    at_line_start = false;
                }
                let mut b = [0u8; 4];
                self.put(c.encode_utf8(&mut b));
            }
        }
        // The emitter ends the scalar on a fresh line when the text ended with a break;
        // trim that so the caller's newline handling stays uniform.
        if self.out.ends_with('\n') {
            self.out.pop();
            self.column = 1; // not at line start; any value works for later breaks
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// go-yaml v2's `yaml_emitter_analyze_scalar`, block context only.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut line_breaks = false;
    let mut special = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = i + 1 >= chars.len() || is_blank(chars[i + 1]);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' if followed_by_ws => block_indicators = true,
                '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == chars.len() {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == chars.len() {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_blank(c) || is_break(c) || c == '\0';
    }
    let mut a = Analysis {
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml v2 quotes strings that YAML 1.1 would read as sexagesimal floats (`1:20`).
fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        if i < b.len()
            && (b'0'..=b'5').contains(&b[i])
            && i + 1 < b.len()
            && b[i + 1].is_ascii_digit()
        {
            i += 2;
        } else if i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// A number after the JSON round trip: integral values read back as ints.
fn yaml_number(n: &Number) -> String {
    if let Some(i) = n.as_i64()
        && !n.is_f64()
    {
        return i.to_string();
    }
    if let Some(u) = n.as_u64()
        && !n.is_f64()
    {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    // Go's JSON spells integral floats below 1e21 without a fraction; go-yaml reads those as
    // integers when they fit int64/uint64.
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if (-9.223372036854776e18..9.223372036854776e18).contains(&f) {
            return (f as i64).to_string();
        }
        if (0.0..1.8446744073709552e19).contains(&f) {
            return (f as u64).to_string();
        }
    }
    go_format_float(f, 'g', 64)
}

/// go-yaml v2's key order: runs of digits compare as numbers, letters after other symbols.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if a == b {
        return Ordering::Equal;
    }
    if natural_less(a, b) {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn natural_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_11_scalars_resolve_like_go_yaml_v2() {
        let v = from_yaml(
            "a: yes\nb: off\nc: 0777\nd: 1_000\ne: '1'\nf: ~\ng: 1.5\nh: 08\ni: 0x1F\nj: 1e3\nk: hello\n",
        )
        .unwrap();
        assert_eq!(v["a"], json!(true));
        assert_eq!(v["b"], json!(false));
        assert_eq!(v["c"].as_f64(), Some(511.0));
        assert_eq!(v["d"].as_f64(), Some(1000.0));
        assert_eq!(v["e"], json!("1"));
        assert_eq!(v["f"], Value::Null);
        assert_eq!(v["g"].as_f64(), Some(1.5));
        assert_eq!(v["h"].as_f64(), Some(8.0));
        assert_eq!(v["i"].as_f64(), Some(31.0));
        assert_eq!(v["j"].as_f64(), Some(1000.0));
        assert_eq!(v["k"], json!("hello"));
        assert!(v["c"].as_number().is_some_and(|n| n.is_f64()));
    }

    #[test]
    fn anchors_merges_and_keys() {
        let v = from_yaml("base: &b {a: 1, b: 2}\nd:\n  <<: *b\n  b: 3\n1: one\ny: t\n").unwrap();
        assert_eq!(v["d"]["a"].as_f64(), Some(1.0));
        assert_eq!(v["d"]["b"].as_f64(), Some(3.0));
        assert_eq!(v["1"], json!("one"));
        assert_eq!(v["true"], json!("t"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        assert!(matches!(from_yaml(&doc), Err(YamlError::TooLarge(_))));
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let err = from_yaml("a: b\nc: [d\n").unwrap_err();
        assert!(matches!(err, YamlError::Syntax { .. }), "{err}");
    }

    #[test]
    fn go_float_spelling() {
        assert_eq!(go_format_float(1e6, 'g', 64), "1e+06");
        assert_eq!(go_format_float(123456.0, 'g', 64), "123456");
        assert_eq!(go_format_float(1.5, 'g', 64), "1.5");
        assert_eq!(go_format_float(0.0001, 'g', 64), "0.0001");
        assert_eq!(go_format_float(0.00001, 'g', 64), "1e-05");
        assert_eq!(go_format_float(1.1, 'g', 32), "1.1");
        assert_eq!(go_format_float(100.0, 'f', 64), "100");
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(3.0), "3");
        assert_eq!(json_float(1e21), "1e+21");
    }

    #[test]
    fn json_like_go() {
        let v = json!({"b": [1, "x<y>&"], "a": {"z": null, "c": true}});
        assert_eq!(
            to_json(&v),
            r#"{"a":{"c":true,"z":null},"b":[1,"x\u003cy\u003e\u0026"]}"#
        );
    }

    #[test]
    fn yaml_like_sigs_yaml() {
        let v = from_yaml(
            "name: web\nports:\n- 80\n- 443\nres:\n  limits: {cpu: 100m}\nempty: {}\nnone: []\nnul: null\nq: \"8080\"\ns: 'yes'\nt: \"a: b\"\nm: \"line1\\nline2\\n\"\nl:\n- a: 1\n  b: 2\n- - x\n  - \"y\"\nf: 1.5\nbig: 1000000\n",
        )
        .unwrap();
        let expected = "big: 1000000\nempty: {}\nf: 1.5\nl:\n- a: 1\n  b: 2\n- - x\n  - \"y\"\nm: |\n  line1\n  line2\nname: web\nnone: []\nnul: null\nports:\n- 80\n- 443\nq: \"8080\"\nres:\n  limits:\n    cpu: 100m\ns: \"yes\"\nt: 'a: b'\n";
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn long_strings_fold_at_80_columns() {
        let s = "word ".repeat(30);
        let v = json!({ "k": s.trim_end() });
        let out = to_yaml(&v);
        let first = out.lines().next().unwrap();
        assert!(first.len() > 80 && first.len() < 90, "{out}");
        assert!(out.lines().nth(1).unwrap().starts_with("  word"), "{out}");
    }

    #[test]
    fn natural_key_order() {
        let mut keys = vec!["a10", "a9", "B", "a", "_x", "1"];
        keys.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(keys, vec!["_x", "1", "B", "a", "a9", "a10"]);
    }
}
