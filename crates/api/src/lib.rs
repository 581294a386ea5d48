//! The Flux v2 API types served by Driftless (placeholder; filled by the API work).
