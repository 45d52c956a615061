// Compile-time checks of index.d.ts: valid uses compile, invalid ones are expected errors.
import core, { TenantResolver, generateMigrationSql, type Resolution } from "./index.js";
import { answerWithoutAddon, nativeFor, type CliAnswer } from "./cli.js";

const resolver = new TenantResolver({ header: "x-tenant-id", jwt: { claim: "tenant_id", secret: "s" } });
const r: Resolution = resolver.resolve({ headers: { host: "acme.example.com" } });
const kind: "uuid" | "slug" | null = r.kind;
const sql: string = generateMigrationSql({ tenantTables: ["projects"], hardened: true });
const b: "native" | "wasm" = core.backend;
const help: CliAnswer | null = answerWithoutAddon("better-tenant", ["--help"], "0.5.4");
const cliSql: string = nativeFor("better-tenant").generateMigrationSql({ tenantTables: ["t"] });
// @ts-expect-error: only the two tools have saved help texts
answerWithoutAddon("better-other", [], "1");

// @ts-expect-error: subdomain takes a boolean or { segmentIndex }
new TenantResolver({ subdomain: "yes" });
// @ts-expect-error: unknown algorithm
core.verifyJwt("t", { secret: "s", algorithms: ["HS999"] });
// @ts-expect-error: tenantTables is required
generateMigrationSql({ schema: "app" });

export { kind, sql, b, help, cliSql };
