// A plain scope's statements on a pipelining node-postgres client. A scope that only reads ends
// with a COMMIT that has nothing to make durable, yet costs the request a second write and a
// second wake-up of the server. So each statement the core judges able to run alone (one plain
// read: no writes, no row locks, nothing that depends on its transaction) leaves as
// `begin read only; <settings>; <statement>; commit` in one write, and the scope opens its
// transaction only at the first statement that is not such a read (`begin; <settings>` with
// it, in one write as well), which then takes every statement after it. In READ COMMITTED each
// statement reads its own snapshot anyway, so the reads see what they would have seen inside
// the transaction; connections whose default isolation is stricter never split a scope.
// PostgreSQL keeps the split reads honest: `read only` refuses any write made through a view,
// rule or policy function (SQLSTATE 25006), and such a statement runs again in the transaction,
// as does a read that fails for any other reason (so its error aborts the transaction, as it
// did when every statement ran in it).
import core from "@usebetter-rs/core";
import { TenantScopeClosedError } from "../errors";

type Query = (...args: unknown[]) => unknown;
type LaneClient = { query: Query; connection?: { stream?: { cork?: () => void; uncork?: () => void } } };

/** The core's verdict per statement text (drizzle's texts repeat; their values are parameters). */
const verdicts = new Map<string, boolean>();

/** The statement's text, when it is a plain promise-returning query; else undefined. */
function textOf(args: unknown[]): string | undefined {
  const first = args[0];
  const text = typeof first === "string" ? first : (first as { text?: unknown } | null)?.text;
  if (typeof text !== "string" || args.some((a) => typeof a === "function")) return undefined;
  // A cursor or a row-limited portal reads across round trips, and a callback would take the
  // answer past the lane: those need the transaction.
  if (typeof first === "object" && first !== null && ("submit" in first || "rows" in first || "callback" in first)) return undefined;
  return text;
}

function readsAlone(text: string | undefined): boolean {
  if (text === undefined) return false;
  let verdict = verdicts.get(text);
  if (verdict === undefined) {
    verdict = core.sqlReadsAlone?.(text) ?? false;
    if (verdicts.size >= 4096) verdicts.clear();
    verdicts.set(text, verdict);
  }
  return verdict;
}

/**
 * Per connection: true when its default isolation is READ COMMITTED (reads may be split off),
 * false when not; absent until a scope on it has asked, piggybacked on that scope's set-up.
 */
const readCommitted = new WeakMap<object, boolean>();

const READ_ONLY_TRANSACTION = "25006";
/** Session-level settings may change the connection's default isolation: ask again next time. */
const SESSION_SETTING = /^\s*(set|reset|discard)\b/i;
const noop = () => undefined;

export interface Lane {
  /** Whether the scope's transaction is open (a statement needed it). */
  readonly open: boolean;
  /**
   * Waits for every statement sent so far, then refuses new ones (TenantScopeClosedError);
   * rejects with the set-up's error when the transaction's set-up failed.
   */
  settle(): Promise<void>;
  /** Gives the client its own `query` back. */
  restore(): void;
}

/**
 * Installs the lane on `client` for one scope: `begin` opens the transaction with the scope's
 * settings, `alone` opens a read-only one for a single statement.
 */
export function openLane(client: LaneClient, begin: string, alone: string): Lane {
  const stream = client.connection?.stream;
  const cork = typeof stream?.cork === "function" && typeof stream.uncork === "function" ? stream : null;
  const own = Object.hasOwn(client, "query");
  const query = client.query;
  const send = (...args: unknown[]) => query.apply(client, args);
  const known = readCommitted.get(client);
  const canSplit = known === true && typeof core.sqlReadsAlone === "function";
  let learning: Promise<unknown> | undefined;
  let setup: Promise<unknown> | undefined;
  let ended = false;
  const pending = new Set<Promise<unknown>>();
  // Everything written between cork and uncork leaves in one write (node-postgres writes a
  // pipelined query as it is submitted).
  const together = <T>(f: () => T): T => {
    cork?.cork!();
    try {
      return f();
    } finally {
      cork?.uncork!();
    }
  };
  const openWith = (args: unknown[]) =>
    together(() => {
      if (known === undefined && !learning && typeof core.sqlReadsAlone === "function") {
        learning = (send(core.scopeIsolationSql()) as Promise<{ rows: Array<{ isolation?: unknown }> }>).then(
          (r) => void readCommitted.set(client, r.rows[0]?.isolation === "read committed"),
          () => void readCommitted.set(client, false),
        );
      }
      setup = send(begin) as Promise<unknown>;
      setup.catch(noop);
      return send(...args);
    });
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    const done = () => void pending.delete(p);
    p.then(done, done);
    return p;
  };
  const lane = {
    get open() {
      return setup !== undefined;
    },
    async settle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
      ended = true;
      await learning;
      await setup;
    },
    restore() {
      if (own) client.query = query;
      else delete (client as { query?: unknown }).query;
    },
  };
  const inTransaction = (args: unknown[]) => (setup ? send(...args) : openWith(args));
  client.query = function laneQuery(...args: unknown[]) {
    if (ended) throw new TenantScopeClosedError();
    const text = textOf(args);
    if (text !== undefined && SESSION_SETTING.test(text)) readCommitted.delete(client);
    if (setup || !canSplit || !readsAlone(text)) return inTransaction(args);
    // COMMIT goes out whatever the statement does, even if the driver refuses it on the spot,
    // so the connection never leaves the lane inside a read's transaction.
    let refused: { error: unknown } | undefined;
    const [opened, answer, committed] = together(() => {
      const o = send(alone) as Promise<unknown>;
      let a: Promise<unknown> | undefined;
      try {
        a = send(...args) as Promise<unknown>;
      } catch (error) {
        refused = { error };
      }
      return [o, a, send("commit") as Promise<unknown>];
    });
    if (refused) {
      track(Promise.allSettled([opened, committed]));
      throw refused.error;
    }
    return track(
      Promise.allSettled([opened, answer, committed]).then(([o, a, c]) => {
        if (o.status === "fulfilled" && a.status === "fulfilled" && c.status === "fulfilled") return a.value;
        // Run again in the scope's transaction: a read written through a view or a function
        // (refused as read only) belongs there, and a failed read must abort the transaction
        // as it did when every statement ran in it (later statements fail, the scope rolls
        // back). A read refused as read only is not sent alone again.
        if (a.status === "rejected" && (a.reason as { code?: unknown })?.code === READ_ONLY_TRANSACTION) verdicts.set(text!, false);
        if (!ended) return inTransaction(args);
        throw [o, a, c].find((r) => r.status === "rejected")!.reason;
      }),
    );
  };
  return lane;
}
