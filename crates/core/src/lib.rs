//! The shared controller runtime (placeholder; filled by the core work).
