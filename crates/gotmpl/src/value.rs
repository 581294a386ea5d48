//! [`Value`]: a Go value as a template sees it.
//!
//! Go templates work on `interface{}` data. Helm feeds them values decoded from YAML through
//! JSON, so every number in `.Values` is a `float64` (`1000000` prints as `1e+06`), while
//! numbers made by template code (`{{ 3 }}`, `len`, `add`) are `int`/`int64`. [`Value::Int`]
//! and [`Value::Float`] keep that distinction because Go's printing and comparison depend on
//! it (`eq 1 1.0` is an error in Go).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The contents of a map as Go templates see it: string keys, iterated in sorted order (Go
/// sorts map keys for `range`, printing and encoding).
pub type Map = BTreeMap<String, Value>;

/// A shared, mutable map: Go maps are references, and Helm charts rely on that
/// (`{{ $_ := set $ctx "k" "v" }}` changes `$ctx` for everyone holding it). Cloning a
/// `MapRef` shares the map; [`MapRef::deep_copy`] makes an independent one.
#[derive(Clone, Default)]
pub struct MapRef(Arc<RwLock<Map>>);

impl MapRef {
    /// Wraps a map.
    pub fn new(m: Map) -> MapRef {
        MapRef(Arc::new(RwLock::new(m)))
    }
    /// Reads the map (a short-lived lock; do not hold it across template calls).
    pub fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
    /// Changes the map in place.
    pub fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
    /// The value at `key`, cloned.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }
    /// Sets `key` in place.
    pub fn insert(&self, key: impl Into<String>, v: Value) {
        self.write().insert(key.into(), v);
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.read().len()
    }
    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
    /// A snapshot of the contents (shallow: nested maps stay shared).
    pub fn snapshot(&self) -> Map {
        self.read().clone()
    }
    /// Whether two handles share one map.
    pub fn ptr_eq(&self, other: &MapRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    /// An independent copy, nested maps included.
    pub fn deep_copy(&self) -> MapRef {
        self.deep_copy_at(0)
    }

    fn deep_copy_at(&self, depth: usize) -> MapRef {
        if depth > MAX_NESTING {
            return self.clone();
        }
        let entries = self.snapshot();
        MapRef::new(
            entries
                .into_iter()
                .map(|(k, v)| (k, v.deep_copy_at(depth + 1)))
                .collect(),
        )
    }
}

/// How deep the recursive operations (`to_json`, `deep_copy`, equality) follow nested lists
/// and maps. A template can make a map contain itself (`set $m "self" $m`, as in Go); past
/// this depth the structure is treated as a cycle instead of overflowing the stack.
const MAX_NESTING: usize = 200;

thread_local! {
    static DEBUG_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl fmt::Debug for MapRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let depth = DEBUG_DEPTH.with(|d| d.get());
        if depth > 32 {
            return f.write_str("{...}");
        }
        DEBUG_DEPTH.with(|d| d.set(depth + 1));
        let entries = self.snapshot();
        let r = f.debug_map().entries(entries.iter()).finish();
        DEBUG_DEPTH.with(|d| d.set(depth));
        r
    }
}

impl PartialEq for MapRef {
    fn eq(&self, other: &MapRef) -> bool {
        map_eq(self, other, 0)
    }
}

fn map_eq(a: &MapRef, b: &MapRef, depth: usize) -> bool {
    if a.ptr_eq(b) {
        return true;
    }
    if depth > MAX_NESTING {
        return false;
    }
    let (x, y) = (a.snapshot(), b.snapshot());
    x.len() == y.len()
        && x.iter()
            .zip(y.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && va.eq_at(vb, depth + 1))
}

/// A Go value as seen by a template.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// A nil `interface{}` (YAML `null`, a missing key under `missingkey=zero`).
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int`: numbers made by template code and Go's builtins (`len`, `{{ 3 }}`).
    Int(i64),
    /// `int64`: what Sprig's math functions return (`add`, `max`, `int64`). Go keeps it apart
    /// from `int`: `typeOf` says `int64`, and an `int` parameter refuses it.
    Int64(i64),
    /// `float64`: numbers that came from YAML or JSON data.
    Float(f64),
    /// `string`.
    String(Arc<str>),
    /// `[]byte` (e.g. Helm's `.Files.GetBytes`).
    Bytes(Arc<[u8]>),
    /// `[]interface{}`.
    List(Arc<Vec<Value>>),
    /// `map[string]interface{}` (shared and mutable, like a Go map).
    Map(MapRef),
    /// A Go struct or named type with fields and methods (Helm's `.Files`, `.Capabilities`).
    Object(Arc<dyn Object>),
}

/// A value with fields and methods, for Go structs a template reaches into (Helm's `.Files`,
/// `.Capabilities`, `.Release`, `.Chart`). Implemented by the embedding application.
pub trait Object: fmt::Debug + Send + Sync {
    /// Go's type name, printed by `%T` and `typeOf` and in error messages
    /// (e.g. `"chartutil.Capabilities"`).
    fn type_name(&self) -> &str;
    /// A field or a method without arguments, as `.Name` reaches it; `None` when there is
    /// none (an execution error, as in Go: "can't evaluate field X in type T").
    fn field(&self, name: &str) -> Option<Value>;
    /// Calls method `name` with arguments (`.Files.Get "a.txt"`). `None` when there is no
    /// such method; `Some(Err(msg))` becomes "error calling NAME: msg".
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let _ = (name, args);
        None
    }
    /// What `%v`/`print` shows, e.g. the `String()` of a Go `Stringer` (`v1.20.0` for
    /// `.Capabilities.KubeVersion`). `None` prints [`Object::to_value`].
    fn display(&self) -> Option<String> {
        None
    }
    /// What an action `{{ x }}` prints. Go's printer takes the address of an addressable
    /// value whose pointer type has `String()`, so a struct reached through a pointer (Helm's
    /// `.Capabilities.KubeVersion`) prints through its pointer-receiver `String()` there,
    /// while as a function argument (`quote`, `printf "%v"`) it prints as a plain struct
    /// ([`Object::display`]). Defaults to [`Object::display`].
    fn action_display(&self) -> Option<String> {
        self.display()
    }
    /// The concrete type, for functions that take back objects they made (Sprig's
    /// `genSignedCert` takes a `genCA` result). Objects of the embedding application can keep
    /// the default.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// The plain data this object encodes to (`toYaml`, `toJson`, `%v`), with the keys Go's
    /// JSON tags would give.
    fn to_value(&self) -> Value;
    /// The JSON fields in the Go struct's declaration order, empty ones already left out.
    /// Go's JSON encoder keeps a struct's field order (maps it sorts), so `toJson` of a struct
    /// such as Helm's `.Chart` needs it; `None` encodes [`Object::to_value`] with sorted keys.
    /// (`toYaml` sorts every key, as `sigs.k8s.io/yaml` does, and ignores this.)
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        None
    }
    /// For a Go map or slice type with methods (Helm's `.Files` is a `map[string][]byte`,
    /// `.Capabilities.APIVersions` a `[]string`): the map or list that `range`, `len`,
    /// `index` and truth tests see. `None` for a struct.
    fn collection(&self) -> Option<Value> {
        None
    }
    /// Go's `reflect.Kind` name (Sprig's `kindOf`): `struct` unless the type is a Go map
    /// (`map`) or slice (`slice`).
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    /// For a Go map whose keys are not strings (a struct-keyed map such as Flux's
    /// `ObjectChanges`): the (key, element) pairs `range` visits, already in Go's sorted key
    /// order. `None` for anything else.
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        None
    }
}

/// A Go slice or map of a named element type: `[]string` (`splitList`, `keys`, `sortAlpha`,
/// …) and `map[string]string` (`split`, `splitn`). `range`, `index`, `len`, field access and
/// Sprig's list functions see the collection; `typeOf` says the Go type, and a
/// `[]interface {}`/`map[string]interface {}` parameter refuses it, as in Go.
#[derive(Debug)]
struct TypedCollection {
    type_name: &'static str,
    kind: &'static str,
    items: Value,
}

impl Object for TypedCollection {
    fn type_name(&self) -> &str {
        self.type_name
    }
    fn kind_name(&self) -> &'static str {
        self.kind
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn to_value(&self) -> Value {
        self.items.clone()
    }
    fn collection(&self) -> Option<Value> {
        Some(self.items.clone())
    }
}

/// A Go `string` that is not UTF-8 (`b64dec` of random bytes): Go strings are bytes.
/// Functions that read bytes (`len`, `b64enc`, the hashes, `printf "%x"`/`"%q"`) see them
/// all; functions that read text see the bytes with invalid sequences as U+FFFD.
#[derive(Debug)]
pub(crate) struct ByteString {
    pub(crate) bytes: Arc<[u8]>,
    text: String,
}

impl Object for ByteString {
    fn type_name(&self) -> &str {
        "string"
    }
    fn kind_name(&self) -> &'static str {
        "string"
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn display(&self) -> Option<String> {
        Some(self.text.clone())
    }
    fn to_value(&self) -> Value {
        Value::str(&self.text)
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

impl Value {
    /// A Go `string` of arbitrary bytes: a plain [`Value::String`] when they are UTF-8.
    pub fn byte_string(bytes: Vec<u8>) -> Value {
        match String::from_utf8(bytes) {
            Ok(s) => Value::from(s),
            Err(e) => {
                let bytes: Arc<[u8]> = e.into_bytes().into();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                Value::Object(Arc::new(ByteString { bytes, text }))
            }
        }
    }

    /// The bytes of a Go string ([`Value::String`] or a non-UTF-8 [`Value::byte_string`]).
    pub fn string_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::String(s) => Some(s.as_bytes()),
            Value::Object(o) => Some(&o.as_any()?.downcast_ref::<ByteString>()?.bytes),
            _ => None,
        }
    }

    /// A Go `[]string`.
    pub fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::Object(Arc::new(TypedCollection {
            type_name: "[]string",
            kind: "slice",
            items: Value::list(items.into_iter().map(Value::str).collect()),
        }))
    }

    /// A Go `map[string]string`.
    pub fn string_map<K: Into<String>, S: AsRef<str>>(
        entries: impl IntoIterator<Item = (K, S)>,
    ) -> Value {
        let m = entries
            .into_iter()
            .map(|(k, v)| (k.into(), Value::str(v)))
            .collect();
        Value::Object(Arc::new(TypedCollection {
            type_name: "map[string]string",
            kind: "map",
            items: Value::map(m),
        }))
    }

    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::String(Arc::from(s.as_ref()))
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// A map value.
    pub fn map(m: Map) -> Value {
        Value::Map(MapRef::new(m))
    }

    /// An empty map.
    pub fn empty_map() -> Value {
        Value::map(Map::new())
    }

    /// A copy that shares no map with `self` (Sprig's `deepCopy`).
    pub fn deep_copy(&self) -> Value {
        self.deep_copy_at(0)
    }

    fn deep_copy_at(&self, depth: usize) -> Value {
        match self {
            Value::Map(m) => Value::Map(m.deep_copy_at(depth + 1)),
            Value::List(l) if depth <= MAX_NESTING => {
                Value::list(l.iter().map(|v| v.deep_copy_at(depth + 1)).collect())
            }
            v => v.clone(),
        }
    }

    /// Converts JSON the way Go's `encoding/json` decodes it into `interface{}`: every number
    /// becomes a `float64`. This is how Helm values look to templates.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON (as Go's `encoding/json` would marshal it). `Bytes` become base64 like
    /// Go's `[]byte`; non-finite floats (which Go refuses to marshal) become `null`.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_at(0)
    }

    fn to_json_at(&self, depth: usize) -> serde_json::Value {
        use base64::Engine as _;
        if depth > MAX_NESTING {
            return serde_json::Value::Null;
        }
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) | Value::Int64(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Bytes(b) => {
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::List(l) => {
                serde_json::Value::Array(l.iter().map(|v| v.to_json_at(depth + 1)).collect())
            }
            Value::Map(m) => serde_json::Value::Object(
                m.snapshot()
                    .into_iter()
                    .map(|(k, v)| (k, v.to_json_at(depth + 1)))
                    .collect(),
            ),
            Value::Object(o) => o.to_value().to_json_at(depth + 1),
        }
    }

    /// Go's template truth: false, 0, nil, and empty strings, lists and maps are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.collection().is_none_or(|c| c.is_truthy()),
        }
    }

    /// The map or list a collection-like [`Object`] stands for ([`Object::collection`]);
    /// any other value as it is.
    pub(crate) fn as_collection(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Value::Object(o) => match o.collection() {
                Some(c) => std::borrow::Cow::Owned(c),
                None => std::borrow::Cow::Borrowed(self),
            },
            v => std::borrow::Cow::Borrowed(v),
        }
    }

    /// Go's `%T`: `int`, `float64`, `string`, `map[string]interface {}`, `[]interface {}`, …
    pub fn type_name(&self) -> &str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) => "[]uint8",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's `reflect.Kind` name, as Sprig's `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind_name(),
        }
    }

    /// The integer inside, if this is an `int` or an `int64`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            _ => None,
        }
    }

    /// The string inside, if this is a string (a non-UTF-8 one with U+FFFD for invalid bytes).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Object(o) => Some(&o.as_any()?.downcast_ref::<ByteString>()?.text),
            _ => None,
        }
    }

    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&MapRef> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The list inside, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// `true` for [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl fmt::Display for Value {
    /// Go's `%v` (what `{{ . }}` and `print` show).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::format::write_value(&mut s, self, false);
        f.write_str(&s)
    }
}

impl PartialEq for Value {
    /// Deep equality as Go's `reflect.DeepEqual` sees it (an int never equals a float).
    fn eq(&self, other: &Value) -> bool {
        self.eq_at(other, 0)
    }
}

impl Value {
    fn eq_at(&self, other: &Value, depth: usize) -> bool {
        if depth > MAX_NESTING {
            return false;
        }
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.eq_at(y, depth + 1))
            }
            (Value::Map(a), Value::Map(b)) => map_eq(a, b, depth + 1),
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Arc::from(s))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::list(l)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::map(m)
    }
}
