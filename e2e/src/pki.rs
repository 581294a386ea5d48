//! A throwaway certificate authority for the loopback servers (git, OCI registry): one CA,
//! a server certificate for `127.0.0.1` and `localhost`, and a client certificate, all
//! generated per fixture so no test trusts anything it did not make.

use anyhow::Result;

/// The generated CA and the certificates it issued, PEM and DER.
pub(crate) struct TestPki {
    /// The CA certificate (what a Secret's `ca.crt` holds).
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    /// The server certificate for `127.0.0.1` and `localhost`, and its PKCS#8 key.
    pub server_cert_pem: String,
    pub server_cert_der: Vec<u8>,
    pub server_key_pem: String,
    pub server_key_der: Vec<u8>,
    /// A client certificate (TLS client auth) and its PKCS#8 key.
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

pub(crate) fn generate() -> Result<TestPki> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "driftless test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate()?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer)?;

    let client_key = rcgen::KeyPair::generate()?;
    let mut client_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "driftless test client");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer)?;

    Ok(TestPki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().to_vec(),
        server_cert_pem: cert.pem(),
        server_cert_der: cert.der().to_vec(),
        server_key_pem: key.serialize_pem(),
        server_key_der: key.serialize_der(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}
