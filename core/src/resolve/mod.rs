//! Tenant resolution from plain request data.
//!
//! Strategies run in the reference's order, header → path → subdomain → jwt (a `custom`
//! callback stays in JavaScript and runs after these). The first strategy that yields a valid
//! identifier wins; with a JS `resolveToId` callback, the first non-empty value, unvalidated,
//! since that callback decides what the value means. A strategy whose value is present but
//! unusable (an invalid identifier, a token that fails verification) is reported in `rejected`
//! and resolution moves on, so the caller can log why a request ended up without a tenant.

mod host;
mod ids;
mod path;

pub use host::{hostname, subdomain_label};
pub use ids::{check_slug, is_slug, is_uuid, normalize_tenant_id, IdKind, MAX_SLUG_LEN, SLUG_RULE};
pub use path::{match_pattern, path_of, percent_decode};

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::jwt::{self, Verifier, VerifyOptions};

/// Which strategy produced (or rejected) a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Strategy {
    Header,
    Path,
    Subdomain,
    Jwt,
}

/// `path: "/t/:tenantId/*"` or `path: { pattern, segmentIndex }`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged, deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum PathConfig {
    Pattern(String),
    Detailed {
        pattern: String,
        #[cfg_attr(feature = "serde", serde(rename = "segmentIndex"))]
        #[cfg_attr(feature = "ts", ts(optional))]
        segment_index: Option<usize>,
    },
}

/// `subdomain: true` or `subdomain: { segmentIndex }`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged, deny_unknown_fields))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SubdomainConfig {
    Enabled(bool),
    Detailed {
        #[cfg_attr(feature = "serde", serde(rename = "segmentIndex"))]
        #[cfg_attr(feature = "ts", ts(optional))]
        segment_index: Option<usize>,
    },
}

/// `jwt: "tenant_id"` or `jwt: { claim, ...verify options, unverified }`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum JwtConfig {
    Claim(String),
    Detailed(
        #[cfg_attr(
            feature = "ts",
            ts(type = "{ claim: string, unverified?: boolean } & VerifyOptions")
        )]
        Box<JwtDetails>,
    ),
}

/// The object form of the `jwt` strategy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JwtDetails {
    pub claim: String,
    /// Decode without verifying. Off by default: without keys the strategy rejects tokens.
    pub unverified: bool,
    pub verify: VerifyOptions,
}

/// By hand rather than with `flatten`, which ignores unknown keys: a misspelt `secret` would
/// leave the strategy without keys, refusing every token with no hint why.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for JwtDetails {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let claim = match map.remove("claim") {
            Some(serde_json::Value::String(c)) => c,
            Some(_) => return Err(D::Error::custom("`claim` must be a string")),
            None => return Err(D::Error::missing_field("claim")),
        };
        let unverified = match map.remove("unverified") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => b,
            Some(_) => return Err(D::Error::custom("`unverified` must be true or false")),
        };
        let verify = serde::Deserialize::deserialize(serde_json::Value::Object(map))
            .map_err(D::Error::custom)?;
        Ok(JwtDetails {
            claim,
            unverified,
            verify,
        })
    }
}

/// Resolver configuration (`tenantResolver` without its JS callbacks). Unknown keys are
/// refused: a misspelt strategy would otherwise leave every request without a tenant.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct ResolverConfig {
    pub header: Option<String>,
    pub path: Option<PathConfig>,
    pub subdomain: Option<SubdomainConfig>,
    pub jwt: Option<JwtConfig>,
    /// A JS `custom` callback runs after these strategies (it counts as a strategy).
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>"))]
    pub custom: bool,
    /// A JS `resolveToId` callback maps identifiers to ids: it gets the raw (trimmed) value,
    /// which is not validated here (a custom domain such as `acme.example` is not a slug).
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>"))]
    pub resolve_to_id: bool,
}

/// A header value as Node and Fetch give it: one string or several.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum HeaderValue {
    One(String),
    Many(Vec<String>),
}

/// The parts of a request resolution looks at.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "ResolveRequest"))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct Request {
    /// Header names in any case.
    #[cfg_attr(feature = "serde", serde(default))]
    #[cfg_attr(feature = "ts", ts(as = "Option<BTreeMap<String, HeaderValue>>"))]
    pub headers: BTreeMap<String, HeaderValue>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub url: Option<String>,
    /// A token obtained by the caller; otherwise `Authorization: Bearer` is read.
    pub token: Option<String>,
    /// Claims already verified by the caller (a JS `verifyToken` callback).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>", optional))]
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Request {
    /// First value of a header, case-insensitively.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| match v {
                HeaderValue::One(s) => Some(s.as_str()),
                HeaderValue::Many(list) => list.first().map(String::as_str),
            })
    }

    fn bearer(&self) -> Option<&str> {
        if let Some(t) = self.token.as_deref().filter(|t| !t.trim().is_empty()) {
            return Some(t.trim());
        }
        jwt::bearer_token(self.header("authorization")?)
    }
}

/// A value a strategy found but could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Rejection {
    pub strategy: Strategy,
    pub code: &'static str,
    pub message: String,
}

/// Outcome of resolution. `value` is `None` when no strategy produced a usable identifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Resolution {
    pub value: Option<String>,
    pub strategy: Option<Strategy>,
    pub kind: Option<IdKind>,
    pub rejected: Vec<Rejection>,
}

#[derive(Debug, Clone)]
enum JwtMode {
    Verified(Verifier),
    Unverified,
    NoKeys,
}

/// One strategy's attempt: `None` when it found nothing, `Some(Err)` when it found junk.
type Step<'a> = dyn Fn() -> Option<Result<String>> + 'a;

/// A compiled resolver: validated config and parsed keys, reusable across requests.
#[derive(Debug, Clone)]
pub struct Resolver {
    header: Option<String>,
    path: Option<(String, Option<usize>)>,
    subdomain: Option<Option<usize>>,
    jwt: Option<(String, JwtMode)>,
    /// Candidates go to `resolveToId` unvalidated (`kind` is `None`).
    raw: bool,
}

impl Resolver {
    /// Validates `config` and parses JWT keys.
    ///
    /// # Errors
    /// `InvalidConfig` naming the field, or a `Jwt*` key error.
    pub fn new(config: &ResolverConfig) -> Result<Resolver> {
        let header = config.header.as_deref().map(check_header).transpose()?;
        let path = match &config.path {
            None => None,
            Some(PathConfig::Pattern(p)) => Some((check_pattern(p)?, None)),
            Some(PathConfig::Detailed {
                pattern,
                segment_index,
            }) => Some((check_pattern(pattern)?, *segment_index)),
        };
        let subdomain = match &config.subdomain {
            None | Some(SubdomainConfig::Enabled(false)) => None,
            Some(SubdomainConfig::Enabled(true)) => Some(None),
            Some(SubdomainConfig::Detailed { segment_index }) => Some(*segment_index),
        };
        let jwt = match &config.jwt {
            None => None,
            Some(JwtConfig::Claim(c)) => Some((check_claim(c)?, JwtMode::NoKeys)),
            Some(JwtConfig::Detailed(d)) => {
                let claim = check_claim(&d.claim)?;
                let has_keys = d.verify.secret.is_some()
                    || d.verify.public_key.is_some()
                    || d.verify.jwks.is_some();
                let mode = match (has_keys, d.unverified) {
                    (true, true) => {
                        return Err(Error::config(
                            "tenantResolver.jwt.unverified",
                            "false when keys are configured (keys mean tokens are verified)",
                        ))
                    }
                    (true, false) => JwtMode::Verified(Verifier::new(&d.verify)?),
                    (false, true) => JwtMode::Unverified,
                    (false, false) => JwtMode::NoKeys,
                };
                Some((claim, mode))
            }
        };
        let none = header.is_none() && path.is_none() && subdomain.is_none() && jwt.is_none();
        if none && !config.custom {
            return Err(Error::config(
                "tenantResolver",
                "at least one strategy: header, path, subdomain, jwt or custom",
            ));
        }
        Ok(Resolver {
            header,
            path,
            subdomain,
            jwt,
            raw: config.resolve_to_id,
        })
    }

    /// Whether the JWT strategy decodes tokens without verifying them (callers warn once).
    #[must_use]
    pub fn jwt_unverified(&self) -> bool {
        matches!(self.jwt, Some((_, JwtMode::Unverified)))
    }

    /// Resolves one request. `now` is the current Unix time in seconds. With `resolveToId`
    /// the first non-empty candidate is returned trimmed, with `kind` `None`.
    #[must_use]
    pub fn resolve(&self, req: &Request, now: i64) -> Resolution {
        let mut out = Resolution::default();
        let steps: [(Strategy, &Step<'_>); 4] = [
            (Strategy::Header, &|| self.candidate_header(req)),
            (Strategy::Path, &|| self.candidate_path(req)),
            (Strategy::Subdomain, &|| self.candidate_subdomain(req)),
            (Strategy::Jwt, &|| self.candidate_jwt(req, now)),
        ];
        for (strategy, step) in steps {
            let Some(found) = step() else { continue };
            let classified = found.and_then(|raw| {
                if !self.raw {
                    return normalize_tenant_id(&raw).map(|(v, k)| Some((v, Some(k))));
                }
                let trimmed = raw.trim();
                Ok((!trimmed.is_empty()).then(|| (trimmed.to_owned(), None)))
            });
            match classified {
                Ok(None) => {}
                Ok(Some((value, kind))) => {
                    out.value = Some(value);
                    out.strategy = Some(strategy);
                    out.kind = kind;
                    return out;
                }
                Err(e) => out.rejected.push(Rejection {
                    strategy,
                    code: e.code(),
                    message: e.to_string(),
                }),
            }
        }
        out
    }

    fn candidate_header(&self, req: &Request) -> Option<Result<String>> {
        let v = req.header(self.header.as_deref()?)?.trim();
        (!v.is_empty()).then(|| Ok(v.to_owned()))
    }

    fn candidate_path(&self, req: &Request) -> Option<Result<String>> {
        let (pattern, index) = self.path.as_ref()?;
        let source = req.path.as_deref().or(req.url.as_deref())?;
        let raw = match_pattern(pattern, source, *index)?;
        Some(percent_decode(raw).ok_or_else(|| Error::InvalidTenantId {
            value: raw.to_owned(),
        }))
    }

    fn candidate_subdomain(&self, req: &Request) -> Option<Result<String>> {
        let index = *self.subdomain.as_ref()?;
        let host = req
            .host
            .as_deref()
            .or_else(|| req.url.as_deref().and_then(host::host_of_url))
            .or_else(|| req.header("host"))?;
        subdomain_label(host, index).map(Ok)
    }

    fn candidate_jwt(&self, req: &Request, now: i64) -> Option<Result<String>> {
        let (claim, mode) = self.jwt.as_ref()?;
        if let Some(claims) = &req.claims {
            return Some(jwt::string_claim(claims, claim));
        }
        let token = req.bearer()?;
        let claims = match mode {
            JwtMode::Verified(v) => v.verify(token, now),
            JwtMode::Unverified => jwt::decode_unverified(token),
            JwtMode::NoKeys => Err(Error::JwtNoKeys),
        };
        Some(claims.and_then(|c| jwt::string_claim(&c, claim)))
    }
}

/// An HTTP header name is a token (RFC 9110 §5.1): anything else (a newline, a space) can
/// never match a real header, so the strategy would silently find nothing.
fn check_header(h: &str) -> Result<String> {
    let name = h.trim();
    let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(Error::config(
            "tenantResolver.header",
            format!("a header name (letters, digits and !#$%&'*+-.^_`|~), got {h:?}"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}

fn check_pattern(p: &str) -> Result<String> {
    let has_param = p.split('/').any(|s| s.len() > 1 && s.starts_with(':'));
    if !p.starts_with('/') || !has_param {
        return Err(Error::config(
            "tenantResolver.path",
            format!(
                "a pattern starting with '/' with a `:param` segment for the tenant, like \"/t/:tenantId/*\"; got {p:?}"
            ),
        ));
    }
    Ok(p.to_owned())
}

fn check_claim(c: &str) -> Result<String> {
    if c.trim().is_empty() {
        return Err(Error::config(
            "tenantResolver.jwt.claim",
            "a non-empty claim name",
        ));
    }
    Ok(c.trim().to_owned())
}
