// node-postgres only: the scope runs on a client of its own, so BEGIN and the scope's settings go
// to PostgreSQL as one message (plain mode), and the scope's session can be cut off from the
// client the moment the scope ends. The callback still gets drizzle's NodePgTransaction, so
// nested transactions become savepoints exactly as with db.transaction(). Any other driver, or
// a drizzle version whose internals differ, uses the portable path.
import core from "@usebetter-rs/core";
import { TenantScopeClosedError } from "../errors";
import { bindingOf, type Rows, type ScopeOptions } from "../setup";

type Session = {
  client: { connect?: () => Promise<Client>; release?: () => void } & object;
  dialect: unknown;
  schema: unknown;
  options: unknown;
  constructor: new (client: unknown, dialect: unknown, schema: unknown, options: unknown) => Session;
};
type Result = { rows: Rows };
type Client = { release: (err?: Error) => void; query: (text: string, params?: readonly string[]) => Promise<Result | Result[]> };
type Tx = object;

let TransactionClass: (new (dialect: unknown, session: Session, schema: unknown) => Tx) | null | undefined;

function transactionClass() {
  if (TransactionClass === undefined) {
    try {
      TransactionClass = require("drizzle-orm/node-postgres/session").NodePgTransaction ?? null;
    } catch {
      TransactionClass = null;
    }
  }
  return TransactionClass;
}

// @usebetterdev/audit's withAuditProxy exposes this, so its capture applies inside our scopes.
const WRAP_TRANSACTION = Symbol.for("usebetterdev.audit.wrapTransaction");

/** Stands in for the client once the scope is over: anything still queued on it fails. */
const CLOSED_CLIENT = {
  query(): never {
    throw new TenantScopeClosedError();
  },
};

/** The rows of the last statement of a (possibly multi-statement) simple query. */
const lastRows = (r: Result | Result[]): Rows => (Array.isArray(r) ? (r.at(-1)?.rows ?? []) : r.rows);

export function fastScope(db: unknown, tenantId: string | null, options: ScopeOptions | undefined) {
  const session = (db as { _?: { session?: Session } })._?.session;
  const Tx = transactionClass();
  if (!session || !Tx || session.constructor?.name !== "NodePgSession") return null;
  return async <T>(fn: (tx: never) => Promise<T>): Promise<T> => {
    // The same test drizzle uses: a Pool hands out a client per scope, a Client is used as is.
    const pooled = session.client.constructor.name.includes("Pool") && typeof session.client.connect === "function";
    const client = (pooled ? await session.client.connect!() : session.client) as Client;
    const own = pooled ? new session.constructor(client, session.dialect, session.schema, session.options) : session;
    const created = new Tx(session.dialect, own, session.schema);
    const wrapTx = (db as { [WRAP_TRANSACTION]?: (tx: Tx) => Tx })[WRAP_TRANSACTION];
    const tx = wrapTx ? wrapTx(created) : created;
    const run = async (text: string, params: readonly string[]) => lastRows(await client.query(text, params));
    // A client whose transaction did not end cleanly is destroyed, never handed to the next scope.
    let clean = false;
    try {
      if (options?.key) {
        // Hardened: the signatures name this transaction, so BEGIN travels with the binding query.
        const binding = bindingOf(await run(core.scopeBindingSql(true), []));
        const statement = core.scopeSql(tenantId, options.key, binding, false);
        await run(statement.sql, statement.params);
      } else {
        await run(core.scopeSql(tenantId, null, null, true).sql, []);
      }
      let result: T;
      try {
        result = await fn(tx as never);
      } catch (err) {
        if (pooled) (own as { client: object }).client = CLOSED_CLIENT;
        // The callback's error is the scope's error; a failed ROLLBACK only breaks the client.
        await client.query("rollback").then(() => (clean = true), () => undefined);
        throw err;
      }
      // Work the callback left running (an un-awaited nested transaction, a saved handle) must
      // not reach this client after COMMIT, when it may already serve another request.
      if (pooled) (own as { client: object }).client = CLOSED_CLIENT;
      await client.query("commit");
      clean = true;
      return result;
    } finally {
      if (pooled) client.release(clean ? undefined : new Error("better-tenant: scope ended without a clean COMMIT or ROLLBACK"));
    }
  };
}
