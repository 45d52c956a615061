//! `doctor`: the isolation probes (the core's `check::isolation` statements) run inside one
//! transaction that is always rolled back. Sequences advanced by the probe inserts stay
//! advanced; nothing else survives the rollback.

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Transaction};
use usebetter_core::check::catalog::Catalog;
use usebetter_core::check::isolation::{self, Column, ProbeRow};
use usebetter_core::check::probes::{Probe, LOOSE_BYPASS};
use usebetter_core::check::CheckConfig;
use usebetter_core::cli::tenant::KEY_VARIABLE;
use usebetter_core::policy::context;
use usebetter_core::sql::Ident;
use usebetter_core::{CliFailure, Result};

use crate::db::{self, db_error, db_message};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Sets the scope's context on the current transaction, exactly as the library does (the core's
/// statements; hardened signatures bound to this transaction).
async fn enter_scope<C: GenericClient>(
    c: &C,
    tenant: Option<&str>,
    key: Option<&str>,
) -> Result<()> {
    let binding = match key {
        Some(_) => Some(
            db::one(c, context::binding_query(false).as_str(), &[])
                .await?
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
        false,
    )?;
    let params: Vec<&(dyn ToSql + Sync)> = statement
        .params
        .iter()
        .map(|p| p as &(dyn ToSql + Sync))
        .collect();
    db::execute(c, statement.sql.as_str(), &params)
        .await
        .map(drop)
}

/// Turns on the bypass for the current transaction, signed when a hardened key is given.
pub async fn enter_bypass<C: GenericClient>(c: &C, key: Option<&str>) -> Result<()> {
    enter_scope(c, None, key).await
}

/// Runs a statement in a savepoint so a failure does not end the probe transaction.
async fn attempt(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> std::result::Result<u64, tokio_postgres::Error> {
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

async fn count(tx: &mut Transaction<'_>, sql: &str, params: Params<'_>) -> Result<i64> {
    let sp = tx.savepoint("count").await.map_err(|e| db_error(&e))?;
    let r = sp.query_one(sql, params).await.map(|r| r.get::<_, i64>(0));
    sp.rollback().await.map_err(|e| db_error(&e))?;
    r.map_err(|e| db_error(&e))
}

/// The probe row's `INSERT` for `table`, from its columns (a failed read is the probe's
/// finding too).
async fn probe_row(tx: &Transaction<'_>, table: &str) -> ProbeRow {
    let rows = match db::rows(tx, isolation::COLUMNS, &[&table]).await {
        Ok(rows) => rows,
        Err(e) => return ProbeRow::Impossible(e.to_string()),
    };
    let columns: Vec<Column> = rows
        .iter()
        .map(|r| Column {
            name: r.get(0),
            data_type: r.get(1),
            required: r.get(2),
            foreign_key: r.get(3),
        })
        .collect();
    isolation::probe_row(table, &columns)
}

/// Runs every probe and rolls everything back.
pub async fn probes(
    client: &mut Client,
    catalog: &Catalog,
    config: &CheckConfig,
    key: Option<&str>,
) -> Result<Vec<Probe>> {
    let hardened = catalog.private_schema_usable.is_some();
    let mut out = Vec::new();
    if hardened && key.is_none() {
        out.push(Probe::new(
            "isolation probes",
            Some(format!(
                "hardened mode: set {KEY_VARIABLE} so doctor can sign its probe context"
            )),
        ));
        return Ok(out);
    }
    let mut tx = client.transaction().await.map_err(|e| db_error(&e))?;
    let (a, b) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    enter_bypass(&tx, key).await?;
    let tenants = isolation::probe_tenant_sql(config.schema.as_deref().unwrap_or("public"))?;
    for id in [&a, &b] {
        let slug = format!("doctor-probe-{}", &id[..8]);
        attempt(&mut tx, &tenants, &[id, &slug])
            .await
            .map_err(|e| {
                CliFailure::Database.with(format!(
                    "doctor: cannot create probe tenants under the bypass: {}",
                    db_message(&e)
                ))
            })?;
    }
    let mut ready = Vec::new();
    for (schema, table, label) in config.targets() {
        let (Ok(s), Ok(t)) = (Ident::new("schema", &schema), Ident::new("table", &table)) else {
            continue;
        };
        let qualified = format!("{}.{}", s.quoted(), t.quoted());
        enter_bypass(&tx, key).await?;
        let insert = match probe_row(&tx, &qualified).await {
            ProbeRow::Insert(sql) => sql,
            ProbeRow::Impossible(why) => {
                out.push(Probe::new(format!("{label}: probe rows"), Some(why)));
                continue;
            }
        };
        let mut inserted = true;
        for id in [&a, &b] {
            if let Err(e) = attempt(&mut tx, &insert, &[id]).await {
                let why = format!("insert under the bypass failed: {}", db_message(&e));
                out.push(Probe::new(format!("{label}: probe rows"), Some(why)));
                inserted = false;
                break;
            }
        }
        if inserted {
            ready.push((label, qualified));
        }
    }
    for (label, table) in &ready {
        out.extend(table_probes(&mut tx, label, table, (&a, &b), key, hardened).await?);
    }
    tx.rollback().await.map_err(|e| db_error(&e))?;
    Ok(out)
}

/// Each operation as tenant A against B's probe row in one table, then without a context and
/// under the bypass.
async fn table_probes(
    tx: &mut Transaction<'_>,
    label: &str,
    table: &str,
    (a, b): (&String, &String),
    key: Option<&str>,
    hardened: bool,
) -> Result<Vec<Probe>> {
    let q = isolation::table_probes(table);
    let mut out = Vec::new();
    enter_bypass(&*tx, key).await?;
    let b_row: Option<String> = db::maybe(&*tx, &q.row_json, &[b]).await?.map(|r| r.get(0));
    enter_scope(&*tx, Some(a), key).await?;
    let own = count(tx, &q.count_tenant, &[a]).await?;
    out.push(Probe::new(
        format!("{label}: tenant A reads its own row"),
        (own < 1).then(|| "tenant A sees none of its rows".into()),
    ));
    let other = count(tx, &q.count_tenant, &[b]).await?;
    out.push(Probe::new(
        format!("{label}: tenant A cannot read B's row"),
        (other > 0).then(|| format!("tenant A read {other} of B's rows")),
    ));
    for (verb, sql) in [("update", &q.update), ("delete", &q.delete)] {
        let n = attempt(tx, sql, &[b]).await.unwrap_or(0);
        out.push(Probe::new(
            format!("{label}: tenant A cannot {verb} B's row"),
            (n > 0).then(|| format!("tenant A could {verb} {n} of B's rows")),
        ));
    }
    let name = format!("{label}: tenant A cannot insert a row for B");
    let insert = match &b_row {
        None => Some("B's probe row is not visible under the bypass".into()),
        Some(json) => match attempt(tx, &q.copy, &[json]).await {
            Ok(_) => Some("tenant A inserted a row owned by B".into()),
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "42501") => None,
            Err(e) => Some(format!(
                "inconclusive: the insert failed for another reason: {}",
                db_message(&e)
            )),
        },
    };
    out.push(Probe::new(name, insert));
    db::execute(&*tx, context::clear_sql().as_str(), &[]).await?;
    let none = count(tx, &q.count_all, &[]).await?;
    out.push(Probe::new(
        format!("{label}: no context sees nothing"),
        (none > 0).then(|| format!("{none} rows visible without a tenant")),
    ));
    enter_bypass(&*tx, key).await?;
    let both = count(tx, &q.count_both, &[a, b]).await?;
    out.push(Probe::new(
        format!("{label}: the bypass sees both tenants"),
        (both < 2).then(|| format!("bypass saw {both} probe rows")),
    ));
    if hardened {
        enter_bypass(&*tx, None).await?;
        let forged = count(tx, &q.count_both, &[a, b]).await?;
        out.push(Probe::new(
            format!("{label}: an unsigned bypass sees nothing"),
            (forged > 0).then(|| format!("unsigned bypass saw {forged} rows")),
        ));
    } else {
        db::execute(&*tx, LOOSE_BYPASS, &[]).await?;
        let loose = count(tx, &q.count_both, &[a, b]).await?;
        out.push(Probe::new(
            format!("{label}: a bypass value other than 'true' sees nothing"),
            (loose > 0).then(|| format!("{} = 'on' saw {loose} rows", context::BYPASS)),
        ));
    }
    Ok(out)
}
