//! `cargo xtask bench kustomize`: whole-process wall time and peak RSS of
//! `driftless kustomize build` (release build) against `kubectl kustomize`, on every
//! conformance tree and on a generated large tree (2,000 resources, three overlay levels,
//! generators and patches). One run each; figures printed as ratios.
//!
//! Peak RSS comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`); wall time
//! is measured around the process here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use super::{driftless_release_binary, measure, target_dir};

/// `argv` followed by the tree to build.
fn with_dir(argv: &[&str], dir: &Path) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string())
        .chain([dir.display().to_string()])
        .collect()
}

fn conformance_dirs() -> anyhow::Result<Vec<PathBuf>> {
    let root = crate::cache::repo_root().join("crates/kustomize/tests/conformance");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root)? {
        let case = entry?.path();
        if !case.join("input").is_dir() {
            continue;
        }
        let mut dir = case.join("input");
        if let Ok(sub) = std::fs::read_to_string(case.join("BUILD")) {
            dir = dir.join(sub.trim());
        }
        out.push(dir);
    }
    out.sort();
    Ok(out)
}

pub fn run() -> anyhow::Result<()> {
    let ours_bin = driftless_release_binary()?.display().to_string();
    let ours: [&str; 3] = [&ours_bin, "kustomize", "build"];
    let theirs: [&str; 2] = ["kubectl", "kustomize"];

    let dirs = conformance_dirs()?;
    let (mut ours_wall, mut theirs_wall) = (Duration::ZERO, Duration::ZERO);
    let (mut ours_rss, mut theirs_rss) = (0u64, 0u64);
    for dir in &dirs {
        let a = measure(&with_dir(&ours, dir), dir)?;
        let b = measure(&with_dir(&theirs, dir), dir)?;
        ours_wall += a.wall;
        theirs_wall += b.wall;
        ours_rss = ours_rss.max(a.rss_kb);
        theirs_rss = theirs_rss.max(b.rss_kb);
    }

    let large = target_dir().join("bench-kustomize-large");
    let top = generate_large_tree(&large)?;
    let a = measure(&with_dir(&ours, &top), &top)?;
    let b = measure(&with_dir(&theirs, &top), &top)?;
    let same = outputs_match(&ours, &theirs, &top)?;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "kustomize build: driftless (release) vs kubectl kustomize (kustomize v5.5.0), one run each"
    );
    println!(
        "conformance trees ({} builds): wall {:.0} ms vs {:.0} ms = {:.1}x faster; peak RSS (max) {:.1} MiB vs {:.1} MiB = {:.1}x less",
        dirs.len(),
        ms(ours_wall),
        ms(theirs_wall),
        ms(theirs_wall) / ms(ours_wall),
        mb(ours_rss),
        mb(theirs_rss),
        theirs_rss as f64 / ours_rss as f64
    );
    println!(
        "large tree (2,000 resources, 3 overlays): wall {:.0} ms vs {:.0} ms = {:.1}x faster; peak RSS {:.1} MiB vs {:.1} MiB = {:.1}x less; outputs identical: {same}",
        ms(a.wall),
        ms(b.wall),
        ms(b.wall) / ms(a.wall),
        mb(a.rss_kb),
        mb(b.rss_kb),
        b.rss_kb as f64 / a.rss_kb as f64
    );
    Ok(())
}

fn outputs_match(ours: &[&str], theirs: &[&str], dir: &Path) -> anyhow::Result<bool> {
    let run = |argv: &[&str]| -> anyhow::Result<Vec<u8>> {
        Ok(Command::new(argv[0])
            .args(&argv[1..])
            .arg(dir)
            .output()?
            .stdout)
    };
    Ok(run(ours)? == run(theirs)?)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes the synthetic tree and returns the directory to build (the top overlay).
///
/// base: 2,000 resources (700 Deployments, 700 Services, 600 ConfigMaps) in 20 files,
/// 40 ConfigMap and 10 Secret generators referenced by the Deployments;
/// l1: prefix, commonLabels, a strategic merge patch on every Deployment, a JSON patch by
/// label selector, generator merges; l2: namespace, images, annotations, regex-targeted patch;
/// l3: suffix, replicas, labels, secret generator replace.
fn generate_large_tree(root: &Path) -> anyhow::Result<PathBuf> {
    if root.exists() {
        std::fs::remove_dir_all(root)?;
    }
    let base = root.join("base");
    let mut files = Vec::new();
    let mut n = 0;
    for f in 0..20 {
        let mut text = String::new();
        for _ in 0..100 {
            let i = n;
            n += 1;
            if !text.is_empty() {
                text.push_str("---\n");
            }
            match i % 20 {
                0..=6 => {
                    let cm = i % 40;
                    let sec = i % 10;
                    let _ = write!(
                        text,
                        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels:\n    app: app-{i}\n    tier: {tier}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n      - name: main\n        image: nginx:1.25\n        ports:\n        - containerPort: 8080\n        env:\n        - name: MODE\n          valueFrom:\n            configMapKeyRef:\n              name: gen-{cm}\n              key: mode\n        envFrom:\n        - secretRef:\n            name: sec-{sec}\n        volumeMounts:\n        - name: cfg\n          mountPath: /etc/cfg\n      - name: sidecar\n        image: busybox:1.36\n        args: [sleep, infinity]\n      volumes:\n      - name: cfg\n        configMap:\n          name: cm-{i}\n",
                        tier = if i % 2 == 0 { "fe" } else { "be" }
                    );
                }
                7..=13 => {
                    let _ = write!(
                        text,
                        "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  selector:\n    app: app-{}\n  ports:\n  - port: 80\n    targetPort: 8080\n",
                        i - 7
                    );
                }
                _ => {
                    let _ = write!(
                        text,
                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{}\ndata:\n  key: value-{i}\n  other: |\n    line one\n    line two\n",
                        i - 14
                    );
                }
            }
        }
        let name = format!("res-{f:02}.yaml");
        write(&base.join(&name), &text)?;
        files.push(name);
    }
    let mut k = format!(
        "resources:\n{}",
        files.iter().map(|f| format!("- {f}\n")).collect::<String>()
    );
    k.push_str("configMapGenerator:\n");
    for g in 0..40 {
        let _ = write!(
            k,
            "- name: gen-{g}\n  literals:\n  - mode=base-{g}\n  - level=base\n"
        );
    }
    k.push_str("secretGenerator:\n");
    for s in 0..10 {
        let _ = write!(k, "- name: sec-{s}\n  literals:\n  - TOKEN=token-{s}\n");
    }
    write(&base.join("kustomization.yaml"), &k)?;

    let l1 = root.join("l1");
    let mut k = String::from(
        "resources: [../base]\nnamePrefix: l1-\ncommonLabels:\n  team: platform\npatches:\n- path: sidecar.yaml\n  target:\n    kind: Deployment\n- target:\n    labelSelector: tier=fe\n    kind: Deployment\n  patch: |\n    - op: add\n      path: /metadata/annotations\n      value: {frontend: \"true\"}\nconfigMapGenerator:\n",
    );
    for g in 0..10 {
        let _ = write!(
            k,
            "- name: gen-{g}\n  behavior: merge\n  literals:\n  - level=l1\n"
        );
    }
    write(&l1.join("kustomization.yaml"), &k)?;
    write(
        &l1.join("sidecar.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        env:\n        - name: LEVEL\n          value: l1\n        resources:\n          limits:\n            memory: 128Mi\n",
    )?;
    let l2 = root.join("l2");
    write(
        &l2.join("kustomization.yaml"),
        "resources: [../l1]\nnamespace: team\nimages:\n- name: nginx\n  newTag: \"1.27\"\n- name: busybox\n  newName: registry.example.com/busybox\ncommonAnnotations:\n  owner: sre\npatches:\n- target:\n    kind: Service\n    name: \".*-svc-1.*\"\n  patch: |\n    - op: replace\n      path: /spec/ports/0/port\n      value: 8080\n",
    )?;
    let l3 = root.join("l3");
    let mut k = String::from(
        "resources: [../l2]\nnameSuffix: -prod\nlabels:\n- pairs:\n    env: prod\n  includeTemplates: true\nsecretGenerator:\n- name: sec-0\n  behavior: replace\n  literals:\n  - TOKEN=prod\nreplicas:\n",
    );
    for i in (0..2000).filter(|i| i % 20 < 7).take(100) {
        let _ = write!(k, "- name: l1-app-{i}\n  count: 3\n");
    }
    write(&l3.join("kustomization.yaml"), &k)?;
    Ok(l3)
}
