//! What the library offers beyond `helm template`'s text: NOTES, hooks with their metadata,
//! CRDs, the `lookup` hook for the controller, and release records of a rendered release.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use driftless_helm::release::{self, Info, Release};
use driftless_helm::{TemplateOptions, UserValues, load, template};

fn charts() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charts"))
}

fn opts() -> TemplateOptions {
    TemplateOptions {
        release_name: "lib".into(),
        ..Default::default()
    }
}

#[test]
fn notes_are_rendered_for_the_root_chart_only() {
    let chart = load(&charts().join("notes/chart")).expect("load");
    let r = template(chart, &UserValues::default(), &opts()).expect("render");
    assert_eq!(r.notes, "Thanks for installing notes.\nService: web\n");
    assert!(!r.helm_template_output().contains("NOTES"));
}

#[test]
fn hooks_carry_events_weights_and_delete_policies() {
    let chart = load(&charts().join("hooks/chart")).expect("load");
    let r = template(chart, &UserValues::default(), &opts()).expect("render");
    let job = r.hooks.iter().find(|h| h.kind == "Job").expect("job hook");
    assert_eq!(job.name, "lib-migrate");
    assert_eq!(job.events, vec!["pre-install", "pre-upgrade"]);
    assert_eq!(job.weight, -5);
    assert_eq!(
        job.delete_policies,
        vec!["before-hook-creation", "hook-succeeded"]
    );
    assert!(r.hooks.iter().any(|h| h.events == vec!["test"]));
    // The unknown hook is dropped, as Helm does; plain documents stay manifests.
    assert!(!r.hooks.iter().any(|h| h.name == "unknown-hook"));
    assert!(!r.manifests.iter().any(|m| m.name == "unknown-hook"));
    let kinds: Vec<&str> = r.manifests.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, vec!["ServiceAccount", "Service"]);
}

#[test]
fn crds_only_when_asked() {
    let chart = load(&charts().join("crds/chart")).expect("load");
    let r = template(chart.clone(), &UserValues::default(), &opts()).expect("render");
    assert!(r.crds.is_empty());
    let mut o = opts();
    o.include_crds = true;
    let r = template(chart, &UserValues::default(), &o).expect("render");
    let paths: Vec<&str> = r.crds.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "crds/crds/gadget.yml",
            "crds/crds/widget.yaml",
            "crds/charts/sub/crds/thing.yaml"
        ]
    );
}

#[test]
fn lookup_asks_the_callback() {
    let chart = load(&charts().join("lookup-and-required/chart")).expect("load");
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mut o = opts();
    o.namespace = "apps".into();
    o.lookup = Some(Arc::new(
        move |api: &str, kind: &str, ns: &str, name: &str| {
            seen.fetch_add(1, Ordering::SeqCst);
            if (api, kind, ns, name) == ("v1", "Secret", "apps", "creds") {
                Ok(serde_json::json!({"metadata": {"name": "creds"}}))
            } else {
                Ok(serde_json::json!({}))
            }
        },
    ));
    let r = template(chart, &UserValues::default(), &o).expect("render");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let secret = &r.manifests[0].content;
    assert!(secret.contains("password: existing"), "{secret}");
}

#[test]
fn a_rendered_release_round_trips_through_its_secret() {
    let chart = load(&charts().join("basic-configmap/chart")).expect("load");
    let mut values = UserValues::default();
    values.set("greeting=hey").expect("set");
    let r = template(chart, &values, &opts()).expect("render");
    let rel = Release {
        name: "lib".into(),
        namespace: "default".into(),
        version: 1,
        info: Some(Info {
            status: "deployed".into(),
            notes: r.notes.clone(),
            ..Default::default()
        }),
        config: values.0.clone(),
        manifest: r.manifest(),
        ..Default::default()
    };
    let secret = release::to_secret(&rel, "default").expect("encode");
    let back = release::from_secret(&secret).expect("decode");
    assert_eq!(back, rel);
    assert!(back.manifest.contains("greeting: \"hey\""));
}

/// A release Secret written by Helm v3.19.0's own Secret driver (made once by the Go program
/// in `tests/fixtures/relgen/`): we must read what `helm` stores.
#[test]
fn reads_a_release_secret_written_by_helm() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/helm-v3.19.0-release-secret.json"
    ))
    .expect("fixture");
    let secret: serde_json::Value = serde_json::from_str(&text).expect("json");
    let rel = release::from_secret(&secret).expect("decode");
    assert_eq!(
        (rel.name.as_str(), rel.version, rel.namespace.as_str()),
        ("web", 2, "apps")
    );
    let info = rel.info.as_ref().expect("info");
    assert_eq!(info.status, "deployed");
    assert_eq!(info.notes, "hello");
    assert_eq!(info.first_deployed, "2024-05-01T10:00:00.123456789Z");
    assert_eq!(rel.config["replicas"], serde_json::json!(2));
    assert_eq!(rel.hooks[0]["name"], "migrate");
    assert_eq!(
        rel.chart.as_ref().expect("chart")["metadata"]["name"],
        "web"
    );
    assert_eq!(rel.labels.get("team").map(String::as_str), Some("a"));
    assert!(rel.manifest.contains("kind: ConfigMap"));
    // Written back, it decodes to the same record.
    let again =
        release::from_secret(&release::to_secret(&rel, "apps").expect("encode")).expect("decode");
    assert_eq!(again, rel);
}
