//! Artifacts: deterministic tar.gz packing, safe unpacking, digests, revisions and verified
//! download.
//!
//! Controllers share sources only through artifacts served over HTTP:
//!
//! ```text
//!  source-controller                         kustomize-controller
//!  checkout ──pack_dir──> file.tar.gz ──HTTP──> fetch_and_unpack ──> dir ──> build, apply
//!                   │                                  ▲
//!                   └─ status.artifact {url, revision, digest: "sha256:…", size}
//! ```
//!
//! The same tree always packs to the same bytes (so an unchanged source keeps its digest and
//! nothing downstream reconciles for nothing), and a consumer trusts nothing it downloads: the
//! digest must match and the archive is unpacked under the rules in [`unpack`].

mod digest;
mod fetch;
mod pack;
mod revision;
mod unpack;

pub use digest::{Digest, DigestError, DigestHasher};
pub use fetch::{FetchError, FetchOptions, Fetched, Verified, fetch_and_unpack, fetch_verified};
pub use pack::{
    DiskTree, PackError, PackTree, Packed, TreeEntry, pack_dir, pack_to_writer, pack_tree,
};
pub use revision::{Revision, RevisionError};
pub use unpack::{Limits, UnpackError, Unpacked, unpack, unpack_file};
