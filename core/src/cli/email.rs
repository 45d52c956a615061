//! `better-email` (`@usebetterdev/email-cli`): its commands and options, the part of the `email`
//! section of `better.config.*` that places and isolates the tables (`schema`, `tenantSchema`,
//! `tenancy`, `hardened`, `retention`), and what its commands print. The `usebetter-cli` crate
//! runs the statements. The other keys of the section configure `betterEmail()` at run time
//! and are left to it.

use serde_json::{Map, Value};

use super::args::{flag, valued};
use super::args::{Opt, Program, CONFIG_PATH, DATABASE_URL, HELP, PREPARE};
use crate::email::store::retention::{BODIES_DAYS, METADATA_DAYS};
use crate::email::store::{PartitionWidth, Store, StoreConfig};
use crate::email::EmailError;
use crate::error::Result;

pub use super::store::{ahead, partitions_ready, purge_report, rls_flag};

pub const COMMANDS: [(&str, &str); 13] = [
    (
        "migrate",
        "Print, write or apply the email tables' DDL (idempotent)",
    ),
    (
        "check",
        "Verify tables, indexes, partitions, tenant isolation and the suppression lookup",
    ),
    (
        "purge",
        "Null old bodies, drop old partitions, delete expired keys and suppressions",
    ),
    (
        "ensure-partitions",
        "Create the message, recipient, attempt and event partitions ahead",
    ),
    (
        "worker",
        "Hand queued mail to the configured transport until stopped (or --once)",
    ),
    (
        "resolve",
        "Decide a message held ambiguous: --resend it or --drop it",
    ),
    ("retry", "Queue a failed or expired message once more"),
    ("cancel", "Cancel a queued message"),
    (
        "messages",
        "Show a message: its state, recipients, attempts and provider events",
    ),
    (
        "stats",
        "Queue, sent, failed, and 7-day complaint and hard-bounce rates per tenant",
    ),
    (
        "suppressions",
        "List, add or remove suppressions; import (CSV or NDJSON) or export (CSV) the list",
    ),
    (
        "senders",
        "List the tenants' senders, or verify one's DNS (SPF, DKIM, DMARC, alignment)",
    ),
    (
        "preview",
        "Serve every template rendered with its sample props on 127.0.0.1 until stopped",
    ),
];

fn options(command: &str) -> Option<Vec<Opt>> {
    let mut v = match command {
        "resolve" => vec![
            flag("resend").about("Queue it again (it may then arrive twice)"),
            flag("drop").about("Cancel it (it may then never arrive)"),
        ],
        "retry" | "cancel" => vec![],
        "messages" => vec![valued("tenant", "<uuid>").about("Only a message of this tenant")],
        "stats" => vec![
            valued("tenant", "<uuid>").about("Only this tenant"),
            valued("window", "<1h|24h|7d>").about("Sent and failed within (default 24h)"),
            valued("complaint-rate", "<fraction>").about("Warn above this 7-day complaint rate (default 0.001)"),
            valued("bounce-rate", "<fraction>").about("Warn above this 7-day hard-bounce rate (default 0.02)"),
        ],
        "suppressions" => vec![
            valued("file", "<path>")
                .about("import: the list to read (CSV with a header line, or NDJSON)"),
            valued("tenant", "<uuid>")
                .about("import: the tenant of rows that name none (default: global); export, list: only this tenant's; add, remove: the tenant's entry"),
            super::args::OUTPUT.about("export: write the CSV here instead of printing it"),
            valued("reason", "<reason>").about("add: why (default manual); list, remove: only this reason"),
            valued("scope", "<tenant|global>").about("add, remove, list: global entries apply to every tenant"),
            valued("category", "<name>").about("add: only this category (default all); remove: only this category's"),
            valued("expires", "<iso>").about("add: when the entry lapses (default never)"),
            valued("note", "<text>").about("add: why, for people"),
            valued("since", "<iso>").about("list: entries created since"),
            valued("limit", "<n>").about("list: entries per page (default 100)"),
            valued("cursor", "<cursor>").about("list: the page after the one that printed it"),
        ],
        "check" => vec![
            valued("dkim-sample", "<file.eml>")
                .about("Judge a received message's DKIM signature instead of the database"),
            flag("dns").about("Also look up each sender's SPF, DKIM and DMARC (fails on a verified sender's)"),
            DNS_SERVER,
        ],
        "senders" => vec![
            valued("tenant", "<uuid>").about("list: only this tenant's"),
            DNS_SERVER,
        ],
        "preview" => vec![
            valued("port", "<n>").about("Port on 127.0.0.1 (default 3001; 0 picks a free one)"),
            valued("tenant", "<uuid>").about("Render this tenant's stored overrides where it has them"),
        ],
        "worker" => vec![
            valued("concurrency", "<n>").about("Messages handed off at once (default: 16)"),
            flag("once").about("Hand off what is due now, then exit"),
            valued("max-seconds", "<n>").about("Stop (gracefully) after this many seconds"),
            PREPARE,
        ],
        other => super::store::table_options(other)?,
    };
    v.extend([
        flag("json").about("Print the result as JSON"),
        CONFIG_PATH,
        DATABASE_URL,
        HELP,
    ]);
    Some(v)
}

/// The resolver to ask instead of the system's (a split-horizon or test server).
const DNS_SERVER: Opt = valued("dns-server", "<host:port>")
    .about("Ask this DNS server instead of the system's resolvers");

pub const EMAIL: Program = Program {
    name: "better-email",
    about: "Transactional email on PostgreSQL: migrations, checks, retention and the worker",
    commands: &COMMANDS,
    options,
    positional: |command| match command {
        "resolve" | "retry" | "cancel" => Some("eml_id"),
        "suppressions" => Some("import|export|list|add|remove [address]"),
        "senders" => Some("list|verify [id]"),
        "messages" => Some("show eml_id"),
        _ => None,
    },
    required: |_| None,
};

/// `preview`'s options, checked: `{ port, tenant }`.
///
/// # Errors
/// A usage error naming the option.
pub fn preview_options(port: Option<&str>, tenant: Option<&str>) -> Result<Value> {
    let port = match port {
        None => 3001,
        Some(p) => p.parse::<u16>().map_err(|_| {
            crate::CliFailure::Usage.with(format!(
                "invalid --port {p:?}: expected a port number from 0 to 65535"
            ))
        })?,
    };
    if let Some(t) = tenant.filter(|t| !crate::resolve::is_uuid(t)) {
        return Err(crate::CliFailure::Usage.with(format!("error: --tenant {t:?} is not a UUID")));
    }
    Ok(serde_json::json!({ "port": port, "tenant": tenant }))
}

/// `retention` of the `email` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub bodies_days: u32,
    pub metadata_days: u32,
}

/// What the tool needs from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCli {
    pub store: Store,
    pub retention: Retention,
}

fn text(o: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EmailError::config(key, "a string").into()),
    }
}

fn days(o: &Map<String, Value>, key: &str, default: u32) -> Result<u32> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=36_500).contains(n))
            .ok_or_else(|| {
                EmailError::config(
                    format!("retention.{key}"),
                    "a whole number of days from 1 to 36500",
                )
                .into()
            }),
    }
}

fn retention(section: &Map<String, Value>) -> Result<(Retention, PartitionWidth)> {
    let o = match section.get("retention") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(EmailError::config("retention", "an object").into()),
    };
    if let Some(k) = o
        .keys()
        .find(|k| !["bodiesDays", "metadataDays", "partition"].contains(&k.as_str()))
    {
        return Err(EmailError::config(
            format!("retention.{k}"),
            "one of bodiesDays, metadataDays, partition (unknown key)",
        )
        .into());
    }
    let partition = match text(&o, "partition")
        .map_err(|_| EmailError::config("retention.partition", "\"day\", \"week\" or \"month\""))?
        .as_deref()
    {
        None | Some("week") => PartitionWidth::Week,
        Some("day") => PartitionWidth::Day,
        Some("month") => PartitionWidth::Month,
        Some(_) => {
            return Err(
                EmailError::config("retention.partition", "\"day\", \"week\" or \"month\"").into(),
            )
        }
    };
    Ok((
        Retention {
            bodies_days: days(&o, "bodiesDays", BODIES_DAYS)?,
            metadata_days: days(&o, "metadataDays", METADATA_DAYS)?,
        },
        partition,
    ))
}

/// The `email` section of the loaded config, compiled: `tenancy` defaults to `"rls"` when the
/// config has a `tenant` section (else `"none"`), and `rls` (`--rls` / `--no-rls`) overrides it;
/// `hardened` follows `tenant.hardened` unless set.
///
/// # Errors
/// `EMAIL_INVALID_CONFIG` naming the key.
pub fn email_config(config: Option<&Value>, rls: Option<bool>) -> Result<EmailCli> {
    let section = match config.and_then(|c| c.get("email")) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(EmailError::config("email", "an object").into()),
    };
    let tenant = config
        .and_then(|c| c.get("tenant"))
        .filter(|t| !t.is_null());
    let tenancy = match text(&section, "tenancy")?.as_deref() {
        None => tenant.is_some(),
        Some("rls") => true,
        Some("none") => false,
        Some(_) => return Err(EmailError::config("tenancy", "\"rls\" or \"none\"").into()),
    };
    let hardened = match section.get("hardened") {
        None | Some(Value::Null) => tenant
            .and_then(|t| t.get("hardened"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(EmailError::config("hardened", "a boolean").into()),
    };
    let (retention, partition) = retention(&section)?;
    let store = Store::new(&StoreConfig {
        schema: text(&section, "schema")?,
        rls: rls.unwrap_or(tenancy),
        hardened,
        tenant_schema: text(&section, "tenantSchema")?,
        partition,
    })?;
    Ok(EmailCli { store, retention })
}

/// What `suppressions import` prints: `read` rows, `added` of them new.
#[must_use]
pub fn suppressions_imported(read: usize, added: usize, as_json: bool) -> String {
    if as_json {
        return format!(
            "{}\n",
            serde_json::json!({ "read": read, "added": added, "present": read - added.min(read) })
        );
    }
    format!(
        "imported {read} suppressions: {added} new, {} already present\n",
        read - added.min(read)
    )
}

/// `migrate`'s line after applying.
#[must_use]
pub fn migrate_applied(changed: bool, rls: bool, as_json: bool) -> String {
    super::store::migrate_applied("email", changed, rls, as_json)
}

#[cfg(test)]
mod tests {
    use super::super::args::{parse_with, Parsed};
    use super::*;
    use serde_json::json;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn commands_options_and_config() {
        let Ok(Parsed::Run(inv)) =
            parse_with(&EMAIL, &args(&["migrate", "-o", "x.sql", "--rls"]), "1")
        else {
            panic!()
        };
        assert_eq!(inv.value("output"), Some("x.sql"));
        assert_eq!(
            rls_flag(inv.has("rls"), inv.has("no-rls")).unwrap(),
            Some(true)
        );
        assert!(parse_with(&EMAIL, &args(&["check", "--plans"]), "1").is_err());
        for (command, _) in COMMANDS {
            for o in options(command).unwrap() {
                assert!(!o.about.is_empty(), "{command} --{}", o.long);
            }
        }
        let cfg = json!({ "tenant": { "tenantTables": [], "hardened": true }, "email": { "retention": { "bodiesDays": 3 } } });
        let c = email_config(Some(&cfg), None).unwrap();
        assert!(c.store.rls() && c.store.hardened());
        assert_eq!(
            c.retention,
            Retention {
                bodies_days: 3,
                metadata_days: 90
            }
        );
        assert!(!email_config(Some(&cfg), Some(false)).unwrap().store.rls());
        let none = email_config(None, None).unwrap();
        assert!(!none.store.rls());
        for (bad, field) in [
            (
                json!({ "email": { "retention": { "bodyDays": 3 } } }),
                "retention.bodyDays",
            ),
            (
                json!({ "email": { "retention": { "metadataDays": 0 } } }),
                "retention.metadataDays",
            ),
            (json!({ "email": { "tenancy": "yes" } }), "tenancy"),
            (json!({ "email": { "schema": "" } }), "schema"),
            (json!({ "email": 1 }), "email"),
        ] {
            let e = email_config(Some(&bad), None).unwrap_err();
            assert_eq!(e.code(), "EMAIL_INVALID_CONFIG");
            assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
        }
    }
}
