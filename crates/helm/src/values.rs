//! Values coalescing, exactly as Helm's `chartutil` does it.
//!
//! User values (from `-f` files and `--set`) are laid over each chart's `values.yaml`: maps
//! merge, everything else is replaced, a user `null` deletes the key, a subchart sees
//! `.Values.<subchart>` of its parent as its own `.Values`, and `global` is copied from parent
//! to child. "Coalesce" removes nulls as it goes; "merge" (used while importing values between
//! charts) keeps them so that a later coalesce can still delete keys.

use serde_json::{Map, Value};

use crate::chart::Chart;
use crate::error::Error;

/// The key whose contents every chart in the tree shares.
pub const GLOBAL_KEY: &str = "global";

/// Helm's `CoalesceValues`: the chart's (and its subcharts') defaults under `vals`, nulls
/// deleting keys.
pub fn coalesce_values(
    chart: &Chart,
    vals: &Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    let mut dest = vals.clone();
    coalesce(chart, &mut dest, false)?;
    Ok(dest)
}

/// Helm's `MergeValues`: as [`coalesce_values`] but nulls are kept.
pub fn merge_values(chart: &Chart, vals: &Map<String, Value>) -> Result<Map<String, Value>, Error> {
    let mut dest = vals.clone();
    coalesce(chart, &mut dest, true)?;
    Ok(dest)
}

fn coalesce(chart: &Chart, dest: &mut Map<String, Value>, merge: bool) -> Result<(), Error> {
    coalesce_chart_values(chart, dest, merge);
    coalesce_deps(chart, dest, merge)
}

fn coalesce_deps(chart: &Chart, dest: &mut Map<String, Value>, merge: bool) -> Result<(), Error> {
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        match dest.get(&name) {
            None => {
                dest.insert(name.clone(), Value::Object(Map::new()));
            }
            Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(Error::Coalesce {
                    chart: chart.name().to_string(),
                    message: format!("type mismatch on {name}: %!t({})", go_type(other)),
                });
            }
        }
        let globals = dest.get(GLOBAL_KEY).cloned();
        if let Some(Value::Object(sub_vals)) = dest.get_mut(&name) {
            coalesce_globals(sub_vals, globals.as_ref());
            coalesce(sub, sub_vals, merge)?;
        }
    }
    Ok(())
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Copies the parent's `global` into the child's, the parent's entries winning.
fn coalesce_globals(dest: &mut Map<String, Value>, src_global: Option<&Value>) {
    let mut dg = match dest.get(GLOBAL_KEY) {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return, // "skipping globals because destination global is not a table"
    };
    let sg = match src_global {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        match val {
            Value::Object(vv) => {
                let mut vv = vv;
                match dg.get(&key) {
                    None => {
                        dg.insert(key, Value::Object(vv));
                    }
                    Some(Value::Object(destv)) => {
                        let destv = destv.clone();
                        coalesce_tables(&mut vv, &destv, true);
                        dg.insert(key, Value::Object(vv));
                    }
                    Some(_) => {} // "cannot merge map onto non-map"
                }
            }
            val => {
                if matches!(dg.get(&key), Some(Value::Object(_))) {
                    continue; // "key is table. Skipping"
                }
                dg.insert(key, val);
            }
        }
    }
    dest.insert(GLOBAL_KEY.to_string(), Value::Object(dg));
}

/// Lays the chart's own defaults under `v`.
fn coalesce_chart_values(chart: &Chart, v: &mut Map<String, Value>, merge: bool) {
    for (key, val) in &chart.values {
        match v.get_mut(key) {
            Some(Value::Null) if !merge => {
                v.remove(key);
            }
            Some(Value::Object(dest)) => {
                if let Value::Object(src) = val {
                    let merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                    coalesce_tables(dest, src, merge);
                }
            }
            Some(_) => {}
            None => {
                v.insert(key.clone(), val.clone());
            }
        }
    }
}

/// Helm's `coalesceTablesFullKey`: `src` under `dst`, `dst` authoritative.
pub fn coalesce_tables(dst: &mut Map<String, Value>, src: &Map<String, Value>, merge: bool) {
    for (key, val) in src {
        match dst.get_mut(key) {
            Some(Value::Null) if !merge => {
                dst.remove(key);
            }
            None => {
                dst.insert(key.clone(), val.clone());
            }
            Some(dv) => {
                if let Value::Object(sv) = val
                    && let Value::Object(dm) = dv
                {
                    coalesce_tables(dm, sv, merge);
                }
            }
        }
    }
}

/// The `-f` merge of Helm's CLI: maps merge recursively, the later file wins.
pub fn merge_maps(a: &mut Map<String, Value>, b: Map<String, Value>) {
    for (k, v) in b {
        if let Value::Object(bm) = &v
            && let Some(Value::Object(am)) = a.get_mut(&k)
        {
            merge_maps(am, bm.clone());
            continue;
        }
        a.insert(k, v);
    }
}

/// `Values.Table("a.b.c")`: the map at a dotted path.
pub fn table<'a>(v: &'a Map<String, Value>, path: &str) -> Option<&'a Map<String, Value>> {
    let mut cur = v;
    for part in path.split('.') {
        match cur.get(part) {
            Some(Value::Object(m)) => cur = m,
            _ => return None,
        }
    }
    Some(cur)
}

/// `Values.PathValue("a.b")`: a non-map value at a dotted path.
pub fn path_value<'a>(v: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (table(v, p)?, k),
        None => (v, path),
    };
    match parent.get(key) {
        Some(Value::Object(_)) | None => None,
        Some(x) => Some(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn chart(name: &str, values: Value, deps: Vec<Chart>) -> Chart {
        let mut c = Chart::default();
        c.metadata.name = name.into();
        c.values = obj(values);
        c.dependencies = deps;
        c
    }

    #[test]
    fn user_values_win_maps_merge_null_deletes() {
        let c = chart(
            "top",
            json!({"a": 1, "m": {"x": 1, "y": 2}, "gone": "x", "list": [1, 2]}),
            vec![],
        );
        let user = obj(json!({"m": {"y": 3}, "gone": null, "list": [9]}));
        let out = coalesce_values(&c, &user).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"a": 1, "m": {"x": 1, "y": 3}, "list": [9]})
        );
    }

    #[test]
    fn subcharts_get_their_section_and_globals() {
        let sub = chart("sub", json!({"port": 80, "global": {"env": "sub"}}), vec![]);
        let c = chart(
            "top",
            json!({"global": {"env": "prod", "region": "eu"}}),
            vec![sub],
        );
        let user = obj(json!({"sub": {"port": 8080}}));
        let out = coalesce_values(&c, &user).unwrap();
        assert_eq!(out["sub"]["port"], json!(8080));
        assert_eq!(out["sub"]["global"], json!({"env": "prod", "region": "eu"}));
    }

    #[test]
    fn a_subchart_key_holding_a_scalar_is_an_error() {
        let sub = chart("sub", json!({}), vec![]);
        let c = chart("top", json!({}), vec![sub]);
        let err = coalesce_values(&c, &obj(json!({"sub": 3}))).unwrap_err();
        assert!(err.to_string().contains("type mismatch on sub"), "{err}");
    }

    #[test]
    fn paths() {
        let v = obj(json!({"a": {"b": {"c": true}}}));
        assert_eq!(path_value(&v, "a.b.c"), Some(&json!(true)));
        assert_eq!(path_value(&v, "a.b"), None);
        assert!(table(&v, "a.b").is_some());
    }

    #[test]
    fn file_merge_is_deep() {
        let mut a = obj(json!({"m": {"x": 1}, "k": 1}));
        merge_maps(&mut a, obj(json!({"m": {"y": 2}, "k": {"z": 1}})));
        assert_eq!(
            Value::Object(a),
            json!({"m": {"x": 1, "y": 2}, "k": {"z": 1}})
        );
    }
}
