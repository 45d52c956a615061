//! `betterWebhooks(config)` and the CLI's `webhooks:` section: every key the product knows, its
//! default and its range, checked once here so the package, the worker and the CLI agree.
//! The packages strip what cannot cross the boundary (the database adapter, `onEvent`, the audit
//! instance) and hand the rest over as given; a key this module does not know is a mistake
//! (``unknown key `delivery.timoutMs` ``), never silently ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::Envelope;
use super::error::{Result, WebhooksError};
use super::event_types::EventTypes;
use super::keys::Scheme;
use super::limits::{check_max_payload_bytes, DEFAULT_MAX_PAYLOAD_BYTES};
use super::network::NetworkPolicy;
use super::outcome::{parse_duration_ms, DisableRule};
use super::schedule::{RetryPolicy, RetrySchedule, DEFAULT_JITTER};
use super::seal::SecretsKeys;
use super::store::{PartitionWidth, Store, StoreConfig};

/// `secretsKey`: one key, or the current one and the one it replaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretsKeyInput {
    One(String),
    Pair {
        current: String,
        previous: Option<String>,
    },
}

/// Which signature headers a request carries (`headers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderMode {
    #[default]
    Standard,
    Svix,
    Both,
}

/// `delivery.storeResponseBody`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreResponseBody {
    Always,
    #[default]
    Failures,
    Never,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tenancy {
    #[default]
    Rls,
    None,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Signing {
    default: Option<Scheme>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Delivery {
    timeout_ms: Option<u32>,
    connect_timeout_ms: Option<u32>,
    retry_schedule: Option<RetrySchedule>,
    jitter: Option<f64>,
    max_response_bytes: Option<u32>,
    store_response_bytes: Option<u32>,
    store_response_body: Option<StoreResponseBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Disable {
    after: Option<String>,
    min_failed_attempts: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Network {
    #[serde(default)]
    allow_http: bool,
    #[serde(default)]
    allow_networks: Vec<String>,
    #[serde(default)]
    deny_networks: Vec<String>,
    proxy: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Retention {
    days: Option<u32>,
    partition: Option<PartitionWidth>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OperatorEndpoint {
    url: String,
    secret: String,
}

/// The configuration as written (functions and adapters already removed).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Input {
    event_types: Option<Vec<String>>,
    validate_payloads: Option<bool>,
    secrets_key: Option<SecretsKeyInput>,
    #[serde(default)]
    signing: Signing,
    headers: Option<HeaderMode>,
    envelope: Option<Envelope>,
    max_payload_bytes: Option<usize>,
    #[serde(default)]
    delivery: Delivery,
    #[serde(default)]
    disable: Disable,
    #[serde(default)]
    network: Network,
    require_transaction: Option<bool>,
    idempotency_window: Option<String>,
    max_endpoints_per_tenant: Option<u32>,
    #[serde(default)]
    allow_plaintext_secrets: bool,
    #[serde(default)]
    retention: Retention,
    tenancy: Option<Tenancy>,
    operator_endpoint: Option<OperatorEndpoint>,
    schema: Option<String>,
    tenant_schema: Option<String>,
    #[serde(default)]
    hardened: bool,
}

/// The settings the TypeScript engine reads (numbers resolved, defaults applied).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub validate_payloads: bool,
    pub signing_default: Scheme,
    pub headers: HeaderMode,
    pub envelope: Envelope,
    pub max_payload_bytes: usize,
    pub timeout_ms: u32,
    pub connect_timeout_ms: u32,
    pub max_response_bytes: u32,
    pub store_response_bytes: u32,
    pub store_response_body: StoreResponseBody,
    pub allow_http: bool,
    pub proxy: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub require_transaction: bool,
    pub idempotency_window_secs: f64,
    pub max_endpoints_per_tenant: u32,
    pub allow_plaintext_secrets: bool,
    pub has_secrets_key: bool,
    pub retention_days: u32,
    pub tenancy: Tenancy,
    pub operator_endpoint: Option<String>,
    pub disable_after_ms: i64,
    pub min_failed_attempts: u32,
}

/// Everything `betterWebhooks(config)` compiles once.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub event_types: EventTypes,
    pub retry: RetryPolicy,
    pub network: NetworkPolicy,
    pub secrets: Option<SecretsKeys>,
    pub store: Store,
    pub disable: DisableRule,
    /// The operator endpoint's secret (`operatorEndpoint.secret`), validated.
    pub operator_secret: Option<String>,
}

fn range(field: &str, v: Option<u32>, default: u32, lo: u32, hi: u32) -> Result<u32> {
    let v = v.unwrap_or(default);
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(WebhooksError::config(
            field,
            format!("{lo} to {hi}, got {v}"),
        ))
    }
}

/// Reads `config` (a JSON object). `require_event_types` is false for the CLI, whose config
/// file may omit them.
///
/// # Errors
/// `WEBHOOKS_INVALID_CONFIG` naming the first bad key (``unknown key `…` `` for a misspelt one),
/// or the error of the part that refused it (event types, CIDRs, schedule, secrets key).
pub fn parse(config: &Value, require_event_types: bool) -> Result<Config> {
    let input: Input = crate::input::config_object(config)
        .map_err(|(field, expected)| WebhooksError::config(field, expected))?;
    let names = match input.event_types {
        Some(n) => n,
        None if require_event_types => {
            return Err(WebhooksError::config(
                "eventTypes",
                "the list of event types (`defineEventTypes({...})` or string[])",
            ))
        }
        None => Vec::new(),
    };
    let event_types = EventTypes::new(&names)?;
    let secrets = match &input.secrets_key {
        None => None,
        Some(SecretsKeyInput::One(k)) => Some(SecretsKeys::parse("secretsKey", k, None)?),
        Some(SecretsKeyInput::Pair { current, previous }) => Some(SecretsKeys::parse(
            "secretsKey",
            current,
            previous.as_deref(),
        )?),
    };
    let d = &input.delivery;
    let timeout_ms = range("delivery.timeoutMs", d.timeout_ms, 15_000, 1_000, 30_000)?;
    let connect_timeout_ms = range(
        "delivery.connectTimeoutMs",
        d.connect_timeout_ms,
        5_000.min(timeout_ms),
        100,
        timeout_ms,
    )?;
    let max_response_bytes = range(
        "delivery.maxResponseBytes",
        d.max_response_bytes,
        65_536,
        0,
        10_485_760,
    )?;
    let store_response_bytes = range(
        "delivery.storeResponseBytes",
        d.store_response_bytes,
        8_192.min(max_response_bytes),
        0,
        max_response_bytes,
    )?;
    let schedule = d
        .retry_schedule
        .clone()
        .unwrap_or(RetrySchedule::Named("standard".into()));
    let retry = RetryPolicy::new(&schedule, d.jitter.unwrap_or(DEFAULT_JITTER))?;
    let disable = DisableRule {
        after_ms: match &input.disable.after {
            Some(t) => parse_duration_ms("disable.after", t)?,
            None => DisableRule::default().after_ms,
        },
        min_failed_attempts: range(
            "disable.minFailedAttempts",
            input.disable.min_failed_attempts,
            10,
            1,
            10_000,
        )?,
    };
    let n = &input.network;
    let network = NetworkPolicy::new(&n.allow_networks, &n.deny_networks)?;
    if let Some(p) = &n.proxy {
        if !(p.starts_with("http://") || p.starts_with("https://")) {
            return Err(WebhooksError::config(
                "network.proxy",
                "an http:// or https:// URL of an HTTP CONNECT proxy",
            ));
        }
    }
    let idempotency_window_ms = match &input.idempotency_window {
        Some(t) => parse_duration_ms("idempotencyWindow", t)?,
        None => 30 * 86_400_000,
    };
    let retention_days = range("retention.days", input.retention.days, 30, 1, 3_650)?;
    let tenancy = input.tenancy.unwrap_or_default();
    let store = Store::new(&StoreConfig {
        schema: input.schema.clone(),
        rls: tenancy == Tenancy::Rls,
        hardened: input.hardened,
        tenant_schema: input.tenant_schema.clone(),
        partition: input.retention.partition.unwrap_or_default(),
    })?;
    let operator_secret = match &input.operator_endpoint {
        Some(o) => {
            super::keys::parse_signing_key("operatorEndpoint.secret", &o.secret)?;
            Some(o.secret.clone())
        }
        None => None,
    };
    let settings = Settings {
        validate_payloads: input.validate_payloads.unwrap_or(true),
        signing_default: input.signing.default.unwrap_or(Scheme::V1),
        headers: input.headers.unwrap_or_default(),
        envelope: input.envelope.unwrap_or_default(),
        max_payload_bytes: check_max_payload_bytes(
            input.max_payload_bytes.unwrap_or(DEFAULT_MAX_PAYLOAD_BYTES),
        )?,
        timeout_ms,
        connect_timeout_ms,
        max_response_bytes,
        store_response_bytes,
        store_response_body: d.store_response_body.unwrap_or_default(),
        allow_http: n.allow_http,
        proxy: n.proxy.clone(),
        insecure_skip_tls_verify: n.insecure_skip_tls_verify,
        require_transaction: input.require_transaction.unwrap_or(true),
        // Durations are whole milliseconds well inside f64's exact range.
        idempotency_window_secs: idempotency_window_ms as f64 / 1000.0,
        max_endpoints_per_tenant: range(
            "maxEndpointsPerTenant",
            input.max_endpoints_per_tenant,
            50,
            1,
            100_000,
        )?,
        allow_plaintext_secrets: input.allow_plaintext_secrets,
        has_secrets_key: secrets.is_some(),
        retention_days,
        tenancy,
        operator_endpoint: input.operator_endpoint.map(|o| o.url),
        disable_after_ms: disable.after_ms,
        min_failed_attempts: disable.min_failed_attempts,
    };
    Ok(Config {
        settings,
        event_types,
        retry,
        network,
        secrets,
        store,
        disable,
        operator_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> WebhooksError {
        parse(&v, true).unwrap_err()
    }

    #[test]
    fn defaults() {
        let c = parse(&json!({ "eventTypes": ["invoice.paid"] }), true).unwrap();
        let s = &c.settings;
        assert_eq!((s.timeout_ms, s.connect_timeout_ms), (15_000, 5_000));
        assert_eq!(
            (s.max_response_bytes, s.store_response_bytes),
            (65_536, 8_192)
        );
        assert_eq!(s.max_payload_bytes, 262_144);
        assert_eq!(s.idempotency_window_secs, 2_592_000.0);
        assert_eq!(s.max_endpoints_per_tenant, 50);
        assert!(s.require_transaction && s.validate_payloads && !s.has_secrets_key);
        assert_eq!(c.retry.max_attempts(), 10);
        assert_eq!(c.disable, DisableRule::default());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err(json!({ "eventTypes": [], "delivery": { "timoutMs": 1 } }));
        assert_eq!(e.code(), "WEBHOOKS_INVALID_CONFIG");
        assert!(
            e.to_string().contains("unknown key `delivery.timoutMs`"),
            "{e}"
        );
        let e = err(json!({ "eventTypes": [], "secretKey": "x" }));
        assert!(e.to_string().contains("unknown key `secretKey`"), "{e}");
    }

    #[test]
    fn ranges_name_the_field() {
        for (v, field) in [
            (
                json!({ "delivery": { "timeoutMs": 999 } }),
                "delivery.timeoutMs",
            ),
            (
                json!({ "delivery": { "timeoutMs": 2000, "connectTimeoutMs": 3000 } }),
                "delivery.connectTimeoutMs",
            ),
            (json!({ "maxPayloadBytes": 2_000_000 }), "maxPayloadBytes"),
            (json!({ "disable": { "after": "5" } }), "disable.after"),
            (
                json!({ "network": { "allowNetworks": ["1.2.3.4/33"] } }),
                "network.allowNetworks[0]",
            ),
            (
                json!({ "network": { "proxy": "socks5://x" } }),
                "network.proxy",
            ),
            (json!({ "secretsKey": "c2hvcnQ=" }), "secretsKey"),
            (json!({ "retention": { "days": 0 } }), "retention.days"),
            (json!({ "headers": "all" }), "headers"),
        ] {
            let mut v = v;
            v["eventTypes"] = json!(["a.b"]);
            let e = err(v);
            assert!(
                e.to_string().contains(&format!("`{field}`")),
                "{field}: {e}"
            );
        }
        let e = err(json!({}));
        assert!(e.to_string().contains("`eventTypes`"), "{e}");
        assert!(parse(&json!({}), false).is_ok());
        let e = err(json!({ "eventTypes": ["bad..name"] }));
        assert_eq!(e.code(), "WEBHOOKS_INVALID_EVENT_TYPE");
    }
}
