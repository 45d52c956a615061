//! `better-webhooks` (`@usebetterdev/webhooks-cli`): its commands and options, the `webhooks`
//! section of `better.config.*` with the secrets key from the environment, and what its
//! commands print. The `usebetter-cli` crate runs the statements.

use serde_json::{json, Map, Value};

use super::args::{
    flag, valued, whole_number, Opt, Program, CONFIG_PATH, DATABASE_URL, HELP, PREPARE,
};
pub use super::store::{ahead, partitions_ready, purge_report, rls_flag};
use crate::bridge::webhooks::Webhooks;
use crate::error::{CliFailure, Error, Result};
use crate::webhooks::seal::SecretsKeys;

/// The environment variable with the key-encryption key (`secretsKey`).
pub const KEY_VARIABLE: &str = "BETTER_WEBHOOKS_KEY";
/// The key being replaced, during a key change.
pub const PREVIOUS_KEY_VARIABLE: &str = "BETTER_WEBHOOKS_KEY_PREVIOUS";

pub const COMMANDS: [(&str, &str); 13] = [
    (
        "migrate",
        "Print, write or apply the webhook tables' DDL (idempotent)",
    ),
    (
        "check",
        "Verify tables, indexes, partitions, tenant isolation, secrets, workers and the backlog",
    ),
    ("purge", "Drop and delete what is older than retention.days"),
    (
        "ensure-partitions",
        "Create the message and attempt partitions ahead",
    ),
    (
        "rekey",
        "Seal every endpoint's keys again with BETTER_WEBHOOKS_KEY",
    ),
    ("keys", "keys generate [--v1a]: print a new endpoint secret"),
    (
        "worker",
        "Deliver pending webhooks until stopped (SIGTERM/SIGINT finish in-flight requests)",
    ),
    (
        "listen",
        "A local receiver for development: verify and print each delivery",
    ),
    (
        "replay",
        "Send a message again to its endpoints (or one, --endpoint), once each",
    ),
    (
        "recover",
        "Deliver an endpoint's exhausted (and with --include-missing, missed) messages again",
    ),
    (
        "lanes",
        "List blocked ordering lanes; lanes resolve <lane_id> --retry|--skip unblocks one",
    ),
    (
        "endpoints",
        "endpoints list|disable|enable|health [ep_id]: the operator's view of endpoints",
    ),
    ("stats", "Backlog, outcomes and latency over a window"),
];

const JSON: Opt = flag("json").about("Print the result as JSON");

fn options(command: &str) -> Option<Vec<Opt>> {
    let mut v = match command {
        "check" => vec![flag("plans").about("Also EXPLAIN the worker's hot statements")],
        "rekey" => vec![],
        "worker" => vec![
            valued("concurrency", "<n>").about("Requests in flight at most (default: 64)"),
            flag("once").about("Deliver what is due now, then exit"),
            valued("max-seconds", "<n>").about("Stop (gracefully) after this many seconds"),
            PREPARE,
        ],
        "keys" => vec![flag("v1a").about("An ed25519 key pair instead of an HMAC secret")],
        "replay" => vec![
            valued("endpoint", "<ep_id>").about("Only to this endpoint"),
            valued("tenant", "<uuid>").about("Only if the message is this tenant's"),
        ],
        "recover" => vec![
            valued("endpoint", "<ep_id>").about("The endpoint (required)"),
            valued("since", "<when>")
                .about("From: 24h, 30m, 7d ago or an ISO 8601 time (required)"),
            valued("until", "<when>").about("Up to (default: now)"),
            flag("include-missing").about("Also messages that never had a delivery to it"),
            valued("tenant", "<uuid>").about("Only if the endpoint is this tenant's"),
        ],
        "lanes" => vec![
            flag("blocked").about("Blocked lanes (the lanes an operator acts on; the default)"),
            valued("endpoint", "<ep_id>").about("Only this endpoint's lanes"),
            valued("limit", "<n>").about("At most this many (default: 100)"),
            flag("retry").about("resolve: deliver the head again"),
            flag("skip").about("resolve: skip the head, release the rest in order"),
            valued("tenant", "<uuid>").about("Only this tenant's lanes"),
        ],
        "endpoints" => vec![
            valued("tenant", "<uuid>").about("Only this tenant's endpoints"),
            valued("status", "<status>").about("list: enabled, disabled or deleted"),
            valued("limit", "<n>").about("list: at most this many (default: 100)"),
            valued("reason", "<text>").about("disable: the reason stored (default: manual)"),
        ],
        "stats" => vec![
            valued("tenant", "<uuid>").about("Only this tenant"),
            valued("window", "<1h|24h|7d>")
                .about("The window of the outcome figures (default: 24h)"),
        ],
        "listen" => vec![
            valued("port", "<n>").about("Port on 127.0.0.1 (default: 8787; 0 picks a free one)"),
            valued("secret", "<key>")
                .about("The endpoint's whsec_ secret or whpk_ public key (required)"),
            valued("status", "<code>")
                .about("Status to answer verified deliveries with (default: 204)"),
        ],
        other => super::store::table_options(other)?,
    };
    v.push(JSON);
    if command != "keys" && command != "listen" {
        v.extend([CONFIG_PATH, DATABASE_URL]);
    }
    v.push(HELP);
    Some(v)
}

pub const WEBHOOKS: Program = Program {
    name: "better-webhooks",
    about: "Outbound webhooks on PostgreSQL: migrations, checks, retention and secrets",
    commands: &COMMANDS,
    options,
    positional: |c| match c {
        "keys" => Some("action"),
        "replay" => Some("msg_id"),
        "endpoints" => Some("list|disable|enable|health [ep_id]"),
        "lanes" => Some("[resolve] [lane_id]"),
        _ => None,
    },
    required: |_| None,
};

/// `keys <action>`: only `generate`.
///
/// # Errors
/// `CLI_USAGE` for another action.
pub fn keys_action(action: &str) -> Result<()> {
    if action == "generate" {
        Ok(())
    } else {
        Err(CliFailure::Usage.with(format!(
            "error: unknown action '{action}' for 'keys' (expected: generate)"
        )))
    }
}

fn key_error(variable: &str, e: impl std::fmt::Display) -> Error {
    let text = e.to_string();
    let reason = text.split_once(": ").map_or(text.as_str(), |(_, r)| r);
    CliFailure::Usage.with(format!("invalid {variable}: {reason}"))
}

/// The `webhooks` section of the loaded config, compiled: the secrets key comes from
/// `BETTER_WEBHOOKS_KEY` (and `_PREVIOUS`) only, never from the file; `tenancy` defaults to
/// `"rls"` when the config has a `tenant` section (else `"none"`), and `rls` (`--rls` /
/// `--no-rls`) overrides it; `hardened` follows `tenant.hardened` unless set.
///
/// # Errors
/// `WEBHOOKS_INVALID_CONFIG` naming the key; `CLI_USAGE` naming the variable for a malformed key.
pub fn webhooks_config(
    config: Option<&Value>,
    key: Option<&str>,
    previous: Option<&str>,
    rls: Option<bool>,
) -> Result<Webhooks> {
    Webhooks::new(&webhooks_section(config, key, previous, rls)?, false)
}

/// The `webhooks` section as [`webhooks_config`] compiles it (secrets key from the
/// environment, `tenancy` and `hardened` defaults): what the `worker` command hands to
/// `betterWebhooks()`, so the tools and the worker read the config the same way.
///
/// # Errors
/// As [`webhooks_config`], before compiling.
pub fn webhooks_section(
    config: Option<&Value>,
    key: Option<&str>,
    previous: Option<&str>,
    rls: Option<bool>,
) -> Result<Value> {
    let mut section = match config.and_then(|c| c.get("webhooks")) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(Error::rejected("invalid `webhooks`: expected an object")),
    };
    let tenant = config
        .and_then(|c| c.get("tenant"))
        .filter(|t| !t.is_null());
    section.remove("secretsKey");
    let key = key.filter(|k| !k.is_empty());
    let previous = previous.filter(|k| !k.is_empty());
    if let Some(k) = key {
        SecretsKeys::parse(KEY_VARIABLE, k, None).map_err(|e| key_error(KEY_VARIABLE, e))?;
        if let Some(p) = previous {
            SecretsKeys::parse(PREVIOUS_KEY_VARIABLE, p, None)
                .map_err(|e| key_error(PREVIOUS_KEY_VARIABLE, e))?;
        }
        section.insert(
            "secretsKey".into(),
            json!({ "current": k, "previous": previous }),
        );
    } else if previous.is_some() {
        return Err(CliFailure::Usage.with(format!(
            "{PREVIOUS_KEY_VARIABLE} is set without {KEY_VARIABLE}: set {KEY_VARIABLE} to the new key"
        )));
    }
    match rls {
        Some(on) => {
            section.insert("tenancy".into(), json!(if on { "rls" } else { "none" }));
        }
        None if !section.contains_key("tenancy") => {
            section.insert(
                "tenancy".into(),
                json!(if tenant.is_some() { "rls" } else { "none" }),
            );
        }
        None => {}
    }
    if !section.contains_key("hardened") {
        if let Some(h) = tenant
            .and_then(|t| t.get("hardened"))
            .and_then(Value::as_bool)
        {
            section.insert("hardened".into(), json!(h));
        }
    }
    Ok(Value::Object(section))
}

/// `listen`'s options: `port` (default 8787, 0 for a free one), the `secret` (or public key)
/// deliveries must verify with, and the `status` verified deliveries get (200 to 599).
///
/// # Errors
/// `CLI_USAGE` naming the option.
pub fn listen_options(
    port: Option<&str>,
    secret: Option<&str>,
    status: Option<&str>,
) -> Result<Value> {
    let port = port.map_or(Ok(8787), |v| {
        v.parse::<u16>().map_err(|_| {
            CliFailure::Usage.with(format!(
                "invalid --port {v:?}: expected a port number from 0 to 65535"
            ))
        })
    })?;
    let secret = secret.filter(|s| !s.is_empty()).ok_or_else(|| {
        CliFailure::Usage.with(
            "listen needs --secret: the endpoint's whsec_ secret (or whpk_ public key), as `webhooks.endpoints.create` returned it",
        )
    })?;
    let valid = if secret.starts_with("whpk_") {
        crate::webhooks::keys::parse_verifying_key("secret", secret).is_ok()
    } else {
        crate::webhooks::keys::parse_signing_key("secret", secret).is_ok()
    };
    if !valid {
        return Err(CliFailure::Usage
            .with("invalid --secret: expected a whsec_ secret or a whpk_ public key"));
    }
    let status = status.map_or(Ok(204), |v| {
        v.parse::<u16>()
            .ok()
            .filter(|n| (200..=599).contains(n))
            .ok_or_else(|| {
                CliFailure::Usage.with(format!(
                    "invalid --status {v:?}: expected an HTTP status from 200 to 599"
                ))
            })
    })?;
    let key = if secret.starts_with("whpk_") {
        "publicKey"
    } else {
        "secret"
    };
    Ok(json!({ "port": port, key: secret, "status": status }))
}

/// `worker`'s options: `concurrency` (1 to 1024, default 64), `once`, `maxSeconds` (null for
/// no limit), `prepare` (named prepared statements).
///
/// # Errors
/// `CLI_USAGE` naming the option.
pub fn worker_options(
    concurrency: Option<&str>,
    once: bool,
    max_seconds: Option<&str>,
    prepare: bool,
) -> Result<Value> {
    let concurrency = concurrency.map_or(Ok(64), |v| whole_number("concurrency", v, 1, 1024))?;
    let max_seconds = max_seconds
        .map(|v| whole_number("max-seconds", v, 1, 31_536_000))
        .transpose()?;
    Ok(
        json!({ "concurrency": concurrency, "once": once, "maxSeconds": max_seconds, "prepare": prepare }),
    )
}

/// `migrate`'s line after applying.
#[must_use]
pub fn migrate_applied(changed: bool, rls: bool, as_json: bool) -> String {
    super::store::migrate_applied("webhook", changed, rls, as_json)
}

/// `rekey`'s line.
#[must_use]
pub fn rekeyed(endpoints: usize, as_json: bool) -> String {
    if as_json {
        return format!("{}\n", json!({ "resealed": endpoints }));
    }
    format!("sealed the keys of {endpoints} endpoints again with {KEY_VARIABLE}\n")
}

/// `rekey` without a key.
#[must_use]
pub fn rekey_needs_key() -> Error {
    CliFailure::Usage.with(format!(
        "rekey seals with {KEY_VARIABLE}: set it to the new key, and {PREVIOUS_KEY_VARIABLE} to the one it replaces"
    ))
}

/// `keys generate`'s output.
#[must_use]
pub fn generated(secret: &str, public_key: Option<&str>, as_json: bool) -> String {
    if as_json {
        return format!("{}\n", json!({ "secret": secret, "publicKey": public_key }));
    }
    match public_key {
        Some(p) => format!("secret: {secret}\npublic key: {p}\n"),
        None => format!("{secret}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::{parse_with, Parsed};
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn commands_and_options() {
        let Ok(Parsed::Run(inv)) = parse_with(
            &WEBHOOKS,
            &args(&["migrate", "-o", "x.sql", "--no-rls"]),
            "1",
        ) else {
            panic!()
        };
        assert_eq!(inv.value("output"), Some("x.sql"));
        assert_eq!(
            rls_flag(inv.has("rls"), inv.has("no-rls")).unwrap(),
            Some(false)
        );
        let e = parse_with(&WEBHOOKS, &args(&["keys"]), "1").unwrap_err();
        assert_eq!(e.to_string(), "error: missing required argument 'action'");
        assert_eq!(keys_action("rotate").unwrap_err().code(), "CLI_USAGE");
        assert_eq!(
            worker_options(None, false, None, false).unwrap(),
            json!({ "concurrency": 64, "once": false, "maxSeconds": null, "prepare": false })
        );
        assert_eq!(
            worker_options(Some("8"), true, Some("30"), true).unwrap(),
            json!({ "concurrency": 8, "once": true, "maxSeconds": 30, "prepare": true })
        );
        for bad in ["0", "1025", "x", "-1"] {
            let e = worker_options(Some(bad), false, None, false).unwrap_err();
            assert_eq!(e.code(), "CLI_USAGE");
            assert!(e.to_string().starts_with("invalid --concurrency"), "{e}");
        }
        assert!(worker_options(None, false, Some("0"), false).is_err());
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(
            listen_options(None, Some(secret), None).unwrap(),
            json!({ "port": 8787, "secret": secret, "status": 204 })
        );
        let public = "whpk_4rQZjjkCnn4m/ciYBaRPSZTA+Y/UwqgD6hgxOllF28g=";
        assert_eq!(
            listen_options(Some("0"), Some(public), Some("500")).unwrap(),
            json!({ "port": 0, "publicKey": public, "status": 500 })
        );
        for (port, key, status, start) in [
            (Some("70000"), Some(secret), None, "invalid --port"),
            (None, None, None, "listen needs --secret"),
            (None, Some("whsec_x"), None, "invalid --secret"),
            (None, Some(secret), Some("99"), "invalid --status"),
        ] {
            let e = listen_options(port, key, status).unwrap_err();
            assert_eq!(e.code(), "CLI_USAGE");
            assert!(e.to_string().starts_with(start), "{e}");
        }
        for (command, _) in COMMANDS {
            for o in options(command).unwrap() {
                assert!(!o.about.is_empty(), "{command} --{}", o.long);
            }
        }
        assert_eq!(ahead("ahead", None).unwrap(), 4);
        assert!(ahead("ahead", Some("x"))
            .unwrap_err()
            .to_string()
            .contains("--ahead"));
    }

    #[test]
    fn config_and_keys() {
        let key = crate::webhooks::keys::b64_encode(&[1; 32]);
        let cfg = json!({ "tenant": { "tenantTables": [] }, "webhooks": { "secretsKey": "from-the-file", "retention": { "days": 7 } } });
        let w = webhooks_config(Some(&cfg), Some(&key), None, None).unwrap();
        assert!(w.config().secrets.is_some());
        assert_eq!(w.config().settings.retention_days, 7);
        assert_eq!(
            w.config().settings.tenancy,
            crate::webhooks::config::Tenancy::Rls
        );
        let none = webhooks_config(None, None, None, None).unwrap();
        assert_eq!(
            none.config().settings.tenancy,
            crate::webhooks::config::Tenancy::None
        );
        assert!(none.config().secrets.is_none());
        let e = webhooks_config(None, Some("c2hvcnQ="), None, None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid BETTER_WEBHOOKS_KEY: expected 32 bytes"),
            "{e}"
        );
        let e = webhooks_config(None, None, Some(&key), None).unwrap_err();
        assert!(e.to_string().contains("without BETTER_WEBHOOKS_KEY"));
        let bad = json!({ "webhooks": { "delivery": { "timoutMs": 1 } } });
        let e = webhooks_config(Some(&bad), None, None, None).unwrap_err();
        assert_eq!(e.code(), "WEBHOOKS_INVALID_CONFIG");
        assert!(e.to_string().contains("delivery.timoutMs"));
    }
}
