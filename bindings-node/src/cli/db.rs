//! PostgreSQL I/O for the CLI: connecting with clear errors and reading the catalog rows that
//! the core judges.

use tokio_postgres::{Client, NoTls, Row};
use usebetter_core::check::catalog::{self, Catalog};

/// Connects and spawns the connection task. The error is a one-line message for the user.
pub async fn connect(url: &str) -> Result<Client, String> {
    let config: tokio_postgres::Config = url.parse().map_err(|e| {
        format!("invalid database URL: {e}. Expected postgres://user:password@host:port/database")
    })?;
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| describe(&e, &config))?;
    tokio::spawn(async move {
        // The client reports query errors; a dropped connection needs no further handling.
        let _ = connection.await;
    });
    Ok(client)
}

fn describe(e: &tokio_postgres::Error, config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("?");
    if let Some(db) = e.as_db_error() {
        return match db.code().code() {
            "28P01" => format!("password authentication failed for user \"{user}\": check the password in --database-url / DATABASE_URL"),
            "3D000" => format!("{}: check the database name in --database-url / DATABASE_URL", db.message()),
            _ => format!("could not connect: {}", db.message()),
        };
    }
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "could not connect to PostgreSQL at {}:{port} ({e}): is the server running and --database-url / DATABASE_URL right?",
        hosts.join(",")
    )
}

/// A database error as one line: message plus SQLSTATE.
pub fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
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

/// Reads everything `check` needs, for the given schemas.
pub async fn read_catalog(client: &Client, schemas: &[String]) -> Result<Catalog, String> {
    let q = |sql: &'static str| async move {
        client
            .query(sql, &[&schemas])
            .await
            .map_err(|e| db_error(&e))
    };
    let role = client
        .query_one(catalog::ROLE_QUERY, &[])
        .await
        .map_err(|e| db_error(&e))?;
    let private = client
        .query_one(catalog::PRIVATE_SCHEMA_QUERY, &[])
        .await
        .map_err(|e| db_error(&e))?;
    let privileged = client
        .query(catalog::PRIVILEGED_ROLES_QUERY, &[])
        .await
        .map_err(|e| db_error(&e))?;
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

/// Base tables in `public` for the no-config snippet and `init`.
pub async fn detect_tables(client: &Client) -> Result<Vec<String>, String> {
    let rows = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .map_err(|e| db_error(&e))?;
    Ok(usebetter_core::cli::rank_detected_tables(
        rows.iter().map(|r| r.get(0)).collect(),
    ))
}
