//! Errors: each names the file or kustomization it came from, so a user can fix the input.

use std::path::PathBuf;

/// Everything that can go wrong while building a kustomization.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid YAML: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("invalid Kustomization {path}: {message}")]
    Kustomization { path: PathBuf, message: String },
    #[error(
        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{dir}'"
    )]
    NoKustomization { dir: PathBuf },
    #[error(
        "accumulating resources: '{path}' must be a file or a directory with a kustomization: {reason}"
    )]
    MissingResource { path: PathBuf, reason: String },
    #[error("security; file '{path}' is not in or below '{root}'")]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("cycle detected: '{dir}' includes itself through its bases or components")]
    Cycle { dir: PathBuf },
    #[error("remote resource '{url}' refused: remote bases are disabled")]
    RemoteRefused { url: String },
    #[error("remote resource '{url}': fetching remote bases is not supported by this build")]
    RemoteUnsupported { url: String },
    #[error("remote resource '{url}': {message}")]
    RemoteInvalid { url: String, message: String },
    #[error(
        "remote file '{url}' refused: only git remote bases are fetched; add the file to the \
         source, or name its repository as a base (https://host/org/repo//dir?ref=v1)"
    )]
    RemoteFileUnsupported { url: String },
    #[error("fetching remote base '{url}': {message}")]
    RemoteFetch { url: String, message: String },
    #[error("{context}: may not add resource with an already registered id: {id}")]
    DuplicateId { context: String, id: String },
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
}

impl Error {
    pub(crate) fn invalid(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            context: context.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
