//! The Helm engine: charts in, manifests out, exactly as `helm template` renders them.
//!
//! A pure library (no Kubernetes client): `driftless helm template` calls it, and so will the
//! helm-controller, so that what a user renders locally is what the controller applies.
//!
//! ```text
//!  chart dir / .tgz ──loader──▶ Chart ──dependencies──▶ enabled subcharts, aliases, imports
//!                                 │
//!  -f files, --set ──strvals──▶ UserValues ──values::coalesce_values──▶ .Values per chart
//!                                 │
//!            render (driftless-gotmpl, Helm's objects) ──▶ template path -> text
//!                                 │
//!            manifest::sort_manifests (split `---`, hooks apart, install order)
//!                                 ▼
//!                              Rendered ──▶ helm_template_output() / release::Release
//! ```
//!
//! ```no_run
//! use driftless_helm::{TemplateOptions, UserValues, load, template};
//! let chart = load(std::path::Path::new("charts/web")).unwrap();
//! let mut values = UserValues::default();
//! values.set("replicas=3").unwrap();
//! let opts = TemplateOptions { release_name: "web".into(), ..Default::default() };
//! print!("{}", template(chart, &values, &opts).unwrap().helm_template_output());
//! ```
//!
//! Written by hand because no Rust crate renders Helm charts; the Go template language, Sprig
//! and Helm's YAML/JSON spelling live in `driftless-gotmpl`. Release records in Helm's storage
//! format are in [`release`].

#![forbid(unsafe_code)]

pub mod chart;
pub mod dependencies;
mod error;
pub mod ignore;
pub mod loader;
pub mod manifest;
pub mod release;
pub mod render;
pub mod strvals;
pub mod template;
pub mod values;

pub use chart::{Chart, Dependency, File, Metadata};
pub use error::Error;
pub use loader::{load, load_archive, load_dir};
pub use render::{Capabilities, LookupFn, ReleaseInfo};
pub use template::{
    OutputOptions, Rendered, TemplateOptions, UserValues, release_name_from_template, template,
};
