//! kustomize.toolkit.fluxcd.io/v1: Kustomization, which builds a directory of a source's
//! artifact with kustomize and applies the result.

pub mod kustomization;

pub use kustomization::*;
