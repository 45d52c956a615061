//! `doctor`: live isolation probes inside one transaction that is always rolled back.
//!
//! Two probe tenants get one synthesised row in every tenant table (values made up per column
//! type, foreign keys pointing at the probe rows inserted before), then each operation is tried
//! as tenant A against B's row. Sequences advanced by the probe inserts stay advanced; nothing
//! else survives the rollback.

use std::fmt::Write as _;

use serde::Serialize;
use tokio_postgres::{Client, GenericClient, Transaction};
use usebetter_core::check::catalog::Catalog;
use usebetter_core::check::probes::LOOSE_BYPASS;
use usebetter_core::check::CheckConfig;
use usebetter_core::policy::context;
use usebetter_core::sql::Ident;

use super::db::db_error;

/// One probe outcome.
#[derive(Debug, Serialize)]
pub struct Probe {
    pub probe: String,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub(crate) fn probe(name: String, passed: bool, message: Option<String>) -> Probe {
    Probe {
        probe: name,
        passed,
        message,
    }
}

/// Sets the scope's context on the current transaction, exactly as the library does (the core's
/// statements; hardened signatures bound to this transaction).
async fn enter_scope<C: GenericClient>(
    c: &C,
    tenant: Option<&str>,
    key: Option<&str>,
) -> Result<(), String> {
    let binding = match key {
        Some(_) => Some(
            c.query_one(context::binding_query(false).as_str(), &[])
                .await
                .map_err(|e| db_error(&e))?
                .try_get::<_, String>(0)
                .map_err(|e| db_error(&e))?,
        ),
        None => None,
    };
    let statement = context::scope_sql(
        tenant,
        key,
        binding.as_deref(),
        false,
        context::Limits::default(),
    )
    .map_err(|e| e.to_string())?;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = statement
        .params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    c.execute(statement.sql.as_str(), &params)
        .await
        .map(drop)
        .map_err(|e| db_error(&e))
}

/// Turns on the bypass for the current transaction, signed when a hardened key is given.
pub async fn enter_bypass<C: GenericClient>(c: &C, key: Option<&str>) -> Result<(), String> {
    enter_scope(c, None, key).await
}

async fn enter_tenant(c: &Transaction<'_>, id: &str, key: Option<&str>) -> Result<(), String> {
    enter_scope(c, Some(id), key).await
}

async fn leave_context(c: &Transaction<'_>) -> Result<(), String> {
    c.execute(context::clear_sql().as_str(), &[])
        .await
        .map(drop)
        .map_err(|e| db_error(&e))
}

/// A value expression for a NOT NULL column without default, or `None` if we cannot make one.
fn synthesize(data_type: &str, fk: Option<&str>, tenant_param: &str) -> Option<String> {
    if let Some(fk) = fk {
        let (table, column) = fk.split_once('|')?;
        let col = Ident::new("fk", column).ok()?.quoted();
        return Some(format!(
            "(SELECT r.{col} FROM {table} AS r WHERE to_jsonb(r) ->> 'tenant_id' IS NOT DISTINCT FROM {tenant_param}::text OR NOT (to_jsonb(r) ? 'tenant_id') LIMIT 1)"
        ));
    }
    let t = data_type.to_ascii_lowercase();
    let v = if t.starts_with("text") || t.starts_with("character") || t.starts_with("citext") {
        "'doctor-probe-' || md5(random()::text)".to_owned()
    } else if t == "smallint" {
        "(random() * 30000)::int2".to_owned()
    } else if t == "integer"
        || t == "bigint"
        || t.starts_with("numeric")
        || t == "real"
        || t == "double precision"
    {
        format!("(1000000000 + random() * 1000000000)::{t}")
    } else if t == "boolean" {
        "false".to_owned()
    } else if t == "uuid" {
        "gen_random_uuid()".to_owned()
    } else if t.starts_with("timestamp") || t == "date" || t.starts_with("time") {
        format!("now()::{t}")
    } else if t == "json" || t == "jsonb" {
        format!("'{{}}'::{t}")
    } else if t == "bytea" {
        "'\\x00'::bytea".to_owned()
    } else if t.ends_with("[]") {
        format!("'{{}}'::{t}")
    } else {
        return None;
    };
    Some(v)
}

const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
    a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '',
    (SELECT f.confrelid::regclass::text || '|' || fa.attname::text
       FROM pg_constraint f JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
      WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]::int2[] LIMIT 1)
  FROM pg_attribute a WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// `INSERT` for a probe row of `table` owned by the tenant in `$1`.
async fn insert_sql(tx: &Transaction<'_>, table: &str) -> Result<String, String> {
    let rows = tx
        .query(COLUMNS, &[&table])
        .await
        .map_err(|e| db_error(&e))?;
    let mut cols = vec!["tenant_id".to_owned()];
    let mut vals = vec!["$1::text::uuid".to_owned()];
    for r in &rows {
        let (name, ty, required, fk): (String, String, bool, Option<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        if name == "tenant_id" || !required {
            continue;
        }
        let v = synthesize(&ty, fk.as_deref(), "$1")
            .ok_or_else(|| format!("cannot make up a value for column {name} ({ty})"))?;
        cols.push(
            Ident::new("column", &name)
                .map_err(|e| e.to_string())?
                .quoted(),
        );
        vals.push(v);
    }
    Ok(format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        vals.join(", ")
    ))
}

/// Runs a statement in a savepoint so a failure does not end the probe transaction.
async fn attempt(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let sp = tx.savepoint("probe").await?;
    let r = sp.execute(sql, params).await;
    match r {
        Ok(n) => {
            sp.commit().await?;
            Ok(n)
        }
        Err(e) => {
            sp.rollback().await?;
            Err(e)
        }
    }
}

async fn count(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<i64, String> {
    let sp = tx.savepoint("count").await.map_err(|e| db_error(&e))?;
    let r = sp.query_one(sql, params).await.map(|r| r.get::<_, i64>(0));
    sp.rollback().await.map_err(|e| db_error(&e))?;
    r.map_err(|e| db_error(&e))
}

/// Runs every probe and rolls everything back.
pub async fn probes(
    client: &mut Client,
    catalog: &Catalog,
    config: &CheckConfig,
    key: Option<&str>,
) -> Result<Vec<Probe>, String> {
    let hardened = catalog.private_schema_usable.is_some();
    let mut out = Vec::new();
    if hardened && key.is_none() {
        out.push(probe(
            "isolation probes".into(),
            false,
            Some("hardened mode: set BETTER_TENANT_HARDENED_KEY so doctor can sign its probe context".into()),
        ));
        return Ok(out);
    }
    let mut tx = client.transaction().await.map_err(|e| db_error(&e))?;
    let (a, b) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    enter_bypass(&tx, key).await?;
    let tenants = format!(
        "{}.\"tenants\"",
        Ident::new("schema", config.schema.as_deref().unwrap_or("public"))
            .map_err(|e| e.to_string())?
            .quoted()
    );
    for id in [&a, &b] {
        let slug = format!("doctor-probe-{}", &id[..8]);
        attempt(&mut tx, &format!("INSERT INTO {tenants} (id, name, slug) VALUES ($1::text::uuid, 'doctor probe', $2)"), &[id, &slug])
            .await
            .map_err(|e| format!("doctor: cannot create probe tenants under the bypass: {}", db_error(&e)))?;
    }
    let mut ready = Vec::new();
    for (schema, table, label) in config.targets() {
        let (Ok(s), Ok(t)) = (Ident::new("schema", &schema), Ident::new("table", &table)) else {
            continue;
        };
        let qualified = format!("{}.{}", s.quoted(), t.quoted());
        enter_bypass(&tx, key).await?;
        let insert = match insert_sql(&tx, &qualified).await {
            Ok(sql) => sql,
            Err(e) => {
                out.push(probe(format!("{label}: probe rows"), false, Some(e)));
                continue;
            }
        };
        let mut inserted = true;
        for id in [&a, &b] {
            if let Err(e) = attempt(&mut tx, &insert, &[id]).await {
                out.push(probe(
                    format!("{label}: probe rows"),
                    false,
                    Some(format!("insert under the bypass failed: {}", db_error(&e))),
                ));
                inserted = false;
                break;
            }
        }
        if inserted {
            ready.push((label, qualified));
        }
    }
    for (label, table) in &ready {
        // A verbatim copy of B's row: RLS's WITH CHECK runs before NOT NULL, FK and unique
        // checks, so a refusal with 42501 is the policy speaking, not another constraint.
        enter_bypass(&tx, key).await?;
        let b_row: Option<String> = tx
            .query_opt(&format!("SELECT to_jsonb(t)::text FROM {table} t WHERE tenant_id = $1::text::uuid LIMIT 1"), &[&b])
            .await
            .map_err(|e| db_error(&e))?
            .map(|r| r.get(0));
        enter_tenant(&tx, &a, key).await?;
        let own = count(
            &mut tx,
            &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1::text::uuid"),
            &[&a],
        )
        .await?;
        out.push(probe(
            format!("{label}: tenant A reads its own row"),
            own >= 1,
            (own < 1).then(|| "tenant A sees none of its rows".into()),
        ));
        let other = count(
            &mut tx,
            &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1::text::uuid"),
            &[&b],
        )
        .await?;
        out.push(probe(
            format!("{label}: tenant A cannot read B's row"),
            other == 0,
            (other > 0).then(|| format!("tenant A read {other} of B's rows")),
        ));
        for (verb, sql) in [
            (
                "update",
                format!(
                    "UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id = $1::text::uuid"
                ),
            ),
            (
                "delete",
                format!("DELETE FROM {table} WHERE tenant_id = $1::text::uuid"),
            ),
        ] {
            let n = attempt(&mut tx, &sql, &[&b]).await.unwrap_or(0);
            out.push(probe(
                format!("{label}: tenant A cannot {verb} B's row"),
                n == 0,
                (n > 0).then(|| format!("tenant A could {verb} {n} of B's rows")),
            ));
        }
        let name = format!("{label}: tenant A cannot insert a row for B");
        match &b_row {
            None => out.push(probe(
                name,
                false,
                Some("B's probe row is not visible under the bypass".into()),
            )),
            Some(json) => {
                let copy = format!("INSERT INTO {table} SELECT * FROM jsonb_populate_record(NULL::{table}, $1::text::jsonb)");
                match attempt(&mut tx, &copy, &[json]).await {
                    Ok(_) => out.push(probe(
                        name,
                        false,
                        Some("tenant A inserted a row owned by B".into()),
                    )),
                    Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "42501") => {
                        out.push(probe(name, true, None))
                    }
                    Err(e) => out.push(probe(
                        name,
                        false,
                        Some(format!(
                            "inconclusive: the insert failed for another reason: {}",
                            db_error(&e)
                        )),
                    )),
                }
            }
        }
        leave_context(&tx).await?;
        let none = count(&mut tx, &format!("SELECT count(*) FROM {table}"), &[]).await?;
        out.push(probe(
            format!("{label}: no context sees nothing"),
            none == 0,
            (none > 0).then(|| format!("{none} rows visible without a tenant")),
        ));
        enter_bypass(&tx, key).await?;
        let both = count(
            &mut tx,
            &format!(
                "SELECT count(*) FROM {table} WHERE tenant_id IN ($1::text::uuid, $2::text::uuid)"
            ),
            &[&a, &b],
        )
        .await?;
        out.push(probe(
            format!("{label}: the bypass sees both tenants"),
            both >= 2,
            (both < 2).then(|| format!("bypass saw {both} probe rows")),
        ));
        if !hardened {
            tx.execute(LOOSE_BYPASS, &[])
                .await
                .map_err(|e| db_error(&e))?;
            let loose = count(&mut tx, &format!("SELECT count(*) FROM {table} WHERE tenant_id IN ($1::text::uuid, $2::text::uuid)"), &[&a, &b]).await?;
            out.push(probe(
                format!("{label}: a bypass value other than 'true' sees nothing"),
                loose == 0,
                (loose > 0).then(|| format!("{} = 'on' saw {loose} rows", context::BYPASS)),
            ));
        }
        if hardened {
            enter_bypass(&tx, None).await?;
            let forged = count(&mut tx, &format!("SELECT count(*) FROM {table} WHERE tenant_id IN ($1::text::uuid, $2::text::uuid)"), &[&a, &b]).await?;
            out.push(probe(
                format!("{label}: an unsigned bypass sees nothing"),
                forged == 0,
                (forged > 0).then(|| format!("unsigned bypass saw {forged} rows")),
            ));
        }
    }
    tx.rollback().await.map_err(|e| db_error(&e))?;
    Ok(out)
}

/// The probe section of the text report.
#[must_use]
pub fn render(probes: &[Probe]) -> String {
    let mut s = String::from("\nLive probes (in a transaction that was rolled back):\n");
    for p in probes {
        let mark = if p.passed { '✓' } else { '✗' };
        match &p.message {
            Some(m) => writeln!(s, "  {mark} {} — {m}", p.probe).ok(),
            None => writeln!(s, "  {mark} {}", p.probe).ok(),
        };
    }
    let failed = probes.iter().filter(|p| !p.passed).count();
    if failed == 0 {
        writeln!(s, "\n✓ All {} probes passed", probes.len()).ok();
    } else {
        writeln!(s, "\n✗ {failed} of {} probes failed", probes.len()).ok();
    }
    s
}
