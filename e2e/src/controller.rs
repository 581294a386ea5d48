//! [`ControllerProcess`]: a controller binary of this workspace running against the test
//! cluster as a child process, its log kept under `<target>/e2e-logs/`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

use crate::TestEnv;

/// A running controller, killed when dropped.
#[derive(Debug)]
pub struct ControllerProcess {
    child: Child,
    log: PathBuf,
}

impl ControllerProcess {
    /// Starts the workspace binary `binary` (e.g. `source-controller`) with `args`, with
    /// `KUBECONFIG` pointing at the test cluster's admin kubeconfig.
    ///
    /// `log_name` names the log file (`<target>/e2e-logs/<log_name>.log`); use the test's
    /// namespace so parallel tests keep separate logs. The binary is built with cargo when it
    /// is missing from the target directory of this test.
    pub fn start(
        env: &TestEnv,
        binary: &str,
        args: &[&str],
        log_name: &str,
    ) -> anyhow::Result<Self> {
        Self::start_with_env(env, binary, args, &[], log_name)
    }

    /// Like [`Self::start`], with environment variables `vars` set (e.g. `RUNTIME_NAMESPACE`,
    /// which a Flux Deployment sets from the pod's namespace).
    pub fn start_with_env(
        env: &TestEnv,
        binary: &str,
        args: &[&str],
        vars: &[(&str, &str)],
        log_name: &str,
    ) -> anyhow::Result<Self> {
        let profile_dir = profile_dir()?;
        let bin = profile_dir.join(binary);
        if !bin.is_file() {
            build(binary, &profile_dir)?;
        }
        Self::spawn(env, &bin, args, vars, log_name)
    }

    /// Like [`Self::start`], for the binary at `bin` (e.g. a release build that a benchmark
    /// measures); it is not built when missing. The log goes to `<bin>/../../e2e-logs/`.
    pub fn start_path(
        env: &TestEnv,
        bin: &Path,
        args: &[&str],
        log_name: &str,
    ) -> anyhow::Result<Self> {
        Self::spawn(env, bin, args, &[], log_name)
    }

    fn spawn(
        env: &TestEnv,
        bin: &Path,
        args: &[&str],
        vars: &[(&str, &str)],
        log_name: &str,
    ) -> anyhow::Result<Self> {
        let profile_dir = bin.parent().unwrap_or(Path::new("."));
        let logs = profile_dir.parent().unwrap_or(profile_dir).join("e2e-logs");
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let log = logs.join(format!("{log_name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("duplicating a log handle")?;
        let child = Command::new(bin)
            .args(args)
            .envs(vars.iter().copied())
            .env("KUBECONFIG", env.kubeconfig())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self { child, log })
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log so far (for assertions and failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to `timeout`) for the process to exit on its own; its exit status.
    pub fn wait_exit(
        &mut self,
        timeout: std::time::Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().context("checking the controller")? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                bail!("still running after {timeout:?}; log:\n{}", self.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Fails with the log's tail when the process has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait().context("checking the controller")? {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "the controller exited ({status}); last lines of {}:\n{}",
                self.log.display(),
                tail.join("\n")
            );
        }
        Ok(())
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `<target>/<profile>`: a test binary lives in `<target>/<profile>/deps/`.
fn profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test binary")?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .with_context(|| format!("{} is not in <target>/<profile>/deps", exe.display()))
}

fn build(binary: &str, profile_dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--bin", binary]);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let status = cmd
        .current_dir(crate::cache::repo_root())
        .status()
        .with_context(|| format!("running cargo build --bin {binary}"))?;
    if !status.success() {
        bail!("cargo build --bin {binary} failed ({status})");
    }
    Ok(())
}
