//! Applying verified provider events (spec §10.2, §10.3), one statement per request, in system
//! context: the event keys first (a redelivered event is applied once), then each new event is
//! correlated with its message — by our id, else by the provider's message id — and stored with
//! the message's tenant (never one from the request), the recipient's status follows, a held
//! `ambiguous` message that was delivered becomes `sent`, and bounces and complaints become
//! suppressions: a hard bounce for everyone, a complaint for the message's tenant, and a third
//! soft bounce within 7 days for that tenant, for 7 days.

use super::{Statement, Store};

impl Store {
    /// `$1` the provider, then per event: `$2` id, `$3` type, `$4` bounce, `$5` address, `$6`
    /// its key, `$7` when, `$8` the provider's message id, `$9` our message id (uuid), `$10`
    /// detail (JSON text); `$11` how long event keys are kept (s). Returns the events applied.
    #[must_use]
    pub fn email_events_apply(&self) -> Statement {
        Statement::new(
            format!(
                "WITH x AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::uuid[], $10::text[])
    AS x(event_id, type, bounce, address, key, occurred_at, provider_message_id, message_id, detail)
), fresh AS (
  INSERT INTO {keys} (provider, provider_event_id, expires_at)
  SELECT $1, x.event_id, now() + make_interval(secs => $11) FROM x
  ON CONFLICT DO NOTHING
  RETURNING provider_event_id
), e AS (
  SELECT x.*, m.id AS mid, m.tenant_id, m.created_at AS mcreated
  FROM x JOIN fresh f ON f.provider_event_id = x.event_id
  LEFT JOIN LATERAL (
    SELECT id, tenant_id, created_at FROM {messages}
    WHERE (x.message_id IS NOT NULL AND id = x.message_id)
       OR (x.message_id IS NULL AND x.provider_message_id IS NOT NULL AND provider_message_id = x.provider_message_id)
    LIMIT 1) m ON true
), ev AS (
  INSERT INTO {events} (id, tenant_id, provider, provider_event_id, message_id, type, bounce, address_key, occurred_at, detail)
  SELECT gen_random_uuid(), e.tenant_id, $1, e.event_id, e.mid, e.type, e.bounce, e.key, e.occurred_at, e.detail::jsonb FROM e
), rc AS (
  UPDATE {recipients} r SET status = e.type, updated_at = now()
  FROM e
  WHERE e.mid IS NOT NULL AND r.created_at = e.mcreated AND r.message_id = e.mid AND r.address_key = e.key
    AND e.type IN ('delivered', 'deferred', 'bounced', 'complained', 'rejected')
), held AS (
  UPDATE {messages} m SET status = 'sent', last_outcome = 'sent', finished_at = now()
  FROM e WHERE e.type = 'delivered' AND m.created_at = e.mcreated AND m.id = e.mid AND m.status = 'ambiguous'
), sp AS (
  INSERT INTO {sup} (id, tenant_id, address, address_hash, reason, source, expires_at)
  SELECT gen_random_uuid(), CASE WHEN e.bounce = 'hard' THEN NULL ELSE e.tenant_id END, e.address,
         sha256(convert_to(e.key, 'UTF8')),
         CASE WHEN e.type = 'complained' THEN 'complaint' WHEN e.bounce = 'hard' THEN 'hard_bounce' ELSE 'soft_bounce' END,
         $1, CASE WHEN e.type = 'bounced' AND e.bounce = 'soft' THEN now() + interval '7 days' END
  FROM e
  WHERE e.type = 'complained' OR (e.type = 'bounced' AND e.bounce = 'hard')
     OR (e.type = 'bounced' AND e.bounce = 'soft' AND 2 <= (
       SELECT count(*) FROM {events} p
       WHERE p.address_key = e.key AND p.type = 'bounced' AND p.bounce = 'soft'
         AND p.occurred_at > now() - interval '7 days' AND p.tenant_id IS NOT DISTINCT FROM e.tenant_id))
  ON CONFLICT DO NOTHING
)
SELECT e.event_id, e.type, e.mid AS message_id, e.tenant_id FROM e",
                keys = self.table("event_keys"),
                messages = self.table("messages"),
                events = self.table("events"),
                recipients = self.table("recipients"),
                sup = self.table("suppressions"),
            ),
            &[
                ("provider", "text"),
                ("event_ids", "text[]"),
                ("types", "text[]"),
                ("bounces", "text[]"),
                ("addresses", "text[]"),
                ("address_keys", "text[]"),
                ("occurred_ats", "timestamptz[]"),
                ("provider_message_ids", "text[]"),
                ("message_ids", "uuid[]"),
                ("details", "text[]"),
                ("key_secs", "double precision"),
            ],
        )
    }
}
