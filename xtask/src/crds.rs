//! `cargo xtask crds`: writes config/crd/bases from the API types (filled by the API work).

pub fn run(_check: bool) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask crds: not written yet")
}
