//! OpenPGP verification of the checked-out commit and/or tag against the armored public keys
//! in `spec.verify.secretRef`.
//!
//! Git signs the commit object without its `gpgsig` header (libgit2's `extract_signature`
//! returns exactly that text and the signature), and signs an annotated tag object up to the
//! `-----BEGIN PGP SIGNATURE-----` line that it appends to the message.

use std::path::Path;

use git2::{Oid, Repository};
use pgp::composed::{Deserializable as _, DetachedSignature, SignedPublicKey};

use super::GitError;
use driftless_core::conditions::reasons;

/// A verification failure with Flux's reason for it.
fn failed(reason: &'static str, message: impl Into<String>) -> GitError {
    GitError::Verification {
        reason,
        message: message.into(),
    }
}

/// The verification cannot run at all (keys, repository).
fn error(message: impl Into<String>) -> GitError {
    failed(reasons::VERIFICATION_ERROR, message)
}

const PGP_SIGNATURE_START: &[u8] = b"-----BEGIN PGP SIGNATURE-----";
const PUBLIC_KEY_BLOCK_START: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/// `spec.verify.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// The commit HEAD points at (`HEAD` or legacy `head`).
    Head,
    /// The annotated tag the ref names.
    Tag,
    /// Both.
    TagAndHead,
}

/// The trusted public keys of `spec.verify.secretRef`.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<SignedPublicKey>,
}

impl TrustedKeys {
    /// Parse every armored public key in a Secret's values (`<name>.asc` entries; any value
    /// that holds an armored public key block counts).
    pub fn parse(values: &[(String, Vec<u8>)]) -> Result<Self, GitError> {
        parse_keys(values).map(|keys| Self { keys })
    }
}

fn parse_keys(values: &[(String, Vec<u8>)]) -> Result<Vec<SignedPublicKey>, GitError> {
    let mut keys = Vec::new();
    for (name, value) in values {
        let text = String::from_utf8_lossy(value);
        // One value may hold several armored blocks one after the other (keys exported
        // separately and concatenated); each is parsed on its own.
        let starts: Vec<usize> = text
            .match_indices(PUBLIC_KEY_BLOCK_START)
            .map(|(i, _)| i)
            .collect();
        for (n, start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            let (parsed, _) = SignedPublicKey::from_armor_many(text[*start..end].as_bytes())
                .map_err(|e| error(format!("the key in {name:?} does not parse: {e}")))?;
            for key in parsed {
                keys.push(
                    key.map_err(|e| error(format!("the key in {name:?} does not parse: {e}")))?,
                );
            }
        }
    }
    if keys.is_empty() {
        return Err(error(
            "the verification Secret holds no armored PGP public key",
        ));
    }
    Ok(keys)
}

/// Verify the signatures `mode` asks for in the repository at `dir`. Returns a sentence for
/// the `SourceVerified` condition.
pub fn verify_signatures(
    dir: &Path,
    commit: Oid,
    tag: Option<&str>,
    mode: VerifyMode,
    keys: &TrustedKeys,
) -> Result<String, GitError> {
    let keys = keys.keys.as_slice();
    let repo = Repository::open(dir).map_err(|e| error(e.message()))?;
    let mut verified = Vec::new();
    if matches!(mode, VerifyMode::Tag | VerifyMode::TagAndHead) {
        let tag = tag.ok_or_else(|| {
            failed(
                reasons::INVALID_VERIFICATION_MODE,
                "verify.mode Tag needs spec.ref.tag, semver or a tag name",
            )
        })?;
        let object = repo
            .revparse_single(&format!("refs/driftless/tags/{tag}"))
            .map_err(|e| error(e.message()))?;
        if object.kind() != Some(git2::ObjectType::Tag) {
            return Err(failed(
                reasons::INVALID_GIT_OBJECT,
                format!("tag {tag:?} is a lightweight tag and cannot carry a signature"),
            ));
        }
        let odb = repo.odb().map_err(|e| error(e.message()))?;
        let raw = odb.read(object.id()).map_err(|e| error(e.message()))?;
        let data = raw.data();
        let start = find(data, PGP_SIGNATURE_START).ok_or_else(|| {
            failed(
                reasons::INVALID_GIT_OBJECT,
                format!("tag {tag:?} is not signed"),
            )
        })?;
        let fpr = check(&data[start..], &data[..start], keys)
            .map_err(|e| failed(reasons::INVALID_TAG_SIGNATURE, format!("tag {tag:?}: {e}")))?;
        verified.push(format!("tag '{tag}' with key {fpr}"));
    }
    if matches!(mode, VerifyMode::Head | VerifyMode::TagAndHead) {
        let (signature, signed) = repo.extract_signature(&commit, None).map_err(|_| {
            failed(
                reasons::INVALID_COMMIT_SIGNATURE,
                format!("commit {commit} is not signed"),
            )
        })?;
        let fpr = check(&signature, &signed, keys).map_err(|e| {
            failed(
                reasons::INVALID_COMMIT_SIGNATURE,
                format!("commit {commit}: {e}"),
            )
        })?;
        verified.push(format!("commit '{commit}' with key {fpr}"));
    }
    Ok(format!("verified signature of {}", verified.join(" and ")))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Verify an armored detached signature over `data` with any of `keys` (primary or subkey).
/// Returns the fingerprint of the key that verified it.
fn check(signature: &[u8], data: &[u8], keys: &[SignedPublicKey]) -> Result<String, String> {
    let text =
        std::str::from_utf8(signature).map_err(|_| "the signature is not text".to_owned())?;
    let (sig, _) = DetachedSignature::from_string(text)
        .map_err(|e| format!("the signature does not parse: {e}"))?;
    for key in keys {
        if sig.verify(&key.primary_key, data).is_ok() {
            return Ok(hex_fingerprint(&key.primary_key));
        }
        for sub in &key.public_subkeys {
            if sig.verify(&sub.key, data).is_ok() {
                return Ok(hex_fingerprint(&sub.key));
            }
        }
    }
    Err("no trusted key verifies the signature".to_owned())
}

fn hex_fingerprint(key: &impl pgp::types::KeyDetails) -> String {
    format!("{:X}", key.fingerprint())
}
