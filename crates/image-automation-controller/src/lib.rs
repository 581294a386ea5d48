//! The image-automation-controller: Flux's image-reflector-controller and
//! image-automation-controller in one binary, serving image.toolkit.fluxcd.io/v1.
//!
//! ```text
//!  registry ──tags──> ImageRepository ──tags──> ImagePolicy ──latestRef──┐
//!                                                                       ▼
//!  GitRepository ──clone──> ImageUpdateAutomation ──setters──> commit ──push──> Git
//! ```
//!
//! The pure engines live here and are tested by data, no cluster needed:
//! - [`policy`]: which tag an ImagePolicy chooses; [`latest`]: its `latestRef`/`observedPreviousRef`
//!   and when the digest is looked up;
//! - [`setters`]: rewriting `# {"$imagepolicy": "ns:name"}` markers in YAML files, byte for
//!   byte faithful outside the marked values;
//! - [`message`]: the commit message from `messageTemplate` with Flux's template data;
//! - [`scan`]: an ImageRepository's tags listed (paged), filtered and kept on disk.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod latest;
pub mod message;
pub mod policy;
pub mod scan;
pub mod setters;
