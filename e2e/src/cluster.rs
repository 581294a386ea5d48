//! The local control plane: reuse a running one or start one from the cache.
