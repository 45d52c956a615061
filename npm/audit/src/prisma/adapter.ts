import { currentWriteHandle } from "../write-context";
import { insertStatement, sqlStore, type Row, type RunSql } from "../store";
import { sealKey, writeSealed, type SealOptions } from "../seal";
import type { AuditDatabaseAdapter } from "../types";

/** What the adapter needs of a Prisma client: raw, parameterised statements. */
export interface PrismaClientWithRaw {
  $executeRawUnsafe(query: string, ...params: unknown[]): Promise<number>;
  $queryRawUnsafe(query: string, ...params: unknown[]): Promise<unknown>;
}

const isRaw = (h: unknown): h is PrismaClientWithRaw => typeof (h as PrismaClientWithRaw | undefined)?.$executeRawUnsafe === "function";

export interface PrismaAuditAdapterOptions {
  /**
   * Seal every entry into its hash chain as it is written. `true`: key from AUDIT_SEAL_KEY (at
   * least 32 bytes, else an AuditConfigError with code AUDIT_SEAL_KEY); `{ unkeyed: true }`
   * seals without a key, which anyone who can write the table can recompute.
   */
  seal?: boolean | SealOptions;
}

const runOn = (h: PrismaClientWithRaw): RunSql => async (text, params) => (await h.$queryRawUnsafe(text, ...params)) as Row[];

export function prismaAuditAdapter(db: PrismaClientWithRaw, options: PrismaAuditAdapterOptions = {}): AuditDatabaseAdapter {
  if (!isRaw(db) || typeof db.$queryRawUnsafe !== "function") {
    throw new TypeError("audit: prismaAuditAdapter(prisma) needs a Prisma client ($executeRawUnsafe and $queryRawUnsafe)");
  }
  const seal = options.seal === true ? {} : options.seal || undefined;
  // Checked now, so a missing key fails at start-up rather than silently sealing without one.
  const key = seal && sealKey(seal);
  return {
    async writeLog(log) {
      if (seal) {
        const handle = currentWriteHandle();
        if (isRaw(handle)) return writeSealed(runOn(handle), log, key);
        const transaction = (db as { $transaction?: (fn: (tx: PrismaClientWithRaw) => Promise<void>) => Promise<void> }).$transaction;
        if (typeof transaction !== "function") throw new Error("audit: sealing needs a Prisma client with $transaction()");
        return transaction.call(db, (tx: PrismaClientWithRaw) => writeSealed(runOn(tx), log, key));
      }
      const { text, params } = insertStatement([log]);
      // Inside an audited mutation: its interactive transaction (see withAuditExtension).
      const handle = currentWriteHandle();
      await (isRaw(handle) ? handle : db).$executeRawUnsafe(text, ...params);
    },
    ...sqlStore(runOn(db)),
  };
}
