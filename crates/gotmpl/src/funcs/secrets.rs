//! Sprig's `derivePassword` (the Master Password algorithm: scrypt, then HMAC-SHA256 picking
//! a template and its characters) and `encryptAES`/`decryptAES` (AES-256-CBC, PKCS #7
//! padding, a random IV before the ciphertext, base64).
//!
//! `decryptAES` trusts its input as Sprig does: where Go panics inside the function (a short
//! or badly padded ciphertext), the template gets the same "runtime error" text.

use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use base64::Engine as _;
use hmac::Mac as _;

use super::{Body, int, s};
use crate::FuncError;
use crate::value::Value;

type Res = Result<Value, FuncError>;

/// The password templates of each type, and the characters each template letter stands for
/// (the Master Password algorithm's tables, as Sprig has them).
const TEMPLATES: &[(&str, &[&str])] = &[
    ("maximum", &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"]),
    (
        "long",
        &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
    ),
    ("medium", &["CvcnoCvc", "CvcCvcno"]),
    ("short", &["Cvcn"]),
    ("basic", &["aaanaaan", "aannaaan", "aaannaaa"]),
    ("pin", &["nnnn"]),
];

fn characters(class: u8) -> &'static [u8] {
    match class {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

const SEED: &[u8] = b"com.lyndir.masterpassword";

fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some((_, templates)) = TEMPLATES.iter().find(|(k, _)| *k == kind) else {
        return format!("cannot find password template {kind}");
    };
    let scoped = |name: &str| {
        let mut b = SEED.to_vec();
        b.extend_from_slice(&(name.len() as u32).to_be_bytes());
        b.extend_from_slice(name.as_bytes());
        b
    };
    let mut key = [0u8; 64];
    let params = match scrypt::Params::new(15, 8, 2, 64) {
        Ok(p) => p,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &scoped(user), &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = scoped(site);
    msg.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password: bad key".into();
    };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, class)| {
            let chars = characters(class);
            chars[usize::from(seed[i + 1]) % chars.len()] as char
        })
        .collect()
}

/// Sprig's AES key: the password's bytes, zero-padded or cut to 32.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    key
}

fn encrypt_aes(password: &str, plain: &str) -> Res {
    if plain.is_empty() {
        return Ok(Value::str(""));
    }
    let mut iv = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut iv[..]);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let mut out = iv.to_vec();
    out.extend(enc.encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes()));
    Ok(Value::str(
        base64::engine::general_purpose::STANDARD.encode(out),
    ))
}

fn decrypt_aes(password: &str, text: &str) -> Res {
    if text.is_empty() {
        return Ok(Value::str(""));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| FuncError::from(super::sprig::b64_error(&e)))?;
    if data.len() < 16 {
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            data.len()
        )
        .into());
    }
    let (iv, body) = data.split_at(16);
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let iv: [u8; 16] = iv.try_into().map_err(|_| "bad IV")?;
    let dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let plain = dec
        .decrypt_padded_vec_mut::<NoPadding>(body)
        .map_err(|e| FuncError::from(e.to_string()))?;
    let Some(&pad) = plain.last() else {
        return Err("runtime error: index out of range [-1]".into());
    };
    let end = plain.len() as i64 - i64::from(pad);
    if end < 0 {
        return Err(format!("runtime error: slice bounds out of range [:{end}]").into());
    }
    Ok(Value::str(String::from_utf8_lossy(&plain[..end as usize])))
}

pub(super) fn register(add: &mut dyn FnMut(&str, &str, Body)) {
    add("derivePassword", "I S S S S", |_, a| {
        Ok(Value::str(derive_password(
            int(&a, 0) as u32,
            s(&a, 1),
            s(&a, 2),
            s(&a, 3),
            s(&a, 4),
        )))
    });
    add("encryptAES", "S S", |_, a| encrypt_aes(s(&a, 0), s(&a, 1)));
    add("decryptAES", "S S", |_, a| decrypt_aes(s(&a, 0), s(&a, 1)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips_and_uses_a_fresh_iv() {
        let a = encrypt_aes("k", "secret").unwrap();
        let b = encrypt_aes("k", "secret").unwrap();
        assert_ne!(a, b);
        let back = decrypt_aes("k", a.as_str().unwrap()).unwrap();
        assert_eq!(back.as_str(), Some("secret"));
    }

    #[test]
    fn a_long_password_is_cut_to_the_key_size() {
        let long = "x".repeat(40);
        let e = encrypt_aes(&long, "p").unwrap();
        let d = decrypt_aes(&"x".repeat(32), e.as_str().unwrap()).unwrap();
        assert_eq!(d.as_str(), Some("p"));
    }
}
