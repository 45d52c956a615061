// The single statement of one audited mutation. The core writes it (audit::capture), once per
// table and variant; per mutation only the parts Drizzle builds (the mutation, its SET and
// WHERE, the caller's RETURNING list) and the context values are put into its slots.
import { coded } from "../errors";
import * as drizzle from "drizzle-orm";
import { getTableColumns, is, sql, SQL, type Column } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import core from "@usebetter-rs/core";
import type { AuditSqlPart } from "@usebetter-rs/core";
import { tableSpec, type ImageKeys } from "./rows";
import type { AuditOperation } from "../types";

export type Builder = {
  config: Record<string, unknown> & { table: PgTable; where?: SQL; returning?: unknown[]; onConflict?: unknown };
  dialect: { buildUpdateSet(table: PgTable, set: unknown): SQL; buildUpdateQuery(c: object): SQL; buildDeleteQuery(c: object): SQL; buildInsertQuery(c: object): { sql: SQL } | SQL; buildSelection(f: unknown, o: object): SQL; sqlToQuery(s: SQL): { sql: string; params: unknown[] } };
  joinsNotNullableMap?: Record<string, boolean>;
};

// Exported by drizzle-orm at run time but not in its type declarations.
const { orderSelectedFields } = drizzle as unknown as { orderSelectedFields(fields: Record<string, unknown>): unknown[] };

type Slots = Record<string, SQL>;
type Fill = (slots: Slots) => SQL;

/** The core's parts as one function of the slots; an empty slot drops its `before` and `after`. */
function compile(parts: AuditSqlPart[]): Fill {
  const pieces = parts.map((p) => (typeof p === "string" ? sql.raw(p) : { slot: p.slot, before: p.before ? sql.raw(p.before) : undefined, after: p.after ? sql.raw(p.after) : undefined }));
  return (slots) => {
    const chunks: SQL[] = [];
    for (const p of pieces) {
      if (is(p, SQL)) {
        chunks.push(p);
        continue;
      }
      const value = slots[p.slot];
      if (value === undefined) continue;
      if (p.before) chunks.push(p.before);
      chunks.push(value);
      if (p.after) chunks.push(p.after);
    }
    return sql.join(chunks);
  };
}

interface Capture {
  fill: Fill;
  /** INSERT and DELETE: what the mutation returns (every column, the image, whether inserted). */
  returning?: unknown[];
}

const captures = new WeakMap<PgTable, Map<string, Capture>>();

function captureOf(table: PgTable, op: AuditOperation, pk: Column[], keys: ImageKeys, upsert: boolean, inline: { tenant: boolean; skipBefore: boolean } | null): Capture {
  let byVariant = captures.get(table);
  if (!byVariant) captures.set(table, (byVariant = new Map()));
  const variant = `${op} ${keys} ${upsert} ${inline ? `${inline.tenant} ${inline.skipBefore}` : "-"} ${pk.map((c) => c.name).join(",")}`;
  let capture = byVariant.get(variant);
  if (!capture) {
    const out = core.auditCaptureSql({ table: tableSpec(table, keys, pk), operation: op, upsert, inline });
    capture = { fill: compile(out.statement) };
    if (op !== "UPDATE") {
      const fields: Record<string, unknown> = { ...getTableColumns(table), [out.imageAs]: sql.raw(out.image).as(out.imageAs) };
      if (out.inserted) fields[out.insertedAs] = sql.raw(out.inserted).as(out.insertedAs);
      capture.returning = orderSelectedFields(fields);
    }
    byVariant.set(variant, capture);
  }
  return capture;
}

/**
 * The statement for one audited mutation. Without `inline` it returns the caller's columns
 * (`width` of them), the before image, the image and, for an upsert, whether the row was
 * inserted; with it, it writes the audit rows itself from `values`. Images keep the table's
 * column order (core audit::image), so diffs list fields in column order.
 */
export function statement(b: Builder, op: AuditOperation, pk: Column[], keys: ImageKeys, inline?: { tenant: boolean; skipBefore: boolean; values: Record<string, unknown> }): SQL {
  const { table, where } = b.config;
  if (op === "UPDATE" && (b.config.from || (b.config.joins as unknown[] | undefined)?.length)) {
    throw coded(new Error("audit: audited updates with .from() or joins are not supported; use trigger capture for them"), "AUDIT_UNCAPTURED_WRITE");
  }
  const upsert = op === "INSERT" && b.config.onConflict !== undefined;
  const capture = captureOf(table, op, pk, keys, upsert, inline ? { tenant: inline.tenant, skipBefore: inline.skipBefore } : null);
  const slots: Slots = {};
  if (b.config.returning) slots.returning = b.dialect.buildSelection(b.config.returning, { isSingleTable: true });
  if (op === "UPDATE") {
    slots.set = b.dialect.buildUpdateSet(table, b.config.set);
    if (where) slots.where = where;
  } else if (op === "DELETE") {
    slots.mutation = b.dialect.buildDeleteQuery({ ...b.config, returning: capture.returning });
  } else {
    const built = b.dialect.buildInsertQuery({ ...b.config, returning: capture.returning });
    slots.mutation = is(built, SQL) ? built : built.sql;
  }
  if (inline) for (const [name, value] of Object.entries(inline.values)) slots[name] = sql`${sql.param(value)}`;
  return capture.fill(slots);
}
