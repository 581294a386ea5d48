//! Sprig's certificate functions (`genCA`, `genSelfSignedCert`, `genSignedCert`,
//! `genPrivateKey`, `buildCustomCert`), on rcgen. Keys are what Sprig makes: RSA 2048 for
//! certificates and RSA 4096 for `genPrivateKey "rsa"` (the `rsa` crate, since ring cannot
//! generate RSA keys), PEM-encoded as Go's x509 does (`RSA PRIVATE KEY`, `EC PRIVATE KEY`);
//! the certificates carry the common name, IP and DNS SANs, validity in days and CA basic
//! constraints. DSA keys are not made (no maintained crate writes Go's DSA PEM).

use std::sync::Arc;

use base64::Engine as _;
use chrono::{Datelike as _, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, date_time_ymd,
};

use super::{int, s, strval};
use crate::FuncError;
use crate::value::{Map, Object, Value};

type Res = Result<Value, FuncError>;

/// Sprig's `certificate` struct: `.Cert` and `.Key` in PEM.
#[derive(Debug)]
pub(crate) struct CertObj {
    cert: String,
    key: String,
    /// What `genSignedCert` needs to sign with this certificate as the CA (only for
    /// certificates this process made).
    params: Option<CertificateParams>,
}

impl Object for CertObj {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(&self.cert)),
            "Key" => Some(Value::str(&self.key)),
            _ => None,
        }
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("Cert".into(), Value::str(&self.cert));
        m.insert("Key".into(), Value::str(&self.key));
        Value::map(m)
    }
}

fn err(e: impl std::fmt::Display) -> FuncError {
    FuncError::Message(e.to_string())
}

fn cert_value(cert: String, key: String, params: Option<CertificateParams>) -> Value {
    Value::Object(Arc::new(CertObj { cert, key, params }))
}

fn params(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
    ca: bool,
) -> Result<CertificateParams, FuncError> {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    let now = Utc::now();
    let end = now + chrono::Duration::days(days.clamp(0, 365 * 1000));
    p.not_before = date_time_ymd(now.year(), now.month() as u8, now.day() as u8);
    p.not_after = date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
    for ip in ips.as_list().unwrap_or(&[]) {
        let text = strval(ip);
        let addr = text
            .parse()
            .map_err(|_| err(format!("error parsing ip: {text}")))?;
        p.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for name in dns.as_list().unwrap_or(&[]) {
        let text = strval(name);
        p.subject_alt_names
            .push(SanType::DnsName(text.try_into().map_err(err)?));
    }
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
        ];
    } else {
        p.key_usages = vec![
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::DigitalSignature,
        ];
    }
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    Ok(p)
}

/// A key to sign with, and its PEM as Sprig prints it.
struct Key {
    pair: KeyPair,
    pem: String,
}

/// A new RSA key of `bits` bits (Sprig's choice for certificates and `genPrivateKey "rsa"`).
fn rsa_key(bits: usize) -> Result<Key, FuncError> {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::pkcs8::EncodePrivateKey as _;
    let k = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).map_err(err)?;
    let pkcs8 = k.to_pkcs8_der().map_err(err)?;
    let pair =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_bytes().into(), &rcgen::PKCS_RSA_SHA256)
            .map_err(err)?;
    let pem = k.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).map_err(err)?;
    Ok(Key {
        pair,
        pem: pem.to_string(),
    })
}

/// A new ECDSA P-256 key, PEM in SEC 1 (`EC PRIVATE KEY`) as Go's `MarshalECPrivateKey`.
fn ec_key() -> Result<Key, FuncError> {
    use p256::pkcs8::EncodePrivateKey as _;
    let k = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let pkcs8 = k.to_pkcs8_der().map_err(err)?;
    let pair = KeyPair::from_pkcs8_der_and_sign_algo(
        &pkcs8.as_bytes().into(),
        &rcgen::PKCS_ECDSA_P256_SHA256,
    )
    .map_err(err)?;
    let pem = k.to_sec1_pem(p256::pkcs8::LineEnding::LF).map_err(err)?;
    Ok(Key {
        pair,
        pem: pem.to_string(),
    })
}

/// A key given in PEM: PKCS #1 RSA (what Sprig writes) or PKCS #8.
fn parse_key(pem: &str) -> Result<Key, FuncError> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::EncodePrivateKey as _;
    let bad = |e: &dyn std::fmt::Display| err(format!("error parsing private key: {e}"));
    let pair = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        let k = rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| bad(&e))?;
        let pkcs8 = k.to_pkcs8_der().map_err(|e| bad(&e))?;
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_bytes().into(), &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| bad(&e))?
    } else if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
        use p256::pkcs8::EncodePrivateKey as _;
        let k = p256::SecretKey::from_sec1_pem(pem).map_err(|e| bad(&e))?;
        let pkcs8 = k.to_pkcs8_der().map_err(|e| bad(&e))?;
        KeyPair::from_pkcs8_der_and_sign_algo(
            &pkcs8.as_bytes().into(),
            &rcgen::PKCS_ECDSA_P256_SHA256,
        )
        .map_err(|e| bad(&e))?
    } else {
        KeyPair::from_pem(pem).map_err(|e| bad(&e))?
    };
    Ok(Key {
        pair,
        pem: pem.to_string(),
    })
}

fn key_from(pem: Option<&str>) -> Result<Key, FuncError> {
    match pem {
        Some(p) => parse_key(p),
        None => rsa_key(2048),
    }
}

fn self_signed(cn: &str, ips: &Value, dns: &Value, days: i64, ca: bool, key: Option<&str>) -> Res {
    let key = key_from(key)?;
    let p = params(cn, ips, dns, days, ca)?;
    let cert = p.self_signed(&key.pair).map_err(err)?;
    Ok(cert_value(cert.pem(), key.pem, Some(p)))
}

fn signed(a: &[Value], key: Option<&str>) -> Res {
    let ca = match a.get(4) {
        Some(Value::Object(o)) if o.type_name() == "sprig.certificate" => o.to_value(),
        _ => return Err(err("the CA argument must be a certificate from genCA")),
    };
    let Some(Value::Object(o)) = a.get(4) else {
        return Err(err("the CA argument must be a certificate from genCA"));
    };
    let Some(ca_obj) = downcast(o.as_ref()) else {
        return Err(err("the CA argument must be a certificate from genCA"));
    };
    let Some(ca_p) = ca_obj.params.clone() else {
        return Err(err(
            "signing with a CA made by buildCustomCert is not supported by driftless",
        ));
    };
    let ca_key_pem = ca
        .as_map()
        .and_then(|m| m.get("Key"))
        .map(|v| strval(&v))
        .unwrap_or_default();
    let ca_key = parse_key(&ca_key_pem)?;
    let issuer = Issuer::new(ca_p, ca_key.pair);
    let key = key_from(key)?;
    let p = params(s(a, 0), &a[1], &a[2], int(a, 3), false)?;
    let cert = p.signed_by(&key.pair, &issuer).map_err(err)?;
    Ok(cert_value(cert.pem(), key.pem, None))
}

/// The [`CertObj`] behind a template value.
fn downcast(o: &dyn Object) -> Option<&CertObj> {
    o.as_any()?.downcast_ref::<CertObj>()
}

pub(super) fn register(add: &mut dyn FnMut(&str, &str, super::Body)) {
    add("genPrivateKey", "S", |_, a| {
        let key = match s(&a, 0) {
            "rsa" => rsa_key(4096)?.pem,
            "ecdsa" => ec_key()?.pem,
            "ed25519" => KeyPair::generate_for(&rcgen::PKCS_ED25519)
                .map_err(err)?
                .serialize_pem(),
            "dsa" => {
                return Err(err(
                    "dsa keys are not supported by driftless (use rsa, ecdsa or ed25519)",
                ));
            }
            other => return Ok(Value::str(format!("Unknown type {other}"))),
        };
        Ok(Value::str(key))
    });
    add("genCA", "S I", |_, a| {
        self_signed(s(&a, 0), &Value::Nil, &Value::Nil, int(&a, 1), true, None)
    });
    add("genCAWithKey", "S I S", |_, a| {
        self_signed(
            s(&a, 0),
            &Value::Nil,
            &Value::Nil,
            int(&a, 1),
            true,
            Some(s(&a, 2)),
        )
    });
    add("genSelfSignedCert", "S L L I", |_, a| {
        self_signed(s(&a, 0), &a[1], &a[2], int(&a, 3), false, None)
    });
    add("genSelfSignedCertWithKey", "S L L I S", |_, a| {
        self_signed(s(&a, 0), &a[1], &a[2], int(&a, 3), false, Some(s(&a, 4)))
    });
    add("genSignedCert", "S L L I A", |_, a| signed(&a, None));
    add("genSignedCertWithKey", "S L L I A S", |_, a| {
        signed(&a, Some(s(&a, 5)))
    });
    add("buildCustomCert", "S S", |_, a| {
        let dec = |x: &str, what: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(x)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| err(format!("unable to decode base64 {what}: {e}")))
        };
        let cert = dec(s(&a, 0), "certificate")?;
        let key = dec(s(&a, 1), "private key")?;
        if !cert.contains("-----BEGIN CERTIFICATE-----") {
            return Err(err("unable to decode certificate"));
        }
        Ok(cert_value(cert, key, None))
    });
}
