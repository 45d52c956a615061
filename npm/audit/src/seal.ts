// Sealing at write time: in the writing transaction, the entry's chain (its tenant, or the
// global one) is locked, its head read, and the entry sealed after it in Rust — the same code
// and the same content (see core seal::content) that `better-audit verify` checks later.
// Concurrent writers wait on the chain's lock, so a chain never forks.
import core from "@usebetter-rs/core";
import { columnValues, insertStatement, storedRow, type RunSql } from "./store";
import type { AuditLog } from "./types";

export interface SealOptions {
  /** HMAC key kept out of the database; default `process.env.AUDIT_SEAL_KEY`, else unkeyed. */
  key?: string;
}

/** Writes `log` sealed into its chain; `run` must be inside a transaction. */
export async function writeSealed(run: RunSql, log: AuditLog, options: SealOptions): Promise<void> {
  const tenant = log.tenantId ?? null;
  // Lock and head read are two statements on purpose: under READ COMMITTED each statement
  // takes its snapshot when it starts, so only a statement issued after the lock is held sees
  // the previous holder's committed row. (In FROM: Prisma cannot read a void column.)
  await run(`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended('usebetter_audit_chain:' || coalesce($1::text, ''), 0))`, [tenant]);
  // `head_seq`, not `seq`: an output column named seq would make ORDER BY sort the text.
  // `= $1` / `IS NULL` rather than IS NOT DISTINCT FROM, which the (tenant_id, seq) index cannot answer.
  const chain = tenant === null ? "tenant_id IS NULL" : "tenant_id = $1::uuid";
  let [head] = await run(`SELECT seq::text AS head_seq, hash FROM audit_logs WHERE ${chain} AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1`, tenant === null ? [] : [tenant]);
  if (!head) {
    // Every sealed entry of the chain may have been purged: continue after the checkpoint.
    const [has] = await run(`SELECT to_regclass('audit_chain_checkpoints') IS NOT NULL AS has`, []);
    if (has?.has) [head] = await run(`SELECT seq::text AS head_seq, hash FROM audit_chain_checkpoints WHERE chain = coalesce($1::text, '')`, [tenant]);
  }
  const key = options.key ?? process.env.AUDIT_SEAL_KEY;
  // Serialised once: the sealed content and the INSERT use the same texts.
  const values = columnValues(log);
  const [s] = core.auditSealRows([storedRow(values)], head ? { seq: Number(head.head_seq), hash: String(head.hash) } : null, key || undefined);
  if (!s) throw new Error("audit: sealing produced no seal");
  const { text, params } = insertStatement([log], [s], [values]);
  await run(text, params);
}
