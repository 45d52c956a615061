//! Verification keys: HMAC secrets, PEM public keys and JWKS documents.
//!
//! Each key is bound to one algorithm family when it is parsed, and a token can only be checked
//! with a key of its algorithm's family. That rules out the classic confusion attack where an
//! RSA public key is used as an HMAC secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use hmac::{Hmac, Mac};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::{Error, Result};

/// Shortest HMAC secret accepted: the output size of SHA-256, the smallest HMAC algorithm.
pub const MIN_SECRET_BYTES: usize = 32;

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

/// A supported JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    ES256,
    EdDSA,
}

impl Alg {
    /// Parses a JOSE `alg` name. `none` is reported separately so callers can say why.
    ///
    /// # Errors
    /// `JwtAlgNone` for `none`, `JwtAlgNotAllowed` for anything unsupported.
    pub fn parse(name: &str) -> Result<Alg> {
        Ok(match name {
            "HS256" => Alg::HS256,
            "HS384" => Alg::HS384,
            "HS512" => Alg::HS512,
            "RS256" => Alg::RS256,
            "RS384" => Alg::RS384,
            "RS512" => Alg::RS512,
            "ES256" => Alg::ES256,
            "EdDSA" => Alg::EdDSA,
            n if n.eq_ignore_ascii_case("none") => return Err(Error::JwtAlgNone),
            other => {
                return Err(Error::JwtAlgNotAllowed {
                    alg: other.to_owned(),
                })
            }
        })
    }

    /// The JOSE name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    fn family(self) -> Family {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => Family::Hmac,
            Alg::RS256 | Alg::RS384 | Alg::RS512 => Family::Rsa,
            Alg::ES256 => Family::Ec,
            Alg::EdDSA => Family::Ed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

#[derive(Debug, Clone)]
enum Material {
    Hmac(Vec<u8>),
    Rsa(Box<RsaPublicKey>),
    Ec(p256::ecdsa::VerifyingKey),
    Ed(ed25519_dalek::VerifyingKey),
}

impl Material {
    fn family(&self) -> Family {
        match self {
            Material::Hmac(_) => Family::Hmac,
            Material::Rsa(_) => Family::Rsa,
            Material::Ec(_) => Family::Ec,
            Material::Ed(_) => Family::Ed,
        }
    }
}

/// One verification key, optionally restricted to a `kid` and a single algorithm.
#[derive(Debug, Clone)]
pub struct Key {
    kid: Option<String>,
    alg: Option<Alg>,
    material: Material,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::JwtInvalidKey {
        reason: reason.into(),
    }
}

impl Key {
    /// An HMAC secret (UTF-8 bytes of the string, as jsonwebtoken and jose use it).
    ///
    /// # Errors
    /// `JwtInvalidKey` for a secret shorter than `MIN_SECRET_BYTES`.
    pub fn secret(secret: &str) -> Result<Key> {
        // HS256 needs 32 bytes (RFC 7518 §3.2); refusing a shorter secret here, rather than at
        // the first token, reports the mistake when the configuration is read.
        if secret.len() < MIN_SECRET_BYTES {
            return Err(invalid(format!(
                "`secret` has {} bytes; HMAC secrets need at least {MIN_SECRET_BYTES}",
                secret.len()
            )));
        }
        Ok(Key {
            kid: None,
            alg: None,
            material: Material::Hmac(secret.as_bytes().to_vec()),
        })
    }

    /// A PEM public key: RSA (SPKI or PKCS#1), P-256 (SPKI) or Ed25519 (SPKI).
    ///
    /// # Errors
    /// `JwtInvalidKey` when the PEM is none of these, or an RSA key is under 2048 bits.
    pub fn pem(pem: &str) -> Result<Key> {
        let material = if let Some(k) = rsa_from_pem(pem) {
            rsa_material(k)?
        } else if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            Material::Ec(k)
        } else if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            Material::Ed(k)
        } else {
            return Err(invalid(
                "`publicKey` is not a PEM RSA, P-256 or Ed25519 public key",
            ));
        };
        Ok(Key {
            kid: None,
            alg: None,
            material,
        })
    }

    /// Parses a JWKS document (`{"keys": [...]}`). Keys meant for encryption are skipped;
    /// a key of an unsupported type is an error, so a typo never silently disables a key.
    ///
    /// # Errors
    /// `JwtInvalidKey` naming the index of the first bad key.
    pub fn jwks(doc: &Value) -> Result<Vec<Key>> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("`jwks` must be an object with a `keys` array"))?;
        let mut out = Vec::with_capacity(keys.len());
        for (i, jwk) in keys.iter().enumerate() {
            if jwk
                .get("use")
                .and_then(Value::as_str)
                .is_some_and(|u| u != "sig")
            {
                continue;
            }
            out.push(Key::jwk(jwk).map_err(|e| match e {
                Error::JwtInvalidKey { reason } => invalid(format!("jwks.keys[{i}]: {reason}")),
                other => other,
            })?);
        }
        if out.is_empty() {
            return Err(invalid("`jwks` has no signing keys"));
        }
        Ok(out)
    }

    fn jwk(jwk: &Value) -> Result<Key> {
        let field = |name: &str| -> Result<Vec<u8>> {
            let s = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("missing `{name}`")))?;
            URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|_| invalid(format!("`{name}` is not base64url")))
        };
        let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
        let material = match kty {
            "oct" => Material::Hmac(field("k")?),
            "RSA" => {
                let n = BigUint::from_bytes_be(&field("n")?);
                let e = BigUint::from_bytes_be(&field("e")?);
                rsa_material(RsaPublicKey::new(n, e).map_err(|e| invalid(e.to_string()))?)?
            }
            "EC" => {
                if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                    return Err(invalid("only EC curve P-256 is supported"));
                }
                let coord = |name: &str| -> Result<p256::FieldBytes> {
                    let bytes: [u8; 32] = field(name)?
                        .try_into()
                        .map_err(|_| invalid(format!("P-256 `{name}` must be 32 bytes")))?;
                    Ok(bytes.into())
                };
                let point =
                    p256::EncodedPoint::from_affine_coordinates(&coord("x")?, &coord("y")?, false);
                Material::Ec(
                    p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                        .map_err(|_| invalid("EC point is not on P-256"))?,
                )
            }
            "OKP" => {
                if jwk.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                    return Err(invalid("only OKP curve Ed25519 is supported"));
                }
                let x: [u8; 32] = field("x")?
                    .try_into()
                    .map_err(|_| invalid("Ed25519 `x` must be 32 bytes"))?;
                Material::Ed(
                    ed25519_dalek::VerifyingKey::from_bytes(&x)
                        .map_err(|_| invalid("Ed25519 `x` is not a valid point"))?,
                )
            }
            other => return Err(invalid(format!("unsupported kty {other:?}"))),
        };
        let alg = match jwk.get("alg").and_then(Value::as_str) {
            Some(a) => {
                let alg = Alg::parse(a).map_err(|_| invalid(format!("unsupported alg {a:?}")))?;
                if alg.family() != material.family() {
                    return Err(invalid(format!("alg {a} does not fit kty {kty}")));
                }
                Some(alg)
            }
            None => None,
        };
        Ok(Key {
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
            alg,
            material,
        })
    }

    /// Whether this key may check a token with `alg` and header `kid`.
    pub(crate) fn fits(&self, alg: Alg, kid: Option<&str>) -> bool {
        self.material.family() == alg.family()
            && self.alg.is_none_or(|a| a == alg)
            && match (kid, &self.kid) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            }
    }

    /// The algorithms this key can verify, for the default allow-list.
    pub(crate) fn algorithms(&self) -> Vec<Alg> {
        if let Some(a) = self.alg {
            return vec![a];
        }
        match self.material.family() {
            Family::Hmac => vec![Alg::HS256, Alg::HS384, Alg::HS512],
            Family::Rsa => vec![Alg::RS256, Alg::RS384, Alg::RS512],
            Family::Ec => vec![Alg::ES256],
            Family::Ed => vec![Alg::EdDSA],
        }
    }

    /// Checks `sig` over `input`.
    ///
    /// # Errors
    /// `JwtInvalidKey` when an HMAC secret is shorter than the hash (RFC 7518 §3.2).
    pub(crate) fn verify(&self, alg: Alg, input: &[u8], sig: &[u8]) -> Result<bool> {
        use p256::ecdsa::signature::Verifier as _;
        Ok(match (&self.material, alg) {
            (Material::Hmac(k), Alg::HS256) => hmac_ok::<Hmac<Sha256>>(k, 32, input, sig)?,
            (Material::Hmac(k), Alg::HS384) => hmac_ok::<Hmac<Sha384>>(k, 48, input, sig)?,
            (Material::Hmac(k), Alg::HS512) => hmac_ok::<Hmac<Sha512>>(k, 64, input, sig)?,
            (Material::Rsa(k), Alg::RS256) => k
                .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input), sig)
                .is_ok(),
            (Material::Rsa(k), Alg::RS384) => k
                .verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input), sig)
                .is_ok(),
            (Material::Rsa(k), Alg::RS512) => k
                .verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input), sig)
                .is_ok(),
            (Material::Ec(k), Alg::ES256) => {
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(input, &s).is_ok())
            }
            (Material::Ed(k), Alg::EdDSA) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| k.verify_strict(input, &s).is_ok()),
            _ => false,
        })
    }
}

fn hmac_ok<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    min_len: usize,
    input: &[u8],
    sig: &[u8],
) -> Result<bool> {
    if key.len() < min_len {
        return Err(invalid(format!(
            "HMAC secret has {} bytes; this algorithm needs at least {min_len}",
            key.len()
        )));
    }
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .map_err(|_| invalid("HMAC secret rejected"))?;
    mac.update(input);
    Ok(mac.verify_slice(sig).is_ok())
}

fn rsa_material(k: RsaPublicKey) -> Result<Material> {
    if k.n().bits() < MIN_RSA_BITS {
        return Err(invalid(format!(
            "RSA key has {} bits; at least {MIN_RSA_BITS} are required",
            k.n().bits()
        )));
    }
    Ok(Material::Rsa(Box::new(k)))
}

fn rsa_from_pem(pem: &str) -> Option<RsaPublicKey> {
    use rsa::pkcs8::DecodePublicKey as _;
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .ok()
}
