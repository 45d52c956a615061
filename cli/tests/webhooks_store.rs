//! Every statement of the webhooks store against a real PostgreSQL with the tables migrated
//! (row-level security on): each one is prepared and planned in its generic form, and the
//! endpoint, query and stats statements run on sample rows in tenant scopes and in system
//! context. Needs `DATABASE_URL` (`eval "$(scripts/pg.sh up)"`); the role must not bypass RLS.
#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod support;

use std::collections::HashMap;

use support::now_ms;
use tokio_postgres::{Client, SimpleQueryMessage};
use usebetter_core::sql::literal as q;
use usebetter_core::webhooks::store::cursor::{decode_cursor, encode_cursor, ListKind};
use usebetter_core::webhooks::store::endpoints::ENDPOINT_PATCH_FIELDS;
use usebetter_core::webhooks::store::{Store, StoreConfig};

const SCHEMA: &str = "webhooks_store_test";
const A: &str = "0190a000-0000-7000-8000-00000000000a";
const B: &str = "0190a000-0000-7000-8000-00000000000b";
const EP_A1: &str = "0190a001-0000-7000-8000-0000000000a1";
const EP_A2: &str = "0190a001-0000-7000-8000-0000000000a2";
const EP_A3: &str = "0190a001-0000-7000-8000-0000000000a3";
const EP_B1: &str = "0190a001-0000-7000-8000-0000000000b1";
const MSG: [&str; 3] = [
    "0190a002-0000-7000-8000-0000000000a1",
    "0190a002-0000-7000-8000-0000000000a2",
    "0190a002-0000-7000-8000-0000000000a3",
];
const MSG_B: &str = "0190a002-0000-7000-8000-0000000000b1";
const DLV: [&str; 3] = [
    "0190a003-0000-7000-8000-0000000000a1",
    "0190a003-0000-7000-8000-0000000000a2",
    "0190a003-0000-7000-8000-0000000000a3",
];
const DLV_B: &str = "0190a003-0000-7000-8000-0000000000b1";
const NULL: &str = "NULL";

type Row = HashMap<String, Option<String>>;
/// An attempt fixture: tenant, delivery, message, endpoint, outcome, duration, operator error.
type Attempt<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

/// Where a statement runs: a tenant's scope (as `@usebetterdev/tenant` sets it) or system context.
#[derive(Clone, Copy)]
enum Ctx {
    Tenant(&'static str),
    System,
}

struct Db {
    client: Client,
}

impl Db {
    async fn simple(&self, sql: &str) -> Vec<Row> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}\n{e:?}"));
        messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    r.columns()
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.name().to_owned(), r.get(i).map(str::to_owned)))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    /// Runs `sql` in its own transaction in `ctx`; returns its rows.
    async fn run(&self, ctx: Ctx, sql: &str) -> Vec<Row> {
        self.simple("BEGIN").await;
        match ctx {
            Ctx::Tenant(t) => {
                self.simple(&format!(
                    "SELECT set_config('app.current_tenant', {}, true)",
                    q(t)
                ))
                .await
            }
            Ctx::System => {
                self.simple("SELECT set_config('app.bypass_rls', 'true', true)")
                    .await
            }
        };
        let rows = self.simple(sql).await;
        self.simple("COMMIT").await;
        rows
    }

    /// `EXECUTE "name"(args…)`; arguments are SQL expressions.
    async fn call(&self, ctx: Ctx, name: &str, args: &[&str]) -> Vec<Row> {
        self.run(ctx, &execute(name, args)).await
    }
}

/// `EXECUTE "name"(args…)`, without the parentheses when there is no argument.
fn execute(name: &str, args: &[&str]) -> String {
    if args.is_empty() {
        format!("EXECUTE \"{name}\"")
    } else {
        format!("EXECUTE \"{name}\"({})", args.join(", "))
    }
}

fn get<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
        .as_deref()
        .unwrap_or("NULL")
}

fn ids(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| get(r, "id")).collect()
}

fn count(rows: &[Row], column: &str) -> i64 {
    get(&rows[0], column).parse().unwrap()
}

async fn connect() -> Db {
    Db {
        client: support::connect().await,
    }
}

#[test]
fn every_statement_on_postgres() {
    support::block_on(scenario());
}

async fn scenario() {
    let db = connect().await;
    let store = Store::new(&StoreConfig {
        schema: Some(SCHEMA.into()),
        rls: true,
        ..StoreConfig::default()
    })
    .unwrap();
    db.simple(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await;
    db.client
        .batch_execute(&store.migration_sql(now_ms(), 1))
        .await
        .unwrap();
    prepare_all(&db, &store).await;
    endpoints(&db).await;
    fixtures(&db, SCHEMA).await;
    health(&db).await;
    messages(&db).await;
    deliveries(&db).await;
    attempts(&db).await;
    stats(&db).await;
    db.simple(&format!("DROP SCHEMA {SCHEMA} CASCADE")).await;
}

/// Parse, analyse and plan (generic plan: no parameter value folded) every statement.
async fn prepare_all(db: &Db, store: &Store) {
    for (name, st) in store.statements() {
        if st.sql.starts_with("SET ") {
            db.run(Ctx::System, &st.sql).await;
            continue;
        }
        db.simple(&format!("PREPARE \"{name}\" AS {}", st.sql))
            .await;
        let nulls = vec![NULL; st.params.len()];
        db.simple("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
            .await;
        let plan = db
            .simple(&format!("EXPLAIN {}", execute(name, &nulls)))
            .await;
        db.simple("ROLLBACK").await;
        assert!(!plan.is_empty(), "{name}: no plan");
    }
}

async fn insert_endpoint(db: &Db, ctx: Ctx, tenant: &str, id: &str, max: &str) -> Vec<Row> {
    let url = q(&format!("https://{id}.example/hook"));
    let keys = q(r#"[{"kind":"v1","sealed":"c2VhbGVk"}]"#);
    db.call(ctx, "lockEndpointLimit", &[tenant]).await;
    db.call(
        ctx,
        "insertEndpoint",
        &[
            tenant,
            &q(id),
            &url,
            "'first'",
            "'{invoice.*}'",
            NULL,
            NULL,
            &keys,
            NULL,
            NULL,
            r#"'{"team":"billing"}'"#,
            max,
        ],
    )
    .await
}

/// `updateEndpoint` in tenant A's scope: `fields` listed, `values` by field name, NULL otherwise.
async fn patch(db: &Db, id: &str, fields: &str, values: &[(&str, &str)]) -> Vec<Row> {
    let id = q(id);
    let fields = q(fields);
    let mut args = vec![NULL, &id, &fields];
    args.extend(ENDPOINT_PATCH_FIELDS.iter().map(|f| {
        values
            .iter()
            .find(|(name, _)| name == f)
            .map_or(NULL, |(_, v)| *v)
    }));
    db.call(Ctx::Tenant(A), "updateEndpoint", &args).await
}

async fn endpoints(db: &Db) {
    let a = Ctx::Tenant(A);
    let made = insert_endpoint(db, a, NULL, EP_A1, "2").await;
    assert_eq!(ids(&made), [EP_A1]);
    assert_eq!(get(&made[0], "tenant_id"), A, "the scope's tenant");
    assert_eq!(get(&made[0], "status"), "enabled");
    assert_eq!(get(&made[0], "signing"), "v1");
    assert!(!made[0].contains_key("keys"), "sealed keys stay in the row");
    assert_eq!(
        ids(&insert_endpoint(db, a, NULL, EP_A2, "2").await),
        [EP_A2]
    );
    assert!(
        insert_endpoint(db, a, NULL, EP_A3, "2").await.is_empty(),
        "a third live endpoint is over the limit"
    );
    // The limit is per tenant; system context writes for the tenant it names.
    let b = insert_endpoint(db, Ctx::System, &q(B), EP_B1, "2").await;
    assert_eq!(get(&b[0], "tenant_id"), B);

    // Reads: a tenant sees its own endpoints only, system context with a tenant that tenant's.
    assert!(db
        .call(a, "getEndpoint", &[NULL, &q(EP_B1)])
        .await
        .is_empty());
    assert_eq!(
        ids(&db.call(a, "getEndpoint", &[NULL, &q(EP_A1)]).await),
        [EP_A1]
    );
    let all_a = db
        .call(a, "listEndpoints", &[NULL, NULL, NULL, NULL, "10"])
        .await;
    assert_eq!(ids(&all_a), [EP_A2, EP_A1], "newest first");
    assert!(db
        .call(Ctx::System, "getEndpoint", &[&q(B), &q(EP_A1)])
        .await
        .is_empty());
    let only_b = db
        .call(
            Ctx::System,
            "listEndpoints",
            &[&q(B), NULL, NULL, NULL, "10"],
        )
        .await;
    assert_eq!(ids(&only_b), [EP_B1]);
    let every = db
        .call(
            Ctx::System,
            "listEndpoints",
            &[NULL, NULL, NULL, NULL, "10"],
        )
        .await;
    assert_eq!(every.len(), 3, "system context without a tenant sees all");

    // Keyset paging through the cursor, microseconds included.
    let first = db
        .call(a, "listEndpoints", &[NULL, NULL, NULL, NULL, "1"])
        .await;
    let cursor = encode_cursor(
        ListKind::Endpoints,
        get(&first[0], "created_at_us").parse().unwrap(),
        get(&first[0], "id"),
    )
    .unwrap();
    let c = decode_cursor("cursor", ListKind::Endpoints, Some(&cursor))
        .unwrap()
        .unwrap();
    let next = db
        .call(
            a,
            "listEndpoints",
            &[NULL, NULL, &q(&c.at_text()), &q(&c.id), "10"],
        )
        .await;
    assert_eq!(ids(&next), [EP_A1]);

    // Patch: listed fields change (NULL included), others keep their value.
    let patched = patch(
        db,
        EP_A1,
        "{description,rate_limit_per_second}",
        &[
            ("url", "'https://ignored.example'"),
            ("rate_limit_per_second", "5"),
        ],
    )
    .await;
    assert_eq!(get(&patched[0], "description"), "NULL");
    assert_eq!(get(&patched[0], "rate_limit_per_second"), "5");
    assert_eq!(
        get(&patched[0], "url"),
        format!("https://{EP_A1}.example/hook")
    );
    assert_eq!(get(&patched[0], "metadata"), r#"{"team": "billing"}"#);
    assert_eq!(get(&patched[0], "previous_status"), "enabled");
    let other = patch(db, EP_B1, "{description}", &[("description", "'x'")]).await;
    assert!(other.is_empty(), "another tenant's endpoint");
    let off = patch(db, EP_A1, "{enabled}", &[("enabled", "false")]).await;
    assert_eq!(
        (get(&off[0], "status"), get(&off[0], "disabled_reason")),
        ("disabled", "manual")
    );

    // Enable clears the failure clock and the pause; disable keeps the reason given.
    db.run(
        Ctx::System,
        &format!("UPDATE {SCHEMA}.webhook_endpoints SET failing_since = now(), paused_until = now() + interval '1 minute', pause_seconds = 60 WHERE id = {}", q(EP_A1)),
    )
    .await;
    let on = db.call(a, "enableEndpoint", &[NULL, &q(EP_A1)]).await;
    assert_eq!(get(&on[0], "previous_status"), "disabled");
    assert_eq!(
        (
            get(&on[0], "status"),
            get(&on[0], "disabled_reason"),
            get(&on[0], "failing_since"),
            get(&on[0], "paused_until")
        ),
        ("enabled", "NULL", "NULL", "NULL")
    );
    assert!(db
        .call(a, "disableEndpoint", &[NULL, &q(EP_B1), "'x'"])
        .await
        .is_empty());
    let off = db
        .call(a, "disableEndpoint", &[NULL, &q(EP_A1), "'maintenance'"])
        .await;
    assert_eq!(get(&off[0], "disabled_reason"), "maintenance");
    db.call(a, "enableEndpoint", &[NULL, &q(EP_A1)]).await;

    // Keys: a replacement fenced by the value read; a stale one changes nothing.
    let keys = db.call(a, "endpointKeys", &[NULL, &q(EP_A1)]).await;
    let old = get(&keys[0], "keys").to_owned();
    let new = r#"[{"kind":"v1","sealed":"bmV3"},{"kind":"v1","sealed":"c2VhbGVk","expires_at":"2030-01-01T00:00:00.000000Z"}]"#;
    let set = |expected: &str| {
        format!(
            "ARRAY[{}]::uuid[], ARRAY[{}]::jsonb[], ARRAY[{}]::jsonb[]",
            q(EP_A1),
            q(expected),
            q(new)
        )
    };
    let won = db
        .run(
            a,
            &format!("EXECUTE \"setEndpointKeys\"(NULL, {})", set(&old)),
        )
        .await;
    assert_eq!(ids(&won), [EP_A1]);
    let lost = db
        .run(
            a,
            &format!("EXECUTE \"setEndpointKeys\"(NULL, {})", set(&old)),
        )
        .await;
    assert!(
        lost.is_empty(),
        "the second rotation from the same read loses"
    );
    assert!(db
        .call(Ctx::Tenant(B), "endpointKeys", &[NULL, &q(EP_A1)])
        .await
        .is_empty());
    let page = db.call(Ctx::System, "endpointKeysPage", &[NULL, "2"]).await;
    assert_eq!(ids(&page), [EP_A1, EP_A2]);
    let rest = db
        .call(Ctx::System, "endpointKeysPage", &[&q(EP_A2), "10"])
        .await;
    assert_eq!(ids(&rest), [EP_B1]);
}

/// Messages (through the engine's send statement), deliveries, attempts, a blocked lane, a
/// worker.
async fn fixtures(db: &Db, s: &str) {
    let send = |msg_ids: &[&str], types: &[&str]| {
        let arr = |v: &[&str]| v.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ");
        let nulls = |t: &str| format!("array_fill(NULL::{t}, ARRAY[{}])", msg_ids.len());
        format!(
            "EXECUTE \"sendInsertMessages\"(NULL, ARRAY[{}]::uuid[], ARRAY[{}]::text[], ARRAY[{}]::text[]::text, ARRAY[{}]::bytea[], {}, {}, {}, {}, {}, {}, NULL, NULL, '')",
            arr(msg_ids),
            arr(types),
            msg_ids.iter().map(|i| q(&format!("{{\"n\":\"{i}\"}}"))).collect::<Vec<_>>().join(", "),
            msg_ids.iter().map(|i| format!("sha256({}::bytea)", q(i))).collect::<Vec<_>>().join(", "),
            nulls("text"),
            nulls("text"),
            nulls("bigint"),
            nulls("text"),
            nulls("text"),
            nulls("timestamptz"),
        )
    };
    db.run(
        Ctx::Tenant(A),
        &send(&MSG, &["invoice.paid", "invoice.paid", "user.created"]),
    )
    .await;
    db.run(Ctx::Tenant(B), &send(&[MSG_B], &["invoice.paid"]))
        .await;
    db.run(
        Ctx::System,
        &format!(
            "INSERT INTO {s}.webhook_deliveries (id, tenant_id, message_id, message_created_at, endpoint_id, status, next_attempt_at, finished_at)
SELECT v.id::uuid, m.tenant_id, m.id, m.created_at, v.endpoint_id::uuid, v.status, now() - v.overdue::interval,
       CASE WHEN v.status IN ('succeeded', 'exhausted') THEN now() END
FROM (VALUES ({d0}, {m0}, {a1}, 'succeeded', '0s'), ({d1}, {m1}, {a1}, 'exhausted', '0s'),
             ({d2}, {m2}, {a2}, 'pending', '1 minute'), ({db_}, {mb}, {b1}, 'pending', '10 minutes'))
  AS v(id, message_id, endpoint_id, status, overdue)
JOIN {s}.webhook_messages m ON m.id = v.message_id::uuid;
INSERT INTO {s}.webhook_lanes (id, tenant_id, endpoint_id, ordering_key, state)
VALUES (gen_random_uuid(), {ta}, {a1}, 'k', 'blocked')",
            d0 = q(DLV[0]),
            d1 = q(DLV[1]),
            d2 = q(DLV[2]),
            db_ = q(DLV_B),
            m0 = q(MSG[0]),
            m1 = q(MSG[1]),
            m2 = q(MSG[2]),
            mb = q(MSG_B),
            a1 = q(EP_A1),
            a2 = q(EP_A2),
            b1 = q(EP_B1),
            ta = q(A),
        ),
    )
    .await;
    let attempts: [Attempt; 6] = [
        (A, DLV[0], MSG[0], EP_A1, "ok", "10", NULL),
        (A, DLV[0], MSG[0], EP_A1, "ok", "20", NULL),
        (A, DLV[0], MSG[0], EP_A1, "ok", "30", NULL),
        (
            A,
            DLV[1],
            MSG[1],
            EP_A1,
            "http_error",
            "100",
            "'connect ECONNREFUSED 10.0.0.1:443'",
        ),
        (A, DLV[1], MSG[1], EP_A1, "lease_expired", "999", NULL),
        (B, DLV_B, MSG_B, EP_B1, "ok", "5", NULL),
    ];
    let col = |f: &dyn Fn(&Attempt) -> String, t: &str| {
        format!(
            "ARRAY[{}]::{t}[]",
            attempts.iter().map(f).collect::<Vec<_>>().join(", ")
        )
    };
    let n = attempts.len();
    let insert = format!(
        "EXECUTE \"insertAttempts\"({}, {}, {}, {}, array_fill(1, ARRAY[{n}]), array_fill('scheduled'::text, ARRAY[{n}]), array_fill(now(), ARRAY[{n}]), {}, {}, array_fill(500::smallint, ARRAY[{n}]), array_fill(NULL::text, ARRAY[{n}]), {}, array_fill(0::bigint, ARRAY[{n}]), array_fill('worker-1'::text, ARRAY[{n}]))",
        col(&|a| q(a.0), "uuid"),
        col(&|a| q(a.1), "uuid"),
        col(&|a| q(a.2), "uuid"),
        col(&|a| q(a.3), "uuid"),
        col(&|a| a.5.to_owned(), "int"),
        col(&|a| q(a.4), "text"),
        col(&|a| a.6.to_owned(), "text"),
    );
    db.run(Ctx::System, &insert).await;
    db.call(
        Ctx::System,
        "heartbeat",
        &["'worker-1'", "0", "'test'", "30"],
    )
    .await;
}

async fn health(db: &Db) {
    let h = db
        .call(Ctx::Tenant(A), "endpointHealth", &[NULL, &q(EP_A1)])
        .await;
    // 3 ok of 4 counted attempts (lease_expired left out); p95 of {10, 20, 30, 100}.
    assert_eq!(get(&h[0], "success_rate_24h"), "0.75");
    assert_eq!(get(&h[0], "p95_ms_24h"), "100");
    assert_eq!(get(&h[0], "blocked_lanes"), "1");
    assert_eq!(get(&h[0], "failing_since"), "NULL");
    let quiet = db
        .call(Ctx::Tenant(A), "endpointHealth", &[NULL, &q(EP_A2)])
        .await;
    assert_eq!(
        (
            get(&quiet[0], "success_rate_24h"),
            get(&quiet[0], "p95_ms_24h")
        ),
        ("NULL", "NULL")
    );
    assert!(db
        .call(Ctx::Tenant(B), "endpointHealth", &[NULL, &q(EP_A1)])
        .await
        .is_empty());
}

async fn messages(db: &Db) {
    let a = Ctx::Tenant(A);
    let list = |args: [&str; 6]| {
        let mut v = vec![NULL];
        v.extend(args);
        v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let call = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        db.call(a, "listMessages", &refs).await
    };
    let all = call(list([NULL, NULL, NULL, NULL, NULL, "10"])).await;
    // One INSERT: one created_at, so the id breaks the tie.
    assert_eq!(ids(&all), [MSG[2], MSG[1], MSG[0]]);
    assert!(!all[0].contains_key("body_sha256"));
    let paid = call(list(["'invoice.paid'", NULL, NULL, NULL, NULL, "10"])).await;
    assert_eq!(ids(&paid), [MSG[1], MSG[0]]);
    let old = call(list([
        NULL,
        NULL,
        "now() - interval '1 hour'",
        NULL,
        NULL,
        "10",
    ]))
    .await;
    assert!(old.is_empty(), "until excludes newer messages");
    let later = call(list([
        NULL,
        "now() + interval '1 hour'",
        NULL,
        NULL,
        NULL,
        "10",
    ]))
    .await;
    assert!(later.is_empty(), "since excludes older messages");
    // Three pages of one, each after the previous page's cursor.
    let mut seen = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let (at, id) = after
            .as_ref()
            .map_or((NULL.to_owned(), NULL.to_owned()), |(t, i)| (q(t), q(i)));
        let page = call(list([NULL, NULL, NULL, &at, &id, "1"])).await;
        let Some(row) = page.first() else { break };
        seen.push(get(row, "id").to_owned());
        let cursor = encode_cursor(
            ListKind::Messages,
            get(row, "created_at_us").parse().unwrap(),
            get(row, "id"),
        )
        .unwrap();
        let c = decode_cursor("cursor", ListKind::Messages, Some(&cursor))
            .unwrap()
            .unwrap();
        after = Some((c.at_text(), c.id));
    }
    assert_eq!(seen, [MSG[2], MSG[1], MSG[0]]);

    let got = db.call(a, "getMessage", &[NULL, &q(MSG[0])]).await;
    assert_eq!(get(&got[0], "body"), format!("{{\"n\":\"{}\"}}", MSG[0]));
    assert_eq!(get(&got[0], "event_type"), "invoice.paid");
    assert!(db
        .call(a, "getMessage", &[NULL, &q(MSG_B)])
        .await
        .is_empty());
    assert!(db
        .call(Ctx::System, "getMessage", &[&q(A), &q(MSG_B)])
        .await
        .is_empty());
    assert_eq!(
        ids(&db
            .call(Ctx::System, "getMessage", &[&q(B), &q(MSG_B)])
            .await),
        [MSG_B]
    );
}

async fn deliveries(db: &Db) {
    let a = Ctx::Tenant(A);
    async fn list(db: &Db, ctx: Ctx, args: [&str; 7]) -> Vec<Row> {
        db.call(ctx, "listDeliveries", &args).await
    }
    let all = list(db, a, [NULL, NULL, NULL, NULL, NULL, NULL, "10"]).await;
    assert_eq!(ids(&all), [DLV[2], DLV[1], DLV[0]]);
    assert!(!all[0].contains_key("lease_token"));
    let of_a1 = list(db, a, [NULL, NULL, &q(EP_A1), NULL, NULL, NULL, "10"]).await;
    assert_eq!(ids(&of_a1), [DLV[1], DLV[0]]);
    let of_msg = list(db, a, [NULL, &q(MSG[2]), NULL, NULL, NULL, NULL, "10"]).await;
    assert_eq!(ids(&of_msg), [DLV[2]]);
    let exhausted = list(db, a, [NULL, NULL, NULL, "'exhausted'", NULL, NULL, "10"]).await;
    assert_eq!(ids(&exhausted), [DLV[1]]);
    assert!(list(db, a, [NULL, NULL, &q(EP_B1), NULL, NULL, NULL, "10"])
        .await
        .is_empty());
    assert!(list(db, a, [NULL, &q(MSG_B), NULL, NULL, NULL, NULL, "10"])
        .await
        .is_empty());
    let first = list(db, a, [NULL, NULL, NULL, NULL, NULL, NULL, "2"]).await;
    let last = &first[1];
    let next = list(
        db,
        a,
        [
            NULL,
            NULL,
            NULL,
            NULL,
            &q(get(last, "created_at")),
            &q(get(last, "id")),
            "10",
        ],
    )
    .await;
    assert_eq!(ids(&next), [DLV[0]]);
    let b = list(db, Ctx::System, [&q(B), NULL, NULL, NULL, NULL, NULL, "10"]).await;
    assert_eq!(ids(&b), [DLV_B]);
    let everyone = list(db, Ctx::System, [NULL, NULL, NULL, NULL, NULL, NULL, "10"]).await;
    assert_eq!(everyone.len(), 4);
}

async fn attempts(db: &Db) {
    let a = Ctx::Tenant(A);
    async fn list(db: &Db, ctx: Ctx, args: [&str; 8]) -> Vec<Row> {
        db.call(ctx, "listAttempts", &args).await
    }
    let of_dlv = list(
        db,
        a,
        [NULL, &q(DLV[1]), NULL, NULL, NULL, NULL, NULL, "10"],
    )
    .await;
    assert_eq!(of_dlv.len(), 2);
    for row in &of_dlv {
        assert!(!row.contains_key("operator_error"), "operator-only column");
        assert!(!row.contains_key("worker_id"), "operator-only column");
        assert_eq!(get(row, "delivery_id"), DLV[1]);
    }
    let ok = list(db, a, [NULL, NULL, NULL, "'ok'", NULL, NULL, NULL, "10"]).await;
    assert_eq!(ok.len(), 3);
    assert!(
        list(db, a, [NULL, NULL, &q(EP_A2), NULL, NULL, NULL, NULL, "10"])
            .await
            .is_empty()
    );
    assert!(list(
        db,
        a,
        [
            NULL,
            NULL,
            NULL,
            NULL,
            "now() + interval '1 minute'",
            NULL,
            NULL,
            "10"
        ]
    )
    .await
    .is_empty());
    assert!(
        list(db, a, [NULL, &q(DLV_B), NULL, NULL, NULL, NULL, NULL, "10"])
            .await
            .is_empty(),
        "another tenant's attempts"
    );
    let all = list(db, a, [NULL, NULL, NULL, NULL, NULL, NULL, NULL, "10"]).await;
    assert_eq!(all.len(), 5);
    let b = list(
        db,
        Ctx::System,
        [&q(B), NULL, NULL, NULL, NULL, NULL, NULL, "10"],
    )
    .await;
    assert_eq!(b.len(), 1);
    assert_eq!(get(&b[0], "delivery_id"), DLV_B);
}

async fn stats(db: &Db) {
    db.run(
        Ctx::System,
        &format!(
            "UPDATE {SCHEMA}.webhook_endpoints SET failing_since = now() WHERE id = {}",
            q(EP_A2)
        ),
    )
    .await;
    let args = [NULL, "'24 hours'", "30"];
    let a = db.call(Ctx::Tenant(A), "stats", &args).await;
    assert_eq!(count(&a, "backlog"), 1);
    let age = count(&a, "oldest_pending_age_ms");
    assert!((60_000..120_000).contains(&age), "{age}");
    assert_eq!((count(&a, "delivered"), count(&a, "failed")), (1, 1));
    assert_eq!(get(&a[0], "success_rate"), "0.5");
    assert_eq!((count(&a, "p50_ms"), count(&a, "p95_ms")), (20, 100));
    assert_eq!(count(&a, "endpoints_failing"), 1);
    assert_eq!(count(&a, "lanes_blocked"), 1);
    assert_eq!(count(&a, "workers_alive"), 1);

    let b = db
        .call(Ctx::System, "stats", &[&q(B), "'1 hour'", "30"])
        .await;
    assert_eq!(count(&b, "backlog"), 1);
    assert!(count(&b, "oldest_pending_age_ms") >= 600_000);
    assert_eq!((count(&b, "delivered"), count(&b, "failed")), (0, 0));
    assert_eq!(get(&b[0], "success_rate"), "NULL");
    assert_eq!(count(&b, "p50_ms"), 5);
    assert_eq!(
        (count(&b, "endpoints_failing"), count(&b, "lanes_blocked")),
        (0, 0)
    );

    let all = db.call(Ctx::System, "stats", &args).await;
    assert_eq!(count(&all, "backlog"), 2);
    // Disabled endpoints' deliveries are not overdue: no worker may take them.
    db.call(
        Ctx::Tenant(B),
        "disableEndpoint",
        &[NULL, &q(EP_B1), "'manual'"],
    )
    .await;
    let b = db
        .call(Ctx::System, "stats", &[&q(B), "'1 hour'", "30"])
        .await;
    assert!(count(&b, "oldest_pending_age_ms") < 60_000);
}
