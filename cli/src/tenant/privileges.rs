//! `doctor`'s privilege probes: what the application role can do around RLS, tried for real in
//! a transaction that is rolled back (TRUNCATE, SET ROLE, calling the context functions with
//! unsigned settings). They need no key, so they run in hardened mode without one too.

use tokio_postgres::Client;
use usebetter_core::check::catalog::Catalog;
use usebetter_core::check::probes::{self as sql, Probe};
use usebetter_core::check::CheckConfig;
use usebetter_core::policy::TENANTS;
use usebetter_core::Result;

use crate::db::{self, db_error, db_message};

/// Runs `statement` in a savepoint; `Ok(())` when it succeeded, else the error.
async fn try_in_savepoint(
    tx: &mut tokio_postgres::Transaction<'_>,
    statement: &str,
) -> Result<std::result::Result<(), tokio_postgres::Error>> {
    let sp = tx.savepoint("privilege").await.map_err(|e| db_error(&e))?;
    let r = sp.batch_execute(statement).await;
    sp.rollback().await.map_err(|e| db_error(&e))?;
    Ok(r)
}

fn refused(r: &std::result::Result<(), tokio_postgres::Error>) -> bool {
    matches!(r, Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "42501"))
}

/// TRUNCATE of every table in scope, SET ROLE to every role that skips RLS or owns a table,
/// and, in hardened mode, the context functions under unsigned settings.
pub async fn probes(
    client: &mut Client,
    catalog: &Catalog,
    config: &CheckConfig,
) -> Result<Vec<Probe>> {
    let schema = config.schema.clone().unwrap_or_else(|| "public".into());
    let mut scope = vec![(schema.clone(), TENANTS.to_owned(), TENANTS.to_owned())];
    scope.extend(config.targets());
    let mut out = Vec::new();
    let mut tx = client.transaction().await.map_err(|e| db_error(&e))?;
    db::batch(&tx, sql::LOCK_TIMEOUT).await?;
    let mut roles: Vec<(String, String)> = catalog
        .privileged_roles
        .iter()
        .map(|r| (r.name.clone(), "RLS does not apply to it".to_owned()))
        .collect();
    for (s, t, label) in &scope {
        let Some(table) = catalog
            .tables
            .iter()
            .find(|x| &x.schema == s && &x.name == t)
        else {
            continue;
        };
        if table.owner_reachable && table.owner != catalog.role.name {
            roles.push((
                table.owner.clone(),
                format!("it owns {label} and can turn its RLS off"),
            ));
        }
        let statement = sql::truncate(s, t)?;
        let r = try_in_savepoint(&mut tx, &statement).await?;
        let message = match &r {
            _ if refused(&r) => None,
            Ok(()) => {
                Some("TRUNCATE succeeded (rolled back): it emptied every tenant's rows".to_owned())
            }
            Err(e) => Some(format!(
                "TRUNCATE passed the privilege check and stopped only at: {}",
                db_message(e)
            )),
        };
        out.push(Probe::new(
            format!("{label}: the connected role cannot TRUNCATE"),
            message,
        ));
    }
    roles.sort();
    roles.dedup_by(|a, b| a.0 == b.0);
    for (role, why) in roles {
        let statement = sql::set_role(&role)?;
        let r = try_in_savepoint(&mut tx, &statement).await?;
        out.push(Probe::new(
            format!("cannot SET ROLE \"{role}\""),
            r.is_ok()
                .then(|| format!("SET ROLE \"{role}\" succeeded (rolled back): {why}")),
        ));
    }
    if catalog.private_schema_usable.is_some() {
        let tenant = uuid::Uuid::new_v4().to_string();
        db::execute(&tx, sql::UNSIGNED_CONTEXT, &[&tenant]).await?;
        let test = sql::unsigned_refused(&schema)?;
        let sp = tx.savepoint("functions").await.map_err(|e| db_error(&e))?;
        let r = sp.query_one(&test, &[]).await.map(|r| r.get::<_, bool>(0));
        sp.rollback().await.map_err(|e| db_error(&e))?;
        let message = match r {
            Ok(true) => None,
            Ok(false) => Some(sql::UNSIGNED_ACCEPTED.to_owned()),
            Err(e) => Some(format!("calling them failed: {}", db_message(&e))),
        };
        out.push(Probe::new(
            "context functions refuse unsigned settings",
            message,
        ));
    }
    tx.rollback().await.map_err(|e| db_error(&e))?;
    Ok(out)
}
