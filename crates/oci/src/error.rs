//! One error type whose variants say what the user should fix, each mapped to Flux's reason.

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// Everything that can go wrong talking to a registry. Messages never carry credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository URL cannot be parsed.
    #[error("invalid repository URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A docker config (a `kubernetes.io/dockerconfigjson` Secret) is unusable.
    #[error("invalid docker config: {0}")]
    InvalidDockerConfig(String),
    /// The TLS material (a Secret's `ca.crt`, `tls.crt`, `tls.key`) is unusable or unsupported.
    #[error("invalid TLS configuration: {0}")]
    InvalidTls(String),
    /// The proxy address is unusable.
    #[error("invalid proxy configuration: {0}")]
    InvalidProxy(String),
    /// The registry refused the credentials (or anonymous access).
    #[error(
        "authentication to {registry} failed: {detail}; check the credentials of the Secret \
         (or give one if the repository is private)"
    )]
    Auth {
        /// `host[:port]`.
        registry: String,
        /// What the registry said.
        detail: String,
    },
    /// The repository, tag, manifest or blob does not exist.
    #[error("{what} not found in {repository}: {detail}")]
    NotFound {
        /// `host[:port]/path`.
        repository: String,
        /// e.g. `tag "v1.2.3"`.
        what: String,
        /// What the registry said.
        detail: String,
    },
    /// The registry could not be reached, or the connection broke or timed out.
    #[error("registry {registry} unreachable or the transfer failed: {detail}")]
    Network {
        /// `host[:port]`.
        registry: String,
        /// The error chain.
        detail: String,
    },
    /// The registry answered with an error that is none of the above.
    #[error("registry error from {registry}: {detail}")]
    Registry {
        /// `host[:port]`.
        registry: String,
        /// What the registry said.
        detail: String,
    },
    /// A manifest of a kind we cannot use, or not valid JSON.
    #[error("unsupported or invalid manifest for {reference}: {detail}")]
    InvalidManifest {
        /// `host[:port]/path:tag` or `@digest`.
        reference: String,
        /// What is wrong with it.
        detail: String,
    },
    /// No layer of the manifest has the media type `layerSelector` asks for.
    #[error(
        "no layer with media type {media_type:?} in the artifact (its layers: {available:?}); \
         fix spec.layerSelector.mediaType"
    )]
    LayerNotFound {
        /// The media type asked for.
        media_type: String,
        /// The media types the manifest has.
        available: Vec<String>,
    },
    /// A blob is bigger than the caller allows.
    #[error("blob {digest} is larger than the limit of {limit} bytes ({size})")]
    TooLarge {
        /// The blob's digest.
        digest: String,
        /// What the manifest or the transfer says, e.g. `42000000 bytes announced`.
        size: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The content does not hash to its digest.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest announced.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// A local file could not be written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Flux's `AuthenticationFailed` reason.
pub const REASON_AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
/// Flux's `OCIArtifactPullFailed` reason (`OCIPullFailedReason`).
pub const REASON_PULL_FAILED: &str = "OCIArtifactPullFailed";
/// Flux's `OCIArtifactLayerOperationFailed` reason (`OCILayerOperationFailedReason`).
pub const REASON_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
/// Flux's `URLInvalid` reason.
pub const REASON_URL_INVALID: &str = "URLInvalid";

impl Error {
    /// The reason Flux's source-controller gives an OCIRepository condition for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => REASON_URL_INVALID,
            Self::InvalidDockerConfig(_)
            | Self::InvalidTls(_)
            | Self::InvalidProxy(_)
            | Self::Auth { .. } => REASON_AUTHENTICATION_FAILED,
            Self::LayerNotFound { .. } | Self::TooLarge { .. } | Self::Io { .. } => {
                REASON_LAYER_OPERATION_FAILED
            }
            Self::NotFound { .. }
            | Self::Network { .. }
            | Self::Registry { .. }
            | Self::InvalidManifest { .. }
            | Self::DigestMismatch { .. } => REASON_PULL_FAILED,
        }
    }

    /// Sorts an oci-client error into ours; `what` names the object asked for (for NotFound).
    pub(crate) fn from_client(
        err: OciDistributionError,
        registry: &str,
        repository: &str,
        what: &str,
    ) -> Self {
        let auth = |detail: String| Self::Auth {
            registry: registry.to_owned(),
            detail,
        };
        let not_found = |detail: String| Self::NotFound {
            repository: repository.to_owned(),
            what: what.to_owned(),
            detail,
        };
        let other = |detail: String| Self::Registry {
            registry: registry.to_owned(),
            detail,
        };
        match err {
            OciDistributionError::UnauthorizedError { .. } => {
                auth("the registry answered 401 Unauthorized".to_owned())
            }
            OciDistributionError::AuthenticationFailure(detail) => auth(detail),
            OciDistributionError::RegistryError { envelope, .. } => {
                let detail = envelope
                    .errors
                    .iter()
                    .map(|e| format!("{:?}: {}", e.code, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                if codes
                    .iter()
                    .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
                {
                    auth(detail)
                } else if codes.iter().any(|c| {
                    matches!(
                        c,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NotFound
                    )
                }) {
                    not_found(detail)
                } else {
                    other(detail)
                }
            }
            OciDistributionError::ServerError { code, message, .. } => {
                let detail = format!("HTTP {code}: {}", message.trim());
                match code {
                    401 | 403 => auth(detail),
                    407 => Self::InvalidProxy(format!(
                        "the proxy refused the request ({detail}); check username and password \
                         in the proxy Secret"
                    )),
                    404 => not_found(detail),
                    _ => other(detail),
                }
            }
            OciDistributionError::ImageManifestNotFoundError(detail) => not_found(detail),
            OciDistributionError::RequestError(e) => {
                let mut detail = error_chain(&e);
                if detail.contains("certificate") {
                    detail.push_str(
                        "; if the registry uses a private CA, give it as ca.crt in the Secret \
                         of spec.certSecretRef",
                    );
                }
                Self::Network {
                    registry: registry.to_owned(),
                    detail,
                }
            }
            OciDistributionError::IoError(e) => Self::Network {
                registry: registry.to_owned(),
                detail: error_chain(&e),
            },
            OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) => Self::DigestMismatch {
                what: what.to_owned(),
                expected,
                actual,
            },
            other_err => other(other_err.to_string()),
        }
    }
}

/// `a: b: c` from an error and its sources (reqwest hides the useful part in the sources).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
