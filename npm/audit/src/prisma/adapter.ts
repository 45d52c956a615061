import { coded } from "../errors";
import { currentWriteHandle } from "../write-context";
import { sqlStore, type Row, type RunSql } from "../store";
import type { SealOptions } from "../seal";
import { entryWriter, WRITE_ON, type WriteOn } from "../writer";
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

export function prismaAuditAdapter(db: PrismaClientWithRaw, options: PrismaAuditAdapterOptions = {}): AuditDatabaseAdapter & { [WRITE_ON]: WriteOn } {
  if (!isRaw(db) || typeof db.$queryRawUnsafe !== "function") {
    throw coded(new TypeError("audit: prismaAuditAdapter(prisma) needs a Prisma client ($executeRawUnsafe and $queryRawUnsafe)"), "INVALID_ARGUMENT");
  }
  const transaction = (db as { $transaction?: (fn: (tx: PrismaClientWithRaw) => Promise<void>) => Promise<void> }).$transaction;
  const writer = entryWriter(
    {
      current: () => {
        // Inside an audited mutation: its interactive transaction (see withAuditExtension).
        const handle = currentWriteHandle();
        return isRaw(handle) ? runOn(handle) : undefined;
      },
      direct: runOn(db),
      transaction: typeof transaction === "function" ? (fn) => transaction.call(db, (tx: PrismaClientWithRaw) => fn(runOn(tx))) : undefined,
    },
    options.seal,
  );
  return { [WRITE_ON]: writer.writeLogsOn, writeLog: writer.writeLog, ...sqlStore(runOn(db)) };
}
