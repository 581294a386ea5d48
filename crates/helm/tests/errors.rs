//! Bad input: each case must fail with an error naming the chart, file or template at
//! fault (and never panic).

use std::path::Path;

use driftless_helm::{Error, TemplateOptions, UserValues, load, template};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
}

const CHART: &str = "apiVersion: v2\nname: bad\nversion: 0.1.0\n";

fn render(
    files: &[(&str, &str)],
    values: &UserValues,
    opts: &TemplateOptions,
) -> Result<String, Error> {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), files);
    let chart = load(d.path())?;
    Ok(template(chart, values, opts)?.helm_template_output())
}

fn opts() -> TemplateOptions {
    TemplateOptions {
        release_name: "rel".into(),
        ..Default::default()
    }
}

fn err(files: &[(&str, &str)]) -> String {
    render(files, &UserValues::default(), &opts())
        .expect_err("rendering must fail")
        .to_string()
}

#[test]
fn missing_chart_yaml() {
    let e = err(&[("values.yaml", "a: 1\n")]);
    assert!(e.contains("Chart.yaml file is missing"), "{e}");
}

#[test]
fn invalid_chart_yaml_and_metadata() {
    let e = err(&[("Chart.yaml", "name: [unclosed\n")]);
    assert!(e.contains("cannot load Chart.yaml"), "{e}");
    let e = err(&[("Chart.yaml", "apiVersion: v2\nname: x\nversion: one\n")]);
    assert!(
        e.contains("chart.metadata.version \"one\" is invalid"),
        "{e}"
    );
    let e = err(&[("Chart.yaml", "apiVersion: v2\nversion: 1.0.0\n")]);
    assert!(e.contains("chart.metadata.name is required"), "{e}");
}

#[test]
fn template_failures_name_the_template_and_line() {
    let e = err(&[
        ("Chart.yaml", CHART),
        ("templates/cm.yaml", "a: 1\nb: {{ fail \"stop here\" }}\n"),
    ]);
    assert_eq!(
        e,
        "execution error at (bad/templates/cm.yaml:2:6): stop here"
    );
    let e = err(&[
        ("Chart.yaml", CHART),
        (
            "templates/cm.yaml",
            "x: {{ required \"host is required\" .Values.host }}\n",
        ),
    ]);
    assert!(
        e.contains("bad/templates/cm.yaml:1") && e.contains("host is required"),
        "{e}"
    );
    let e = err(&[
        ("Chart.yaml", CHART),
        ("templates/cm.yaml", "x: {{ nosuchfunc 1 }}\n"),
    ]);
    assert!(
        e.contains("bad/templates/cm.yaml:1") && e.contains("\"nosuchfunc\" not defined"),
        "{e}"
    );
    let e = err(&[
        ("Chart.yaml", CHART),
        ("templates/cm.yaml", "x: {{ if }}\n"),
    ]);
    assert!(
        e.starts_with("parse error at (bad/templates/cm.yaml:1)"),
        "{e}"
    );
}

#[test]
fn recursive_include_is_stopped() {
    let e = err(&[
        ("Chart.yaml", CHART),
        (
            "templates/_h.tpl",
            "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}",
        ),
        ("templates/cm.yaml", "x: {{ include \"loop\" . }}\n"),
    ]);
    assert!(e.contains("bad/templates"), "{e}");
}

#[test]
fn rendered_yaml_that_does_not_parse_names_the_template() {
    let e = err(&[("Chart.yaml", CHART), ("templates/cm.yaml", "a: [b\n")]);
    assert!(
        e.contains("YAML parse error on bad/templates/cm.yaml"),
        "{e}"
    );
}

#[test]
fn schema_violations_name_the_chart() {
    let files = [
        ("Chart.yaml", CHART),
        ("values.yaml", "replicas: 1\n"),
        (
            "values.schema.json",
            r#"{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}, "required": ["replicas"]}"#,
        ),
        ("templates/cm.yaml", "r: {{ .Values.replicas }}\n"),
    ];
    // Valid values (a YAML number is a float64 in Helm; 1.0 is an integer for JSON Schema).
    assert!(render(&files, &UserValues::default(), &opts()).is_ok());
    let mut v = UserValues::default();
    v.set("replicas=0").expect("set");
    let e = render(&files, &v, &opts()).expect_err("schema").to_string();
    assert!(
        e.contains("values don't meet the specifications") && e.contains("bad:"),
        "{e}"
    );
    let mut skip = opts();
    skip.skip_schema_validation = true;
    assert!(render(&files, &v, &skip).is_ok());
    let bad_schema = [("Chart.yaml", CHART), ("values.schema.json", "{not json")];
    let e = render(&bad_schema, &UserValues::default(), &opts())
        .expect_err("bad schema")
        .to_string();
    assert!(
        e.contains("bad: values.schema.json is not valid JSON"),
        "{e}"
    );
}

#[test]
fn bad_user_values() {
    let mut v = UserValues::default();
    let e = v
        .add_file("prod.yaml", "a: [1\n")
        .expect_err("bad yaml")
        .to_string();
    assert!(e.contains("failed to parse prod.yaml"), "{e}");
    let e = v.set("novalue").expect_err("bad set").to_string();
    assert!(e.contains("--set") && e.contains("has no value"), "{e}");
    let e = v.set_string("a[x]=1").expect_err("bad index").to_string();
    assert!(e.contains("--set-string"), "{e}");
}

#[test]
fn kube_version_and_dependencies_and_type() {
    let e = err(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: bad\nversion: 0.1.0\nkubeVersion: \">=1.99.0\"\n",
    )]);
    assert_eq!(
        e,
        "chart requires kubeVersion: >=1.99.0 which is incompatible with Kubernetes v1.20.0"
    );
    let e = err(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: bad\nversion: 0.1.0\ndependencies:\n  - name: absent\n    version: 1.0.0\n    repository: https://example.com\n",
    )]);
    assert!(e.contains("missing in charts/ directory: absent"), "{e}");
    let e = err(&[(
        "Chart.yaml",
        "apiVersion: v2\nname: bad\nversion: 0.1.0\ntype: library\n",
    )]);
    assert!(e.contains("library charts are not installable"), "{e}");
    let e = render(
        &[("Chart.yaml", CHART)],
        &UserValues::default(),
        &TemplateOptions {
            release_name: "Bad_Name".into(),
            ..Default::default()
        },
    )
    .expect_err("bad name")
    .to_string();
    assert!(e.contains("release name \"Bad_Name\""), "{e}");
    let e = render(
        &[("Chart.yaml", CHART)],
        &UserValues::default(),
        &TemplateOptions {
            release_name: "ok".into(),
            kube_version: Some("banana".into()),
            ..Default::default()
        },
    )
    .expect_err("bad kube version")
    .to_string();
    assert!(e.contains("invalid kube version \"banana\""), "{e}");
}

#[test]
fn subchart_key_holding_a_scalar() {
    let e = err(&[
        ("Chart.yaml", CHART),
        ("values.yaml", "sub: 3\n"),
        (
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
        ),
    ]);
    assert!(e.contains("type mismatch on sub"), "{e}");
}
