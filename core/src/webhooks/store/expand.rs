//! Fan-out ("expand"), in system context, in one transaction per tick:
//! 1. [`Store::expand_lock_messages`] locks a batch of due, unexpanded messages;
//! 2. [`Store::expand_lock_progress`] locks the fan-out progress rows of their ordering keys,
//!    sorted, skipping locked ones (a separate row from the senders' counter, so expansion never
//!    waits for an open business transaction, and sorted SKIP LOCKED cannot deadlock);
//! 3. [`expandable`] picks the messages to expand: unkeyed ones, and per key the run that
//!    continues the progress (`ordering_seq = expanded_seq + 1, + 2, …`) — a gap means the
//!    predecessor is not committed-and-expanded yet, so the rest waits for a later tick;
//! 4. [`Store::expand_insert`] writes one delivery per matching endpoint, assigns lane
//!    sequence numbers in key order, and marks the messages and the progress.

use std::collections::HashMap;

use super::{filter_match_sql, Statement, Store, UUID_V7_SQL};
use crate::webhooks::event_types::TEST_EVENT_TYPE;

/// A locked message as step 1 returns it (`tenant_id` as text or NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct LockedMessage {
    pub id: String,
    pub tenant_id: Option<String>,
    pub ordering_key: Option<String>,
    pub ordering_seq: Option<i64>,
}

/// A locked progress row as step 2 returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct LockedProgress {
    pub tenant_id: Option<String>,
    pub key: String,
    pub expanded_seq: i64,
}

/// Indexes into `messages` of those to expand now, in input order.
#[must_use]
pub fn expandable(messages: &[LockedMessage], progress: &[LockedProgress]) -> Vec<usize> {
    let norm = |t: &Option<String>| t.as_deref().map(str::to_ascii_lowercase);
    let mut next: HashMap<(Option<String>, &str), i64> = progress
        .iter()
        .map(|p| ((norm(&p.tenant_id), p.key.as_str()), p.expanded_seq + 1))
        .collect();
    let mut keyed: Vec<(usize, &LockedMessage)> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.ordering_key.is_some())
        .collect();
    keyed.sort_by_key(|(_, m)| m.ordering_seq);
    let mut take: Vec<usize> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.ordering_key.is_none())
        .map(|(i, _)| i)
        .collect();
    for (i, m) in keyed {
        let (Some(key), Some(seq)) = (m.ordering_key.as_deref(), m.ordering_seq) else {
            continue;
        };
        // A key without a locked progress row is being expanded elsewhere: skip it.
        if let Some(want) = next.get_mut(&(norm(&m.tenant_id), key)) {
            if seq == *want {
                take.push(i);
                *want += 1;
            }
        }
    }
    take.sort_unstable();
    take
}

impl Store {
    /// Step 1: `id`, `created_at`, `tenant_id`, `ordering_key`, `ordering_seq` of up to `$1`
    /// due messages, oldest first (the unexpanded-messages partial index).
    #[must_use]
    pub fn expand_lock_messages(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT m.id, m.created_at, m.tenant_id, m.ordering_key, m.ordering_seq
FROM {} m
WHERE m.expanded_at IS NULL AND m.deliver_after <= now()
ORDER BY m.created_at
LIMIT $1
FOR UPDATE SKIP LOCKED",
                self.table("messages")
            ),
            &[("limit", "int")],
        )
    }

    /// Step 2: the progress rows of `(tenant, key)` pairs (repeats allowed) that are free,
    /// locked in order.
    #[must_use]
    pub fn expand_lock_progress(&self) -> Statement {
        let tk = |c: &str| Store::tenant_key(c);
        Statement::new(
            format!(
                "SELECT p.tenant_id, p.key, p.expanded_seq
FROM {progress} p
WHERE EXISTS (SELECT 1 FROM unnest($1::uuid[], $2::text[]) AS x(tenant_id, key)
              WHERE {pt} = {xt} AND p.key = x.key)
ORDER BY {pt}, p.key
FOR UPDATE OF p SKIP LOCKED",
                progress = self.table("ordering_progress"),
                pt = tk("p.tenant_id"),
                xt = tk("x.tenant_id"),
            ),
            &[("tenant_ids", "uuid[]"), ("keys", "text[]")],
        )
    }

    /// Step 4 for the messages chosen by [`expandable`], given by id and the earliest
    /// `created_at` among them (a lower bound that prunes partitions; JavaScript dates keep
    /// milliseconds, so timestamps are never matched for equality after a round trip):
    /// deliveries for every enabled endpoint of the same tenant created at or before the
    /// message, whose filter matches (a test message sent to chosen endpoints passes every
    /// filter, as `endpoints.sendTest` promises) and that the message targets; lanes for `ordering: "key"`
    /// endpoints get `lane_seq = assign_seq + 1, + 2, …` in key order (an idle lane becomes
    /// ready). Returns the counts `messages` and `deliveries`.
    #[must_use]
    pub fn expand_insert(&self) -> Statement {
        let endpoint_match = format!(
            "e.status = 'enabled' AND e.created_at <= m.created_at
    AND ({} OR (m.event_type = '{TEST_EVENT_TYPE}' AND m.target_endpoints IS NOT NULL))
    AND (m.target_endpoints IS NULL OR e.id = ANY(m.target_endpoints))",
            filter_match_sql("e.event_types", "m.event_type")
        );
        let pair_cols = "m.id AS message_id, m.created_at AS message_created_at, m.tenant_id, m.ordering_key, m.ordering_seq, e.id AS endpoint_id, e.ordering";
        Statement::new(
            format!(
                "WITH m AS (
  SELECT m.* FROM {messages} m
  WHERE m.id = ANY($1::uuid[]) AND m.created_at >= $2 AND m.expanded_at IS NULL
), pairs AS (
  SELECT {pair_cols} FROM m JOIN {endpoints} e ON e.tenant_id = m.tenant_id
  WHERE {endpoint_match}
  UNION ALL
  SELECT {pair_cols} FROM m JOIN {endpoints} e ON e.tenant_id IS NULL AND m.tenant_id IS NULL
  WHERE {endpoint_match}
), laned AS (
  SELECT endpoint_id, ordering_key, tenant_id, count(*) AS n FROM pairs
  WHERE ordering = 'key' AND ordering_key IS NOT NULL
  GROUP BY endpoint_id, ordering_key, tenant_id
), lanes AS (
  INSERT INTO {lanes} AS l (id, tenant_id, endpoint_id, ordering_key, assign_seq, head_seq, state, next_attempt_at)
  SELECT {uuid}, tenant_id, endpoint_id, ordering_key, n, 1, 'ready', now() FROM laned
  ORDER BY endpoint_id, ordering_key
  ON CONFLICT (endpoint_id, ordering_key) DO UPDATE SET
    assign_seq = l.assign_seq + EXCLUDED.assign_seq,
    state = CASE WHEN l.state = 'idle' THEN 'ready' ELSE l.state END,
    next_attempt_at = CASE WHEN l.state = 'idle' THEN now() ELSE l.next_attempt_at END
  RETURNING l.id, l.endpoint_id, l.ordering_key, l.assign_seq
), ins AS (
  INSERT INTO {deliveries} (id, tenant_id, message_id, message_created_at, endpoint_id, lane_id, lane_seq, status, next_attempt_at)
  SELECT {uuid}, p.tenant_id, p.message_id, p.message_created_at, p.endpoint_id, l.id,
         CASE WHEN l.id IS NOT NULL THEN l.assign_seq - count(*) OVER w + row_number() OVER w END,
         'pending', now()
  FROM pairs p
  LEFT JOIN lanes l ON p.ordering = 'key' AND l.endpoint_id = p.endpoint_id AND l.ordering_key = p.ordering_key
  WINDOW w AS (PARTITION BY p.endpoint_id, p.ordering_key ORDER BY p.ordering_seq
               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  ON CONFLICT (message_id, endpoint_id) DO NOTHING
  RETURNING 1
), done AS (
  UPDATE {messages} u SET expanded_at = now() FROM m
  WHERE u.created_at = m.created_at AND u.id = m.id
  RETURNING u.tenant_id, u.ordering_key, u.ordering_seq
), progressed AS (
  UPDATE {progress} p SET expanded_seq = d.seq
  FROM (SELECT tenant_id, ordering_key, max(ordering_seq) AS seq FROM done
        WHERE ordering_key IS NOT NULL GROUP BY tenant_id, ordering_key) d
  WHERE {pt} = {dt} AND p.key = d.ordering_key
  RETURNING 1
)
SELECT (SELECT count(*) FROM done) AS messages, (SELECT count(*) FROM ins) AS deliveries",
                messages = self.table("messages"),
                endpoints = self.table("endpoints"),
                lanes = self.table("lanes"),
                deliveries = self.table("deliveries"),
                progress = self.table("ordering_progress"),
                uuid = UUID_V7_SQL,
                pt = Store::tenant_key("p.tenant_id"),
                dt = Store::tenant_key("d.tenant_id"),
            ),
            &[("ids", "uuid[]"), ("since", "timestamptz")],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, key: Option<&str>, seq: Option<i64>) -> LockedMessage {
        LockedMessage {
            id: id.into(),
            tenant_id: Some("T".into()),
            ordering_key: key.map(Into::into),
            ordering_seq: seq,
        }
    }

    #[test]
    fn runs_continue_the_progress() {
        let messages = [
            msg("a", None, None),
            msg("k3", Some("k"), Some(3)),
            msg("k2", Some("k"), Some(2)),
            msg("k5", Some("k"), Some(5)),
            msg("j1", Some("j"), Some(1)),
            msg("l1", Some("l"), Some(1)),
        ];
        let progress = [
            LockedProgress {
                tenant_id: Some("t".into()),
                key: "k".into(),
                expanded_seq: 1,
            },
            LockedProgress {
                tenant_id: Some("T".into()),
                key: "j".into(),
                expanded_seq: 0,
            },
        ];
        // k2, k3 continue from 1; k5 waits for k4; l has no locked progress row.
        assert_eq!(expandable(&messages, &progress), [0, 1, 2, 4]);
    }
}
