// The single statement of one audited mutation. The core writes it (audit::capture), once per
// table and variant; per mutation only the parts Drizzle builds (the mutation, its SET and
// WHERE, the caller's RETURNING list) and the context values are put into its slots.
import { coded } from "../errors";
import * as drizzle from "drizzle-orm";
import { getTableColumns, is, sql, SQL, type BuildQueryConfig, type Column } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import core from "@usebetter-rs/core";
import type { AuditSqlPart } from "@usebetter-rs/core";
import { contract } from "../store";
import { tableSpec, type ImageKeys } from "./rows";
import type { AuditOperation } from "../types";

export type Builder = {
  config: Record<string, unknown> & { table: PgTable; where?: SQL; returning?: unknown[]; onConflict?: unknown };
  dialect: Dialect;
  joinsNotNullableMap?: Record<string, boolean>;
};

type Dialect = {
  buildUpdateSet(table: PgTable, set: unknown): SQL;
  buildUpdateQuery(c: object): SQL;
  buildDeleteQuery(c: object): SQL;
  buildInsertQuery(c: object): { sql: SQL } | SQL;
  buildSelection(f: unknown, o: object): SQL;
  sqlToQuery(s: SQL): { sql: string; params: unknown[] };
} & Pick<BuildQueryConfig, "casing" | "escapeName" | "escapeParam" | "escapeString"> &
  Required<Pick<BuildQueryConfig, "prepareTyping">>;

/** A statement as node-postgres runs it, under a name of its own (see `statementName`). */
export type Query = { sql: string; params: unknown[]; typings: string[]; name: string };

/**
 * A name per distinct statement text, so each connection parses and plans a capturing
 * statement once: planning the CTE costs more than running it.
 */
function statementName(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `${contract().statementPrefix}${h.toString(16)}_${text.length}`;
}

// Exported by drizzle-orm at run time but not in its type declarations.
const { orderSelectedFields } = drizzle as unknown as { orderSelectedFields(fields: Record<string, unknown>): unknown[] };

/** One bind parameter in a slot (a context value). */
class Bound {
  constructor(readonly value: unknown) {}
}

/**
 * A slot holds what Drizzle built or was given (SQL, or a column or other SQL wrapper as a
 * WHERE: rendered by the dialect) or one bind parameter.
 */
type Slots = Record<string, SQL | Bound | object>;
type Fill = (slots: Slots, dialect: Dialect) => Query;

/**
 * The core's parts as one function of the slots; an empty slot drops its `before` and `after`.
 * The core's text is copied as it is; only the slots go through Drizzle's renderer, numbering
 * their parameters on from the ones before them (rendering the whole statement as one SQL
 * object cost three times the mutation's own rendering).
 */
function compile(parts: AuditSqlPart[]): Fill {
  // The text is the core's parts and the slots' texts, so those texts identify it: its name is
  // looked up by them instead of hashing 1.5 KB per mutation. An app has a bounded set of
  // mutation shapes; one generated per call must not grow the map without end.
  const names = new Map<string, string>();
  return (slots, dialect) => {
    const index = { value: 0 };
    const config: BuildQueryConfig = {
      casing: dialect.casing,
      escapeName: dialect.escapeName,
      escapeParam: dialect.escapeParam,
      escapeString: dialect.escapeString,
      prepareTyping: dialect.prepareTyping,
      paramStartIndex: index,
    };
    const out: Query = { sql: "", params: [], typings: [], name: "" };
    let key = "";
    for (const p of parts) {
      if (typeof p === "string") {
        out.sql += p;
        continue;
      }
      const value = slots[p.slot];
      if (value === undefined) {
        key += "-";
        continue;
      }
      if (p.before) out.sql += p.before;
      if (!(value instanceof Bound)) {
        const q = (is(value, SQL) ? value : sql`${value}`).toQuery(config);
        out.sql += q.sql;
        key += `${q.sql.length}:${q.sql}`;
        for (let i = 0; i < q.params.length; i++) {
          out.params.push(q.params[i]);
          out.typings.push(q.typings?.[i] ?? "none");
        }
      } else {
        const text = dialect.escapeParam(index.value++, value.value);
        out.sql += text;
        key += `${text.length}:${text}`;
        out.params.push(value.value);
        out.typings.push("none");
      }
      if (p.after) out.sql += p.after;
    }
    let name = names.get(key);
    if (name === undefined) {
      name = statementName(out.sql);
      // Long slot texts (bulk inserts) are hashed each time rather than kept.
      if (key.length <= 4096) {
        if (names.size >= 256) names.clear();
        names.set(key, name);
      }
    }
    out.name = name;
    return out;
  };
}

interface Capture {
  fill: Fill;
  /** INSERT and DELETE: what the mutation returns (every column, the image, whether inserted). */
  returning?: unknown[];
}

const captures = new WeakMap<PgTable, Map<string, Capture>>();
const pkKeys = new WeakMap<Column[], string>();

/** The key's column names; the lists come from primaryKey's per-table cache, so this is a lookup. */
function pkNames(pk: Column[]): string {
  let names = pkKeys.get(pk);
  if (names === undefined) pkKeys.set(pk, (names = pk.map((c) => c.name).join(",")));
  return names;
}

function captureOf(table: PgTable, op: AuditOperation, pk: Column[], keys: ImageKeys, upsert: boolean, inline: { tenant: boolean; skipBefore: boolean } | null): Capture {
  let byVariant = captures.get(table);
  if (!byVariant) captures.set(table, (byVariant = new Map()));
  const variant = `${op} ${keys} ${upsert} ${inline ? `${inline.tenant} ${inline.skipBefore}` : "-"} ${pkNames(pk)}`;
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
export function statement(b: Builder, op: AuditOperation, pk: Column[], keys: ImageKeys, inline?: { tenant: boolean; skipBefore: boolean; values: Record<string, unknown> }): Query {
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
  if (inline) for (const name in inline.values) slots[name] = new Bound(inline.values[name]);
  return capture.fill(slots, b.dialect);
}
