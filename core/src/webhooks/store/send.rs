//! What `send()` / `sendMany()` write, all in the caller's transaction: ordering-key counters,
//! idempotency keys, then the messages in one INSERT. No delivery row is written here (fan-out
//! is asynchronous), so a send never conflicts with a concurrent endpoint change.
//!
//! Every statement takes the tenant as `$1`: NULL means "the scope's tenant" (the
//! `app.current_tenant` setting, as the column default); a value is used in system context with
//! `tenantId`. Keys are locked in sorted order, so two `sendMany` calls with the same keys in a
//! different order cannot deadlock.

use super::{Statement, Store};

impl Store {
    /// Ordering keys: `last_seq` grows by the number of messages per key and the new value is
    /// returned (`key`, `last_seq`); the messages of a key take `last_seq − n + 1 … last_seq` in
    /// send order. The row lock, held until commit, serialises sends with the same key, so each
    /// key's sequence is gap-free and in commit order (a rollback rolls the increment back). A
    /// new key also gets its fan-out progress row, in the same transaction. `keys` must be
    /// distinct.
    #[must_use]
    pub fn send_ordering_keys(&self) -> Statement {
        let tenant = Store::tenant_value("$1");
        let conflict = format!("(({}), key)", Store::tenant_key("tenant_id"));
        Statement::new(
            format!(
                "WITH x AS (
  SELECT * FROM unnest($2::text[], $3::int[]) AS x(key, n)
), k AS (
  INSERT INTO {keys} AS o (tenant_id, key, last_seq)
  SELECT {tenant}, x.key, x.n FROM x ORDER BY x.key
  ON CONFLICT {conflict} DO UPDATE SET last_seq = o.last_seq + EXCLUDED.last_seq
  RETURNING o.tenant_id, o.key, o.last_seq
), p AS (
  INSERT INTO {progress} (tenant_id, key)
  SELECT k.tenant_id, k.key FROM k JOIN x ON x.key = k.key WHERE k.last_seq = x.n
  ON CONFLICT {conflict} DO NOTHING
)
SELECT k.key, k.last_seq FROM k",
                keys = self.table("ordering_keys"),
                progress = self.table("ordering_progress"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("keys", "text[]"),
                ("counts", "int[]"),
            ],
        )
    }

    /// Idempotency keys: claims each key for the new message (or takes over an expired one) and
    /// returns the keys claimed; a key not returned is taken. Then run
    /// [`Store::send_idempotency_lookup`] in a new statement: a key committed by a concurrent
    /// transaction after this statement's snapshot is visible only there. `keys` must be
    /// distinct.
    #[must_use]
    pub fn send_idempotency_claim(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {idem} AS i (tenant_id, key, message_id, message_created_at, body_sha256, expires_at)
SELECT {tenant}, x.key, x.message_id, now(), x.body_sha256, now() + make_interval(secs => $5)
FROM unnest($2::text[], $3::uuid[], $4::bytea[]) AS x(key, message_id, body_sha256)
ORDER BY x.key
ON CONFLICT (({tkey}), key) DO UPDATE
  SET message_id = EXCLUDED.message_id, message_created_at = EXCLUDED.message_created_at,
      body_sha256 = EXCLUDED.body_sha256, expires_at = EXCLUDED.expires_at
  WHERE i.expires_at <= now()
RETURNING i.key",
                idem = self.table("idempotency_keys"),
                tenant = Store::tenant_value("$1"),
                tkey = Store::tenant_key("tenant_id"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("keys", "text[]"),
                ("message_ids", "uuid[]"),
                ("body_sha256s", "bytea[]"),
                ("window_secs", "double precision"),
            ],
        )
    }

    /// The messages that own `keys`: the same body hash makes a send a `duplicate` of
    /// `message_id`, another body is `WEBHOOKS_IDEMPOTENCY_CONFLICT`.
    #[must_use]
    pub fn send_idempotency_lookup(&self) -> Statement {
        Statement::new(
            format!(
                "SELECT key, message_id, floor(extract(epoch FROM message_created_at) * 1000)::float8 AS message_created_ms, body_sha256 FROM {idem}
WHERE {tkey} = {scope} AND key = ANY($2::text[])",
                idem = self.table("idempotency_keys"),
                tkey = Store::tenant_key("tenant_id"),
                scope = Store::tenant_key(&Store::tenant_value("$1")),
            ),
            &[("tenant_id", "uuid"), ("keys", "text[]")],
        )
    }

    /// The messages, one INSERT for the whole batch; returns `id` and `created_ms` (Unix
    /// milliseconds, a float8: a number in every driver), in insert order. A NULL
    /// `content_type` is `application/json`, a NULL `deliver_after` is now; `target_endpoints`
    /// entries are array literals (`{uuid,uuid}`) or NULL, because a SQL array of arrays
    /// cannot hold rows of different lengths. A body is its prefix (the envelope's head, empty
    /// for raw), its payload and `suffix`: the payloads as one text joined by `separator`
    /// ([`crate::store::separator_for`]), the prefixes likewise, so that the caller that holds
    /// the payloads passes them without the core handing them back. When no separator fits,
    /// `payloads` is a `text[]` literal of the whole bodies, `separator` and `prefixes` are
    /// NULL (hence the `coalesce`) and `suffix` is empty.
    #[must_use]
    pub fn send_insert_messages(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {messages} (id, tenant_id, event_type, body, body_sha256, content_type, ordering_key, ordering_seq, idempotency_key, target_endpoints, deliver_after)
SELECT x.id, {tenant}, x.event_type, coalesce(x.prefix, '') || x.payload || $14::text, x.body_sha256,
       coalesce(x.content_type, 'application/json'), x.ordering_key, x.ordering_seq, x.idempotency_key,
       x.target_endpoints::uuid[], coalesce(x.deliver_after, now())
FROM unnest($2::uuid[], $3::text[],
            CASE WHEN $12::text IS NULL THEN $4::text::text[] ELSE string_to_array($4::text, $12::text) END,
            string_to_array($13::text, $12::text),
            $5::bytea[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::timestamptz[])
  AS x(id, event_type, payload, prefix, body_sha256, content_type, ordering_key, ordering_seq, idempotency_key, target_endpoints, deliver_after)
RETURNING id, floor(extract(epoch FROM created_at) * 1000)::float8 AS created_ms",
                messages = self.table("messages"),
                tenant = Store::tenant_value("$1"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("ids", "uuid[]"),
                ("event_types", "text[]"),
                ("payloads", "text"),
                ("body_sha256s", "bytea[]"),
                ("content_types", "text[]"),
                ("ordering_keys", "text[]"),
                ("ordering_seqs", "bigint[]"),
                ("idempotency_keys", "text[]"),
                ("target_endpoints", "text[]"),
                ("deliver_afters", "timestamptz[]"),
                ("separator", "text"),
                ("prefixes", "text"),
                ("suffix", "text"),
            ],
        )
    }

    /// [`Store::send_insert_messages`] for one message, with scalar parameters: the common
    /// `send()` is one row, and a `VALUES` row costs the server less to plan and run than
    /// unnesting ten one-element arrays (and the driver less to encode).
    #[must_use]
    pub fn send_insert_message(&self) -> Statement {
        Statement::new(
            format!(
                "INSERT INTO {messages} (id, tenant_id, event_type, body, body_sha256, content_type, ordering_key, ordering_seq, idempotency_key, target_endpoints, deliver_after)
VALUES ($2, {tenant}, $3, $12::text || $4::text || $13::text, $5,
        coalesce($6, 'application/json'), $7, $8, $9, $10::uuid[], coalesce($11, now()))
RETURNING id, floor(extract(epoch FROM created_at) * 1000)::float8 AS created_ms",
                messages = self.table("messages"),
                tenant = Store::tenant_value("$1"),
            ),
            &[
                ("tenant_id", "uuid"),
                ("id", "uuid"),
                ("event_type", "text"),
                ("payload", "text"),
                ("body_sha256", "bytea"),
                ("content_type", "text"),
                ("ordering_key", "text"),
                ("ordering_seq", "bigint"),
                ("idempotency_key", "text"),
                ("target_endpoints", "text"),
                ("deliver_after", "timestamptz"),
                ("prefix", "text"),
                ("suffix", "text"),
            ],
        )
    }
}
