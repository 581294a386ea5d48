//! `sha256:<hex>` digests, the form Flux writes in `status.artifact.digest` and that consumers
//! verify before they use a downloaded artifact.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// Why a digest string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `algorithm:` prefix.
    #[error("invalid digest {0:?}: expected \"sha256:<64 hex digits>\"")]
    Malformed(String),
    /// An algorithm other than sha256 (Flux can be configured for others; we produce and accept
    /// sha256 only, and say so instead of silently skipping verification).
    #[error("unsupported digest algorithm {algorithm:?} in {input:?}: only sha256 is supported")]
    UnsupportedAlgorithm {
        /// The algorithm named before the colon.
        algorithm: String,
        /// The whole digest text.
        input: String,
    },
    /// The hex part is not 64 hex digits.
    #[error("invalid sha256 digest {0:?}: expected 64 hex digits after \"sha256:\"")]
    BadHex(String),
}

/// A sha256 digest. Displays and parses as `sha256:<lowercase hex>`; comparison is by value,
/// so an uppercase hex string from elsewhere still compares equal.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of a byte slice.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// The digest of everything a reader yields, streamed so large files are not loaded.
    pub fn of_reader(mut reader: impl Read) -> io::Result<Digest> {
        let mut hasher = DigestHasher::new();
        io::copy(&mut reader, &mut hasher)?;
        Ok(hasher.finish())
    }

    /// The digest of a file's contents.
    pub fn of_file(path: &Path) -> io::Result<Digest> {
        let file = std::fs::File::open(path)?;
        Digest::of_reader(io::BufReader::new(file))
    }

    /// Parses `sha256:<hex>` (hex in either case).
    pub fn parse(input: &str) -> Result<Digest, DigestError> {
        let (algorithm, hex_part) = input
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(input.to_string()))?;
        if algorithm != "sha256" {
            return Err(DigestError::UnsupportedAlgorithm {
                algorithm: algorithm.to_string(),
                input: input.to_string(),
            });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes)
            .map_err(|_| DigestError::BadHex(input.to_string()))?;
        Ok(Digest(bytes))
    }

    /// The lowercase hex of the digest, without the algorithm prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

/// An incremental sha256, usable as an `io::Write` sink, for hashing bytes while they stream
/// to disk or over the network.
#[derive(Clone, Default)]
pub struct DigestHasher(Sha256);

impl DigestHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> DigestHasher {
        DigestHasher(Sha256::new())
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of all bytes fed so far.
    pub fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

impl Write for DigestHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for DigestHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestHasher(sha256)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_of_empty_input() {
        assert_eq!(
            Digest::of_bytes(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_round_trips_and_ignores_hex_case() {
        let d = Digest::of_bytes(b"hello");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        let upper = format!("sha256:{}", d.hex().to_uppercase());
        assert_eq!(Digest::parse(&upper).unwrap(), d);
    }

    #[test]
    fn parse_rejects_bad_input_with_the_text() {
        let err = Digest::parse("abc").unwrap_err();
        assert!(err.to_string().contains("\"abc\""), "{err}");
        let err = Digest::parse("sha512:00").unwrap_err();
        assert!(
            matches!(err, DigestError::UnsupportedAlgorithm { .. }),
            "{err}"
        );
        let err = Digest::parse("sha256:zz").unwrap_err();
        assert!(matches!(err, DigestError::BadHex(_)), "{err}");
        assert!(Digest::parse(&format!("sha256:{}", "0".repeat(63))).is_err());
    }

    #[test]
    fn streaming_hasher_matches_one_shot() {
        let mut h = DigestHasher::new();
        h.update(b"hel");
        h.write_all(b"lo").unwrap();
        assert_eq!(h.finish(), Digest::of_bytes(b"hello"));
        assert_eq!(
            Digest::of_reader(&b"hello"[..]).unwrap(),
            Digest::of_bytes(b"hello")
        );
    }
}
