//! Which subcharts take part in a render, under which name, and which values they export.
//!
//! Mirrors Helm's `ProcessDependenciesWithMerge`: each `dependencies:` entry of `Chart.yaml`
//! is matched with a chart in `charts/` by name and version range; an `alias` renames the
//! copy; `tags` and `condition` (evaluated against the coalesced values, the first condition
//! path that holds a bool wins over tags) drop disabled subcharts; then `import-values` copy
//! values from children up into their parents, children first.

use serde_json::{Map, Value};

use crate::chart::Chart;
use crate::error::Error;
use crate::values::{coalesce_tables, coalesce_values, merge_values, path_value, table};
use driftless_semver::is_compatible_range;

/// Helm's `CheckDependencies`: every declared dependency must be present in `charts/`.
pub fn check_dependencies(chart: &Chart) -> Result<(), Error> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !chart.dependencies.iter().any(|d| d.name() == r.name))
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingDependencies {
            chart: chart.name().to_string(),
            missing: missing.join(", "),
        })
    }
}

/// Enables, renames and prunes subcharts, then imports values (Helm's
/// `ProcessDependenciesWithMerge`).
pub fn process(chart: &mut Chart, user_values: &Map<String, Value>) -> Result<(), Error> {
    process_enabled(chart, user_values, "")?;
    process_import_values(chart)
}

fn process_enabled(c: &mut Chart, v: &Map<String, Value>, path: &str) -> Result<(), Error> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let existing = std::mem::take(&mut c.dependencies);
    let mut deps: Vec<Chart> = existing
        .iter()
        .filter(|e| {
            !c.metadata
                .dependencies
                .iter()
                .any(|r| e.name() == r.name && is_compatible_range(&r.version, &e.metadata.version))
        })
        .cloned()
        .collect();
    for req in &mut c.metadata.dependencies {
        if let Some(found) = existing.iter().find(|e| {
            e.name() == req.name && is_compatible_range(&req.version, &e.metadata.version)
        }) {
            let mut copy = found.clone();
            if !req.alias.is_empty() {
                copy.metadata.name = req.alias.clone();
            }
            deps.push(copy);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = deps;
    for r in &mut c.metadata.dependencies {
        r.enabled = true;
    }
    let cvals = coalesce_values(c, v)?;
    process_tags(c, &cvals);
    process_conditions(c, &cvals, path);
    let disabled: Vec<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies
        .retain(|d| !disabled.iter().any(|n| n == d.name()));
    c.metadata
        .dependencies
        .retain(|r| !disabled.contains(&r.name));
    for t in &mut c.dependencies {
        let sub_path = format!("{path}{}.", t.name());
        process_enabled(t, &cvals, &sub_path)?;
    }
    Ok(())
}

fn process_tags(c: &mut Chart, cvals: &Map<String, Value>) {
    let Some(tags) = table(cvals, "tags") else {
        return;
    };
    for r in &mut c.metadata.dependencies {
        let (mut has_true, mut has_false) = (false, false);
        for k in &r.tags {
            match tags.get(k) {
                Some(Value::Bool(true)) => has_true = true,
                Some(Value::Bool(false)) => has_false = true,
                _ => {} // "Tag ... returned non-bool value" is only a warning.
            }
        }
        if !has_true && has_false {
            r.enabled = false;
        } else if has_true || !has_false {
            r.enabled = true;
        }
    }
}

fn process_conditions(c: &mut Chart, cvals: &Map<String, Value>, path: &str) {
    for r in &mut c.metadata.dependencies {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(cvals, &format!("{path}{cond}")) {
                r.enabled = *b;
                break;
            }
        }
    }
}

fn process_import_values(c: &mut Chart) -> Result<(), Error> {
    for d in &mut c.dependencies {
        process_import_values(d)?;
    }
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let cvals = merge_values(c, &Map::new())?;
    let mut b = Map::new();
    for r in &mut c.metadata.dependencies {
        let mut out = Vec::new();
        for iv in &r.import_values {
            match iv {
                Value::Object(m) => {
                    let child = go_print(m.get("child"));
                    let parent = go_print(m.get("parent"));
                    let mut entry = Map::new();
                    entry.insert("child".into(), Value::String(child.clone()));
                    entry.insert("parent".into(), Value::String(parent.clone()));
                    out.push(Value::Object(entry));
                    let Some(vv) = table(&cvals, &format!("{}.{child}", r.name)) else {
                        continue; // "ImportValues missing table from chart" is a warning.
                    };
                    let imported = path_to_map(&parent, vv.clone());
                    coalesce_tables(&mut b, &imported, true);
                }
                Value::String(s) => {
                    let child = format!("exports.{s}");
                    let mut entry = Map::new();
                    entry.insert("child".into(), Value::String(child.clone()));
                    entry.insert("parent".into(), Value::String(".".into()));
                    out.push(Value::Object(entry));
                    let Some(vm) = table(&cvals, &format!("{}.{child}", r.name)) else {
                        continue;
                    };
                    let vm = vm.clone();
                    coalesce_tables(&mut b, &vm, true);
                }
                _ => {}
            }
        }
        r.import_values = out;
    }
    let mut merged = cvals;
    coalesce_tables(&mut merged, &b, true);
    c.values = merged;
    Ok(())
}

/// `fmt.Sprintf("%v", x)` for the scalars an import-values entry holds.
fn go_print(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if n.is_f64() => driftless_gotmpl::yaml::go_format_float(f, 'g', 64),
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

fn path_to_map(path: &str, data: Map<String, Value>) -> Map<String, Value> {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let mut m = Map::new();
        m.insert(part.to_string(), Value::Object(cur));
        cur = m;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Dependency;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn chart(name: &str, values: Value) -> Chart {
        let mut c = Chart::default();
        c.metadata.name = name.into();
        c.metadata.version = "1.0.0".into();
        c.values = obj(values);
        c
    }

    fn dep(name: &str) -> Dependency {
        Dependency {
            name: name.into(),
            version: "^1.0.0".into(),
            ..Default::default()
        }
    }

    #[test]
    fn conditions_tags_and_aliases() {
        let mut top = chart(
            "top",
            json!({"a": {"enabled": false}, "tags": {"extra": false}}),
        );
        top.dependencies = vec![
            chart("a", json!({})),
            chart("b", json!({})),
            chart("c", json!({})),
        ];
        let mut da = dep("a");
        da.condition = "a.enabled".into();
        let mut db = dep("b");
        db.alias = "bee".into();
        let mut dc = dep("c");
        dc.tags = vec!["extra".into()];
        top.metadata.dependencies = vec![da, db, dc];
        process(&mut top, &Map::new()).unwrap();
        let names: Vec<&str> = top.dependencies.iter().map(|d| d.name()).collect();
        assert_eq!(names, vec!["bee"]);

        // A user value turns the condition back on.
        let mut top2 = chart("top", json!({"a": {"enabled": false}}));
        top2.dependencies = vec![chart("a", json!({}))];
        let mut da = dep("a");
        da.condition = "a.enabled".into();
        top2.metadata.dependencies = vec![da];
        process(&mut top2, &obj(json!({"a": {"enabled": true}}))).unwrap();
        assert_eq!(top2.dependencies.len(), 1);
    }

    #[test]
    fn import_values_both_forms() {
        let mut top = chart("top", json!({"mine": {"keep": 1}}));
        top.dependencies = vec![chart(
            "sub",
            json!({"exports": {"data": {"port": 80}}, "cfg": {"x": 1, "keep": 2}}),
        )];
        let mut d = dep("sub");
        d.import_values = vec![json!("data"), json!({"child": "cfg", "parent": "mine"})];
        top.metadata.dependencies = vec![d];
        process(&mut top, &Map::new()).unwrap();
        assert_eq!(top.values["port"], json!(80));
        assert_eq!(top.values["mine"], json!({"keep": 1, "x": 1}));
    }

    #[test]
    fn missing_dependency_is_reported() {
        let mut top = chart("top", json!({}));
        top.metadata.dependencies = vec![dep("nope")];
        let err = check_dependencies(&top).unwrap_err();
        assert!(
            err.to_string()
                .contains("missing in charts/ directory: nope"),
            "{err}"
        );
    }
}
