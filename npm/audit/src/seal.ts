// Sealing at write time: in the writing transaction, the entry's chain (its tenant, or the
// global one) is locked, its head read, and the entry sealed after it in Rust — the same code
// and the same content (see core seal::content) that `better-audit verify` checks later.
// Concurrent writers wait on the chain's lock, so a chain never forks. The statements are the
// core's (chain_sql), the ones the CLI runs.
import { coded } from "./errors";
import core from "@usebetter-rs/core";
import type { ChainSql, CoreError } from "@usebetter-rs/core";
import { AuditConfigError } from "./enrich";
import { columnValues, insertStatement, storedRow, type RunSql } from "./store";
import type { AuditLog } from "./types";

export interface SealOptions {
  /** HMAC key (at least 32 bytes) kept out of the database; default `process.env.AUDIT_SEAL_KEY`. */
  key?: string;
  /**
   * Seal with plain SHA-256 and no key. Anyone who can write the table can then recompute the
   * chain, so only anchors kept elsewhere protect it; `better-audit verify --unkeyed` checks it.
   */
  unkeyed?: boolean;
}

/** The key sealing uses (undefined: unkeyed, as opted into); a missing or short key throws. */
export function sealKey(options: SealOptions): string | undefined {
  const unkeyed = options.unkeyed === true;
  const key = unkeyed ? options.key : (options.key ?? process.env.AUDIT_SEAL_KEY);
  try {
    core.auditSealKey(key || null, unkeyed, "seal: { unkeyed: true }");
  } catch (err) {
    const e = err as CoreError;
    throw new AuditConfigError(`audit: ${e.message}`, { cause: err, code: e.code });
  }
  return unkeyed ? undefined : key;
}

let sql: ChainSql | undefined;

/**
 * Writes `logs`, entries of one chain (the same tenant), sealed after its head in one INSERT;
 * `run` must be inside a transaction.
 */
export async function writeSealed(run: RunSql, logs: AuditLog[], key: string | undefined, present?: ReadonlySet<string>): Promise<void> {
  if (logs.length === 0) return;
  sql ??= core.auditChainSql();
  const tenant = logs[0]!.tenantId ?? null;
  // Lock and head read are two statements on purpose: under READ COMMITTED each statement
  // takes its snapshot when it starts, so only a statement issued after the lock is held sees
  // the previous holder's committed row.
  await run(sql.lock, [tenant]);
  let [head] = await run(tenant === null ? sql.head.global : sql.head.tenant, [tenant]);
  if (!head) {
    // Every sealed entry of the chain may have been purged: continue after the checkpoint.
    const [has] = await run(sql.hasCheckpoints, []);
    if (has?.has) [head] = await run(sql.checkpoint, [tenant]);
  }
  // Serialised once: the sealed content and the INSERT use the same texts.
  const values = logs.map(columnValues);
  const seals = core.auditSealRows(values.map(storedRow), head ? { seq: Number(head.head_seq), hash: String(head.hash) } : null, key);
  if (seals.length !== logs.length) throw coded(new Error("audit: sealing produced no seal"), "INTERNAL");
  const { text, params } = insertStatement(logs, seals, values, present);
  await run(text, params);
}
