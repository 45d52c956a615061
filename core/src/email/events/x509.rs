//! The SNS signing certificate: parsed with `x509-cert`, checked for validity at `now`, for its
//! subject common name, and (when the caller supplies a trusted CA) for the CA's signature and
//! issuer name. Yields the RSA key that verifies SNS messages.

use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::db::rfc4519::CN;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::name::Name;
use x509_cert::Certificate;

use super::sns::host_matches;
use crate::email::error::{EmailError, Result};

const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

fn reject(reason: impl Into<String>) -> EmailError {
    EmailError::EventCertRejected {
        reason: reason.into(),
    }
}

/// The common names of `name`, as text.
fn common_names(name: &Name) -> Vec<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == CN)
        .filter_map(|atv| {
            let v = &atv.value;
            v.decode_as::<Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    v.decode_as::<PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .or_else(|_| {
                    v.decode_as::<Ia5StringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .ok()
        })
        .collect()
}

/// A trusted CA: its subject (when given as a certificate) and its public key's SPKI DER.
struct Ca {
    subject: Option<Name>,
    spki: Vec<u8>,
}

fn parse_ca(pem: &str) -> Result<Ca> {
    let invalid = || EmailError::InvalidConfig {
        field: "trustedCa".into(),
        expected: "a CA certificate or public key in PEM".into(),
    };
    if let Ok(c) = Certificate::from_pem(pem.as_bytes()) {
        let spki = c
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| invalid())?;
        return Ok(Ca {
            subject: Some(c.tbs_certificate.subject),
            spki,
        });
    }
    let (label, der) = x509_cert::der::pem::decode_vec(pem.as_bytes()).map_err(|_| invalid())?;
    if label != "PUBLIC KEY" {
        return Err(invalid());
    }
    Ok(Ca {
        subject: None,
        spki: der,
    })
}

/// Checks `cert`'s signature under `ca`'s key (RSA PKCS#1 v1.5 SHA-256/384/512, ECDSA P-256).
fn signed_by(cert: &Certificate, ca: &Ca) -> Result<()> {
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|_| reject("the certificate does not re-encode"))?;
    let sig = cert.signature.raw_bytes();
    let alg = cert.signature_algorithm.oid;
    let ok = if alg == ECDSA_SHA256 {
        use p256::ecdsa::signature::Verifier;
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(&ca.spki).map_err(|_| {
            reject("the certificate is signed with ECDSA but the CA key is not P-256")
        })?;
        p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| key.verify(&tbs, &s).is_ok())
    } else {
        let key = RsaPublicKey::from_public_key_der(&ca.spki)
            .map_err(|_| reject("the certificate is signed with RSA but the CA key is not RSA"))?;
        let r = match alg {
            a if a == RSA_SHA256 => {
                key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&tbs), sig)
            }
            a if a == RSA_SHA384 => {
                key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(&tbs), sig)
            }
            a if a == RSA_SHA512 => {
                key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(&tbs), sig)
            }
            other => {
                return Err(reject(format!(
                    "unsupported certificate signature algorithm {other}"
                )))
            }
        };
        r.is_ok()
    };
    if !ok {
        return Err(reject("the certificate is not signed by the trusted CA"));
    }
    if let Some(subject) = &ca.subject {
        if *subject != cert.tbs_certificate.issuer {
            return Err(reject("the certificate's issuer is not the trusted CA"));
        }
    }
    Ok(())
}

/// The RSA key of the SNS signing certificate `pem`, after the checks of the module.
pub(super) fn signing_key(
    pem: &str,
    subjects: &[&str],
    trusted_ca: Option<&str>,
    now: i64,
) -> Result<RsaPublicKey> {
    let cert =
        Certificate::from_pem(pem.as_bytes()).map_err(|_| reject("not a PEM X.509 certificate"))?;
    let tbs = &cert.tbs_certificate;
    let secs = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    let (from, until) = (secs(tbs.validity.not_before), secs(tbs.validity.not_after));
    if now < from || now > until {
        return Err(reject(format!(
            "not valid at {now} (valid from {from} until {until})"
        )));
    }
    let names = common_names(&tbs.subject);
    if !names
        .iter()
        .any(|n| subjects.iter().any(|p| host_matches(p, n)))
    {
        return Err(reject(format!(
            "subject {names:?} is not an SNS signing name"
        )));
    }
    if let Some(ca) = trusted_ca {
        signed_by(&cert, &parse_ca(ca)?)?;
    }
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|_| reject("the public key does not re-encode"))?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|_| reject("the certificate's key is not RSA"))
}

/// PKCS#1 v1.5 over `data` with SHA-1 (`SignatureVersion` 1) or SHA-256 (2).
pub(super) fn verify_rsa(
    key: &RsaPublicKey,
    version: u8,
    data: &[u8],
    sig: &[u8],
) -> std::result::Result<(), ()> {
    let r = if version == 1 {
        key.verify(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(data), sig)
    } else {
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data), sig)
    };
    r.map_err(|_| ())
}
