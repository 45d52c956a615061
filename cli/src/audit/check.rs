//! `better-audit check`: reads the catalog facts the core judges (`check::audit`) and prints
//! the report as `better-tenant check` does. It writes nothing; the newest sealed entry is read
//! in a transaction that is rolled back (in the system scope when entries are tenant-isolated).

use tokio_postgres::Client;
use usebetter_core::audit::chain::sealed_rows;
use usebetter_core::audit::storage::LOGS;
use usebetter_core::audit::triggers::TRIGGER;
use usebetter_core::check::audit::catalog::{self as facts, AuditCatalog, Captured};
use usebetter_core::check::audit::{self as judge, AuditCheckConfig, SealSetting};
use usebetter_core::check::render;
use usebetter_core::cli::split_csv;
use usebetter_core::Result;

use super::migrate::trigger_tables;
use super::{chain, partitions, Run};
use crate::db;
use crate::tenant::pretty;
use crate::Outcome;

pub(super) async fn check(r: &Run<'_>) -> Result<Outcome> {
    let seal = seal_setting(r)?;
    let client = r.client().await?;
    let mut catalog = read_catalog(&client, r).await?;
    let logs = catalog
        .relations
        .iter()
        .find(|x| x.name == LOGS && !x.partition)
        .map(|x| x.kind.clone());
    if logs.is_some() {
        let flag = r.inv.value("tables").map(split_csv);
        for name in judge::capture_targets(&catalog, &r.config.tables, flag) {
            let table = trigger_tables(&client, std::slice::from_ref(&name))
                .await
                .map(|mut found| found.remove(0));
            catalog.captured.push(Captured { name, table });
        }
        if catalog.columns.iter().any(|c| c.name == "seq") {
            catalog.newest_sealed = newest_sealed(r, &client).await;
        }
    }
    if logs.as_deref() == Some("p") {
        catalog.partitions = partitions(&client, &r.table).await?;
    }
    let config = AuditCheckConfig {
        table: r.table.clone(),
        tenancy: r.tenancy.is_some(),
        seal,
        now_micros: r.now(),
    };
    let report = judge::check(&catalog, &config);
    let stdout = if r.inv.has("json") {
        format!("{}\n", pretty(&crate::tenant::json(&report)?)?)
    } else {
        render(&report)
    };
    Ok(Outcome::report(!report.passed, stdout))
}

/// The key as the adapters pick it (`audit.seal.key`, else `AUDIT_SEAL_KEY` unless the config
/// asks for unkeyed chains), with `--key-file` first.
fn seal_setting(r: &Run<'_>) -> Result<SealSetting> {
    let config = r.config.seal.as_ref();
    let key = match config {
        Some(s) if !r.inv.has("key-file") && (s.key.is_some() || s.unkeyed) => {
            s.key.clone().map(String::into_bytes)
        }
        _ => r.key()?,
    };
    let unkeyed = r.inv.has("unkeyed") || config.is_some_and(|s| s.unkeyed);
    Ok(SealSetting {
        expected: config.is_some() || key.is_some() || unkeyed,
        unkeyed,
        key,
    })
}

async fn read_catalog(client: &Client, r: &Run<'_>) -> Result<AuditCatalog> {
    let logs = r.table.logs();
    let checkpoints = r.table.checkpoints();
    let function_name = facts::capture_function_name(&r.table);
    let role = db::one(client, facts::ROLE_QUERY, &[]).await?;
    let relations = db::rows(client, facts::RELATIONS, &[&logs, &checkpoints]).await?;
    let columns = db::rows(client, facts::COLUMNS, &[&logs]).await?;
    let indexes = db::rows(client, facts::INDEXES, &[&logs]).await?;
    let function = db::maybe(client, facts::CAPTURE_FUNCTION, &[&function_name]).await?;
    let triggers = db::rows(client, facts::TRIGGERS, &[&TRIGGER]).await?;
    Ok(AuditCatalog {
        role: facts::Role {
            name: role.get(0),
            superuser: role.get(1),
            bypass_rls: role.get(2),
        },
        relations: relations
            .iter()
            .map(|x| facts::Relation {
                name: x.get(0),
                kind: x.get(1),
                partition: x.get(2),
                owner: x.get(3),
                owner_reachable: x.get(4),
                rls_enabled: x.get(5),
                rls_forced: x.get(6),
                policies: x.get(7),
                select: x.get(8),
                insert: x.get(9),
                update: x.get(10),
                delete: x.get(11),
                truncate: x.get(12),
            })
            .collect(),
        columns: columns
            .iter()
            .map(|x| facts::Column {
                name: x.get(0),
                data_type: x.get(1),
            })
            .collect(),
        indexes: indexes
            .iter()
            .map(|x| facts::Index {
                name: x.get(0),
                columns: x.get(1),
            })
            .collect(),
        capture_function: function.map(|f| facts::FunctionDef {
            schema: f.get(0),
            name: f.get(1),
            args: f.get(2),
            source: f.get(3),
            security_definer: f.get(4),
            config: f.get(5),
        }),
        triggers: triggers
            .iter()
            .map(|x| facts::CaptureTrigger {
                schema: x.get(0),
                table: x.get(1),
                trigger_type: x.get(2),
                enabled: x.get(3),
                function: x.get(4),
                args: facts::trigger_args(x.get(5)),
            })
            .collect(),
        ..AuditCatalog::default()
    })
}

/// The head of the chain written last, through the statements `verify` reads chains with.
async fn newest_sealed(r: &Run<'_>, client: &Client) -> Option<Result<facts::SealedRow>> {
    let read = async {
        r.begin(client).await?;
        let chain_row =
            db::maybe(client, &facts::newest_sealed_chain(&r.table.logs()), &[]).await?;
        let Some(chain_row) = chain_row else {
            return Ok(None);
        };
        let tenant: Option<String> = chain_row.get(0);
        let Some(head) = chain::head(client, &r.table, tenant.as_deref()).await? else {
            return Ok(None);
        };
        let stored = chain::sealed_after(
            client,
            &r.table,
            tenant.as_deref(),
            head.seq.saturating_sub(1),
            Some(1),
        )
        .await?;
        Ok(sealed_rows(stored)?.into_iter().next())
    };
    let result: Result<Option<facts::SealedRow>> = read.await;
    // Nothing was written; a failed read leaves the transaction aborted.
    let _ = client.batch_execute("ROLLBACK").await;
    result.transpose()
}
