//! JWT (JWS compact serialisation) decoding and verification.
//!
//! Keys are parsed once into a [`Verifier`]; verifying a token is then pure computation. The
//! caller supplies the current time, because the core reads no clock (wasm32 has none).

mod keys;

pub use keys::{Alg, Key};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A JSON value that may be one string or a list of strings (`aud`, `audience`, `issuer`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn contains(&self, s: &str) -> bool {
        match self {
            OneOrMany::One(v) => v == s,
            OneOrMany::Many(vs) => vs.iter().any(|v| v == s),
        }
    }
}

/// A JWKS given either as a parsed object or as JSON text.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum JwksInput {
    Text(String),
    Document(Value),
}

/// How to verify tokens. At least one of `secret`, `public_key`, `jwks` is required.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct VerifyOptions {
    /// HMAC secret for HS256/384/512.
    pub secret: Option<String>,
    /// PEM public key (RSA, P-256 or Ed25519).
    pub public_key: Option<String>,
    /// JWKS document (object or JSON text).
    #[cfg_attr(feature = "ts", ts(type = "string | { keys: object[] }", optional))]
    pub jwks: Option<JwksInput>,
    /// Allowed algorithms; defaults to every algorithm the configured keys can check.
    #[cfg_attr(
        feature = "ts",
        ts(
            type = r#"Array<"HS256" | "HS384" | "HS512" | "RS256" | "RS384" | "RS512" | "ES256" | "EdDSA">"#,
            optional
        )
    )]
    pub algorithms: Option<Vec<String>>,
    /// Required audience(s): the token's `aud` must contain one of them.
    pub audience: Option<OneOrMany>,
    /// Required issuer(s): the token's `iss` must equal one of them.
    pub issuer: Option<OneOrMany>,
    /// Clock skew tolerated for `exp` and `nbf`, in seconds. Default 0.
    pub leeway: Option<u32>,
}

/// Compiled verification settings.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<Key>,
    allowed: Vec<Alg>,
    audience: Option<OneOrMany>,
    issuer: Option<OneOrMany>,
    leeway: i64,
}

impl Verifier {
    /// Parses the keys and the allow-list.
    ///
    /// # Errors
    /// `JwtNoKeys` when no key is given; `JwtInvalidKey` or `InvalidConfig` for bad values.
    pub fn new(opts: &VerifyOptions) -> Result<Verifier> {
        let mut keys = Vec::new();
        if let Some(s) = &opts.secret {
            keys.push(Key::secret(s)?);
        }
        if let Some(p) = &opts.public_key {
            keys.push(Key::pem(p)?);
        }
        match &opts.jwks {
            Some(JwksInput::Text(t)) => {
                let doc: Value = serde_json::from_str(t)
                    .map_err(|e| Error::config("jwks", format!("a JWKS JSON document ({e})")))?;
                keys.extend(Key::jwks(&doc)?);
            }
            Some(JwksInput::Document(d)) => keys.extend(Key::jwks(d)?),
            None => {}
        }
        if keys.is_empty() {
            return Err(Error::JwtNoKeys);
        }
        let allowed = match &opts.algorithms {
            Some(names) if names.is_empty() => {
                return Err(Error::config("algorithms", "a non-empty list"))
            }
            Some(names) => names
                .iter()
                .map(|n| {
                    Alg::parse(n).map_err(|_| {
                        Error::config("algorithms", format!("known JWS algorithms, got {n:?}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            None => {
                let mut all: Vec<Alg> = keys.iter().flat_map(Key::algorithms).collect();
                all.dedup();
                all
            }
        };
        Ok(Verifier {
            keys,
            allowed,
            audience: opts.audience.clone(),
            issuer: opts.issuer.clone(),
            leeway: i64::from(opts.leeway.unwrap_or(0)),
        })
    }

    /// Verifies signature and registered claims; returns the payload object.
    ///
    /// # Errors
    /// One of the `Jwt*` variants, naming the first check that failed.
    pub fn verify(&self, token: &str, now: i64) -> Result<Map<String, Value>> {
        let (header, payload, input, sig) = split(token)?;
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(Error::JwtAlgNone)?;
        let alg = Alg::parse(alg_name)?;
        if header.contains_key("crit") {
            return Err(Error::JwtMalformed {
                reason: "`crit` header extensions are not supported".into(),
            });
        }
        if !self.allowed.contains(&alg) {
            return Err(Error::JwtAlgNotAllowed {
                alg: alg_name.into(),
            });
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let mut candidates = self.keys.iter().filter(|k| k.fits(alg, kid)).peekable();
        if candidates.peek().is_none() {
            return Err(Error::JwtKeyNotFound {
                kid: kid.map(str::to_owned),
                alg: alg.name().into(),
            });
        }
        let mut verified = false;
        for key in candidates {
            if key.verify(alg, input.as_bytes(), &sig)? {
                verified = true;
                break;
            }
        }
        if !verified {
            return Err(Error::JwtBadSignature);
        }
        self.check_claims(&payload, now)?;
        Ok(payload)
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: i64) -> Result<()> {
        if let Some(exp) = numeric_claim(claims, "exp")? {
            if now >= exp.saturating_add(self.leeway) {
                return Err(Error::JwtExpired { exp, now });
            }
        }
        if let Some(nbf) = numeric_claim(claims, "nbf")? {
            if now.saturating_add(self.leeway) < nbf {
                return Err(Error::JwtNotYetValid { nbf, now });
            }
        }
        if let Some(want) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => want.contains(a),
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|a| want.contains(a)),
                _ => false,
            };
            if !ok {
                return Err(Error::JwtBadAudience);
            }
        }
        if let Some(want) = &self.issuer {
            if !claims
                .get("iss")
                .and_then(Value::as_str)
                .is_some_and(|i| want.contains(i))
            {
                return Err(Error::JwtBadIssuer);
            }
        }
        Ok(())
    }
}

/// Decodes the payload without checking anything. Only for callers that explicitly opted in
/// to unverified tokens; `alg: none` is still refused so such tokens never look legitimate.
///
/// # Errors
/// `JwtMalformed` or `JwtAlgNone`.
pub fn decode_unverified(token: &str) -> Result<Map<String, Value>> {
    let (header, payload, _, _) = split(token)?;
    match header.get("alg").and_then(Value::as_str) {
        None => Err(Error::JwtAlgNone),
        Some(a) if a.eq_ignore_ascii_case("none") => Err(Error::JwtAlgNone),
        Some(_) => Ok(payload),
    }
}

/// The token of an `Authorization` value `Bearer <token>`: the scheme in any case, then
/// whitespace, then one run of non-whitespace characters and nothing after it. Anything else
/// (another scheme, no token, two words) is no token.
#[must_use]
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let value = authorization.trim();
    let split = value.find(char::is_whitespace)?;
    let (scheme, rest) = value.split_at(split);
    let token = rest.trim_start();
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(char::is_whitespace);
    well_formed.then_some(token)
}

/// The string claim `claim` of the request's Bearer token, the one way every package reads an
/// actor or tenant from a token. With `verify` the token is verified (signature, `exp`, `nbf`,
/// `aud`, `iss` at `now`); without, it is only decoded, and `alg: none` is still refused. A
/// missing, malformed, unverifiable token or a claim that is not a non-empty string is `None`.
///
/// # Errors
/// Only a bad `verify` (unparsable keys); a bad token is `Ok(None)`.
pub fn bearer_claim(
    authorization: &str,
    claim: &str,
    verify: Option<&VerifyOptions>,
    now: i64,
) -> Result<Option<String>> {
    let verifier = verify.map(Verifier::new).transpose()?;
    let Some(token) = bearer_token(authorization) else {
        return Ok(None);
    };
    let claims = match &verifier {
        Some(v) => v.verify(token, now),
        None => decode_unverified(token),
    };
    Ok(claims.ok().and_then(|c| match c.get(claim) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }))
}

/// Reads `claim` as a non-empty string.
///
/// # Errors
/// `JwtClaimMissing` when absent, empty (after trimming) or not a string.
pub fn string_claim(claims: &Map<String, Value>, claim: &str) -> Result<String> {
    match claims.get(claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        _ => Err(Error::JwtClaimMissing {
            claim: claim.to_owned(),
        }),
    }
}

type Parts<'a> = (Map<String, Value>, Map<String, Value>, &'a str, Vec<u8>);

fn split(token: &str) -> Result<Parts<'_>> {
    let malformed = |reason: &str| Error::JwtMalformed {
        reason: reason.to_owned(),
    };
    let token = token.trim();
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(malformed("expected three dot-separated segments"));
    };
    let json_object = |seg: &str, what: &str| -> Result<Map<String, Value>> {
        let bytes = URL_SAFE_NO_PAD
            .decode(seg)
            .map_err(|_| malformed(&format!("{what} is not base64url")))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(malformed(&format!("{what} is not a JSON object"))),
        }
    };
    let header = json_object(h, "header")?;
    let payload = json_object(p, "payload")?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| malformed("signature is not base64url"))?;
    Ok((header, payload, &token[..h.len() + 1 + p.len()], sig))
}

fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            // NumericDate may be fractional; whole seconds are what every issuer means.
            #[expect(clippy::cast_possible_truncation, reason = "checked finite, seconds")]
            n.as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.floor() as i64)
                })
                .map(Some)
                .ok_or_else(|| Error::JwtBadClaim {
                    claim: name.into(),
                    expected: "a NumericDate (seconds since the epoch)".into(),
                })
        }
        Some(_) => Err(Error::JwtBadClaim {
            claim: name.into(),
            expected: "a NumericDate (seconds since the epoch)".into(),
        }),
    }
}
