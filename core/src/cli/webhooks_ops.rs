//! `better-webhooks replay | recover | lanes | endpoints | stats` (spec §17): the operator's
//! actions and views, in system context (every tenant's rows, or one tenant's with `--tenant`).
//! The core picks the statement and its parameters from the invocation and turns the rows into
//! the report; the CLI crate binds the parameters, runs the statement and hands the rows back
//! as JSON. The statements are the ones the package's API runs (`webhooks.replay(…)` and so on).

use serde_json::{json, Map, Value};

use super::args::Invocation;
use crate::audit::time::{format_iso, parse_iso};
use crate::bridge::webhooks::Webhooks;
use crate::error::{CliFailure, Result};
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::store::cursor::stats_window;
use crate::webhooks::store::Statement;
use crate::webhooks::WebhooksError;

/// Blocked lanes and endpoints listed at most, unless `--limit`.
const DEFAULT_LIMIT: u32 = 100;

/// What a command runs and how its rows are read back.
pub struct Op {
    pub statement: Statement,
    pub params: Vec<Value>,
    shape: Shape,
}

enum Shape {
    /// The message and the endpoint as given.
    Replay(String, Option<String>),
    Recover(String),
    Lanes,
    Resolve(String, &'static str),
    Endpoints(u32),
    Change(String, &'static str),
    Health(String),
    Stats,
}

fn usage(message: String) -> crate::Error {
    CliFailure::Usage.with(message)
}

/// The UUID of an id given as `kind`'s prefixed id or as a UUID.
fn id(option: &str, kind: IdKind, text: &str) -> Result<String> {
    let bytes = ids::id_or_uuid(option, kind, text).map_err(|_| {
        usage(format!(
            "invalid {option}: expected a {}… id",
            kind.prefix()
        ))
    })?;
    Ok(ids::uuid_text(&bytes))
}

/// `--tenant <uuid>` as a statement parameter (NULL without it); shared with `better-email`.
pub(crate) fn tenant(inv: &Invocation) -> Result<Value> {
    inv.value("tenant").map_or(Ok(Value::Null), |t| {
        let bytes = ids::parse_uuid("tenant", t)
            .map_err(|_| usage(format!("invalid --tenant: {t:?} is not a UUID")))?;
        Ok(json!(ids::uuid_text(&bytes)))
    })
}

/// `--window 1h|24h|7d` (default 24h) as an interval; shared with `better-email stats`.
pub(crate) fn window(inv: &Invocation) -> Result<&'static str> {
    stats_window("window", inv.value("window")).map_err(|_| {
        usage(format!(
            "invalid --window: {:?} (1h, 24h or 7d)",
            inv.value("window").unwrap_or_default()
        ))
    })
}

/// `--since`/`--until`: an ISO 8601 time, or a duration back from now (`30m`, `24h`, `7d`), in
/// Unix milliseconds.
fn when(option: &str, text: &str, now_ms: i64) -> Result<i64> {
    let ago = |unit_ms: i64| {
        let n: i64 = text[..text.len() - 1].parse().ok()?;
        (n >= 0).then(|| now_ms.saturating_sub(n.saturating_mul(unit_ms)))
    };
    let ms = match text.chars().last() {
        Some('m') => ago(60_000),
        Some('h') => ago(3_600_000),
        Some('d') => ago(86_400_000),
        _ => parse_iso(text).map(|us| us.div_euclid(1000)),
    };
    ms.ok_or_else(|| {
        usage(format!(
            "invalid --{option}: {text:?} (expected a duration such as 24h, 30m or 7d, or an ISO 8601 time)"
        ))
    })
}

fn limit(inv: &Invocation) -> Result<u32> {
    inv.value("limit").map_or(Ok(DEFAULT_LIMIT), |v| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| usage(format!("invalid --limit: {v:?} (1 to 500)")))
    })
}

/// The statement, parameters and report of `inv`.
///
/// # Errors
/// `CLI_USAGE` for a missing or malformed argument.
pub fn plan(inv: &Invocation, hooks: &Webhooks, now_ms: i64) -> Result<Op> {
    let store = &hooks.config().store;
    let pos = |i: usize| inv.positionals.get(i).map(String::as_str);
    let (statement, params, shape) = match inv.command.as_str() {
        "replay" => {
            let message = id("msg_id", IdKind::Message, pos(0).unwrap_or_default())?;
            let endpoint = match inv.value("endpoint") {
                Some(e) => json!(id("--endpoint", IdKind::Endpoint, e)?),
                None => Value::Null,
            };
            let shown = pos(0).unwrap_or_default().to_owned();
            (
                store.replay(),
                vec![json!(message), endpoint, tenant(inv)?],
                Shape::Replay(shown, inv.value("endpoint").map(str::to_owned)),
            )
        }
        "recover" => {
            let endpoint = inv.value("endpoint").ok_or_else(|| {
                usage("error: required option '--endpoint <ep_id>' not specified".into())
            })?;
            let since = inv.value("since").ok_or_else(|| {
                usage("error: required option '--since <when>' not specified".into())
            })?;
            let iso = |ms: i64| json!(format_iso(ms.saturating_mul(1000)));
            let until = match inv.value("until") {
                Some(u) => iso(when("until", u, now_ms)?),
                None => Value::Null,
            };
            // Older messages may already be purged (spec §9.4: the window is within retention).
            let days = hooks.config().settings.retention_days;
            let since_ms = when("since", since, now_ms)?;
            if since_ms < now_ms.saturating_sub(i64::from(days).saturating_mul(86_400_000)) {
                return Err(usage(format!(
                    "invalid --since: more than retention.days ({days}) ago"
                )));
            }
            let params = vec![
                json!(id("--endpoint", IdKind::Endpoint, endpoint)?),
                iso(since_ms),
                until,
                json!(inv.has("include-missing")),
                tenant(inv)?,
            ];
            (store.recover(), params, Shape::Recover(endpoint.to_owned()))
        }
        "lanes" => match (pos(0), pos(1)) {
            (None, _) => {
                let endpoint = match inv.value("endpoint") {
                    Some(e) => json!(id("--endpoint", IdKind::Endpoint, e)?),
                    None => Value::Null,
                };
                (
                    store.blocked_lanes(),
                    vec![endpoint, json!(limit(inv)?), tenant(inv)?],
                    Shape::Lanes,
                )
            }
            (Some("resolve"), Some(lane)) => {
                let (retry, skip) = (inv.has("retry"), inv.has("skip"));
                if retry == skip {
                    return Err(usage(
                        "error: lanes resolve needs one of --retry or --skip".into(),
                    ));
                }
                let statement = if retry {
                    store.resolve_lane_retry()
                } else {
                    store.resolve_lane_skip()
                };
                let action = if retry { "retry" } else { "skip" };
                (
                    statement,
                    vec![json!(id("lane_id", IdKind::Lane, lane)?), tenant(inv)?],
                    Shape::Resolve(lane.to_owned(), action),
                )
            }
            (Some("resolve"), None) => {
                return Err(usage("error: missing required argument 'lane_id'".into()))
            }
            (Some(other), _) => {
                return Err(usage(format!(
                    "error: unknown action '{other}' for 'lanes' (expected: resolve)"
                )))
            }
        },
        "endpoints" => {
            let action = pos(0).unwrap_or_default();
            let target = || -> Result<(String, String)> {
                let shown = pos(1).ok_or_else(|| {
                    usage(format!("error: endpoints {action} needs the endpoint id"))
                })?;
                Ok((id("ep_id", IdKind::Endpoint, shown)?, shown.to_owned()))
            };
            match action {
                "list" => {
                    let status = inv.value("status");
                    if let Some(s) = status.filter(|s| !matches!(*s, "enabled" | "disabled" | "deleted")) {
                        return Err(usage(format!("invalid --status: {s:?} (enabled, disabled or deleted)")));
                    }
                    let n = limit(inv)?;
                    let params = vec![tenant(inv)?, json!(status), Value::Null, Value::Null, json!(n + 1)];
                    (store.list_endpoints(), params, Shape::Endpoints(n))
                }
                "disable" => {
                    let (uuid, shown) = target()?;
                    let reason = inv.value("reason").unwrap_or("manual");
                    (store.disable_endpoint(), vec![tenant(inv)?, json!(uuid), json!(reason)], Shape::Change(shown, "disabled"))
                }
                "enable" => {
                    let (uuid, shown) = target()?;
                    (store.enable_endpoint(), vec![tenant(inv)?, json!(uuid)], Shape::Change(shown, "enabled"))
                }
                "health" => {
                    let (uuid, shown) = target()?;
                    (store.endpoint_health(), vec![tenant(inv)?, json!(uuid)], Shape::Health(shown))
                }
                other => {
                    return Err(usage(format!(
                        "error: unknown action '{other}' for 'endpoints' (expected: list, disable, enable, health)"
                    )))
                }
            }
        }
        "stats" => {
            let mut params = vec![tenant(inv)?];
            params.extend([json!(window(inv)?), json!(30.0)]);
            (store.stats(), params, Shape::Stats)
        }
        other => return Err(usage(format!("error: unknown command '{other}'"))),
    };
    Ok(Op {
        statement,
        params,
        shape,
    })
}

fn count(rows: &[Value], key: &str) -> i64 {
    rows.first()
        .and_then(|r| r.get(key))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn not_found(what: String) -> crate::Error {
    WebhooksError::NotFound { what }.into()
}

/// The rows as the API returns them (camelCase keys, prefixed ids).
fn objects(hooks: &Webhooks, kind: &str, rows: &[Value]) -> Result<Vec<Value>> {
    rows.iter().map(|r| hooks.row_object(kind, r)).collect()
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `key: value` lines of an object, in its order.
fn lines(o: &Map<String, Value>) -> String {
    o.iter()
        .map(|(k, v)| format!("{k}: {}\n", text_of(Some(v))))
        .collect()
}

/// What the command prints, from its rows; a failed action is an error (exit 1) with its code.
///
/// # Errors
/// `WEBHOOKS_NOT_FOUND`, `WEBHOOKS_ENDPOINT_DISABLED`, `WEBHOOKS_INVALID_STATE` as the API
/// raises them.
pub fn report(op: &Op, hooks: &Webhooks, rows: &[Value], json: bool) -> Result<String> {
    let out = match &op.shape {
        Shape::Replay(message, endpoint) => {
            if count(rows, "message_found") == 0 {
                return Err(not_found(format!("message {message}")));
            }
            if let Some(endpoint) = endpoint
                .as_ref()
                .filter(|_| count(rows, "endpoint_found") == 0)
            {
                return Err(not_found(format!("endpoint {endpoint}")));
            }
            if count(rows, "endpoint_disabled") > 0 {
                return Err(WebhooksError::EndpointDisabled {
                    action: "replay".into(),
                }
                .into());
            }
            let n = count(rows, "replayed");
            if json {
                json!({ "replayed": n })
            } else {
                json!(format!("replayed {message} to {n} endpoint(s)\n"))
            }
        }
        Shape::Recover(endpoint) => {
            if count(rows, "endpoint_disabled") > 0 {
                return Err(WebhooksError::EndpointDisabled {
                    action: "recover".into(),
                }
                .into());
            }
            if count(rows, "endpoint_found") == 0 {
                return Err(not_found(format!("enabled endpoint {endpoint}")));
            }
            let n = count(rows, "recovered");
            if json {
                json!({ "recovered": n })
            } else {
                json!(format!("recovered {n} deliveries of {endpoint}\n"))
            }
        }
        Shape::Resolve(lane, action) => {
            if rows.is_empty() {
                return Err(WebhooksError::InvalidState {
                    reason: format!("lane {lane} is not blocked"),
                }
                .into());
            }
            if json {
                json!({ "lane": lane, "resolution": action })
            } else {
                json!(format!("lane {lane} resolved: {action}\n"))
            }
        }
        Shape::Lanes => {
            let lanes = objects(hooks, "lanes", rows)?;
            if json {
                json!(lanes)
            } else if lanes.is_empty() {
                json!("no blocked lanes\n")
            } else {
                let f = |l: &Value, k: &str| text_of(l.get(k));
                json!(lanes
                    .iter()
                    .map(|l| format!(
                        "{} {} key={} head {} since {} ({}, {})\n",
                        f(l, "id"),
                        f(l, "endpointId"),
                        f(l, "orderingKey"),
                        f(l, "headMessageId"),
                        f(l, "blockedAt"),
                        f(l, "lastOutcome"),
                        f(l, "lastStatus")
                    ))
                    .collect::<String>())
            }
        }
        Shape::Endpoints(limit) => {
            let page = hooks.list_page("endpoints", &Value::Array(rows.to_vec()), *limit)?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            if json {
                page
            } else if data.is_empty() {
                json!("no endpoints\n")
            } else {
                let f = |e: &Value, k: &str| text_of(e.get(k));
                let mut text: String = data
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {} {} tenant={}\n",
                            f(e, "id"),
                            f(e, "status"),
                            f(e, "url"),
                            f(e, "tenantId")
                        )
                    })
                    .collect();
                if !page["nextCursor"].is_null() {
                    text.push_str(&format!("(more than {limit}; raise --limit)\n"));
                }
                json!(text)
            }
        }
        Shape::Change(endpoint, state) => {
            let Some(row) = rows.first() else {
                return Err(not_found(format!("endpoint {endpoint}")));
            };
            let o = hooks.row_object("endpoints", row)?;
            if json {
                o
            } else {
                json!(format!("{endpoint} {state}\n"))
            }
        }
        Shape::Health(endpoint) => {
            let Some(row) = rows.first() else {
                return Err(not_found(format!("endpoint {endpoint}")));
            };
            let o = hooks.row_object("health", row)?;
            if json {
                o
            } else {
                json!(lines(o.as_object().unwrap_or(&Map::new())))
            }
        }
        Shape::Stats => {
            let o = hooks.row_object("stats", rows.first().unwrap_or(&json!({})))?;
            if json {
                o
            } else {
                json!(lines(o.as_object().unwrap_or(&Map::new())))
            }
        }
    };
    Ok(match out {
        Value::String(s) => s,
        other => format!("{other}\n"),
    })
}
