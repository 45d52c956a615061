//! The email schema against a real PostgreSQL: the migration applies and a second run changes
//! nothing; in every tenant table tenant A never reads or writes B's rows and no tenant reads the
//! operator-level (`tenant_id IS NULL`) rows; global suppressions stay invisible in a tenant scope
//! while `email_suppressed` reports them; the retention statements run. Needs `DATABASE_URL`
//! (`eval "$(scripts/pg.sh up)"`) with a role that is neither superuser nor BYPASSRLS: FORCE ROW
//! LEVEL SECURITY then holds for it although it owns the tables.
#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod support;

use support::{connect, now_ms};
use tokio_postgres::{Client, SimpleQueryMessage};
use usebetter_core::audit::cli_sql::SCHEMA_DIGEST;
use usebetter_core::email::store::schema::TENANT_TABLES;
use usebetter_core::email::store::{Store, StoreConfig, SCHEMA_VERSION};
use usebetter_core::policy::context::BINDING_EXPR;
use usebetter_core::policy::MigrationConfig;
use usebetter_core::sql::literal as q;

const SCHEMA: &str = "email_store_test";
const A: &str = "0190a000-0000-7000-8000-00000000000a";
const B: &str = "0190a000-0000-7000-8000-00000000000b";

#[derive(Clone, Copy)]
enum Ctx {
    Tenant(&'static str),
    System,
}

/// Rows of the first column, as text (`NULL` for SQL NULL).
async fn simple(c: &Client, sql: &str) -> Result<Vec<String>, String> {
    let messages = c.simple_query(sql).await.map_err(|e| format!("{e:?}"))?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_owned()),
            _ => None,
        })
        .collect())
}

/// `sql` in its own transaction in `ctx`; its rows, or the error (the transaction rolled back).
async fn run(c: &Client, ctx: Ctx, sql: &str) -> Result<Vec<String>, String> {
    let set = match ctx {
        Ctx::Tenant(t) => format!("SELECT set_config('app.current_tenant', {}, true)", q(t)),
        Ctx::System => "SELECT set_config('app.bypass_rls', 'true', true)".to_owned(),
    };
    simple(c, &format!("BEGIN; {set}")).await.unwrap();
    let out = simple(c, sql).await;
    simple(c, if out.is_ok() { "COMMIT" } else { "ROLLBACK" })
        .await
        .unwrap();
    out
}

async fn ok(c: &Client, ctx: Ctx, sql: &str) -> Vec<String> {
    run(c, ctx, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}\n{e}"))
}

/// One row of `table` with the given `tenant_id` expression (`DEFAULT`: the scope's tenant).
fn insert(table: &str, tenant: &str) -> String {
    let (columns, values) = match table {
        "messages" => ("id, category, priority, status, from_addr, rendered, message_id_header, date_header, html", "gen_random_uuid(), 'transactional', 1, 'sent', 'a@example.com', true, '<m@example.com>', now(), '<p>hi</p>'"),
        "recipients" => ("message_id, kind, address_key, status, created_at", "gen_random_uuid(), 'to', md5(random()::text), 'sent', now()"),
        "attachments" => ("message_id, idx, filename, content_type, content", "gen_random_uuid(), 0, 'a.txt', 'text/plain', '\\x00'"),
        "attempts" => ("id, message_id, attempt_number, transport, started_at, outcome", "gen_random_uuid(), gen_random_uuid(), 1, 'smtp', now(), 'sent'"),
        "events" => ("id, provider, provider_event_id, type, address_key, occurred_at", "gen_random_uuid(), 'resend', md5(random()::text), 'delivered', 'k', now()"),
        "suppressions" => ("id, address_hash, reason", "gen_random_uuid(), decode(md5(random()::text), 'hex'), 'manual'"),
        "senders" => ("id, domain", "gen_random_uuid(), 'example.com'"),
        "templates" => ("id, name, version, subject", "gen_random_uuid(), 'welcome', 1, 'Hi'"),
        "idempotency_keys" => ("key, message_id, request_sha256, expires_at", "md5(random()::text), gen_random_uuid(), '\\x00', now() + interval '1 day'"),
        "tenant_settings" => ("paused", "false"),
        other => panic!("no fixture for {other}"),
    };
    format!("INSERT INTO {SCHEMA}.email_{table} (tenant_id, {columns}) VALUES ({tenant}, {values})")
}

#[test]
fn email_schema_on_postgres() {
    support::block_on(scenario());
}

async fn scenario() {
    let c = connect().await;
    let role = simple(
        &c,
        "SELECT (rolsuper OR rolbypassrls)::text FROM pg_roles WHERE rolname = current_user",
    )
    .await
    .unwrap();
    assert_eq!(role, ["false"], "the test role must be subject to RLS");
    let store = Store::new(&StoreConfig {
        schema: Some(SCHEMA.into()),
        rls: true,
        ..StoreConfig::default()
    })
    .unwrap();
    simple(&c, &format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await
        .unwrap();
    let sql = store.migration_sql(now_ms(), 2);
    c.batch_execute(&sql).await.unwrap();
    let digest = simple(&c, SCHEMA_DIGEST).await.unwrap();
    c.batch_execute(&sql).await.unwrap();
    assert_eq!(
        simple(&c, SCHEMA_DIGEST).await.unwrap(),
        digest,
        "a second migration changes nothing"
    );
    assert_eq!(
        simple(
            &c,
            &format!("SELECT value FROM {SCHEMA}.email_meta WHERE key = 'schema_version'")
        )
        .await
        .unwrap(),
        [SCHEMA_VERSION.to_string()]
    );
    let indexes = simple(
        &c,
        &format!(
            "SELECT indexname FROM pg_indexes WHERE schemaname = {}",
            q(SCHEMA)
        ),
    )
    .await
    .unwrap();
    for (table, index) in store.expected_indexes() {
        assert!(indexes.contains(&index), "{index} on {table}");
    }
    isolation(&c).await;
    suppressions(&c).await;
    retention(&c, &store).await;
    simple(&c, &format!("DROP SCHEMA {SCHEMA} CASCADE"))
        .await
        .unwrap();
    hardened(&c).await;
}

/// Hardened mode: settings count only when signed, so `email_suppressed` signs its own bypass
/// with the context key (its owner can read it) and still answers for global entries, which
/// the tenant scope cannot list, not even with an unsigned bypass setting.
async fn hardened(c: &Client) {
    const H: &str = "email_store_hardened";
    let key = "convert_to('email-store-test-key-0123456789abcdef', 'UTF8')";
    simple(c, &format!("DROP SCHEMA IF EXISTS {H} CASCADE; DROP SCHEMA IF EXISTS better_tenant_private CASCADE; CREATE SCHEMA {H}; CREATE TABLE {H}.tenants (id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now()); CREATE TABLE {H}.things (tenant_id uuid)")).await.unwrap();
    let tenant = usebetter_core::policy::migration_sql(&MigrationConfig {
        tenant_tables: vec!["things".into()],
        schema: Some(H.into()),
        hardened: true,
        ..MigrationConfig::default()
    })
    .unwrap();
    c.batch_execute(&tenant).await.unwrap();
    simple(
        c,
        &format!("INSERT INTO better_tenant_private.context_key (key) VALUES ({key})"),
    )
    .await
    .unwrap();
    let store = Store::new(&StoreConfig {
        schema: Some(H.into()),
        rls: true,
        hardened: true,
        ..StoreConfig::default()
    })
    .unwrap();
    c.batch_execute(&store.migration_sql(now_ms(), 0))
        .await
        .unwrap();
    let sign = |msg: &str| {
        format!("encode(better_tenant_private.hmac_sha256({key}, convert_to({msg} || {BINDING_EXPR}, 'UTF8')), 'hex')")
    };
    let system = format!(
        "SELECT set_config('app.bypass_rls', 'true', true), set_config('app.bypass_sig', {}, true)",
        sign("'bypass:'")
    );
    let a = q(A);
    let scope = format!(
        "SELECT set_config('app.current_tenant', {a}, true), set_config('app.tenant_sig', {}, true)",
        sign(&format!("'tenant:' || {a} || ':'"))
    );
    let s = format!("{H}.email_suppressions");
    let rows = simple(c, &format!("BEGIN; {system}; INSERT INTO {s} (id, tenant_id, address_hash, reason) VALUES
        (gen_random_uuid(), NULL, '\\x01', 'complaint'), (gen_random_uuid(), {}, '\\x02', 'manual') RETURNING id; COMMIT", q(A))).await.unwrap();
    assert_eq!(
        rows.len(),
        3,
        "the signed bypass writes operator-level rows: {rows:?}"
    );
    let read = format!("BEGIN; {scope}; SELECT set_config('app.bypass_rls', 'true', true);
        SELECT count(*)::text FROM {s};
        SELECT format('%s %s', suppressed, coalesce(reason, '-')) FROM {H}.email_suppressed(ARRAY['\\x01', '\\x02', '\\x03']::bytea[], NULL);
        SELECT coalesce(current_setting('app.bypass_sig', true), '') = ''; COMMIT");
    let out = simple(c, &read).await.unwrap();
    // The set_config rows, then: one row listable, the three answers, the signature restored.
    assert_eq!(
        &out[out.len() - 5..],
        ["1", "t complaint", "t manual", "f -", "t"],
        "{out:?}"
    );
    simple(
        c,
        &format!("DROP SCHEMA {H} CASCADE; DROP SCHEMA better_tenant_private CASCADE"),
    )
    .await
    .unwrap();
}

async fn isolation(c: &Client) {
    for (table, partitioned) in TENANT_TABLES {
        for t in [A, B] {
            ok(c, Ctx::Tenant(t), &insert(table, "DEFAULT")).await;
        }
        if table != "tenant_settings" {
            ok(c, Ctx::System, &insert(table, "NULL")).await;
        }
        let read = format!(
            "SELECT coalesce(tenant_id::text, 'NULL') FROM {SCHEMA}.email_{table} ORDER BY 1"
        );
        assert_eq!(
            ok(c, Ctx::Tenant(A), &read).await,
            [A],
            "{table}: A reads its own row only"
        );
        assert_eq!(
            ok(c, Ctx::Tenant(B), &read).await,
            [B],
            "{table}: B reads its own row only"
        );
        let all = ok(c, Ctx::System, &read).await;
        assert_eq!(
            all.len(),
            if table == "tenant_settings" { 2 } else { 3 },
            "{table}: system context reads every row"
        );
        // No context at all: nothing.
        assert!(
            simple(c, &read).await.unwrap().is_empty(),
            "{table}: no context reads nothing"
        );
        let foreign = run(c, Ctx::Tenant(A), &insert(table, &q(B))).await;
        assert!(
            foreign.unwrap_err().contains("row-level security"),
            "{table}: A cannot write B's row"
        );
        let cross = format!(
            "UPDATE {SCHEMA}.email_{table} SET tenant_id = tenant_id RETURNING tenant_id::text"
        );
        assert_eq!(
            ok(c, Ctx::Tenant(A), &cross).await,
            [A],
            "{table}: A updates its own row only"
        );
        if partitioned {
            // A query naming a partition directly is isolated too.
            let parts = simple(c, &format!("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = '{SCHEMA}.email_{table}'::regclass")).await.unwrap();
            assert!(
                parts.len() >= 4,
                "{table}: DEFAULT and dated partitions: {parts:?}"
            );
            for p in parts {
                let rows = ok(
                    c,
                    Ctx::Tenant(A),
                    &format!("SELECT tenant_id::text FROM {p}"),
                )
                .await;
                assert!(rows.iter().all(|t| t == A), "{p}: {rows:?}");
            }
        }
    }
}

async fn suppressions(c: &Client) {
    let s = format!("{SCHEMA}.email_suppressions");
    ok(
        c,
        Ctx::System,
        &format!(
            "INSERT INTO {s} (id, tenant_id, address_hash, category, reason) VALUES
        (gen_random_uuid(), NULL, '\\x01', NULL, 'hard_bounce'),
        (gen_random_uuid(), NULL, '\\x04', 'marketing', 'complaint'),
        (gen_random_uuid(), NULL, '\\x05', NULL, 'soft_bounce'),
        (gen_random_uuid(), {}, '\\x02', NULL, 'unsubscribe')",
            q(A)
        ),
    )
    .await;
    ok(
        c,
        Ctx::System,
        &format!(
            "UPDATE {s} SET expires_at = now() - interval '1 hour' WHERE address_hash = '\\x05'"
        ),
    )
    .await;
    let globals = format!("SELECT count(*) FROM {s} WHERE tenant_id IS NULL");
    assert_eq!(
        ok(c, Ctx::Tenant(A), &globals).await,
        ["0"],
        "global entries are not listable in a tenant scope"
    );
    let lookup = |category: &str| {
        format!("SELECT format('%s %s %s', ord, suppressed, coalesce(reason, '-')) FROM {SCHEMA}.email_suppressed(ARRAY['\\x01', '\\x02', '\\x03', '\\x04', '\\x05']::bytea[], {category})")
    };
    assert_eq!(
        ok(c, Ctx::Tenant(A), &lookup("'transactional'")).await,
        ["1 t hard_bounce", "2 t unsubscribe", "3 f -", "4 f -", "5 f -"],
        "A: the global bounce and its own unsubscribe; another category's and expired entries do not block"
    );
    assert_eq!(
        ok(c, Ctx::Tenant(B), &lookup("'marketing'")).await,
        [
            "1 t hard_bounce",
            "2 f -",
            "3 f -",
            "4 t complaint",
            "5 f -"
        ],
        "B: globals only, never A's entry"
    );
    // The lookup restores the caller's context: still a tenant scope afterwards.
    let after = format!("SELECT {SCHEMA}.email_suppressed(ARRAY['\\x01']::bytea[], NULL) IS NOT NULL; SELECT count(*)::text || ' ' || coalesce(current_setting('app.bypass_rls', true), '') FROM {s} WHERE tenant_id IS NULL");
    assert_eq!(ok(c, Ctx::Tenant(B), &after).await, ["t", "0 "]);
}

async fn retention(c: &Client, store: &Store) {
    let m = format!("{SCHEMA}.email_messages");
    ok(c, Ctx::System, &format!("INSERT INTO {m} (id, tenant_id, category, priority, status, from_addr, rendered, message_id_header, date_header, html, props, created_at)
        SELECT gen_random_uuid(), {}, 'transactional', 1, s, 'a@example.com', true, '<m@example.com>', now(), '<p>old</p>', '{{}}', now() - interval '30 days'
          FROM unnest(ARRAY['sent', 'queued', 'ambiguous']) s", q(A))).await;
    let p = |s: &usebetter_core::store::Statement, args: &str| {
        format!("PREPARE p AS {}; EXECUTE p({args}); DEALLOCATE p", s.sql)
    };
    assert_eq!(
        ok(c, Ctx::System, &p(&store.purge_bodies(), "7, 100")).await,
        ["1"],
        "only the finished old message loses its body"
    );
    let bodies = format!("SELECT status || ' ' || (html IS NULL) FROM {m} WHERE created_at < now() - interval '7 days' ORDER BY 1");
    assert_eq!(
        ok(c, Ctx::System, &bodies).await,
        ["ambiguous false", "queued false", "sent true"]
    );
    // The fixtures' attachments belong to no message: gone.
    assert_eq!(
        ok(c, Ctx::System, &p(&store.purge_attachments(), "7, 100")).await,
        ["3"]
    );
    for table in ["idempotency_keys", "event_keys", "suppressions"] {
        let n = ok(
            c,
            Ctx::System,
            &p(&store.purge_expired(table).unwrap(), "0, 100"),
        )
        .await;
        assert_eq!(
            n,
            [if table == "suppressions" { "1" } else { "0" }],
            "{table}"
        );
    }
    for (table, statement) in store.purge_default_partitions() {
        ok(c, Ctx::System, &p(&statement, "1, 100")).await;
        let _ = table;
    }
    assert_eq!(
        ok(c, Ctx::System, &format!("SELECT count(*) FROM {m}_default")).await,
        ["2"],
        "open messages stay in the DEFAULT partition"
    );
    for table in ["messages", "recipients", "attempts", "events"] {
        let old = ok(
            c,
            Ctx::System,
            &p(&store.droppable_partitions(table).unwrap(), "0"),
        )
        .await;
        assert!(
            old.is_empty(),
            "{table}: no dated partition is past: {old:?}"
        );
    }
}
