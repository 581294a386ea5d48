//! Go's `text/template`, with Go's exact semantics, plus the Sprig function library and Helm's
//! template functions, written by hand in Rust (no crate implements Go templates faithfully).
//!
//! ```text
//!   Templates (a set of named templates + a function map + options)
//!     │ parse(name, src)      adds `name` and every {{define}}/{{block}} in src
//!     │ add_func(name, f)     extra functions (Helm's `lookup`, …), before parsing
//!     ▼
//!   execute(name, &Value) ──► String        or Error (Go's message: template, line, column)
//!                  ▲
//!   Value: Nil | Bool | Int (Go int) | Float (float64) | String | Bytes | List | Map | Object
//! ```
//!
//! # How Helm uses it (the `crates/helm` engine)
//!
//! ```
//! use driftless_gotmpl::{Templates, Value};
//! // Helm's function set, `missingkey=zero`, `<no value>` stripped from the output,
//! // `tpl` templates named "gotpl": what Helm's engine does.
//! let mut set = Templates::helm();
//! set.parse("mychart/templates/_helpers.tpl", r#"{{ define "name" }}{{ .Chart.Name }}{{ end }}"#).unwrap();
//! set.parse("mychart/templates/cm.yaml", "name: {{ include \"name\" . }}\nreplicas: {{ .Values.n }}").unwrap();
//! let values = Value::from_json(&serde_json::json!({"n": 1000000}));
//! let mut top = driftless_gotmpl::Map::new();
//! top.insert("Values".into(), values);
//! top.insert("Chart".into(), Value::from_json(&serde_json::json!({"Name": "mychart"})));
//! let out = set.execute("mychart/templates/cm.yaml", &Value::map(top)).unwrap();
//! assert_eq!(out, "name: mychart\nreplicas: 1e+06");
//! ```
//!
//! - Parse every file of a chart (and its subcharts) into ONE set, in Helm's order
//!   (`sort.Reverse(byPathLen)`: more `/` first, and at one depth names in REVERSE lexical
//!   order), then execute each non-partial file. A later non-empty `define` of a name replaces
//!   an earlier one, as in Go — so of two files defining one name, the lexically first wins.
//! - Values from YAML must become [`Value::Float`] for numbers ([`Value::from_json`] does
//!   that), so `%v` prints `1e+06` and `eq .Values.n 1` fails like Helm does.
//! - Go structs (`.Capabilities`, `.Files`, `.Chart`, `.Release`) can be plain
//!   [`Value::Map`]s with Go's field names, or an [`Object`] when they need methods
//!   (`.Files.Get`, `.Capabilities.APIVersions.Has`) or a `String()` form
//!   (`.Capabilities.KubeVersion`). An object that is a Go map or slice type (`.Files`)
//!   gives `range`/`len`/`index`/`if` its [`Object::collection`]; a struct keeps its JSON
//!   field order for `toJson` through [`Object::json_fields`]; a pointer-receiver `String()`
//!   is [`Object::action_display`].
//! - `lookup`: [`Templates::helm`] has Helm's offline `lookup` (returns an empty map); replace it
//!   with [`Templates::add_func`] and a [`Function`] that queries the cluster.
//! - Errors: `err.to_string()` is Go's message; [`Error::helm_message`] is what `helm
//!   template` prints (`execution error at (file:line:col): msg` for `fail`/`required`);
//!   [`Error::kind`], [`Error::template`], [`Error::line`], [`Error::column`] for structure.
//! - [`Limits`] bound nesting depth (recursive `include`), output size and steps, so a
//!   hostile chart errors out instead of hanging or exhausting memory.
//!
//! # Semantics worth knowing
//! - Missing keys: [`MissingKey::Default`] gives `<no value>` and lets `.a.b` through on a
//!   missing `.a`; [`MissingKey::Zero`] (Helm) gives a nil interface, so `.a.b` on a missing
//!   `.a` is the error "nil pointer evaluating interface {}.b" — exactly as Helm.
//! - Maps are shared and mutable ([`MapRef`]) like Go maps: Sprig's `set`, `unset`, `merge`
//!   change them in place.
//! - Ints and floats never compare equal across kinds (`eq 1 1.0` is an error, as in Go).
//!
//! # Conformance and what is missing
//! `tests/cases/*.cases` (500+ templates) are rendered by Go's `text/template` + Sprig v3.3.0
//! and by Helm v3.19's engine (`oracle/`, regenerate with `oracle/regen.sh`); every case must
//! match byte for byte, error messages included. Known differences, none in the suite:
//! - A Go string that is not UTF-8 (`b64dec` of random bytes) keeps its bytes for `len`,
//!   `b64enc`, the hashes and `printf "%x"`/`"%q"`, but prints with U+FFFD for invalid bytes;
//!   `substr`/`trunc` cutting inside a character do the same.
//! - `sortAlpha` of a `[]string` returns a sorted copy; Go's sorts the argument in place too.
//! - Regular expressions use the `regex` crate (RE2 syntax, like Go); the text of a syntax
//!   error differs from Go's.
//! - `js` escapes control characters and U+2028/U+2029 but not every rune Go's
//!   `unicode.IsPrint` refuses.
//! - `genPrivateKey "dsa"` is an error (RSA, ECDSA and Ed25519 keys are made as Sprig does).
//! - `toYamlPretty` is `toYaml`.

mod error;
mod exec;
pub mod format;
mod funcs;
mod parse;
mod toml;
mod value;
pub mod yaml;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::{Error, ErrorKind};
pub use exec::Call;
pub use value::{Map, MapRef, Object, Value};

/// What happens when a template reads a map key that is not there (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Go's default: the result is "no value" (`<no value>` when printed).
    #[default]
    Default,
    /// The zero value of the map's element type: for `map[string]interface{}` a nil interface.
    /// Helm's choice (non-strict mode).
    Zero,
    /// An execution error "map has no entry for key" (Helm's `--strict` lint).
    Error,
}

/// Resource limits of one execution, nested `include`/`template`/`tpl` calls included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of `template`/`include`/`tpl` calls.
    pub max_depth: usize,
    /// Most bytes of output, counted across nested calls.
    pub max_output: usize,
    /// Most evaluation steps (actions, commands, loop iterations), so loops that print
    /// nothing still end.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 1000,
            max_output: 64 << 20,
            max_steps: 100_000_000,
        }
    }
}

/// The Go type of a function parameter. The executor converts and checks arguments the way
/// Go's `text/template` does for a Go function of that signature, with Go's error messages
/// (e.g. a YAML number passed to an `int` parameter is "wrong type for value; expected int;
/// got float64").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `interface{}`: anything; "no value" arrives as [`Value::Nil`].
    Any,
    /// `string`.
    String,
    /// `int` (and other Go integer types).
    Int,
    /// `float64`.
    Float,
    /// `bool`.
    Bool,
    /// `map[string]interface{}`.
    Map,
    /// `[]interface{}`.
    List,
    /// `reflect.Value` (Go's builtins): anything, no conversion.
    Reflect,
}

/// The error a [`Function`] returns.
#[derive(Debug)]
pub enum FuncError {
    /// Becomes Go's "error calling NAME: MESSAGE".
    Message(String),
    /// Helm's `fail`/`required`: "error calling NAME: MESSAGE" with [`ErrorKind::Fail`].
    Fail(String),
    /// An error of a nested template execution (`include`, `tpl`), kept so its kind
    /// (`Fail`, limits) survives.
    Nested(Error),
}

impl From<String> for FuncError {
    fn from(s: String) -> FuncError {
        FuncError::Message(s)
    }
}

impl From<&str> for FuncError {
    fn from(s: &str) -> FuncError {
        FuncError::Message(s.to_string())
    }
}

impl From<Error> for FuncError {
    fn from(e: Error) -> FuncError {
        FuncError::Nested(e)
    }
}

/// The body of a function: receives the converted arguments (the piped value last).
pub type FuncBody = dyn Fn(&mut Call<'_, '_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync;

/// A template function with its Go signature.
#[derive(Clone)]
pub struct Function {
    pub(crate) params: Vec<Param>,
    pub(crate) variadic: Option<Param>,
    pub(crate) body: Arc<FuncBody>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("params", &self.params)
            .field("variadic", &self.variadic)
            .finish()
    }
}

impl Function {
    /// A function with fixed parameters `params` and, if `variadic` is set, any number of
    /// further arguments of that type.
    pub fn new(
        params: Vec<Param>,
        variadic: Option<Param>,
        body: impl Fn(&mut Call<'_, '_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync + 'static,
    ) -> Function {
        Function {
            params,
            variadic,
            body: Arc::new(body),
        }
    }
}

/// Which functions a new [`Templates`] starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Library {
    /// Go's builtins only (`and`, `eq`, `printf`, …).
    Go,
    /// Go's builtins and Sprig v3 (`sprig.TxtFuncMap()` without `env`/`expandenv`).
    Sprig,
    /// What Helm 3 templates see: Sprig plus `include`, `tpl`, `required`, `fail`, `toYaml`,
    /// `fromYaml`, `toJson`, `toToml`, `lookup` (offline: empty map), …
    Helm,
}

/// A set of named templates sharing one function map and options: Go's `*template.Template`.
#[derive(Clone)]
pub struct Templates {
    pub(crate) trees: HashMap<String, Arc<parse::Tree>>,
    pub(crate) funcs: Arc<HashMap<String, Function>>,
    pub(crate) missing_key: MissingKey,
    pub(crate) limits: Limits,
    /// Helm's post-processing: `<no value>` removed from output (also inside `tpl`).
    pub(crate) strip_no_value: bool,
    /// The name `tpl` parses its text under (Helm: "gotpl", the root template's name).
    pub(crate) tpl_name: String,
    /// A fixed "now" for Sprig's date functions (tests, reproducible renders).
    pub(crate) now: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.trees.keys().collect();
        names.sort();
        f.debug_struct("Templates")
            .field("templates", &names)
            .field("missing_key", &self.missing_key)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Templates {
    /// An empty set with the functions of `library` and Go's default options.
    pub fn new(library: Library) -> Templates {
        Templates {
            trees: HashMap::new(),
            funcs: Arc::new(funcs::library(library)),
            missing_key: MissingKey::Default,
            limits: Limits::default(),
            strip_no_value: false,
            tpl_name: "gotpl".into(),
            now: None,
        }
    }

    /// An empty set configured as Helm's engine: [`Library::Helm`], [`MissingKey::Zero`], and
    /// `<no value>` stripped from every output.
    pub fn helm() -> Templates {
        let mut t = Templates::new(Library::Helm);
        t.missing_key = MissingKey::Zero;
        t.strip_no_value = true;
        t
    }

    /// Sets the `missingkey` behaviour.
    pub fn set_missing_key(&mut self, m: MissingKey) -> &mut Self {
        self.missing_key = m;
        self
    }

    /// Sets resource limits.
    pub fn set_limits(&mut self, l: Limits) -> &mut Self {
        self.limits = l;
        self
    }

    /// Whether `<no value>` is removed from outputs (Helm does this after every render).
    pub fn set_strip_no_value(&mut self, strip: bool) -> &mut Self {
        self.strip_no_value = strip;
        self
    }

    /// Fixes the time Sprig's `now`, `ago`, `date` (of non-time values) see, for tests and
    /// reproducible renders. `None` is the real clock.
    pub fn set_now(&mut self, now: Option<chrono::DateTime<chrono::Utc>>) -> &mut Self {
        self.now = now;
        self
    }

    /// Adds or replaces a function. Do this before parsing: like Go, the parser rejects calls
    /// of functions it does not know.
    pub fn add_func(&mut self, name: &str, f: Function) -> &mut Self {
        Arc::make_mut(&mut self.funcs).insert(name.to_string(), f);
        self
    }

    /// Removes a function, so that templates calling it fail to parse as in Go when the
    /// function map lacks it (Flux's commit messages use Sprig's hermetic subset: no clock,
    /// no randomness).
    pub fn remove_func(&mut self, name: &str) -> &mut Self {
        Arc::make_mut(&mut self.funcs).remove(name);
        self
    }

    /// Whether a function of that name exists.
    pub fn has_func(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || funcs::is_builtin(name)
    }

    /// Parses `src` as the template `name` (Go's `t.New(name).Parse(src)`): adds `name` and
    /// every template it `define`s or `block`s. A later definition replaces an earlier one
    /// unless it is empty.
    pub fn parse(&mut self, name: &str, src: &str) -> Result<&mut Self, Error> {
        let has = |f: &str| self.has_func(f);
        let trees = parse::parse(name, src, &has)?;
        for t in trees {
            let keep_old = parse::is_empty_tree(&t.root)
                && self
                    .trees
                    .get(&t.name)
                    .is_some_and(|old| !parse::is_empty_tree(&old.root));
            if !keep_old {
                self.trees.insert(t.name.clone(), Arc::new(t));
            }
        }
        Ok(self)
    }

    /// Whether a template of that name exists.
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// The names of all templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.trees.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Executes template `name` with `data` as dot (`.`) and `$`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        exec::execute(self, name, data)
    }
}
