//! The query API (`messages.get/list`, `deliveries.list`, `attempts.list`, `endpoints.list`,
//! `stats`): the parameters of each list statement from the caller's query (filters checked,
//! cursor decoded, one row more than the page to learn whether another follows), and the page
//! from its rows (objects with camelCase keys and prefixed ids, the next cursor).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::Webhooks;
use crate::error::Result;
use crate::input::from_value;
use crate::webhooks::ids::{self, IdKind};
use crate::webhooks::store::cursor::{
    check_choice, check_limit, decode_cursor, encode_cursor, stats_window, ListKind,
    ATTEMPT_OUTCOMES, DELIVERY_STATUSES, ENDPOINT_STATUSES,
};
use crate::webhooks::WebhooksError;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Query {
    cursor: Option<String>,
    limit: Option<f64>,
    status: Option<String>,
    event_type: Option<String>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    message_id: Option<String>,
    endpoint_id: Option<String>,
    delivery_id: Option<String>,
    outcome: Option<String>,
}

fn iso(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| {
        json!(crate::audit::time::format_iso(ms.saturating_mul(1000)))
    })
}

fn uuid(field: &str, kind: IdKind, id: Option<&String>) -> Result<Value> {
    Ok(match id {
        None => Value::Null,
        Some(t) => json!(ids::uuid_text(&ids::id_or_uuid(field, kind, t)?)),
    })
}

/// The kinds of rows the API returns: the lists' and blocked lanes (`lanes.list`).
#[derive(Debug, Clone, Copy)]
enum RowKind {
    List(ListKind),
    Lanes,
}

/// The prefixed-id kind of a column of `kind`'s rows (a lane row names its head delivery and
/// message).
fn id_column(kind: RowKind, column: &str) -> Option<IdKind> {
    use RowKind::{Lanes, List};
    Some(match (kind, column) {
        (List(ListKind::Endpoints), "id") | (_, "endpoint_id") => IdKind::Endpoint,
        (List(ListKind::Messages), "id") | (_, "message_id" | "head_message_id") => IdKind::Message,
        (List(ListKind::Deliveries), "id") | (_, "delivery_id" | "head_delivery_id") => {
            IdKind::Delivery
        }
        (List(ListKind::Attempts), "id") => IdKind::Attempt,
        (Lanes, "id") | (_, "lane_id") => IdKind::Lane,
        _ => return None,
    })
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// One row as the API returns it.
fn object(kind: RowKind, row: &Map<String, Value>) -> Result<Value> {
    let mut out = Map::new();
    for (k, v) in row {
        if k == "created_at_us" {
            continue;
        }
        let v = match (id_column(kind, k), v.as_str()) {
            (Some(idk), Some(text)) => json!(ids::from_uuid(k, idk, text)?),
            _ => v.clone(),
        };
        out.insert(camel(k), v);
    }
    Ok(Value::Object(out))
}

fn kind_of(kind: &str) -> Result<ListKind> {
    Ok(match kind {
        "endpoints" => ListKind::Endpoints,
        "messages" => ListKind::Messages,
        "deliveries" => ListKind::Deliveries,
        "attempts" => ListKind::Attempts,
        other => {
            return Err(WebhooksError::argument("kind", format!("no list {other:?}")).into());
        }
    })
}

impl Webhooks {
    /// `{ statement, params, limit }` for a list of `kind` (params after the tenant).
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_ARGUMENT` naming the filter, `cursor` or `limit`.
    pub fn list_params(&self, kind: &str, query: &Value) -> Result<Value> {
        let k = kind_of(kind)?;
        let q: Query = if query.is_null() {
            Query::default()
        } else {
            from_value("query", query)?
        };
        let limit = check_limit("limit", q.limit)?;
        let (at, id) = match decode_cursor("cursor", k, q.cursor.as_deref())? {
            Some(c) => (json!(c.at_text()), json!(c.id)),
            None => (Value::Null, Value::Null),
        };
        let take = limit + 1;
        let (statement, params) = match k {
            ListKind::Endpoints => {
                check_choice("status", &ENDPOINT_STATUSES, q.status.as_deref())?;
                ("listEndpoints", vec![json!(q.status), at, id, json!(take)])
            }
            ListKind::Messages => (
                "listMessages",
                vec![
                    json!(q.event_type),
                    iso(q.since_ms),
                    iso(q.until_ms),
                    at,
                    id,
                    json!(take),
                ],
            ),
            ListKind::Deliveries => {
                check_choice("status", &DELIVERY_STATUSES, q.status.as_deref())?;
                (
                    "listDeliveries",
                    vec![
                        uuid("messageId", IdKind::Message, q.message_id.as_ref())?,
                        uuid("endpointId", IdKind::Endpoint, q.endpoint_id.as_ref())?,
                        json!(q.status),
                        at,
                        id,
                        json!(take),
                    ],
                )
            }
            ListKind::Attempts => {
                check_choice("outcome", &ATTEMPT_OUTCOMES, q.outcome.as_deref())?;
                (
                    "listAttempts",
                    vec![
                        uuid("deliveryId", IdKind::Delivery, q.delivery_id.as_ref())?,
                        uuid("endpointId", IdKind::Endpoint, q.endpoint_id.as_ref())?,
                        json!(q.outcome),
                        iso(q.since_ms),
                        at,
                        id,
                        json!(take),
                    ],
                )
            }
        };
        Ok(json!({ "statement": statement, "params": params, "limit": limit }))
    }

    /// `{ data, nextCursor }` from the rows of a list statement run with `limit + 1`.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for rows of the wrong shape.
    pub fn list_page(&self, kind: &str, rows: &Value, limit: u32) -> Result<Value> {
        let k = kind_of(kind)?;
        let rows: Vec<Map<String, Value>> = from_value("rows", rows)?;
        let page = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > page;
        let data = rows
            .iter()
            .take(page)
            .map(|r| object(RowKind::List(k), r))
            .collect::<Result<Vec<_>>>()?;
        let next = match rows.get(page.saturating_sub(1)).filter(|_| more) {
            Some(last) => {
                let us = last
                    .get("created_at_us")
                    .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
                let id = last.get("id").and_then(Value::as_str);
                match (us, id) {
                    (Some(us), Some(id)) => json!(encode_cursor(k, us, id)?),
                    _ => {
                        return Err(WebhooksError::argument(
                            "rows",
                            "list rows carry `created_at_us` and `id`",
                        )
                        .into())
                    }
                }
            }
            None => Value::Null,
        };
        Ok(json!({ "data": data, "nextCursor": next }))
    }

    /// One row of `kind` as the API returns it (`messages.get`, `lanes.list`: kind `lanes`;
    /// `endpointHealth`: `health`; `stats`).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a row of the wrong shape.
    pub fn row_object(&self, kind: &str, row: &Value) -> Result<Value> {
        let row: Map<String, Value> = from_value("row", row)?;
        let kind = match kind {
            "lanes" => RowKind::Lanes,
            // An endpoint's health (its `id`) and the stats (no ids) read like an endpoint row.
            "health" | "stats" => RowKind::List(ListKind::Endpoints),
            other => RowKind::List(kind_of(other)?),
        };
        object(kind, &row)
    }

    /// Parameters of `stats` (after the tenant) for `window` (`1h`, `24h`, `7d`).
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_ARGUMENT` naming `window`.
    pub fn stats_params(&self, window: Option<&str>) -> Result<Value> {
        Ok(json!([stats_window("window", window)?, 30]))
    }
}
