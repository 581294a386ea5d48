//! Remote bases through the build's fetch hook: the engine parses the entry, asks the fetcher
//! for a checkout and builds the named directory in it, confined to that checkout. The fetcher
//! here hands out local directories (the real one, on the git layer, is tested end to end in
//! e2e/tests/kustomize_controller_remote_base.rs).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use driftless_kustomize::{BuildOptions, Error, RemoteBase, RemoteFetcher, build};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = root.join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("create dirs");
        fs::write(p, text).expect("write file");
    }
}

/// Serves "repositories" from directories under `repos`, named by the clone URL's last
/// segment, and records what it was asked for.
#[derive(Debug)]
struct Dirs {
    repos: PathBuf,
    asked: Mutex<Vec<RemoteBase>>,
}

impl RemoteFetcher for Dirs {
    fn fetch_git(&self, base: &RemoteBase) -> Result<PathBuf, String> {
        self.asked.lock().expect("lock").push(base.clone());
        let name = base.repo_url.rsplit('/').next().unwrap_or_default();
        let dir = self.repos.join(name.trim_end_matches(".git"));
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(format!("repository {} not found", base.repo_url))
        }
    }
}

struct Fixture {
    tmp: tempfile::TempDir,
    fetcher: Arc<Dirs>,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        write(tmp.path(), files);
        let fetcher = Arc::new(Dirs {
            repos: tmp.path().join("repos"),
            asked: Mutex::default(),
        });
        Fixture { tmp, fetcher }
    }

    fn options(&self) -> BuildOptions {
        BuildOptions {
            allow_remote_bases: true,
            remote: Some(self.fetcher.clone()),
            confine_to: Some(self.tmp.path().join("artifact")),
            root_kustomization: None,
        }
    }

    fn build(&self, options: &BuildOptions) -> Result<Vec<String>, Error> {
        let built = build(&self.tmp.path().join("artifact/app"), options)?;
        Ok(built
            .iter()
            .map(|r| format!("{}/{}", r.kind(), r.name()))
            .collect())
    }
}

const BASE: &[(&str, &str)] = &[
    (
        "repos/shared/deploy/kustomization.yaml",
        "resources: [cm.yaml, ../common]\nnamePrefix: base-\n",
    ),
    (
        "repos/shared/deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    ),
    (
        "repos/shared/common/kustomization.yaml",
        "resources: [sa.yaml]\n",
    ),
    (
        "repos/shared/common/sa.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n",
    ),
];

fn with_app(app: &str) -> Vec<(&str, &str)> {
    let mut files = BASE.to_vec();
    files.push(("artifact/app/kustomization.yaml", app));
    files
}

#[test]
fn a_remote_base_is_built_like_a_local_one_under_the_overlay() {
    let f = Fixture::new(&with_app(
        "resources:\n- https://git.example.com/org/shared.git//deploy?ref=v1\nnamespace: apps\n",
    ));
    let built = f.build(&f.options()).expect("builds");
    assert_eq!(built, ["ServiceAccount/base-sa", "ConfigMap/base-cm"]);
    let asked = f.fetcher.asked.lock().expect("lock");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].repo_url, "https://git.example.com/org/shared.git");
    assert_eq!(asked[0].path, "deploy");
    assert_eq!(asked[0].reference.as_deref(), Some("v1"));
}

#[test]
fn a_remote_component_works_on_the_parent() {
    let mut files = with_app(
        "resources: [cm.yaml]\ncomponents:\n- https://git.example.com/org/shared//label\n",
    );
    files.push((
        "artifact/app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n",
    ));
    files.push((
        "repos/shared/label/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnameSuffix: -c\n",
    ));
    let f = Fixture::new(&files);
    assert_eq!(
        f.build(&f.options()).expect("builds"),
        ["ConfigMap/local-c"]
    );
}

#[test]
fn a_remote_base_may_not_leave_its_checkout() {
    let mut files = with_app("resources:\n- https://git.example.com/org/escape//app\n");
    files.push((
        "repos/escape/app/kustomization.yaml",
        "resources: [../../shared/common]\n",
    ));
    let f = Fixture::new(&files);
    let err = f.build(&f.options()).expect_err("outside the checkout");
    assert!(matches!(err, Error::OutsideRoot { .. }), "{err:?}");
}

#[test]
fn refusals_and_failures_name_the_entry() {
    let url = "https://git.example.com/org/shared//deploy";
    let f = Fixture::new(&with_app(&format!("resources:\n- {url}\n")));

    let off = BuildOptions {
        allow_remote_bases: false,
        ..f.options()
    };
    let err = f.build(&off).expect_err("disabled");
    assert!(matches!(err, Error::RemoteRefused { .. }), "{err:?}");
    assert!(
        f.fetcher.asked.lock().expect("lock").is_empty(),
        "nothing fetched"
    );

    let no_fetcher = BuildOptions {
        remote: None,
        ..f.options()
    };
    let err = f.build(&no_fetcher).expect_err("no fetcher");
    assert!(matches!(err, Error::RemoteUnsupported { .. }), "{err:?}");

    for (entry, check) in [
        (
            "https://raw.example.com/org/repo/main/cm.yaml",
            (|e: &Error| matches!(e, Error::RemoteFileUnsupported { .. })) as fn(&Error) -> bool,
        ),
        (
            "https://git.example.com/org/missing//deploy",
            |e| matches!(e, Error::RemoteFetch { message, .. } if message.contains("not found")),
        ),
        (
            "https://git.example.com/org/shared//nowhere",
            |e| matches!(e, Error::RemoteFetch { message, .. } if message.contains("no directory")),
        ),
        (
            "https://git.example.com/org/shared//deploy/cm.yaml",
            |e| matches!(e, Error::RemoteFetch { message, .. } if message.contains("no kustomization")),
        ),
        (
            "https://git.example.com/org/shared//deploy?timeout=never",
            |e| matches!(e, Error::RemoteInvalid { .. }),
        ),
    ] {
        let f = Fixture::new(&with_app(&format!("resources:\n- {entry}\n")));
        let err = f.build(&f.options()).expect_err(entry);
        assert!(check(&err), "{entry}: {err:?}");
        assert!(
            err.to_string()
                .contains(entry.split('?').next().unwrap_or(entry)),
            "{err}"
        );
    }
}

#[test]
fn origin_annotations_name_the_repository_not_the_checkout() {
    // The annotations `kubectl kustomize` (v5.5) writes for the same tree cloned from a
    // file:// URL: path in the repository, repo, ref; repo and ref before configuredIn.
    let mut files = with_app(
        "resources:\n- https://bot:t0ken@git.example.com/org/shared.git//deploy?ref=v1\n\
         - https://git.example.com/org/gen//app\nbuildMetadata: [originAnnotations]\n",
    );
    files.push((
        "repos/gen/app/kustomization.yaml",
        "configMapGenerator:\n- name: gen\n  literals: [a=b]\n",
    ));
    let f = Fixture::new(&files);
    let built = build(&f.tmp.path().join("artifact/app"), &f.options()).expect("builds");
    let origins: Vec<_> = built
        .iter()
        .map(|r| {
            r.object()
                .get_str(&["metadata", "annotations", "config.kubernetes.io/origin"])
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let remote = "repo: https://bot:***@git.example.com/org/shared.git\nref: v1\n";
    assert_eq!(
        origins,
        [
            format!("path: common/sa.yaml\n{remote}"),
            format!("path: deploy/cm.yaml\n{remote}"),
            "repo: https://git.example.com/org/gen\nconfiguredIn: app/kustomization.yaml\n\
             configuredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n"
                .to_owned(),
        ]
    );
}
