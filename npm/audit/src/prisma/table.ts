// What the Prisma extension needs to know about an audited table, read from the database
// catalog (Prisma's runtime data model names columns but not keys or SQL types), and the two
// statements it runs: images of rows by primary key, optionally locking them.
import core from "@usebetter-rs/core";

export interface RawClient {
  $queryRawUnsafe(query: string, ...params: unknown[]): Promise<unknown>;
  $executeRawUnsafe(query: string, ...params: unknown[]): Promise<number>;
}

interface KeyColumn {
  column: string;
  field: string;
  type: string;
  /** Its key in row images. */
  image: string;
}

/** Row image field names: Prisma field names (default) or SQL column names. */
export type ImageKeys = "field" | "column";

export interface TableInfo {
  /** Schema-qualified, quoted. */
  ref: string;
  key: KeyColumn[];
  /** SQL for the image of a row aliased `t`. */
  image: string;
}

export interface Image {
  ctid: string;
  row: Record<string, unknown>;
}

type RuntimeModel = { dbName?: string | null; schema?: string | null; fields: { name: string; dbName?: string | null; kind: string }[] };
export type RuntimeDataModel = { models: Record<string, RuntimeModel> };

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** SQL table name of a model: its `@@map`, else the model name. */
export const modelTable = (dataModel: RuntimeDataModel | undefined, model: string): string => dataModel?.models[model]?.dbName ?? model;

export async function readTableInfo(tx: RawClient, dataModel: RuntimeDataModel | undefined, model: string, keys: ImageKeys): Promise<TableInfo> {
  const m = dataModel?.models[model];
  const table = m?.dbName ?? model;
  const ref = m?.schema ? `${quote(m.schema)}.${quote(table)}` : quote(table);
  const rows = (await tx.$queryRawUnsafe(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, array_position(i.indkey::int2[], a.attnum) AS pk
       FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    ref,
  )) as { name: string; type: string; pk: number | null }[];
  if (!rows.length) throw new Error(`audit: table ${ref} of Prisma model "${model}" was not found`);
  const fieldOf = new Map((m?.fields ?? []).filter((f) => f.kind !== "object").map((f) => [f.dbName ?? f.name, f.name]));
  const imageKey = (column: string) => (keys === "column" ? column : (fieldOf.get(column) ?? column));
  const key = rows
    .filter((r) => r.pk !== null)
    .sort((a, b) => Number(a.pk) - Number(b.pk))
    .map((r) => ({ column: r.name, field: fieldOf.get(r.name) ?? r.name, type: r.type, image: imageKey(r.name) }));
  if (!key.length) throw new Error(`audit: table ${ref} of Prisma model "${model}" has no primary key; audited tables need one`);
  return { ref, key, image: core.auditImageSql("t.*", rows.map((r): [string, string, string] => [r.name, r.type, imageKey(r.name)])) };
}

/** A key value as text for a typed array parameter. */
function keyText(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v).toString("hex")}`;
  return String(v);
}

/**
 * Images (and tuple ids, which change on every update) of the rows whose keys are given
 * (Prisma field names). `lock` takes the rows `FOR UPDATE` first, so nobody else
 * changes them before the mutation that follows.
 */
export async function images(tx: RawClient, info: TableInfo, keys: Record<string, unknown>[], lock: boolean): Promise<Image[]> {
  if (!keys.length) return [];
  const params = info.key.map((k) => keys.map((row) => keyText(row[k.field])));
  const unnest = info.key.map((k, i) => `$${i + 1}::text[]::${k.type}[]`).join(", ");
  const columns = info.key.map((k) => `t.${quote(k.column)}`).join(", ");
  const rows = (await tx.$queryRawUnsafe(
    `SELECT t.ctid::text AS ctid, ${info.image}::text AS image FROM ${info.ref} AS t
      WHERE (${columns}) IN (SELECT * FROM unnest(${unnest}))${lock ? " FOR UPDATE OF t" : ""}`,
    ...params,
  )) as { ctid: string; image: string }[];
  return rows.map((r) => ({ ctid: r.ctid, row: JSON.parse(r.image) as Record<string, unknown> }));
}

/** The record id of an image: the key value, or a JSON array of them for composite keys. */
export function recordIdOf(row: Record<string, unknown>, info: TableInfo): string {
  const values = info.key.map((k) => row[k.image]);
  if (values.some((v) => v === undefined || v === null)) return "unknown";
  return values.length === 1 ? String(values[0]) : JSON.stringify(values.map(String));
}

/** Prisma `where` matching exactly these keys (field names). */
export function keyWhere(info: TableInfo, keys: Record<string, unknown>[]): Record<string, unknown> {
  const [single] = info.key;
  if (info.key.length === 1 && single) return { [single.field]: { in: keys.map((k) => k[single.field]) } };
  return { OR: keys.map((k) => Object.fromEntries(info.key.map((c) => [c.field, k[c.field]]))) };
}

/** A `select` of the key fields, to find rows without loading them. */
export const keySelect = (info: TableInfo): Record<string, true> => Object.fromEntries(info.key.map((k) => [k.field, true]));
