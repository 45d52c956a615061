//! PostgreSQL I/O for both tools: connecting with clear errors and reading the catalog rows
//! that the core judges.

use tokio_postgres::config::Host;
use tokio_postgres::{Client, GenericClient, Row};
use usebetter_core::check::catalog::{self, Catalog};
use usebetter_core::Result;

use super::errors::{connect_failed, invalid_url, tls_failed};
pub use super::errors::{db_error, db_message};
use super::tls::{self, SslMode, TlsEnv};

/// Connects (with TLS as `sslmode` asks) and spawns the connection task; both tools connect
/// here. The error's message is one line for the user. `cwd` anchors a relative `sslrootcert`.
pub async fn connect(url: &str, env: &TlsEnv, cwd: &str) -> Result<Client> {
    let target = tls::target(url, env, cwd)?;
    let mut config: tokio_postgres::Config = target.url.parse().map_err(|e| invalid_url(&e))?;
    // libpq ignores sslmode on Unix sockets, where PostgreSQL offers no TLS.
    let unix_only = config.get_hostaddrs().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|h| matches!(h, Host::Unix(_)));
    let mode = if unix_only {
        SslMode::Disable
    } else {
        target.mode
    };
    config.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    let tls = tls::connector(mode, target.roots.as_ref())?;
    let connected = match config.connect(tls.clone()).await {
        // libpq's prefer: a handshake that fails is retried without TLS.
        Err(e) if mode == SslMode::Prefer && tls_failed(&e) => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            config.connect(tls).await
        }
        other => other,
    };
    let (client, connection) = match connected {
        Ok(pair) => pair,
        Err(e) => return Err(connect_failed(&e, &config, &target).await),
    };
    tokio::spawn(async move {
        // The client reports query errors; a dropped connection needs no further handling.
        let _ = connection.await;
    });
    Ok(client)
}

fn s(row: &Row, i: usize) -> String {
    row.get::<_, Option<String>>(i).unwrap_or_default()
}

fn b(row: &Row, i: usize) -> bool {
    row.get::<_, Option<bool>>(i).unwrap_or(false)
}

fn list(row: &Row, i: usize) -> Vec<String> {
    row.get::<_, Option<Vec<String>>>(i).unwrap_or_default()
}

/// A statement's rows.
pub async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Row>> {
    c.query(sql, params).await.map_err(|e| db_error(&e))
}

/// A statement's one row.
pub async fn one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Row> {
    c.query_one(sql, params).await.map_err(|e| db_error(&e))
}

/// A statement's row, if any.
pub async fn maybe<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<Row>> {
    c.query_opt(sql, params).await.map_err(|e| db_error(&e))
}

/// Runs `sql` (one or more statements, no parameters).
pub async fn batch<C: GenericClient>(c: &C, sql: &str) -> Result<()> {
    c.batch_execute(sql).await.map_err(|e| db_error(&e))
}

/// Runs one statement.
pub async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64> {
    c.execute(sql, params).await.map_err(|e| db_error(&e))
}

/// Reads everything `check` needs, for the given schemas.
pub async fn read_catalog(client: &Client, schemas: &[String]) -> Result<Catalog> {
    let q = |sql: &'static str| async move { rows(client, sql, &[&schemas]).await };
    let role = one(client, catalog::ROLE_QUERY, &[]).await?;
    let private = one(client, catalog::PRIVATE_SCHEMA_QUERY, &[]).await?;
    let privileged = rows(client, catalog::PRIVILEGED_ROLES_QUERY, &[]).await?;
    let [tables, columns, policies, triggers, indexes, views, functions, context] =
        catalog::QUERIES.map(|(_, sql)| sql);
    Ok(Catalog {
        role: catalog::Role {
            name: s(&role, 0),
            superuser: b(&role, 1),
            bypass_rls: b(&role, 2),
        },
        tables: q(tables)
            .await?
            .iter()
            .map(|r| catalog::Table {
                schema: s(r, 0),
                name: s(r, 1),
                owner: s(r, 2),
                rls_enabled: b(r, 3),
                rls_forced: b(r, 4),
                truncatable: b(r, 5),
                owner_reachable: b(r, 6),
            })
            .collect(),
        columns: q(columns)
            .await?
            .iter()
            .map(|r| catalog::Column {
                schema: s(r, 0),
                table: s(r, 1),
                name: s(r, 2),
                data_type: s(r, 3),
                has_default: b(r, 4),
            })
            .collect(),
        policies: q(policies)
            .await?
            .iter()
            .map(|r| catalog::Policy {
                schema: s(r, 0),
                table: s(r, 1),
                name: s(r, 2),
                permissive: b(r, 3),
                roles: list(r, 4),
                command: s(r, 5),
                qual: r.get(6),
                with_check: r.get(7),
            })
            .collect(),
        triggers: q(triggers)
            .await?
            .iter()
            .map(|r| catalog::Trigger {
                schema: s(r, 0),
                table: s(r, 1),
                name: s(r, 2),
                function: s(r, 3),
            })
            .collect(),
        indexes: q(indexes)
            .await?
            .iter()
            .map(|r| catalog::Index {
                schema: s(r, 0),
                table: s(r, 1),
                name: s(r, 2),
                unique: b(r, 3),
                primary: b(r, 4),
                columns: list(r, 5),
            })
            .collect(),
        views: q(views)
            .await?
            .iter()
            .map(|r| catalog::View {
                schema: s(r, 0),
                name: s(r, 1),
                materialized: b(r, 2),
                options: list(r, 3),
                base_schema: s(r, 4),
                base_table: s(r, 5),
            })
            .collect(),
        definer_functions: q(functions)
            .await?
            .iter()
            .map(|r| catalog::DefinerFunction {
                schema: s(r, 0),
                name: s(r, 1),
                source: s(r, 2),
            })
            .collect(),
        context_functions: q(context)
            .await?
            .iter()
            .map(|r| catalog::ContextFunction {
                definition: catalog::FunctionDef {
                    schema: s(r, 0),
                    name: s(r, 1),
                    args: s(r, 2),
                    source: s(r, 3),
                    security_definer: b(r, 4),
                    config: list(r, 5),
                },
                owner_reachable: b(r, 6),
            })
            .collect(),
        privileged_roles: privileged
            .iter()
            .map(|r| catalog::PrivilegedRole {
                name: s(r, 0),
                superuser: b(r, 1),
                bypass_rls: b(r, 2),
            })
            .collect(),
        private_schema_usable: private.get(0),
    })
}

/// Base tables in `public` for the no-config snippet.
pub async fn detect_tables(client: &Client) -> Result<Vec<String>> {
    use usebetter_core::cli::tenant;
    let found = rows(client, tenant::DETECT_TABLES, &[]).await?;
    Ok(tenant::rank_detected_tables(
        found.iter().map(|r| r.get(0)).collect(),
    ))
}
