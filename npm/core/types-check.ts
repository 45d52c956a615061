// Compile-time checks of index.d.ts: valid uses compile, invalid ones are expected errors.
import core, {
  TenantResolver,
  generateMigrationSql,
  type ChainBreak,
  type MergedEnrichment,
  type Resolution,
  type SqlWrite,
} from "./index.js";
import { answerWithoutAddon, nativeFor, type CliAnswer } from "./cli.js";

const resolver = new TenantResolver({ header: "x-tenant-id", jwt: { claim: "tenant_id", secret: "s" } });
const r: Resolution = resolver.resolve({ headers: { host: "acme.example.com" } });
const kind: "uuid" | "slug" | null = r.kind;
const sql: string = generateMigrationSql({ tenantTables: ["projects"], hardened: true });
const b: "native" | "wasm" = core.backend;
const help: CliAnswer | null = answerWithoutAddon("better-tenant", ["--help"], "0.5.4");
const cliRun: Promise<{ code: number }> = nativeFor("better-tenant").runTenantCli(["--help"], { cwd: ".", version: "0", config: null, databaseUrl: null, hardenedKey: null });
// @ts-expect-error: the tools' addon has no library entry points
nativeFor("better-tenant").generateMigrationSql({ tenantTables: ["t"] });
// @ts-expect-error: only the two tools have saved help texts
answerWithoutAddon("better-other", [], "1");

// @ts-expect-error: subdomain takes a boolean or { segmentIndex }
new TenantResolver({ subdomain: "yes" });
// @ts-expect-error: unknown algorithm
core.verifyJwt("t", { secret: "s", algorithms: ["HS999"] });
// @ts-expect-error: tenantTables is required
generateMigrationSql({ schema: "app" });

// The audit types are generated from the core's too, with its literal unions.
const capture = core.auditCaptureSql({ table: { name: "t", columns: [["id", "uuid"]], key: ["id"] }, operation: "UPDATE" });
const part: string | { slot: string } = capture.statement[0] ?? "";
const seq: number = core.auditSealRows([], null)[0]?.seq ?? 0;
const breakKind: ChainBreak["kind"] | undefined = core.auditVerifyRows([], undefined, null)?.kind;
const writeOp: SqlWrite["operation"] | undefined = core.sqlWrites("truncate t")[0]?.operation;
const severity: MergedEnrichment["severity"] = new core.EnrichmentRegistry(["t"]).resolve("t", "INSERT")?.severity ?? null;
const query = core.compileAuditQuery({ filters: { resource: { tableName: "t" } }, sortOrder: "asc" }, { maxLimit: 10 });
const where: string = query.where;
// @ts-expect-error: the capture's operation is INSERT, UPDATE or DELETE
core.auditCaptureSql({ table: { name: "t" }, operation: "UPSERT" });
// @ts-expect-error: a severity is low, medium, high or critical
new core.EnrichmentRegistry(["t"]).register("t", "*", { severity: "urgent" });
// @ts-expect-error: sortOrder is asc or desc
core.compileAuditQuery({ filters: {}, sortOrder: "up" }, {});
// @ts-expect-error: seal columns are a fixed triple
const sealColumns: [string, string] = core.auditContract().sealColumns;
// @ts-expect-error: a break's kind is one of the chain's break kinds
const badKind: ChainBreak["kind"] = "missing";

export { kind, sql, b, help, cliRun, part, seq, breakKind, writeOp, severity, where, sealColumns, badKind };
