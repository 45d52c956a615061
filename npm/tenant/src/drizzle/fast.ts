// node-postgres only: the scope runs on a client of its own, so BEGIN and the scope's settings go
// to PostgreSQL as one message (plain mode), the wait for a connection is bounded, connection
// errors become the request's error instead of an unhandled 'error' event, and the scope's
// session is cut off from the client the moment the scope ends. The callback still gets
// drizzle's NodePgTransaction, so nested transactions become savepoints exactly as with
// db.transaction(). Any other driver, or a drizzle version whose internals differ, uses the
// portable path.
import core from "@usebetter-rs/core";
// @usebetterdev/audit's withAuditProxy exposes this, so its capture applies inside our scopes.
import { WRAP_TRANSACTION } from "@usebetter-rs/core/shared";
import { TenantScopeClosedError } from "../errors";
import { bindingOf, laneStatements, scopeStatement, type Rows, type ScopeOptions } from "../setup";
import { acquire, gateOf, leave, type Pool } from "./acquire";
import { openLane, type Lane } from "./lane";

type Session = {
  client: { connect?: () => Promise<Client>; release?: () => void } & object;
  dialect: unknown;
  schema: unknown;
  options: unknown;
  constructor: new (client: unknown, dialect: unknown, schema: unknown, options: unknown) => Session;
};
type Result = { rows: Rows };
type Client = {
  release: (err?: Error) => void;
  query: (text: string, params?: readonly string[]) => Promise<Result | Result[]>;
  on?: (event: "error", listener: (err: Error) => void) => unknown;
  /** node-postgres: "I" when the connection is outside any transaction. */
  getTransactionStatus?: () => string | null;
};
type Tx = object;

type TxClass = new (dialect: unknown, session: Session, schema: unknown) => Tx;

/**
 * drizzle's NodePgTransaction, from the drizzle-orm copy the entry point was built with (the
 * loader comes from the entry's kit: `require` in the CommonJS build, `import()` in the ESM
 * one). Loaded once per loader, on the first scope; null when this drizzle has no such module.
 */
const transactionClasses = new WeakMap<object, { value?: TxClass | null; pending?: Promise<TxClass | null> }>();

function transactionClass(load: () => Promise<unknown>): TxClass | null | Promise<TxClass | null> {
  let entry = transactionClasses.get(load);
  if (!entry) transactionClasses.set(load, (entry = {}));
  if (entry.value !== undefined) return entry.value;
  const known = entry;
  return (known.pending ??= load().then(
    (m) => (known.value = (m as { NodePgTransaction?: TxClass }).NodePgTransaction ?? null),
    () => (known.value = null),
  ));
}

/** Stands in for the client once the scope is over: anything still queued on it fails. */
const CLOSED_CLIENT = {
  query(): never {
    throw new TenantScopeClosedError();
  },
};

const noop = () => undefined;

/**
 * node-postgres 8.17 and later pipeline: with `client.pipeline` on, a query is written without
 * waiting for the answers to the ones before it, and answers are matched in order. A scope turns
 * it on for the connection it acquired (idle then, and idle again when it is released), so the
 * context's set-up and the callback's first statement leave in one round trip. Older versions
 * lack the flag and queue the statement behind the set-up as before.
 */
function canPipeline(client: Client): client is Client & { pipeline: boolean } {
  const c = client as { pipeline?: unknown; _sentQueryQueue?: unknown };
  return typeof c.pipeline === "boolean" && Array.isArray(c._sentQueryQueue);
}

/**
 * Sends the set-up (`send`) held back on the connection's socket until the next query is
 * submitted on the client (the callback's first statement, or else COMMIT or ROLLBACK), so both
 * reach the socket as one write: one system call and one wake-up of the server instead of one
 * per query (node-postgres writes each query as it is submitted). No timer is involved, so
 * faked timers cannot hold the set-up back. Returns the set-up's result and `flush`, which sends
 * whatever is still held (the scope calls it before the client goes back to the pool).
 */
function sendHeld(client: Client, send: () => Promise<Rows>): { sent: Promise<Rows>; flush: () => void } {
  const stream = (client as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  if (typeof stream?.cork !== "function" || typeof stream.uncork !== "function") return { sent: send(), flush: () => undefined };
  stream.cork();
  let sent: Promise<Rows>;
  try {
    sent = send();
  } catch (err) {
    stream.uncork();
    throw err;
  }
  const own = Object.hasOwn(client, "query");
  const query = client.query;
  let held = true;
  const flush = () => {
    if (!held) return;
    held = false;
    if (own) client.query = query;
    else delete (client as { query?: unknown }).query;
    stream.uncork!();
  };
  client.query = function (this: Client, ...args: Parameters<Client["query"]>) {
    const result = query.apply(this, args); // written behind the set-up, still held
    flush();
    return result;
  };
  return { sent, flush };
}

/** The rows of the last statement of a (possibly multi-statement) simple query. */
const lastRows = (r: Result | Result[]): Rows => (Array.isArray(r) ? (r.at(-1)?.rows ?? []) : r.rows);

/**
 * Per pooled client, whether the scope holding it saw the connection break. A connection that
 * breaks while a scope holds it (server restart, terminated backend) emits 'error' on the client;
 * the failed query already rejects, so the request fails with that error and the client is
 * destroyed on release. One listener per client for its lifetime, not one per scope.
 */
type Watch = { active: boolean; broken: Error | undefined };
const watches = new WeakMap<object, Watch>();

function watch(client: Client): Watch {
  let w = watches.get(client);
  if (!w) {
    const made: Watch = (w = { active: false, broken: undefined });
    client.on?.("error", (err: Error) => {
      if (made.active) made.broken ??= err;
    });
    watches.set(client, made);
  }
  w.active = true;
  w.broken = undefined;
  return w;
}

/** Runs a scope: `fastScope`'s, or through drizzle's own transaction (`portable`). */
export type ScopeRunner = <T>(tenantId: string | null, options: ScopeOptions | undefined, fn: (tx: never) => Promise<T>) => Promise<T>;

/**
 * Scopes on their own client when `db` is drizzle's node-postgres database, else null. `portable`
 * runs a scope when this drizzle turns out to lack the transaction class; `prepare`: see lane.ts.
 */
export function fastScope(db: unknown, loadSession: () => Promise<unknown>, portable: ScopeRunner, prepare = true): ScopeRunner | null {
  const session = (db as { _?: { session?: Session } })._?.session;
  if (!session || session.constructor?.name !== "NodePgSession") return null;
  // The same test drizzle uses: a Pool hands out a client per scope, a Client is used as is.
  const pooled = session.client.constructor.name.includes("Pool") && typeof session.client.connect === "function";
  const gate = pooled ? gateOf(session.client as unknown as Pool<Client>) : null;
  let Tx: TxClass | null | undefined;
  return async function scope<T>(
    tenantId: string | null,
    options: ScopeOptions | undefined,
    fn: (tx: never) => Promise<T>,
  ): Promise<T> {
    if (Tx === undefined) Tx = await transactionClass(loadSession);
    if (!Tx) return portable(tenantId, options, fn);
    const client = gate ? await acquire(session.client as unknown as Pool<Client>, gate, options) : (session.client as Client);
    const watched = pooled ? watch(client) : null;
    const pipelined = pooled && canPipeline(client);
    const toggled = pipelined && !client.pipeline;
    // A client whose transaction did not end cleanly is destroyed, never handed to the next scope.
    let clean = false;
    // Pipelined: the set-up, held until the callback's first statement goes out with it.
    let held: ReturnType<typeof sendHeld> | undefined;
    // Pipelined plain scopes: reads alone in one round trip each, the transaction when needed.
    let lane: Lane | undefined;
    try {
      if (toggled) client.pipeline = true;
      const own = pooled ? new session.constructor(client, session.dialect, session.schema, session.options) : session;
      const created = new Tx(session.dialect, own, session.schema);
      const wrapTx = (db as { [WRAP_TRANSACTION]?: (tx: Tx) => Tx })[WRAP_TRANSACTION];
      const tx = wrapTx ? wrapTx(created) : created;
      if (pipelined && !options?.key) {
        lane = openLane(client as never, laneStatements(tenantId, options), prepare);
      } else {
        const run = async (text: string, params: readonly string[]) => lastRows(await client.query(text, params));
        // Hardened: the signatures name this transaction, so BEGIN travels with the binding
        // query and the signed settings wait for its answer; the callback's first statement can
        // still follow them in the same round trip.
        const statement = options?.key
          ? scopeStatement(tenantId, options, bindingOf(await run(core.scopeBindingSql(true), [])), false)
          : scopeStatement(tenantId, options, null, true);
        if (pipelined) {
          held = sendHeld(client, () => run(statement.sql, statement.params));
          held.sent.catch(noop);
        } else {
          await run(statement.sql, statement.params);
        }
      }
      // Pipelined, the callback's first statement is written right behind the set-up; a failed
      // set-up is still the scope's error (it wins over the callback's), and the statements
      // behind it fail with it (the transaction is aborted), so nothing runs without its context.
      let result: T | undefined;
      let failed = false;
      let failure: unknown;
      try {
        result = await fn(tx as never);
      } catch (err) {
        failed = true;
        failure = err;
      }
      // Work the callback left running (an un-awaited nested transaction, a saved handle) must
      // not reach this client after COMMIT, when it may already serve another request.
      if (pooled) (own as { client: object }).client = CLOSED_CLIENT;
      try {
        // The held set-up leaves with the callback's first statement, or here if it sent none.
        if (held) {
          held.flush();
          await held.sent;
        }
        if (lane) {
          const settling = lane.settle();
          if (settling) await settling;
        }
      } catch (err) {
        failed = true;
        failure = err;
      }
      lane?.restore();
      if (failed) {
        const broken = watched?.broken;
        // The callback's error is the scope's error; a failed ROLLBACK only breaks the client.
        // A lane that never opened its transaction has nothing to roll back.
        if (lane && !lane.open) clean = !broken;
        else if (!broken) await client.query("rollback").then(() => (clean = true), noop);
        throw failure;
      }
      if (!lane || lane.open) await client.query("commit");
      clean = true;
      return result as T;
    } finally {
      held?.flush();
      lane?.restore();
      if (pooled) {
        if (toggled) (client as { pipeline: boolean }).pipeline = false;
        const broken = watched!.broken;
        watched!.active = false;
        // Never hand on a connection still inside a transaction (with its scope's settings).
        const idle = typeof client.getTransactionStatus !== "function" || client.getTransactionStatus() === "I";
        client.release(clean && idle && !broken ? undefined : (broken ?? new Error("better-tenant: scope ended without a clean COMMIT or ROLLBACK")));
      }
      if (gate) leave(gate);
    }
  };
}
