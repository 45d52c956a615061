// How both adapters write an entry: in the audited mutation's transaction when the caller is in
// one, to the columns the table has, and sealed into its chain when sealing is on and the table
// can hold seals (the chain's lock needs a transaction: one of our own outside a mutation).
// `writeLogsOn` writes a batch on a transaction the caller names (another library's).
import { coded } from "./errors";
import { insertStatement, type RunSql } from "./store";
import { sealKey, writeSealed, type SealOptions } from "./seal";
import { shapeReader } from "./shape";
import type { AuditLog } from "./types";

/**
 * Set by the package's adapters: writes a batch of entries with the given statement runner,
 * which must be inside the caller's transaction (see `captureLogsIn`).
 */
export const WRITE_ON = Symbol.for("usebetterdev.audit.writeOn");
export type WriteOn = (run: RunSql, logs: AuditLog[]) => Promise<void>;

export interface WriteTarget {
  /** The statement runner of the audited mutation the caller is in, if any. */
  current(): RunSql | undefined;
  /** The database outside any transaction. */
  direct: RunSql;
  /** Runs `fn` in a transaction of its own; absent when the driver has none. */
  transaction?: ((fn: (run: RunSql) => Promise<void>) => Promise<void>) | undefined;
}

export function entryWriter(target: WriteTarget, option: boolean | SealOptions | undefined) {
  const seal = option === true ? {} : option || undefined;
  // Checked now, so a missing key fails at start-up rather than silently sealing without one.
  const key = seal && sealKey(seal);
  const shape = shapeReader(seal !== undefined);
  async function writeLog(log: AuditLog): Promise<void> {
    const current = target.current();
    const { columns, tenant, sealable } = await shape(current ?? target.direct);
    if (!seal || !sealable) {
      const { text, params } = insertStatement([log], undefined, undefined, columns);
      await (current ?? target.direct)(text, params);
      return;
    }
    // The sealed content is what is stored: no tenant where the table has no column for it.
    const entry = { ...log };
    if (!tenant) delete entry.tenantId;
    if (current) return writeSealed(current, [entry], key, columns);
    if (!target.transaction) throw coded(new Error("audit: sealing needs a database client with transactions"), "INVALID_CONFIG");
    return target.transaction((run) => writeSealed(run, [entry], key, columns));
  }
  const writeLogsOn: WriteOn = async (run, logs) => {
    if (logs.length === 0) return;
    const { columns, tenant, sealable } = await shape(run);
    if (!seal || !sealable) {
      const { text, params } = insertStatement(logs, undefined, undefined, columns);
      await run(text, params);
      return;
    }
    // One INSERT per chain; chains locked in one order (global first, then by tenant id), so
    // two batches spanning the same chains cannot wait on each other.
    const chains = new Map<string | null, AuditLog[]>();
    for (const log of logs) {
      const entry = { ...log };
      if (!tenant) delete entry.tenantId;
      const chain = entry.tenantId ?? null;
      const list = chains.get(chain);
      if (list) list.push(entry);
      else chains.set(chain, [entry]);
    }
    const order = [...chains.keys()].sort((a, b) => (a === null ? -1 : b === null ? 1 : a < b ? -1 : a > b ? 1 : 0));
    for (const chain of order) await writeSealed(run, chains.get(chain)!, key, columns);
  };
  return { writeLog, writeLogsOn, shape, sealed: seal !== undefined };
}
