//! Token signing for tests, with the fixture keys in `fixtures/keys`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub const NOW: i64 = 1_800_000_000;
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Builds `header.payload` and signs it with `alg` using the matching fixture key.
pub fn sign(header: &Value, payload: &Value, alg: &str) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig = match alg {
        "HS256" => {
            let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        "RS256" | "RS256-other" => {
            use rsa::pkcs8::DecodePrivateKey as _;
            use rsa::signature::{SignatureEncoding as _, Signer as _};
            let file = if alg == "RS256" {
                "rsa.key"
            } else {
                "rsa2.key"
            };
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(&fixture(file)).unwrap();
            let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
            sk.sign(input.as_bytes()).to_vec()
        }
        "ES256" => {
            use p256::ecdsa::signature::Signer as _;
            use p256::pkcs8::DecodePrivateKey as _;
            let sk = p256::ecdsa::SigningKey::from_pkcs8_pem(&fixture("ec.key")).unwrap();
            let s: p256::ecdsa::Signature = sk.sign(input.as_bytes());
            s.to_bytes().to_vec()
        }
        "EdDSA" => {
            use ed25519_dalek::Signer as _;
            let sk = ed25519_dalek::SigningKey::from_pkcs8_pem(&fixture("ed.key")).unwrap();
            sk.sign(input.as_bytes()).to_bytes().to_vec()
        }
        "none" => Vec::new(),
        other => panic!("no signer for {other}"),
    };
    format!("{input}.{}", b64(&sig))
}

pub fn token(alg: &str, payload: &Value) -> String {
    let header_alg = if alg == "RS256-other" { "RS256" } else { alg };
    sign(&json!({ "alg": header_alg, "typ": "JWT" }), payload, alg)
}
