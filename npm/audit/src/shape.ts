// What the audit_logs table in the database can hold. A table created for @usebetterdev/audit
// 0.8.1 (drizzle-kit from its `auditLogs`) has 17 columns: no tenant_id and no seal columns until
// `better-audit migrate` upgrades it in place. Entries are then written to the columns it has
// (with one warning naming the upgrade), never failing the app's writes for a column it lacks.
import { AuditConfigError } from "./enrich";
import { contract, entryColumns, sealColumns, statements, type RunSql } from "./store";

export interface TableShape {
  columns: ReadonlySet<string>;
  /** Entries can carry their tenant. */
  tenant: boolean;
  /** Entries can be sealed into a hash chain. */
  sealable: boolean;
}

/** Reads the table's columns on first use (through `run`, the writer's own handle) and keeps them. */
export function shapeReader(sealConfigured: boolean): (run: RunSql) => Promise<TableShape> {
  let known: TableShape | undefined;
  return async (run) => {
    if (known) return known;
    const rows = await run(statements().columns, []);
    const { table } = contract();
    // Not kept: the table may be created while the app runs.
    if (!rows.length) throw new AuditConfigError(`audit: ${table} does not exist: run \`better-audit migrate\``, { code: "AUDIT_TABLE_MISSING" });
    const columns = new Set(rows.map((r) => String(r.name)));
    const shape = { columns, tenant: columns.has("tenant_id"), sealable: sealColumns().every((c) => columns.has(c)) };
    const missing = [...entryColumns(), ...sealColumns()].filter((c) => !columns.has(c));
    if (missing.length) {
      const lost = [!shape.tenant && "tenant attribution", !shape.sealable && "sealing"].filter(Boolean).join(" and ");
      const sealing = sealConfigured && !shape.sealable ? " Sealing is configured but stays off until then." : "";
      console.warn(
        `better-audit: ${table} lacks the column(s) ${missing.join(", ")} (a table made for @usebetterdev/audit 0.8.1); ` +
          `entries are written without them${lost ? ` (no ${lost})` : ""}.${sealing} Run \`better-audit migrate\` to upgrade the table in place.`,
      );
    }
    known = shape;
    return shape;
  };
}
