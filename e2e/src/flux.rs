//! The GitOps pair a kustomize-controller test needs: source-controller (with its own artifact
//! storage and server) and kustomize-controller, both watching only the objects labelled with
//! one test's namespace, so tests run in parallel without seeing each other's objects.

use crate::{ControllerProcess, TestEnv, TestNamespace};

/// The label that scopes a test's Flux objects to its controllers (`--watch-label-selector`).
pub const SELECTOR_LABEL: &str = "driftless-e2e-test";

/// Both controllers of one test; they stop, and the storage is removed, when this is dropped.
pub struct FluxControllers {
    pub source: ControllerProcess,
    pub kustomize: ControllerProcess,
    _storage: tempfile::TempDir,
}

impl FluxControllers {
    /// Starts source-controller and kustomize-controller for `ns`; `kustomize_args` are added
    /// to kustomize-controller's flags (e.g. `--requeue-dependency=2s`).
    pub fn start(
        env: &TestEnv,
        ns: &TestNamespace,
        kustomize_args: &[&str],
    ) -> anyhow::Result<FluxControllers> {
        let storage = tempfile::tempdir()?;
        let addr = format!("127.0.0.1:{}", free_port()?);
        let selector = selector_flag(ns);
        let source = ControllerProcess::start(
            env,
            "source-controller",
            &[
                "--metrics-addr=0",
                "--health-addr=0",
                &format!("--storage-path={}", storage.path().display()),
                &format!("--storage-addr={addr}"),
                &format!("--storage-adv-addr={addr}"),
                &selector,
            ],
            &format!("{}-source", ns.name()),
        )?;
        let mut args = vec!["--metrics-addr=0", "--health-addr=0", selector.as_str()];
        args.extend_from_slice(kustomize_args);
        let kustomize = ControllerProcess::start(
            env,
            "kustomize-controller",
            &args,
            &format!("{}-kustomize", ns.name()),
        )?;
        Ok(FluxControllers {
            source,
            kustomize,
            _storage: storage,
        })
    }
}

/// `--watch-label-selector` restricting a controller to the objects of `ns`'s test.
pub fn selector_flag(ns: &TestNamespace) -> String {
    format!("--watch-label-selector={SELECTOR_LABEL}={}", ns.name())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
