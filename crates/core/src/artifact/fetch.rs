//! Download of an artifact over HTTP with retries, digest verification and safe unpacking.
//!
//! A Kustomization reads `status.artifact.url` and `.digest` from its source
//! and calls [`fetch_and_unpack`]. The body is hashed while it streams to an anonymous
//! temporary file; only when the digest matches is it unpacked, so a truncated, tampered or
//! replaced artifact is never used.

use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

use super::digest::{Digest, DigestHasher};
use super::unpack::{Limits, UnpackError, Unpacked, unpack};

/// How hard to try and how much to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// Attempts in total, the first included. Connection errors, timeouts, 408, 429 and 5xx
    /// responses are retried; other statuses, digest mismatches and oversized bodies are not
    /// (retrying cannot fix them; the reconciler requeues instead).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled after each failure.
    pub initial_backoff: Duration,
    /// Upper bound on the wait between attempts.
    pub max_backoff: Duration,
    /// Largest compressed body accepted, in bytes.
    pub max_download_bytes: u64,
    /// Bounds on the unpacked tree.
    pub limits: Limits,
}

impl Default for FetchOptions {
    /// 5 attempts, 500 ms doubling up to 10 s, 512 MiB compressed, default unpack limits.
    fn default() -> Self {
        FetchOptions {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_download_bytes: 512 << 20,
            limits: Limits::default(),
        }
    }
}

/// A verified, unpacked artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// Digest of the downloaded archive (equal to the expected one).
    pub digest: Digest,
    /// Size of the downloaded archive in bytes.
    pub size: u64,
    /// Attempts it took.
    pub attempts: u32,
    /// What was unpacked.
    pub unpacked: Unpacked,
}

/// Why an artifact could not be fetched. Each variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed (connection, timeout, body read) on every attempt.
    #[error("fetching artifact {url} failed after {attempts} attempt(s): {source}")]
    Request {
        /// The artifact URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("fetching artifact {url} failed after {attempts} attempt(s): HTTP {status}")]
    Status {
        /// The artifact URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last status.
        status: StatusCode,
    },
    /// The body is larger than [`FetchOptions::max_download_bytes`].
    #[error("artifact {url} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The artifact URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The body does not have the digest the source published.
    #[error("artifact {url} has digest {actual}, expected {expected}")]
    DigestMismatch {
        /// The artifact URL.
        url: String,
        /// The digest from the source's status.
        expected: Digest,
        /// The digest of what was downloaded.
        actual: Digest,
    },
    /// The verified archive was refused or could not be written.
    #[error("unpacking artifact {url} into {dest}: {source}")]
    Unpack {
        /// The artifact URL.
        url: String,
        /// The destination directory.
        dest: PathBuf,
        /// Why.
        source: UnpackError,
    },
    /// The temporary download file could not be written.
    #[error("buffering artifact {url}: {source}")]
    Io {
        /// The artifact URL.
        url: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A downloaded file whose digest matched.
#[derive(Debug)]
pub struct Verified {
    /// The body, in an anonymous temporary file (deleted when dropped), positioned at the start.
    pub file: std::fs::File,
    /// Its digest (equal to the expected one).
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Attempts it took.
    pub attempts: u32,
}

/// Downloads `url` and verifies it has digest `expected`, without unpacking: for consumers that
/// read the archive themselves (a Helm chart package, for instance).
///
/// Transient failures are retried with exponential backoff up to `options.max_attempts`; the
/// body is limited to `options.max_download_bytes`. Request timeouts are the client's: build it
/// with `reqwest::ClientBuilder::timeout` so a stalled server cannot hold a reconcile forever.
pub async fn fetch_verified(
    client: &reqwest::Client,
    url: &str,
    expected: &Digest,
    options: &FetchOptions,
) -> Result<Verified, FetchError> {
    let max_attempts = options.max_attempts.max(1);
    let mut backoff = options.initial_backoff;
    let mut attempt = 0;
    let (mut file, actual, size) = loop {
        attempt += 1;
        match download(client, url, options.max_download_bytes).await {
            Ok(done) => break done,
            Err(failure) => {
                if !failure.retryable || attempt >= max_attempts {
                    return Err(failure.into_error(url, attempt));
                }
                tracing::debug!(url, attempt, error = %failure.describe(), "artifact download failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(options.max_backoff);
            }
        }
    };
    if actual != *expected {
        return Err(FetchError::DigestMismatch {
            url: url.to_string(),
            expected: *expected,
            actual,
        });
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|source| FetchError::Io {
            url: url.to_string(),
            source,
        })?;
    Ok(Verified {
        file,
        digest: actual,
        size,
        attempts: attempt,
    })
}

/// Downloads `url`, verifies it has digest `expected`, and unpacks it into `dest` (which must
/// be missing or empty; see [`unpack`](super::unpack)). See [`fetch_verified`] for retries.
pub async fn fetch_and_unpack(
    client: &reqwest::Client,
    url: &str,
    expected: &Digest,
    dest: &Path,
    options: &FetchOptions,
) -> Result<Fetched, FetchError> {
    let verified = fetch_verified(client, url, expected, options).await?;
    let file = verified.file;
    let dest_owned = dest.to_path_buf();
    let limits = options.limits;
    let unpacked = tokio::task::spawn_blocking(move || {
        unpack(std::io::BufReader::new(file), &dest_owned, &limits)
    })
    .await
    .map_err(|join| FetchError::Io {
        url: url.to_string(),
        source: std::io::Error::other(join),
    })?
    .map_err(|source| FetchError::Unpack {
        url: url.to_string(),
        dest: dest.to_path_buf(),
        source,
    })?;
    Ok(Fetched {
        digest: verified.digest,
        size: verified.size,
        attempts: verified.attempts,
        unpacked,
    })
}

/// One failed attempt, and whether another could succeed.
struct Failure {
    retryable: bool,
    kind: FailureKind,
}

enum FailureKind {
    Request(reqwest::Error),
    Status(StatusCode),
    TooLarge(u64),
    Io(std::io::Error),
}

impl Failure {
    fn describe(&self) -> String {
        match &self.kind {
            FailureKind::Request(e) => e.to_string(),
            FailureKind::Status(s) => format!("HTTP {s}"),
            FailureKind::TooLarge(limit) => format!("larger than {limit} bytes"),
            FailureKind::Io(e) => e.to_string(),
        }
    }

    fn into_error(self, url: &str, attempts: u32) -> FetchError {
        let url = url.to_string();
        match self.kind {
            FailureKind::Request(source) => FetchError::Request {
                url,
                attempts,
                source,
            },
            FailureKind::Status(status) => FetchError::Status {
                url,
                attempts,
                status,
            },
            FailureKind::TooLarge(limit) => FetchError::TooLarge { url, limit },
            FailureKind::Io(source) => FetchError::Io { url, source },
        }
    }
}

/// One attempt: stream the body into an anonymous temp file, hashing as it goes.
async fn download(
    client: &reqwest::Client,
    url: &str,
    max_bytes: u64,
) -> Result<(std::fs::File, Digest, u64), Failure> {
    let transient = |e: reqwest::Error| Failure {
        retryable: true,
        kind: FailureKind::Request(e),
    };
    let mut response = client.get(url).send().await.map_err(transient)?;
    let status = response.status();
    if !status.is_success() {
        let retryable = status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT;
        return Err(Failure {
            retryable,
            kind: FailureKind::Status(status),
        });
    }
    let too_large = Failure {
        retryable: false,
        kind: FailureKind::TooLarge(max_bytes),
    };
    if response.content_length().is_some_and(|len| len > max_bytes) {
        return Err(too_large);
    }
    let io_failure = |e| Failure {
        retryable: false,
        kind: FailureKind::Io(e),
    };
    let std_file = tempfile::tempfile().map_err(io_failure)?;
    let mut file = tokio::fs::File::from_std(std_file);
    let mut hasher = DigestHasher::new();
    let mut size: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(transient)? {
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(too_large);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io_failure)?;
    }
    file.flush().await.map_err(io_failure)?;
    let std_file = file.into_std().await;
    Ok((std_file, hasher.finish(), size))
}
