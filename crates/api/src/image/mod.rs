//! image.toolkit.fluxcd.io/v1: image scanning (ImageRepository), tag selection (ImagePolicy)
//! and committing the chosen tags back to Git (ImageUpdateAutomation).
//!
//! ```text
//! ImageRepository ──tags──> ImagePolicy ──latestRef──> ImageUpdateAutomation ──commit──> Git
//! ```

pub mod imagepolicy;
pub mod imagerepository;
pub mod imageupdateautomation;

pub use imagepolicy::*;
pub use imagerepository::*;
pub use imageupdateautomation::*;
