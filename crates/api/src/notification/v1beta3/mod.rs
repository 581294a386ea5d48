//! notification.toolkit.fluxcd.io/v1beta3: Alert and Provider as Flux v2.9 stored them, still
//! served (deprecated) so that manifests and objects written before the upgrade keep working.
//! The CRDs carry no conversion webhook: the API server serves a stored object under either
//! version as is, dropping the fields the requested version's schema lacks.

pub mod alert;
pub mod provider;

pub use alert::*;
pub use provider::*;
