//! The kustomize engine (work in progress).
#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    pub allow_remote_bases: bool,
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);
#[derive(Debug, Clone)]
pub struct Resource;
pub fn build(_dir: &std::path::Path, _o: &BuildOptions) -> Result<Vec<Resource>, Error> {
    Err(Error("not yet".into()))
}
pub fn to_yaml_stream(_r: &[Resource]) -> String {
    String::new()
}
