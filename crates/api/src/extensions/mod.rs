//! source.extensions.fluxcd.io/v1beta1: ArtifactGenerator (Flux's source-watcher) composes
//! artifacts of several sources into ExternalArtifacts, optionally one per directory matched
//! by a path pattern, in its own or other (managed) namespaces.
//!
//! ```text
//! GitRepository ─┐                                       ┌─> ExternalArtifact ─> Kustomization
//! OCIRepository ─┼─ sources[alias] ─> ArtifactGenerator ─┤      (status.exportedInputs)
//! Bucket, ... ───┘   copy @alias/glob -> @artifact/path  └─> Namespace (managedNamespaces)
//! ```

pub mod artifactgenerator;

pub use artifactgenerator::*;
