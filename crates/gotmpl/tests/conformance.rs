//! Conformance: every case in `tests/cases/*.cases` renders exactly as Go's `text/template` +
//! Sprig (or, for cases marked `helm`, Helm's engine) rendered it. The expected results in
//! `*.expected.json` come from the Go oracle: `crates/gotmpl/oracle/regen.sh` regenerates them.
//!
//! Case format: `## NAME [helm]` starts a case; an optional `data: JSON` line follows; then the
//! template text (its final newline is not part of it); `-- file: NAME` starts another file of
//! the same case (for `define`/`include`).

use std::path::Path;

use std::sync::Arc;

use driftless_gotmpl::{Library, Object, Templates, Value};

/// Helm's `.Chart` is a Go struct: unknown fields are errors, not empty values.
#[derive(Debug)]
struct Chart;

impl Object for Chart {
    fn type_name(&self) -> &str {
        "chart.Metadata"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(Value::str("c")),
            "Version" => Some(Value::str("0.1.0")),
            "APIVersion" => Some(Value::str("v2")),
            "AppVersion" => Some(Value::str("")),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        Value::from_json(&serde_json::json!({"name": "c", "version": "0.1.0", "apiVersion": "v2"}))
    }
}

struct Case {
    name: String,
    helm: bool,
    data: Option<String>,
    files: Vec<(String, String)>,
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    fn flush(cases: &mut [Case], lines: &mut Vec<&str>) {
        if let Some(c) = cases.last_mut() {
            let f = c.files.last_mut().expect("a case has a file");
            f.1 = lines.join("\n");
        }
        lines.clear();
    }
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("## ") {
            flush(&mut cases, &mut lines);
            let mut fields = rest.split_whitespace();
            let name = fields.next().expect("case name").to_string();
            let helm = fields.any(|f| f == "helm");
            cases.push(Case {
                name,
                helm,
                data: None,
                files: vec![("main".into(), String::new())],
            });
            continue;
        }
        let Some(c) = cases.last_mut() else { continue };
        if let Some(d) = line.strip_prefix("data: ")
            && lines.is_empty()
            && c.files.len() == 1
            && c.data.is_none()
        {
            c.data = Some(d.to_string());
        } else if let Some(f) = line.strip_prefix("-- file: ") {
            flush(&mut cases, &mut lines);
            let c = cases.last_mut().expect("case");
            c.files.push((f.trim().to_string(), String::new()));
        } else {
            lines.push(line);
        }
    }
    flush(&mut cases, &mut lines);
    cases
}

fn render(c: &Case) -> Result<String, String> {
    let data: serde_json::Value = match &c.data {
        Some(d) => serde_json::from_str(d).expect("case data is JSON"),
        None => serde_json::Value::Null,
    };
    if c.helm {
        let mut set = Templates::helm();
        // Helm parses deeper paths first and, at one depth, names in reverse order
        // (sort.Reverse(byPathLen)); all our files are siblings.
        let mut files: Vec<(String, &str)> = c
            .files
            .iter()
            .enumerate()
            .map(|(i, (n, src))| {
                let name = if i == 0 {
                    "c/templates/case.yaml".to_string()
                } else {
                    format!("c/templates/{n}")
                };
                (name, src.as_str())
            })
            .collect();
        files.sort();
        files.reverse();
        for (name, src) in &files {
            set.parse(name, src).map_err(|e| e.helm_message())?;
        }
        let values = if data.is_object() {
            Value::from_json(&data)
        } else {
            Value::empty_map()
        };
        let top = serde_json::json!({
            "Release": {"Name": "rel", "Namespace": "ns", "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
            "Chart": {"Name": "c", "Version": "0.1.0", "APIVersion": "v2"},
            "Template": {"Name": "c/templates/case.yaml", "BasePath": "c/templates"},
            "Capabilities": {},
            "Files": {},
            "Subcharts": {},
        });
        let top = Value::from_json(&top);
        if let Value::Map(m) = &top {
            m.insert("Values", values);
            m.insert("Chart", Value::Object(Arc::new(Chart)));
        }
        set.execute("c/templates/case.yaml", &top)
            .map_err(|e| e.helm_message())
    } else {
        let mut set = Templates::new(Library::Sprig);
        for (name, src) in &c.files {
            set.parse(name, src).map_err(|e| e.to_string())?;
        }
        set.execute("main", &Value::from_json(&data))
            .map_err(|e| e.to_string())
    }
}

#[test]
fn all_cases_match_the_go_oracle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cases"))
        .collect();
    files.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for f in &files {
        let cases = parse_cases(&std::fs::read_to_string(f).expect("read cases"));
        let expected: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(f.with_extension("expected.json"))
                .expect("expected file (run oracle/regen.sh)"),
        )
        .expect("expected JSON");
        assert_eq!(
            cases.len(),
            expected.len(),
            "{}: case count differs from its expected file; run oracle/regen.sh",
            f.display()
        );
        for (c, e) in cases.iter().zip(&expected) {
            total += 1;
            assert_eq!(e["name"], c.name.as_str(), "expected file out of date");
            let got =
                std::panic::catch_unwind(|| render(c)).unwrap_or_else(|_| Err("PANIC".into()));
            let want = match (e.get("output"), e.get("error")) {
                (Some(o), _) => Ok(o.as_str().unwrap_or_default().to_string()),
                (_, Some(err)) => Err(err.as_str().unwrap_or_default().to_string()),
                _ => panic!("bad expected entry"),
            };
            if got != want {
                failures.push(format!(
                    "{}/{}:\n   want {want:?}\n   got  {got:?}",
                    f.file_name().unwrap_or_default().to_string_lossy(),
                    c.name
                ));
            }
        }
    }
    eprintln!("{total} cases, {} failing", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from Go:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 300, "only {total} cases");
}
