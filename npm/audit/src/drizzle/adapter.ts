// @usebetterdev/tenant's context store (one per process, shared through this global symbol).
import { TENANT_CONTEXT } from "@usebetter-rs/core/shared";
import { sql, type SQL } from "drizzle-orm";
import { hearConnectionErrors } from "@usebetter-rs/core/connections";
import { currentWriteHandle } from "../write-context";
import { INLINE_SHAPE } from "../inline";
import { sqlStore, type Row, type RunSql } from "../store";
import type { SealOptions } from "../seal";
import { entryWriter, WRITE_ON, type WriteOn } from "../writer";
import { AuditConfigError } from "../enrich";
import type { AuditDatabaseAdapter } from "../types";

/** Structural on purpose: the app's drizzle-orm declarations (ESM or CommonJS) must both fit. */
export interface DrizzlePgDatabase {
  // `any`: each drizzle copy's SQL class is a different type; a parameter of either must fit.
  execute(query: any): unknown;
}

/** Rows from either driver: node-postgres returns `{ rows }`, postgres.js an array. */
export const rowsOf = (r: unknown): Row[] => (Array.isArray(r) ? (r as Row[]) : ((r as { rows?: Row[] }).rows ?? []));

/** Turns SQL text with `$n` placeholders into a drizzle `SQL` with bound values. */
export function bind(text: string, params: unknown[]): SQL {
  const parts: SQL[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) {
    parts.push(sql.raw(text.slice(last, m.index)));
    // sql.param keeps an array one parameter (a bare array would expand into a tuple).
    parts.push(sql`${sql.param(params[Number(m[1]) - 1])}`);
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(sql.raw(text.slice(last)));
  return sql.join(parts);
}

const executes = (h: unknown): h is DrizzlePgDatabase => typeof (h as DrizzlePgDatabase | undefined)?.execute === "function";

export interface DrizzleAuditAdapterOptions {
  /**
   * Seal every entry into its hash chain as it is written. `true`: key from AUDIT_SEAL_KEY (at
   * least 32 bytes, else an AuditConfigError with code AUDIT_SEAL_KEY); `{ unkeyed: true }`
   * seals without a key, which anyone who can write the table can recompute.
   */
  seal?: boolean | SealOptions;
}

const runOn = (h: DrizzlePgDatabase): RunSql => async (text, params) => rowsOf(await h.execute(bind(text, params)));

/** The database handle of the tenant scope the caller runs in, if any. */
function scopedDatabase(): unknown {
  const store = (globalThis as { [TENANT_CONTEXT]?: { getStore(): { database?: unknown } | undefined } })[TENANT_CONTEXT];
  return store?.getStore()?.database;
}

export function drizzleAuditAdapter(db: DrizzlePgDatabase, options: DrizzleAuditAdapterOptions = {}): AuditDatabaseAdapter & { [INLINE_SHAPE]?: ReturnType<typeof entryWriter>["shape"]; [WRITE_ON]: WriteOn } {
  if (!executes(db)) {
    throw new AuditConfigError(`audit: drizzleAuditAdapter(db) needs a Drizzle PostgreSQL database (with execute()), got ${db === null ? "null" : typeof db}`);
  }
  hearConnectionErrors(db, "better-audit");
  const transaction = (db as { transaction?: (fn: (tx: DrizzlePgDatabase) => Promise<void>) => Promise<void> }).transaction;
  const writer = entryWriter(
    {
      current: () => {
        // Inside an audited mutation: the mutation's own transaction (see withAuditProxy).
        const handle = currentWriteHandle();
        return executes(handle) ? runOn(handle) : undefined;
      },
      direct: runOn(db),
      transaction: typeof transaction === "function" ? (fn) => transaction.call(db, (tx: DrizzlePgDatabase) => fn(runOn(tx))) : undefined,
    },
    options.seal,
  );
  // Reads run where the caller is: in an audited mutation its transaction, in a tenant scope the
  // scope's transaction (so row-level security on the entries shows that tenant's entries).
  const store = sqlStore((text, params) => {
    const handle = currentWriteHandle() ?? scopedDatabase();
    return runOn(executes(handle) ? handle : db)(text, params);
  });
  // Unsealed rows go to the core's table, so withAuditProxy may write them in the capturing statement.
  const inline = writer.sealed ? {} : { [INLINE_SHAPE]: writer.shape };
  return { ...inline, [WRITE_ON]: writer.writeLogsOn, writeLog: writer.writeLog, ...store };
}
