//! `healthCheckExprs`: the health of custom resources computed by CEL expressions.
//!
//! Some custom resources do not follow kstatus conventions (a `Synced` condition instead of
//! `Ready`, a `phase` string, a Ready condition written only after creation). Flux lets the
//! Kustomization say, per kind, which CEL expressions mean Failed, Current and InProgress.
//! Expressions are evaluated with the `cel` crate; this module adds what Flux adds around them:
//!
//! ```text
//!  spec.healthCheckExprs ─▶ CustomHealth::compile   (once per reconcile; a syntax error or an
//!                                                     unknown variable is the user's to fix)
//!  object JSON ─▶ kind listed? no  ─▶ None (kstatus rules apply)
//!              ─▶ being deleted / observedGeneration stale ─▶ Terminating / InProgress
//!              ─▶ inProgress true ─▶ InProgress; failed true ─▶ Failed; current true ─▶ Current
//!              ─▶ none true   ─▶ InProgress
//! ```
//!
//! The variables of an expression are the object's standard top-level fields (`apiVersion`,
//! `kind`, `metadata`, `spec`, `status`); naming any other is a compile error, so a typo such
//! as `stauts` stops the reconcile at once instead of waiting for the timeout. An expression that cannot be evaluated on a given object (a field that does
//! not exist yet, a result that is not a bool) leaves the object InProgress with the error as
//! the message, as Flux does: the wait then ends in a timeout that names it.

use super::{Health, Status};
use cel::{
    Context, Program,
    common::ast::{Expr, IdedExpr},
    objects::{Key, Map},
};
use driftless_api::common::HealthCheckExpr;
use serde_json::Value;
use std::{collections::HashMap, sync::Arc};

/// The variables an expression may name: the top-level fields every object can have. They are
/// bound (to an empty map when the object lacks them) so `has(status.x)` works on a new object.
const VARIABLES: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

/// Identifiers CEL itself defines (type names, for `type(x) == string`).
const CEL_IDENTIFIERS: [&str; 11] = [
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "timestamp",
];

/// A `healthCheckExprs` entry that cannot be used; the message says which and why.
#[derive(Debug, thiserror::Error)]
pub enum ExprError {
    #[error("healthCheckExprs[{index}] ({api_version}): kind is required")]
    MissingKind { index: usize, api_version: String },
    #[error("healthCheckExprs[{index}] ({api_version}): apiVersion must be group/version or v1")]
    BadApiVersion { index: usize, api_version: String },
    #[error(
        "healthCheckExprs[{index}] ({api_version} {kind}): invalid '{field}' expression {expr:?}: {message}"
    )]
    Compile {
        index: usize,
        api_version: String,
        kind: String,
        field: &'static str,
        expr: String,
        message: String,
    },
}

/// One compiled expression and the text it came from (for messages).
struct Compiled {
    field: &'static str,
    text: String,
    program: Program,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:?}", self.field, self.text)
    }
}

/// The expressions for one kind.
#[derive(Debug)]
struct KindRule {
    group: String,
    kind: String,
    failed: Option<Compiled>,
    current: Compiled,
    in_progress: Option<Compiled>,
}

/// The compiled `healthCheckExprs` of one Kustomization. Empty (the default) when it has none,
/// so every object is judged by the built-in kstatus rules.
#[derive(Debug, Default)]
pub struct CustomHealth {
    rules: Vec<KindRule>,
}

impl CustomHealth {
    /// Compiles every expression, so a mistake is reported before anything is applied.
    ///
    /// Kinds are matched by group and kind, not version (an object read at another served
    /// version is the same object). When a kind is listed twice, the first entry wins.
    pub fn compile(exprs: &[HealthCheckExpr]) -> Result<Self, ExprError> {
        let mut rules = Vec::with_capacity(exprs.len());
        for (index, e) in exprs.iter().enumerate() {
            let kind = match e.kind.as_deref() {
                Some(k) if !k.is_empty() => k.to_owned(),
                _ => {
                    return Err(ExprError::MissingKind {
                        index,
                        api_version: e.api_version.clone(),
                    });
                }
            };
            let group = match e.api_version.split_once('/') {
                Some((g, v)) if !g.is_empty() && !v.is_empty() && !v.contains('/') => g.to_owned(),
                None if !e.api_version.is_empty() => String::new(),
                _ => {
                    return Err(ExprError::BadApiVersion {
                        index,
                        api_version: e.api_version.clone(),
                    });
                }
            };
            let compile = |field: &'static str, text: &str| {
                let program = compile_one(text).map_err(|message| ExprError::Compile {
                    index,
                    api_version: e.api_version.clone(),
                    kind: kind.clone(),
                    field,
                    expr: text.to_owned(),
                    message,
                })?;
                Ok(Compiled {
                    field,
                    text: text.to_owned(),
                    program,
                })
            };
            let optional = |field, text: &Option<String>| match text.as_deref() {
                Some(t) if !t.trim().is_empty() => compile(field, t).map(Some),
                _ => Ok(None),
            };
            let rule = KindRule {
                failed: optional("failed", &e.failed)?,
                current: compile("current", &e.current)?,
                in_progress: optional("inProgress", &e.in_progress)?,
                group,
                kind,
            };
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The health the expressions give `obj`, or `None` when its kind has no entry.
    pub fn evaluate(&self, obj: &Value) -> Option<Health> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let rule = self
            .rules
            .iter()
            .find(|r| r.group == group && r.kind == kind)?;
        if let Some(early) = super::rules::before_kind_rules(obj) {
            return Some(early);
        }
        Some(rule.evaluate(obj))
    }
}

impl KindRule {
    fn evaluate(&self, obj: &Value) -> Health {
        let context = context_for(obj);
        let ordered = [
            (self.in_progress.as_ref(), Status::InProgress),
            (self.failed.as_ref(), Status::Failed),
            (Some(&self.current), Status::Current),
        ];
        for (expr, status) in ordered {
            let Some(expr) = expr else { continue };
            match run(expr, &context) {
                Ok(true) => {
                    let message = match status {
                        Status::Current => String::new(),
                        _ => format!("healthCheckExprs '{}' is true: {}", expr.field, expr.text),
                    };
                    return Health::new(status, message);
                }
                Ok(false) => {}
                Err(message) => return Health::new(Status::InProgress, message),
            }
        }
        Health::new(
            Status::InProgress,
            "no healthCheckExprs expression is true yet",
        )
    }
}

/// Parses `text` and checks that it names only variables an object provides.
fn compile_one(text: &str) -> Result<Program, String> {
    compile_with(text, &VARIABLES)
}

/// Parses `text` and checks that it names only `variables` (or CEL's own identifiers).
fn compile_with(text: &str, variables: &[&str]) -> Result<Program, String> {
    let program = Program::compile(text).map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    free_identifiers(
        program.expression(),
        variables,
        &mut Vec::new(),
        &mut unknown,
    );
    unknown.sort();
    unknown.dedup();
    match unknown.as_slice() {
        [] => Ok(program),
        names => Err(format!(
            "undeclared reference to {} (the variables are {})",
            names
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", "),
            variables.join(", ")
        )),
    }
}

/// Collects identifiers that are neither a known variable, a CEL name, nor bound by an
/// enclosing comprehension (`filter(e, …)` binds `e`).
fn free_identifiers(
    expr: &IdedExpr,
    variables: &[&str],
    bound: &mut Vec<String>,
    out: &mut Vec<String>,
) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !bound.iter().any(|b| b == name)
                && !variables.contains(&name.as_str())
                && !CEL_IDENTIFIERS.contains(&name.as_str())
            {
                out.push(name.clone());
            }
        }
        Expr::Select(s) => free_identifiers(&s.operand, variables, bound, out),
        Expr::Call(c) => {
            if let Some(target) = &c.target {
                free_identifiers(target, variables, bound, out);
            }
            for a in &c.args {
                free_identifiers(a, variables, bound, out);
            }
        }
        Expr::List(l) => {
            for e in &l.elements {
                free_identifiers(e, variables, bound, out);
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(e) = &entry.expr {
                    free_identifiers(&e.key, variables, bound, out);
                    free_identifiers(&e.value, variables, bound, out);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                    free_identifiers(&f.value, variables, bound, out);
                }
            }
        }
        Expr::Comprehension(c) => {
            free_identifiers(&c.iter_range, variables, bound, out);
            free_identifiers(&c.accu_init, variables, bound, out);
            let before = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v) = &c.iter_var2 {
                bound.push(v.clone());
            }
            bound.push(c.accu_var.clone());
            free_identifiers(&c.loop_cond, variables, bound, out);
            free_identifiers(&c.loop_step, variables, bound, out);
            free_identifiers(&c.result, variables, bound, out);
            bound.truncate(before);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// A boolean CEL expression over named JSON values, such as Flux's `dependsOn[].readyExpr`
/// (`self` is the dependency, `dep` the dependent). Compiling checks that it names only the
/// given variables, so a typo is reported before anything waits on it.
pub struct BoolExpr {
    text: String,
    program: Program,
}

impl std::fmt::Debug for BoolExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl BoolExpr {
    /// Compiles `text`; the error is CEL's message or the undeclared names.
    pub fn compile(text: &str, variables: &[&str]) -> Result<Self, String> {
        Ok(Self {
            text: text.to_owned(),
            program: compile_with(text, variables)?,
        })
    }

    /// Evaluates with `variables` bound (names as compiled); an evaluation error or a result
    /// that is not a bool is a message for the user.
    pub fn evaluate(&self, variables: &[(&str, &Value)]) -> Result<bool, String> {
        let mut context = Context::default();
        for (name, value) in variables {
            context.add_variable_from_value(*name, to_cel(value));
        }
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "{:?} returned {}, not a bool",
                self.text,
                other.type_of()
            )),
            Err(e) => Err(format!("{:?} could not be evaluated: {e}", self.text)),
        }
    }
}

/// Runs one expression; an error or a non-bool result is a message for the user.
fn run(expr: &Compiled, context: &Context<'_, '_>) -> Result<bool, String> {
    match expr.program.execute(context) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "healthCheckExprs '{}' {:?} returned {}, not a bool",
            expr.field,
            expr.text,
            other.type_of()
        )),
        Err(e) => Err(format!(
            "healthCheckExprs '{}' {:?} could not be evaluated: {e}",
            expr.field, expr.text
        )),
    }
}

/// A CEL context whose variables are the object's standard top-level fields.
fn context_for(obj: &Value) -> Context<'static, 'static> {
    let mut context = Context::default();
    for name in VARIABLES {
        let value = match obj.get(name) {
            Some(v) => to_cel(v),
            None => cel::Value::Map(Map::from(HashMap::<Key, cel::Value>::new())),
        };
        context.add_variable_from_value(name, value);
    }
    context
}

/// JSON as CEL sees Kubernetes objects: integers are `int` (Go's unstructured int64), so
/// `metadata.generation == 1` holds; only integers beyond i64 become `uint`.
fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(fields) => {
            let map: HashMap<Key, cel::Value> = fields
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            cel::Value::Map(Map::from(map))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(
        api_version: &str,
        kind: &str,
        current: &str,
        in_progress: Option<&str>,
        failed: Option<&str>,
    ) -> HealthCheckExpr {
        HealthCheckExpr {
            api_version: api_version.into(),
            kind: Some(kind.into()),
            current: current.into(),
            in_progress: in_progress.map(Into::into),
            failed: failed.map(Into::into),
        }
    }

    /// The cert-manager Certificate example of Flux's RFC-0009, with `exists` for the
    /// `inProgress` expression: the RFC's `.all(...)` is true on an empty filter, and since
    /// inProgress is evaluated first, a Certificate without an `Issuing` condition would never
    /// leave InProgress (see `all_on_no_condition_is_vacuously_true`).
    fn certificate() -> CustomHealth {
        CustomHealth::compile(&[entry(
            "cert-manager.io/v1",
            "Certificate",
            "status.conditions.filter(e, e.type == 'Ready').all(e, e.observedGeneration == metadata.generation && e.status == 'True')",
            Some("status.conditions.exists(e, e.type == 'Issuing' && e.observedGeneration == metadata.generation && e.status == 'True')"),
            Some("status.conditions.filter(e, e.type == 'Ready').all(e, e.observedGeneration == metadata.generation && e.status == 'False')"),
        )])
        .expect("the doc example compiles")
    }

    fn cert(conditions: Value) -> Value {
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "app", "namespace": "default", "generation": 2},
            "spec": {"secretName": "app-tls"},
            "status": {"conditions": conditions},
        })
    }

    fn cond(type_: &str, status: &str, generation: i64) -> Value {
        json!({"type": type_, "status": status, "observedGeneration": generation})
    }

    fn status_of(c: &CustomHealth, obj: &Value) -> Status {
        c.evaluate(obj).expect("kind is listed").status
    }

    #[test]
    fn certificate_example() {
        let c = certificate();
        let ready = cert(json!([cond("Ready", "True", 2)]));
        assert_eq!(status_of(&c, &ready), Status::Current);
        let failed = cert(json!([cond("Ready", "False", 2)]));
        let h = c.evaluate(&failed).expect("listed");
        assert_eq!(h.status, Status::Failed);
        assert!(h.message.contains("'failed' is true"), "{}", h.message);
        // Issuing, with a Ready that is stale (observed an older generation).
        let issuing = cert(json!([
            cond("Issuing", "True", 2),
            cond("Ready", "False", 1)
        ]));
        assert_eq!(status_of(&c, &issuing), Status::InProgress);
    }

    /// As in Flux, `.all` over no matching condition is true: an `inProgress` written that way
    /// holds a Ready object InProgress (users are pointed to `exists`).
    #[test]
    fn all_on_no_condition_is_vacuously_true() {
        let c = CustomHealth::compile(&[entry(
            "cert-manager.io/v1",
            "Certificate",
            "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
            Some("status.conditions.filter(e, e.type == 'Issuing').all(e, e.status == 'True')"),
            None,
        )])
        .expect("compiles");
        let ready = cert(json!([cond("Ready", "True", 2)]));
        assert_eq!(status_of(&c, &ready), Status::InProgress);
    }

    /// Flux's order (RFC-0009): inProgress, then failed, then current; the first true wins.
    #[test]
    fn in_progress_wins_then_failed_then_current() {
        let c = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "status.a",
            Some("status.b"),
            Some("status.c"),
        )])
        .expect("compiles");
        let w = |a: bool, b: bool, c: bool| {
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                   "status": {"a": a, "b": b, "c": c}})
        };
        // w(current, inProgress, failed)
        assert_eq!(status_of(&c, &w(true, true, true)), Status::InProgress);
        assert_eq!(status_of(&c, &w(true, false, true)), Status::Failed);
        assert_eq!(status_of(&c, &w(true, false, false)), Status::Current);
        assert_eq!(status_of(&c, &w(false, true, false)), Status::InProgress);
        // Nothing true: still in progress, with a message that says so.
        let h = c.evaluate(&w(false, false, false)).expect("listed");
        assert_eq!(h.status, Status::InProgress);
        assert!(h.message.contains("no healthCheckExprs"), "{}", h.message);
    }

    /// The SealedSecret and ClusterAPI examples: a condition other than Ready; Ready only
    /// after creation.
    #[test]
    fn sealed_secret_and_cluster_examples() {
        let c = CustomHealth::compile(&[
            entry(
                "bitnami.com/v1alpha1",
                "SealedSecret",
                "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')",
                None,
                Some("status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')"),
            ),
            entry(
                "cluster.x-k8s.io/v1beta1",
                "Cluster",
                "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
                None,
                Some("status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')"),
            ),
        ])
        .expect("compiles");
        let ss = |s: &str| {
            json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                   "metadata": {"name": "s"},
                   "status": {"conditions": [{"type": "Synced", "status": s}]}})
        };
        assert_eq!(status_of(&c, &ss("True")), Status::Current);
        assert_eq!(status_of(&c, &ss("False")), Status::Failed);
        // A new Cluster without status: `status.conditions` does not exist yet, so it is not
        // Current (kstatus alone would call it Current: no conditions).
        let new_cluster = json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
                                 "metadata": {"name": "c", "generation": 1}, "spec": {}});
        let h = c.evaluate(&new_cluster).expect("listed");
        assert_eq!(h.status, Status::InProgress);
        assert!(h.message.contains("conditions"), "{}", h.message);
        assert_eq!(super::super::compute(&new_cluster).status, Status::Current);
    }

    #[test]
    fn missing_fields_leave_the_object_in_progress_with_the_error() {
        let c = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "status.phase == 'Ready'",
            None,
            None,
        )])
        .expect("compiles");
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                         "metadata": {"name": "w"}, "status": {}});
        let h = c.evaluate(&obj).expect("listed");
        assert_eq!(h.status, Status::InProgress);
        assert!(
            h.message.contains("could not be evaluated"),
            "{}",
            h.message
        );
        assert!(h.message.contains("phase"), "{}", h.message);
        // has() guards a missing field, as Flux's cheatsheet advises.
        let guarded = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "has(status.phase) && status.phase == 'Ready'",
            None,
            Some("has(status.phase) && status.phase == 'Error'"),
        )])
        .expect("compiles");
        let h = guarded.evaluate(&obj).expect("listed");
        assert_eq!(h.status, Status::InProgress);
        assert!(h.message.contains("no healthCheckExprs"), "{}", h.message);
        // Even without a status field at all.
        let bare = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}});
        assert_eq!(status_of(&guarded, &bare), Status::InProgress);
    }

    #[test]
    fn a_non_bool_result_is_reported() {
        let c = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "status.phase",
            None,
            None,
        )])
        .expect("compiles");
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                         "metadata": {}, "status": {"phase": "Ready"}});
        let h = c.evaluate(&obj).expect("listed");
        assert_eq!(h.status, Status::InProgress);
        assert!(h.message.contains("not a bool"), "{}", h.message);
    }

    #[test]
    fn integers_compare_as_int() {
        let c = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "metadata.generation == 3 && status.readyReplicas >= spec.replicas",
            None,
            None,
        )])
        .expect("compiles");
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                         "metadata": {"generation": 3}, "spec": {"replicas": 2},
                         "status": {"readyReplicas": 2}});
        assert_eq!(status_of(&c, &obj), Status::Current);
    }

    #[test]
    fn other_kinds_are_left_to_kstatus() {
        let c = certificate();
        let other_kind = json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer"});
        assert!(c.evaluate(&other_kind).is_none());
        let other_group = json!({"apiVersion": "example.com/v1", "kind": "Certificate"});
        assert!(c.evaluate(&other_group).is_none());
        // Another version of the same group and kind is the same kind.
        let v1beta1 = json!({"apiVersion": "cert-manager.io/v1beta1", "kind": "Certificate",
                             "metadata": {"generation": 1},
                             "status": {"conditions": [cond("Ready", "True", 1)]}});
        assert_eq!(status_of(&c, &v1beta1), Status::Current);
        assert!(CustomHealth::default().evaluate(&v1beta1).is_none());
    }

    #[test]
    fn stale_or_deleted_objects_are_not_evaluated() {
        let c = certificate();
        let mut stale = cert(json!([cond("Ready", "True", 2)]));
        stale["status"]["observedGeneration"] = json!(1);
        let h = c.evaluate(&stale).expect("listed");
        assert_eq!(h.status, Status::InProgress);
        assert!(h.message.contains("observedGeneration"), "{}", h.message);
        let mut deleting = cert(json!([cond("Ready", "True", 2)]));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(status_of(&c, &deleting), Status::Terminating);
    }

    #[test]
    fn syntax_errors_are_compile_errors_naming_the_entry() {
        let err = CustomHealth::compile(&[
            entry("example.com/v1", "Ok", "true", None, None),
            entry("example.com/v1", "Widget", "status.phase ==", None, None),
        ])
        .expect_err("does not parse");
        let m = err.to_string();
        assert!(m.contains("healthCheckExprs[1]"), "{m}");
        assert!(m.contains("Widget"), "{m}");
        assert!(m.contains("'current'"), "{m}");
        assert!(m.contains("status.phase =="), "{m}");
    }

    #[test]
    fn unknown_variables_are_compile_errors() {
        let err = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "stauts.conditions.exists(e, e.type == 'Ready')",
            None,
            None,
        )])
        .expect_err("typo");
        let m = err.to_string();
        assert!(m.contains("'stauts'"), "{m}");
        // Comprehension variables and CEL type names are not unknown.
        CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "status.conditions.exists(c, c.type == 'Ready') && type(spec) == map && [1].all(x, x > 0)",
            None,
            None,
        )])
        .expect("bound variables are fine");
    }

    #[test]
    fn a_bad_optional_expression_is_named() {
        let err = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "true",
            Some("status.("),
            None,
        )])
        .expect_err("bad inProgress");
        assert!(err.to_string().contains("'inProgress'"), "{err}");
    }

    #[test]
    fn kind_and_api_version_are_checked() {
        let mut e = entry("example.com/v1", "Widget", "true", None, None);
        e.kind = None;
        let err = CustomHealth::compile(&[e]).expect_err("no kind");
        assert!(err.to_string().contains("kind is required"), "{err}");
        let err = CustomHealth::compile(&[entry("example.com/", "Widget", "true", None, None)])
            .expect_err("no version");
        assert!(err.to_string().contains("apiVersion"), "{err}");
        // Core group: apiVersion "v1".
        let c = CustomHealth::compile(&[entry("v1", "ConfigMap", "has(data.ready)", None, None)]);
        // `data` is not one of the declared variables.
        assert!(c.is_err());
        let c = CustomHealth::compile(&[entry("v1", "ConfigMap", "true", None, None)])
            .expect("core group");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        assert_eq!(status_of(&c, &cm), Status::Current);
    }

    #[test]
    fn empty_optional_expressions_are_unset() {
        let c = CustomHealth::compile(&[entry(
            "example.com/v1",
            "Widget",
            "true",
            Some(""),
            Some("  "),
        )])
        .expect("empty strings mean unset");
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}});
        assert_eq!(status_of(&c, &obj), Status::Current);
    }

    #[test]
    fn bool_expr_binds_the_named_variables_only() {
        let vars = ["self", "dep"];
        let e = BoolExpr::compile("self.metadata.name == dep.spec.want", &vars).expect("valid");
        let dependency = json!({"metadata": {"name": "base"}});
        assert_eq!(
            e.evaluate(&[
                ("self", &dependency),
                ("dep", &json!({"spec": {"want": "base"}}))
            ]),
            Ok(true)
        );
        assert_eq!(
            e.evaluate(&[
                ("self", &dependency),
                ("dep", &json!({"spec": {"want": "x"}}))
            ]),
            Ok(false)
        );
        let err = BoolExpr::compile("status.ready", &vars).expect_err("unknown variable");
        assert!(
            err.contains("'status'") && err.contains("self, dep"),
            "{err}"
        );
        assert!(BoolExpr::compile("self.x ==", &vars).is_err());
        let not_bool = BoolExpr::compile("self.metadata.name", &vars).expect("valid");
        let err = not_bool
            .evaluate(&[("self", &dependency), ("dep", &json!({}))])
            .expect_err("a string is not a bool");
        assert!(err.contains("not a bool"), "{err}");
    }
}
