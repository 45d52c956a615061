import { currentWriteHandle } from "../write-context";
import { insertStatement, sqlStore, type Row } from "../store";
import type { AuditDatabaseAdapter } from "../types";

/** What the adapter needs of a Prisma client: raw, parameterised statements. */
export interface PrismaClientWithRaw {
  $executeRawUnsafe(query: string, ...params: unknown[]): Promise<number>;
  $queryRawUnsafe(query: string, ...params: unknown[]): Promise<unknown>;
}

const isRaw = (h: unknown): h is PrismaClientWithRaw => typeof (h as PrismaClientWithRaw | undefined)?.$executeRawUnsafe === "function";

export function prismaAuditAdapter(db: PrismaClientWithRaw): AuditDatabaseAdapter {
  if (!isRaw(db) || typeof db.$queryRawUnsafe !== "function") {
    throw new TypeError("audit: prismaAuditAdapter(prisma) needs a Prisma client ($executeRawUnsafe and $queryRawUnsafe)");
  }
  return {
    async writeLog(log) {
      const { text, params } = insertStatement([log]);
      // Inside an audited mutation: its interactive transaction (see withAuditExtension).
      const handle = currentWriteHandle();
      await (isRaw(handle) ? handle : db).$executeRawUnsafe(text, ...params);
    },
    ...sqlStore(async (text, params) => (await db.$queryRawUnsafe(text, ...params)) as Row[]),
  };
}
