//! Masterminds-compatible semver versions and constraints (the dialect of Flux and Helm).
