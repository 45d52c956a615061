// How both adapters write an entry: in the audited mutation's transaction when the caller is in
// one, to the columns the table has, and sealed into its chain when sealing is on and the table
// can hold seals (the chain's lock needs a transaction: one of our own outside a mutation).
import { coded } from "./errors";
import { insertStatement, type RunSql } from "./store";
import { sealKey, writeSealed, type SealOptions } from "./seal";
import { shapeReader } from "./shape";
import type { AuditLog } from "./types";

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
    if (current) return writeSealed(current, entry, key, columns);
    if (!target.transaction) throw coded(new Error("audit: sealing needs a database client with transactions"), "INVALID_CONFIG");
    return target.transaction((run) => writeSealed(run, entry, key, columns));
  }
  return { writeLog, shape, sealed: seal !== undefined };
}
