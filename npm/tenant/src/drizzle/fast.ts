// node-postgres only: BEGIN and the scope's set_config calls go to PostgreSQL as one message,
// saving a round trip per request. Drizzle's own transaction() sends BEGIN alone first. The
// callback still gets drizzle's NodePgTransaction, so nested transactions become savepoints
// exactly as with db.transaction(). Any other driver, or a drizzle version whose internals
// differ, uses the portable path.
import { sql } from "drizzle-orm";

type Session = {
  client: { connect?: () => Promise<Client>; release?: () => void } & object;
  dialect: unknown;
  schema: unknown;
  options: unknown;
  constructor: new (client: unknown, dialect: unknown, schema: unknown, options: unknown) => Session;
};
type Client = { release: () => void };
type Tx = { execute: (q: ReturnType<typeof sql.raw>) => Promise<unknown> };

let TransactionClass: (new (dialect: unknown, session: Session, schema: unknown) => Tx) | null | undefined;

function transactionClass() {
  if (TransactionClass === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      TransactionClass = require("drizzle-orm/node-postgres/session").NodePgTransaction ?? null;
    } catch {
      TransactionClass = null;
    }
  }
  return TransactionClass;
}

// Values are inlined into the combined statement, so only characters that cannot end a
// literal qualify (UUIDs, hex signatures, "true"); anything else takes the portable path.
const SAFE = /^[0-9A-Za-z_.:-]*$/;

// @usebetterdev/audit's withAuditProxy exposes this, so its capture applies inside our scopes.
const WRAP_TRANSACTION = Symbol.for("usebetterdev.audit.wrapTransaction");

export function fastScope(db: unknown, settings: Record<string, string>) {
  const session = (db as { _?: { session?: Session } })._?.session;
  const Tx = transactionClass();
  if (!session || !Tx || session.constructor?.name !== "NodePgSession") return null;
  if (!Object.entries(settings).every(([k, v]) => SAFE.test(k) && SAFE.test(v))) return null;
  const calls = Object.entries(settings)
    .map(([k, v]) => `set_config('${k}', '${v}', true)`)
    .join(", ");
  return async <T>(fn: (tx: never) => Promise<T>): Promise<T> => {
    // The same test drizzle uses: a Pool hands out a client per scope, a Client is used as is.
    const pooled = session.client.constructor.name.includes("Pool") && typeof session.client.connect === "function";
    const client = pooled ? await session.client.connect!() : null;
    const own = client ? new session.constructor(client, session.dialect, session.schema, session.options) : session;
    const created = new Tx(session.dialect, own, session.schema);
    const wrapTx = (db as { [WRAP_TRANSACTION]?: (tx: Tx) => Tx })[WRAP_TRANSACTION];
    const tx = wrapTx ? wrapTx(created) : created;
    try {
      await tx.execute(sql.raw(`begin; select ${calls}`));
      try {
        const result = await fn(tx as never);
        await tx.execute(sql.raw("commit"));
        return result;
      } catch (err) {
        await tx.execute(sql.raw("rollback"));
        throw err;
      }
    } finally {
      client?.release();
    }
  };
}
