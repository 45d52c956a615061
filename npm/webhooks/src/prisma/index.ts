// `@usebetterdev/webhooks/prisma`: the adapter for a Prisma client (5+, with or without a driver
// adapter). Statements run through `$queryRawUnsafe` on the interactive transaction the caller
// passes (`opts.tx`), or the tenant scope's, so the message commits with the application's
// writes. `$transaction([...])` (the batch form) has no transaction object to join: use the
// interactive form.
import type { Row } from "../core";
import type { Executor, WebhooksDatabase } from "../db";

/** What the adapter uses of a Prisma client or of its interactive transaction client. */
export interface PrismaLike {
  $queryRawUnsafe(query: string, ...values: unknown[]): Promise<unknown>;
}
export interface PrismaClientLike extends PrismaLike {
  $transaction<T>(fn: (tx: PrismaLike) => Promise<T>, options?: { maxWait?: number; timeout?: number }): Promise<T>;
}

function executor(client: PrismaLike): Executor {
  return { query: async (text, values) => (await client.$queryRawUnsafe(text, ...values)) as Row[] };
}

/** `prismaWebhooksAdapter(prisma)`; `opts.tx` is then the `tx` of `prisma.$transaction(async (tx) => …)`. */
export function prismaWebhooksAdapter<P extends PrismaClientLike>(prisma: P): WebhooksDatabase<PrismaLike> {
  if (typeof prisma?.$queryRawUnsafe !== "function" || typeof prisma.$transaction !== "function") {
    throw Object.assign(new TypeError("prismaWebhooksAdapter(prisma): expected a Prisma client"), { code: "WEBHOOKS_INVALID_ARGUMENT" });
  }
  const base = executor(prisma);
  return {
    // Claims and records through $queryRawUnsafe did not hold their leases (deliveries were
    // sent again), so the engine refuses this adapter until that path is proven.
    engine: "the delivery worker runs on node-postgres or postgres.js: create a second betterWebhooks() with sqlExecutorAdapter(pool) (or drizzleWebhooksAdapter) for createWorker()/drain()",
    base: () => base,
    // The engine's transactions are short; Prisma's 5 s default would cut a large fan-out.
    transaction: (fn) => prisma.$transaction((tx) => fn(executor(tx)), { timeout: 60_000 }),
    fromTx: (tx) => {
      if (typeof (tx as Partial<PrismaLike>)?.$queryRawUnsafe !== "function") {
        throw Object.assign(new TypeError("opts.tx: expected the `tx` of prisma.$transaction(async (tx) => …)"), { code: "WEBHOOKS_INVALID_ARGUMENT" });
      }
      return executor(tx);
    },
  };
}
