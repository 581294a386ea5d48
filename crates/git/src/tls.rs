//! HTTPS server certificates checked against the Secret's `ca.crt`.
//!
//! libgit2 verifies against the system trust store and can only be pointed at another CA file
//! process-wide. A per-object CA is instead checked here, in libgit2's certificate callback:
//! the leaf certificate must chain to one of the `ca.crt` certificates and name the host.
//! libgit2 hands over only the leaf, so the CA must have issued it directly (no intermediates).

use rustls_pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject as _};

/// Check the DER leaf certificate `leaf` for `host` against the PEM roots in `ca_pem`.
pub fn verify_leaf(leaf: &[u8], host: &str, ca_pem: &str) -> Result<(), String> {
    let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("ca.crt is not PEM: {e}"))?;
    if roots.is_empty() {
        return Err("ca.crt holds no certificate".to_owned());
    }
    let anchors = roots
        .iter()
        .map(|c| webpki::anchor_from_trusted_cert(c).map(|a| a.to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ca.crt holds an unusable certificate: {e}"))?;
    let leaf = CertificateDer::from(leaf);
    let cert = webpki::EndEntityCert::try_from(&leaf)
        .map_err(|e| format!("the server certificate does not parse: {e}"))?;
    cert.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| format!("the server certificate is not issued by ca.crt: {e}"))?;
    let name = ServerName::try_from(host).map_err(|e| format!("bad host name {host:?}: {e}"))?;
    cert.verify_is_valid_for_subject_name(&name)
        .map_err(|e| format!("the server certificate is not valid for {host}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_ca_is_a_clear_error() {
        let err = verify_leaf(b"not der", "localhost", "no pem here").expect_err("refused");
        assert!(err.contains("no certificate"), "{err}");
    }
}
