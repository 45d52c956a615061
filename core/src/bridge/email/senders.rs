//! Senders as an API (spec §11): what `senders.create/list/verify/remove` mean as statements
//! ([`Email::sender_plan`]) and what their rows mean ([`Email::sender_result`]). A verification
//! runs in two statements around the caller's DNS lookups, so no transaction waits on the
//! resolver: `get` hands back the names to look up, `verified` the core's judgement to store.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::input::input_path;
use super::suppressions::{arg, fields, scope, text, uuid};
use super::{em, Email};
use crate::email::address::{parse_address, AddressOptions};
use crate::email::config::Config;
use crate::email::dns::{self, Answers, Expect, Overrides};
use crate::email::recipients::AddressInput;
use crate::email::EmailError;
use crate::error::Result;
use crate::input::from_value;

/// The transports' kinds, as `transportKind` names them.
const KINDS: [&str; 9] = [
    "resend", "postmark", "ses", "sendgrid", "mailgun", "smtp", "console", "file", "capture",
];

/// Longest display name kept (a From header's phrase, not a paragraph).
const NAME_MAX: usize = 200;

fn flag(m: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(arg(key, "expected a boolean")),
    }
}

/// `scope: "global"`: the app's own sender.
fn global(m: &Map<String, Value>) -> Result<bool> {
    Ok(scope(m)?.unwrap_or(false))
}

fn id(m: &Map<String, Value>) -> Result<String> {
    let id = text(m, "id")?.ok_or_else(|| arg("id", "missing"))?;
    uuid("id", Some(&id)).map(|_| id)
}

/// A sender's stored expectations (`sender.expect`, `dns_report.expect`).
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` when there are none (the row was not written by `senders.create`).
pub fn expect_of(expect: &Value) -> Result<Expect> {
    Expect::deserialize(expect).map_err(|_| {
        arg(
            "expect",
            "the sender has no DNS expectations (create it with senders.create)",
        )
    })
}

/// An address's domain, lower-cased.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The domain of the app's `from` (none for the tools' configuration, which may lack one).
pub(super) fn from_domain(config: &Config) -> String {
    let ao = AddressOptions {
        smtp_utf8: config.settings.smtp_utf8,
    };
    parse_address(
        "from",
        &AddressInput::Text(config.settings.from.clone()),
        ao,
    )
    .map(|m| domain_of(&m.address))
    .unwrap_or_default()
}

/// A sender row as the API returns it.
fn sender(r: &Value) -> Value {
    let f = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let report = f("dns_report");
    json!({
        "id": f("id"), "tenantId": f("tenant_id"), "domain": f("domain"), "address": f("address"),
        "displayName": f("display_name"), "transport": f("transport"),
        "transportIdentity": f("transport_identity"), "default": f("is_default"),
        "verifiedAt": f("verified_at"), "expect": report.get("expect").cloned().unwrap_or(Value::Null),
        "dns": report.get("report").cloned().unwrap_or(Value::Null), "createdAt": f("created_at"),
    })
}

fn has_id(r: &Value) -> bool {
    r.get("id").is_some_and(|v| !v.is_null())
}

impl Email {
    /// The sends whose `from` needs a verified sender: `(input, address, domain)` for each one
    /// outside the domain of the app's own `from` and its subdomains (the app's operator's).
    pub(super) fn sender_checks(
        &self,
        raw: &[Value],
        many: bool,
    ) -> Result<Vec<(usize, String, String)>> {
        let ao = AddressOptions {
            smtp_utf8: self.config.settings.smtp_utf8,
        };
        let mut out = Vec::new();
        for (n, v) in raw.iter().enumerate() {
            let Some(from) = v.get("from").filter(|f| !f.is_null()) else {
                continue;
            };
            let field = input_path(many, n, "from");
            let given: AddressInput = from_value(&field, from)?;
            let mailbox = parse_address(&field, &given, ao).map_err(em)?;
            let domain = domain_of(&mailbox.address);
            let app = &self.from_domain;
            let own = domain == *app || domain.ends_with(&format!(".{app}"));
            if !own {
                out.push((n, mailbox.address.to_lowercase(), domain));
            }
        }
        Ok(out)
    }

    /// Applies the lookup: a message without `from` goes from the tenant's `default` verified
    /// sender when it has one; `covered` holds the (1-based) checks a verified sender covers. An
    /// uncovered `from` fails the send, or with `senders.fallback: "app"` goes: the message is
    /// sent from the app's `from`, the address asked for as its `Reply-To` (unless it has one).
    pub(super) fn sender_verdict(
        &self,
        raw: &mut [Value],
        checks: &[(usize, String)],
        covered: &BTreeSet<i64>,
        default: Option<&Value>,
        many: bool,
    ) -> Result<()> {
        if let Some(address) = default
            .and_then(|d| d.get("address"))
            .filter(|a| a.is_string())
        {
            let mut from = json!({ "address": address });
            if let Some(name) = default
                .and_then(|d| d.get("display_name"))
                .filter(|n| n.is_string())
            {
                from["name"] = name.clone();
            }
            for o in raw.iter_mut().filter_map(Value::as_object_mut) {
                if o.get("from").is_none_or(Value::is_null) {
                    o.insert("from".into(), from.clone());
                }
            }
        }
        for (k, (n, address)) in (1i64..).zip(checks) {
            if covered.contains(&k) {
                continue;
            }
            if !self.config.settings.sender_fallback_app {
                return Err(em(EmailError::SenderNotVerified {
                    field: input_path(many, *n, "from"),
                    address: address.clone(),
                }));
            }
            if let Some(o) = raw.get_mut(*n).and_then(Value::as_object_mut) {
                let from = o.remove("from");
                if o.get("replyTo").is_none_or(Value::is_null) {
                    if let Some(f) = from {
                        o.insert("replyTo".into(), f);
                    }
                }
            }
        }
        Ok(())
    }

    /// `(domain, address)` of a new sender: an address names its domain; a domain alone lets
    /// every address at it send.
    fn sender_identity(&self, m: &Map<String, Value>) -> Result<(String, Option<String>)> {
        let ao = AddressOptions {
            smtp_utf8: self.config.settings.smtp_utf8,
        };
        let address = text(m, "address")?
            .map(|a| parse_address("address", &AddressInput::Text(a), ao).map_err(em))
            .transpose()?;
        let from_address = address
            .as_ref()
            .and_then(|a| a.address.rsplit_once('@').map(|(_, d)| d.to_owned()));
        let domain = match (text(m, "domain")?, from_address) {
            (None, None) => return Err(arg("domain", "give `domain` or `address`")),
            (Some(d), None) => dns::domain("domain", &d).map_err(em)?,
            (None, Some(d)) => dns::domain("address", &d).map_err(em)?,
            (Some(d), Some(a)) => {
                let d = dns::domain("domain", &d).map_err(em)?;
                if !a.eq_ignore_ascii_case(&d) {
                    return Err(arg("domain", format!("the address is at {a}, not {d}")));
                }
                d
            }
        };
        Ok((domain, address.map(|a| a.address)))
    }

    fn create(&self, input: &Value, tenant: Option<String>) -> Result<Value> {
        let m = fields(
            input,
            &[
                "domain",
                "address",
                "displayName",
                "transport",
                "transportKind",
                "transportIdentity",
                "default",
                "dns",
                "scope",
            ],
        )?;
        let (domain, address) = self.sender_identity(m)?;
        let default = flag(m, "default")?.unwrap_or(false);
        if default && address.is_none() {
            return Err(arg(
                "default",
                "a default sender is the `from` of the tenant's mail: give it an `address`",
            ));
        }
        let name = text(m, "displayName")?;
        if let Some(n) = &name {
            if n.chars().count() > NAME_MAX || n.contains(['\r', '\n', '\0']) {
                return Err(em(EmailError::InvalidHeader {
                    field: "displayName".into(),
                    reason: format!("one line of at most {NAME_MAX} characters"),
                }));
            }
        }
        let transport = text(m, "transport")?;
        if let Some(t) = &transport {
            let known = &self.config.settings.transports;
            if !known.iter().any(|k| k == t) {
                return Err(arg(
                    "transport",
                    format!("{t:?} is not a configured transport ({})", known.join(", ")),
                ));
            }
        }
        let kind = text(m, "transportKind")?;
        if let Some(k) = kind.as_deref().filter(|k| !KINDS.contains(k)) {
            return Err(arg(
                "transportKind",
                format!("{k:?} is not a transport kind"),
            ));
        }
        let overrides: Overrides = match m.get("dns") {
            None | Some(Value::Null) => Overrides::default(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| arg("dns", format!("{e} (expected {{ envelopeDomain?, spfInclude?, dkimSelectors?, dkimDomain? }})")))?,
        };
        let expect = dns::expect(&domain, kind.as_deref(), &overrides).map_err(em)?;
        let params = json!([
            tenant,
            global(m)?,
            domain,
            address,
            name,
            transport,
            text(m, "transportIdentity")?,
            default,
            json!({ "expect": expect }),
        ]);
        Ok(json!({ "statement": "senderPut", "params": params }))
    }

    /// The statement of sender operation `op` (`create`, `list`, `get`, `verified`, `remove`):
    /// `{ statement, params }`.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` / `EMAIL_INVALID_ADDRESS` / `EMAIL_INVALID_HEADER` naming the field.
    pub fn sender_plan(&self, op: &str, input: &Value, tenant_id: Option<&str>) -> Result<Value> {
        let tenant = uuid("tenantId", tenant_id)?;
        let (statement, params) = match op {
            "create" => return self.create(input, tenant),
            "list" => {
                let m = fields(input, &["scope"])?;
                ("sendersList", json!([tenant, global(m)?, null]))
            }
            "get" => {
                let m = fields(input, &["id"])?;
                ("sendersList", json!([tenant, false, id(m)?]))
            }
            "verified" => {
                let m = fields(input, &["id", "expect", "answers"])?;
                let expect: Expect = m
                    .get("expect")
                    .and_then(|e| serde_json::from_value(e.clone()).ok())
                    .ok_or_else(|| {
                        arg(
                            "expect",
                            "expected the `expect` of the sender `get` returned",
                        )
                    })?;
                let answers: Answers = m
                    .get("answers")
                    .and_then(|a| serde_json::from_value(a.clone()).ok())
                    .ok_or_else(|| {
                        arg(
                            "answers",
                            "expected { \"TXT name\": { records } | { error } }",
                        )
                    })?;
                let report = dns::judge(&expect, &answers);
                let stored = json!({ "expect": expect, "report": report });
                let params = json!([id(m)?, tenant, stored, report.passed, report.inconclusive]);
                ("senderVerified", params)
            }
            "remove" => (
                "senderRemove",
                json!([id(fields(input, &["id"])?)?, tenant]),
            ),
            other => return Err(arg("op", format!("unknown sender operation {other:?}"))),
        };
        Ok(json!({ "statement": statement, "params": params }))
    }

    /// What the rows of [`Email::sender_plan`]'s statement mean.
    ///
    /// # Errors
    /// `EMAIL_TENANT_REQUIRED` (a tenant's sender without a tenant), `EMAIL_NOT_FOUND` (no such
    /// sender in the caller's view), `EMAIL_INVALID_ARGUMENT`.
    pub fn sender_result(&self, op: &str, input: &Value, rows: &Value) -> Result<Value> {
        let Some(rows) = rows.as_array() else {
            return Err(arg("rows", "expected an array of row objects"));
        };
        let found = |what: &str| {
            let id = input.get("id").and_then(Value::as_str).unwrap_or_default();
            rows.iter().find(|r| has_id(r)).map(sender).ok_or_else(|| {
                em(EmailError::NotFound {
                    what: format!("sender {id}{what}"),
                })
            })
        };
        match op {
            "create" => {
                let m = input.as_object().cloned().unwrap_or_default();
                let first = rows.first();
                let has = |k: &str| first.and_then(|r| r.get(k)).is_some_and(|v| !v.is_null());
                if global(&m)? {
                    if has("context") {
                        return Err(arg("scope", "a global sender is the app's: create it in system context (outside a tenant scope, or in tenant.runAsSystem)"));
                    }
                } else if !has("scope") {
                    return Err(em(EmailError::TenantRequired {
                        action: "senders.create".into(),
                    }));
                }
                found("")
            }
            "list" => Ok(Value::Array(rows.iter().map(sender).collect())),
            "get" => {
                let s = found("")?;
                let queries = expect_of(&s["expect"])?.queries();
                Ok(json!({ "sender": s, "queries": queries }))
            }
            "verified" => found(" (removed while it was being verified)"),
            "remove" => Ok(json!({ "removed": rows.iter().any(has_id) })),
            other => Err(arg("op", format!("unknown sender operation {other:?}"))),
        }
    }
}
