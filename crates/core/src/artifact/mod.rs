//! Artifacts: deterministic tar.gz packing, safe unpacking, digests and verified download.
