// What the Prisma extension needs to know about an audited table, read from the database
// catalog (Prisma's runtime data model names columns but not keys or SQL types), and the two
// statements it runs: images of rows by primary key, optionally locking them. The statements
// are the core's (audit::capture), built once per table.
import { coded } from "../errors";
import core from "@usebetter-rs/core";

export interface RawClient {
  $queryRawUnsafe(query: string, ...params: unknown[]): Promise<unknown>;
  $executeRawUnsafe(query: string, ...params: unknown[]): Promise<number>;
}

interface KeyColumn {
  column: string;
  field: string;
  /** Its key in row images. */
  image: string;
}

/** Row image field names: Prisma field names (default) or SQL column names. */
export type ImageKeys = "field" | "column";

export interface TableInfo {
  /** Schema-qualified, quoted. */
  ref: string;
  key: KeyColumn[];
  /** `ctid` and `image` of the rows with the given keys (`$i`: text[] of key column i), plain or locking them. */
  images: string;
  imagesLocked: string;
}

export interface Image {
  ctid: string;
  row: Record<string, unknown>;
}

type RuntimeModel = { dbName?: string | null; schema?: string | null; fields: { name: string; dbName?: string | null; kind: string }[] };
export type RuntimeDataModel = { models: Record<string, RuntimeModel> };

/** SQL table name of a model: its `@@map`, else the model name. */
export const modelTable = (dataModel: RuntimeDataModel | undefined, model: string): string => dataModel?.models[model]?.dbName ?? model;

export async function readTableInfo(tx: RawClient, dataModel: RuntimeDataModel | undefined, model: string, keys: ImageKeys): Promise<TableInfo> {
  const m = dataModel?.models[model];
  const table = { schema: m?.schema ?? null, name: m?.dbName ?? model };
  const { ref, columns } = core.auditTableSql(table);
  const rows = (await tx.$queryRawUnsafe(columns)) as { name: string; type: string; pk: number | null }[];
  if (!rows.length) throw coded(new Error(`audit: table ${ref} of Prisma model "${model}" was not found`), "AUDIT_CAPTURE_TABLE");
  const fieldOf = new Map((m?.fields ?? []).filter((f) => f.kind !== "object").map((f) => [f.dbName ?? f.name, f.name]));
  const imageKey = (column: string) => (keys === "column" ? column : (fieldOf.get(column) ?? column));
  const key = rows
    .filter((r) => r.pk !== null)
    .sort((a, b) => Number(a.pk) - Number(b.pk))
    .map((r) => ({ column: r.name, field: fieldOf.get(r.name) ?? r.name, image: imageKey(r.name) }));
  if (!key.length) throw coded(new Error(`audit: table ${ref} of Prisma model "${model}" has no primary key; audited tables need one`), "AUDIT_CAPTURE_TABLE");
  const sql = core.auditTableSql({
    ...table,
    columns: rows.map((r): [string, string, string] => [r.name, r.type, imageKey(r.name)]),
    key: key.map((k) => k.column),
  });
  return { ref, key, images: sql.images!, imagesLocked: sql.imagesLocked! };
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
  const rows = (await tx.$queryRawUnsafe(lock ? info.imagesLocked : info.images, ...params)) as { ctid: string; image: string }[];
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
