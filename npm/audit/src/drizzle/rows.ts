// What the proxy needs to know of an audited Drizzle table: which columns identify a row, and
// the SQL that images a row as the app sees it (property names unless the caller asks for column
// names; the core decides the value forms: exact numbers as strings, toISOString() timestamps).
import { coded } from "../errors";
import { getTableColumns, getTableName, type Column } from "drizzle-orm";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import type { AuditTableSpec } from "@usebetter-rs/core";

/** How row images name their fields: Drizzle property names (default) or SQL column names. */
export type ImageKeys = "property" | "column";

/**
 * The columns that identify a row: a single-column primary key; else the key the caller named
 * (`primaryKey` option, a property name); else a composite primary key; else `id`.
 */
export function primaryKey(table: PgTable, named: string | undefined): Column[] {
  let byName = pkCache.get(table);
  if (!byName) pkCache.set(table, (byName = new Map()));
  let pk = byName.get(named);
  if (!pk) byName.set(named, (pk = findPrimaryKey(table, named)));
  return pk;
}

/** Per table (and `primaryKey` option): getTableConfig builds the whole config on each call. */
const pkCache = new WeakMap<PgTable, Map<string | undefined, Column[]>>();

function findPrimaryKey(table: PgTable, named: string | undefined): Column[] {
  const cfg = getTableConfig(table);
  const single = cfg.columns.filter((c) => c.primary);
  if (single.length) return single;
  const columns = getTableColumns(table);
  const chosen = named !== undefined ? columns[named] : undefined;
  if (chosen) return [chosen];
  const composite = cfg.primaryKeys[0]?.columns;
  if (composite?.length) return composite;
  const byId = columns.id;
  if (!byId) throw coded(new Error(`audit: table "${getTableName(table)}" has no primary key; declare one or pass primaryKey`), "AUDIT_CAPTURE_TABLE");
  return [byId];
}

const keysCache = new WeakMap<PgTable, Map<string, string>>();

/** The image key of each column (by column name). */
export function imageKeys(table: PgTable, keys: ImageKeys): Map<string, string> {
  if (keys === "column") return new Map(Object.values(getTableColumns(table)).map((c) => [c.name, c.name]));
  let byName = keysCache.get(table);
  if (!byName) {
    byName = new Map(Object.entries(getTableColumns(table)).map(([key, c]) => [c.name, key]));
    keysCache.set(table, byName);
  }
  return byName;
}

/** The entry's record id from a row image. */
export function recordIdOf(image: Record<string, unknown> | undefined, pk: Column[], keys: Map<string, string>): string | undefined {
  const values = pk.map((c) => image?.[keys.get(c.name) ?? c.name]);
  return values.some((v) => v === undefined || v === null) ? undefined : values.length === 1 ? String(values[0]) : JSON.stringify(values.map(String));
}

/**
 * The type the core formats a value by. Drizzle hands string-mode timestamps over as PostgreSQL
 * writes them (so they are not reformatted) and date-mode dates as Dates (midnight UTC).
 */
function imageType(c: Column): string {
  if (c.columnType === "PgTimestampString") return "text";
  if (c.columnType === "PgDate") return "timestamp";
  return c.getSQLType();
}

/** The table as the core's statements take it: where it is, its columns with their image keys, its key. */
export function tableSpec(table: PgTable, keys: ImageKeys, pk: Column[]): AuditTableSpec {
  const named = imageKeys(table, keys);
  return {
    schema: getTableConfig(table).schema ?? null,
    name: getTableName(table),
    columns: Object.values(getTableColumns(table)).map((c): [string, string, string] => [c.name, imageType(c), named.get(c.name) ?? c.name]),
    key: pk.map((c) => c.name),
  };
}
