// Compile-time checks of the programmatic subpaths' declarations.
import { generateMigrationSql } from "./src/migrate.js";
import { runCheck, type CheckReport } from "./src/check.js";
import { slugFromName } from "./src/seed.js";
import { CONFIG_FILE } from "./src/config.js";

const sql: string = generateMigrationSql({ tenantTables: ["projects"] });
const report: Promise<CheckReport> = runCheck("postgres://x", { tenantTables: ["projects"] });
const slug: string = slugFromName("Acme");
const file: "better.config.ts" = CONFIG_FILE;
// @ts-expect-error: tenantTables is required
generateMigrationSql({ schema: "app" });

export { sql, report, slug, file };
