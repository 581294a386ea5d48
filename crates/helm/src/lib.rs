//! The Helm engine: charts in, manifests out, exactly as `helm template` renders them.
//!
//! A pure library (no Kubernetes client): the helm-controller and `driftless helm template`
//! both call it, so what a user renders locally is what the controller applies.
//!
//! ```text
//!  chart dir / .tgz ──loader──▶ Chart ──dependencies──▶ enabled subcharts, aliases, imports
//!                                 │
//!  -f files, --set ──strvals──▶ user values ──values::coalesce──▶ .Values per chart
//!                                 │
//!                 render (driftless-gotmpl + Helm's functions) ──▶ file -> text
//!                                 │
//!                 manifest::sort (split `---`, hooks apart, install order) ──▶ Rendered
//! ```
//!
//! Written by hand because no Rust crate renders Helm charts; the Go template language and
//! Sprig live in `driftless-gotmpl`. Release records in Helm's storage format are in
//! [`release`].

#![forbid(unsafe_code)]

pub mod chart;
mod error;
pub mod ignore;
pub mod loader;
pub mod semver;
pub mod yaml;

pub use chart::{Chart, Dependency, File, Metadata};
pub use error::Error;
pub use loader::{load, load_archive, load_dir};
