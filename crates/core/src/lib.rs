//! The shared controller runtime every Driftless controller binary is built from.
//!
//! One home for each concept shared by the controllers (see DESIGN.md, "crates/core").

#![forbid(unsafe_code)]

pub mod artifact;
pub mod semver;
