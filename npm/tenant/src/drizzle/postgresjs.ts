import { isPostgresJsSql, postgresJsTransaction as guarded } from "@usebetter-rs/core/connections";

type Transactional<TTx> = { transaction<T>(cb: (tx: TTx) => Promise<T>): Promise<T> };

/** True when a Drizzle database runs on postgres.js. */
export function isPostgresJs(db: unknown): boolean {
  return isPostgresJsSql((db as { _?: { session?: { client?: unknown } } })._?.session?.client);
}

/** `db.transaction(work)` that never lets postgres.js write on a connection it has lost (see core/connections). */
export function postgresJsTransaction<TTx, T>(db: Transactional<TTx>, work: (tx: TTx) => Promise<T>): Promise<T> {
  return guarded<TTx, T>((cb) => db.transaction(cb), work);
}
