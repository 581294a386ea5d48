//! source.toolkit.fluxcd.io/v1: the kinds that fetch content and publish it as artifacts.

pub mod gitrepository;

pub use gitrepository::*;
