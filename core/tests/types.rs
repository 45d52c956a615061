//! npm/core/types.d.ts is generated from the core's types: this test renders the declarations
//! and fails when the checked-in file differs (run with UPDATE_TYPES=1 to rewrite it).

use ts_rs::{Config, TS};
use usebetter_core::analyze::{Effects, Write};
use usebetter_core::audit::capture::{CaptureSpec, CaptureSql, Inline, Operation, Part};
use usebetter_core::audit::chain::{SealOut, StoredSealedRow};
use usebetter_core::audit::chain_sql::{ChainSql, PerChain};
use usebetter_core::audit::contract::{Column, Contract as AuditContract, Index, Settings};
use usebetter_core::audit::enrich::{Enrichment, Merged};
use usebetter_core::audit::query::{Compiled, Filters, QuerySpec, Resource, TimeFilter};
use usebetter_core::audit::redact::Redaction;
use usebetter_core::audit::seal::{Anchor, Break, BreakKind};
use usebetter_core::audit::store::{StatsSql, StoreSql};
use usebetter_core::audit::table::{TableSpec, TableSql};
use usebetter_core::bridge::audit::{ChangeJson, DecodedCursor, DiffJson, Entry, QueryOptions};
use usebetter_core::jwt::{OneOrMany, VerifyOptions};
use usebetter_core::policy::context::{Contract, Statement};
use usebetter_core::policy::tenants::TenantsSql;
use usebetter_core::policy::MigrationConfig;
use usebetter_core::resolve::{
    HeaderValue, IdKind, JwtConfig, PathConfig, Rejection, Request, Resolution, ResolverConfig,
    Strategy, SubdomainConfig,
};

fn declarations() -> String {
    // u64 fields (chain sequence numbers) cross the bindings as JSON numbers, not BigInt.
    let cfg = Config::default().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust core's types by core/tests/types.rs; do not edit.\n",
    );
    let decls = [
        OneOrMany::decl(&cfg),
        VerifyOptions::decl(&cfg),
        Strategy::decl(&cfg),
        IdKind::decl(&cfg),
        PathConfig::decl(&cfg),
        SubdomainConfig::decl(&cfg),
        JwtConfig::decl(&cfg),
        ResolverConfig::decl(&cfg),
        HeaderValue::decl(&cfg),
        Request::decl(&cfg),
        Rejection::decl(&cfg),
        Resolution::decl(&cfg),
        MigrationConfig::decl(&cfg),
        Contract::decl(&cfg),
        Statement::decl(&cfg),
        TenantsSql::decl(&cfg),
        // Audit: chain, seals and their statements.
        Anchor::decl(&cfg),
        SealOut::decl(&cfg),
        StoredSealedRow::decl(&cfg),
        BreakKind::decl(&cfg),
        Break::decl(&cfg),
        PerChain::decl(&cfg),
        ChainSql::decl(&cfg),
        StatsSql::decl(&cfg),
        StoreSql::decl(&cfg),
        // Audit: the shared names, capture and table statements.
        Column::decl(&cfg),
        Index::decl(&cfg),
        Settings::decl(&cfg),
        AuditContract::decl(&cfg),
        TableSpec::decl(&cfg),
        TableSql::decl(&cfg),
        Operation::decl(&cfg),
        Inline::decl(&cfg),
        CaptureSpec::decl(&cfg),
        Part::decl(&cfg),
        CaptureSql::decl(&cfg),
        // Audit: queries, cursors, redaction and enrichment.
        Resource::decl(&cfg),
        TimeFilter::decl(&cfg),
        Filters::decl(&cfg),
        QuerySpec::decl(&cfg),
        QueryOptions::decl(&cfg),
        Compiled::decl(&cfg),
        DecodedCursor::decl(&cfg),
        ChangeJson::decl(&cfg),
        DiffJson::decl(&cfg),
        Entry::decl(&cfg),
        Redaction::decl(&cfg),
        Enrichment::decl(&cfg),
        Merged::decl(&cfg),
        // SQL analysis.
        Write::decl(&cfg),
        Effects::decl(&cfg),
    ];
    for decl in decls {
        out.push_str(&format!("\nexport {decl}\n"));
    }
    out.push_str(&format!(
        "\n/** Every stable `err.code` a package, tool or the core raises (core/src/error.rs). */\nexport type ErrorCode =\n{};\n",
        error_codes().iter().map(|c| format!("  | \"{c}\"")).collect::<Vec<_>>().join("\n")
    ));
    out
}

/// The codes of the error modules: every `=> "CODE"` arm of their `code()` functions (the core's
/// errors, the tools' failures, the packages' own, the webhooks'), so a code added there reaches
/// the union.
fn error_codes() -> Vec<&'static str> {
    let sources = [
        include_str!("../src/error.rs"),
        include_str!("../src/webhooks/error.rs"),
        include_str!("../src/email/error.rs"),
    ];
    let mut codes: Vec<&str> = sources
        .iter()
        .flat_map(|source| source.split("=> \"").skip(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

#[test]
fn generated_types_are_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../npm/core/types.d.ts");
    let want = declarations();
    if std::env::var_os("UPDATE_TYPES").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(have == want, "npm/core/types.d.ts is out of date: run `UPDATE_TYPES=1 cargo test -p usebetter-core --all-features --test main types`");
}
