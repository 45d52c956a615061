// A plain scope's statements on a pipelining node-postgres client. A scope that only reads ends
// with a COMMIT that has nothing to make durable, yet costs the request a second write and a
// second wake-up of the server. So each statement the core judges able to run alone (one plain
// read: no writes, no row locks, nothing that depends on its transaction) leaves in the extended
// protocol behind its set-up (`SELECT set_config(<setting>, $n, true), …,
// set_config('transaction_read_only', $n, true)`) with one Sync after both: PostgreSQL runs the
// two in one implicit transaction that ends at the Sync, so the read costs one write, one answer
// and no BEGIN or COMMIT. The
// scope opens its transaction only at the first statement that is not such a read (`begin;
// <settings>` with it, in one write as well), which then takes every statement after it. In
// READ COMMITTED each statement reads its own snapshot anyway, so the reads see what they would
// have seen inside the transaction; connections whose default isolation is stricter never split
// a scope. PostgreSQL keeps the split reads honest: `transaction_read_only` refuses any write
// made through a view, rule or policy function (SQLSTATE 25006), and such a statement runs again
// in the transaction, as does a read that fails for any other reason (so its error aborts the
// transaction, as it did when every statement ran in it). The set-up, one text for every
// scope, and each read alone that repeats on a connection are prepared there once (prepared.ts).
import core from "@usebetter-rs/core";
import { TenantScopeClosedError } from "../errors";
import { attempt } from "../scope";
import type { LaneStatements } from "../setup";
import { readAloneClass, type PgQueryClass } from "./alone";
import { confirm, failed, nameFor, setupOf } from "./prepared";

type Query = (...args: unknown[]) => unknown;
type LaneClient = {
  query: Query;
  constructor: { Query?: PgQueryClass };
  connection?: { stream?: { cork?: () => void; uncork?: () => void } };
};

/**
 * The core's verdicts per statement text (drizzle's texts repeat; their values are parameters):
 * `ALONE`, a plain read that may run alone; `SESSION`, it may change the session's defaults.
 */
const verdicts = new Map<string, number>();
const ALONE = 1;
const SESSION = 2;

const isFunction = (a: unknown) => typeof a === "function";

/** Query config keys that keep a statement in the transaction (see textOf). */
const KEPT = ["submit", "rows", "callback", "name", "portal", "binary"] as const;

/** The statement's text, when it is a plain promise-returning query; else undefined. */
function textOf(args: unknown[]): string | undefined {
  const first = args[0];
  const text = typeof first === "string" ? first : (first as { text?: unknown } | null)?.text;
  if (typeof text !== "string" || args.length > 2 || args.some(isFunction)) return undefined;
  // A cursor or a row-limited portal reads across round trips, and a callback would take the
  // answer past the lane: those need the transaction. So do named statements (node-postgres
  // marks a name parsed at the set-up's ParseComplete, even when the statement's own Parse then
  // fails), portals, and binary results (the extended protocol would turn a statement without
  // parameters from text to binary rows).
  if (typeof first === "object" && first !== null && KEPT.some((k) => (first as Record<string, unknown>)[k] !== undefined)) return undefined;
  return text;
}

/** The core's verdicts on `text` (`ALONE`, `SESSION`), kept in `verdicts` (bounded): one lookup per statement. */
function verdictOf(text: string): number {
  let verdict = verdicts.get(text);
  if (verdict === undefined) {
    // A statement the core cannot judge may change the session's defaults: ask again.
    verdict = (core.sqlReadsAlone?.(text) ? ALONE : 0) | ((core.sqlSetsSession?.(text) ?? true) ? SESSION : 0);
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
const noop = () => undefined;

/**
 * A plain scope's statements on one client. `begin` opens the transaction with the scope's
 * settings; `alone` is the one-statement set-up that a read alone carries ahead of it.
 */
export class Lane {
  private readonly query: Query;
  private readonly own: boolean;
  private readonly cork: { cork(): void; uncork(): void } | null;
  private readonly known: boolean | undefined;
  private readonly canSplit: boolean;
  private learning: Promise<unknown> | undefined;
  private setup: Promise<unknown> | undefined;
  private ended = false;
  /** Reads alone not answered yet, and who waits for the last of them. */
  private inflight = 0;
  private drained: (() => void) | undefined;

  constructor(
    private readonly client: LaneClient,
    private readonly statements: LaneStatements,
    private readonly prepare: boolean,
  ) {
    const stream = client.connection?.stream;
    this.cork = typeof stream?.cork === "function" && typeof stream.uncork === "function" ? (stream as { cork(): void; uncork(): void }) : null;
    this.own = Object.hasOwn(client, "query");
    this.query = client.query;
    this.known = readCommitted.get(client);
    const Base = client.constructor.Query;
    this.canSplit = this.known === true && typeof core.sqlReadsAlone === "function" && typeof Base === "function" && !(client as { binary?: unknown }).binary;
    const lane = this;
    client.query = function laneQuery(...args: unknown[]) {
      return lane.submit(args);
    };
  }

  /** Whether the scope's transaction is open (a statement needed it). */
  get open(): boolean {
    return this.setup !== undefined;
  }

  /**
   * Waits for every statement sent so far, then refuses new ones (TenantScopeClosedError);
   * rejects with the set-up's error when the transaction's set-up failed. Nothing to wait for
   * (a scope whose reads are all answered): returns undefined at once.
   */
  settle(): Promise<void> | undefined {
    if (this.inflight === 0 && this.learning === undefined && this.setup === undefined) {
      this.ended = true;
      return undefined;
    }
    return this.settleAll();
  }

  private async settleAll(): Promise<void> {
    while (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.ended = true;
    await this.learning;
    await this.setup;
  }

  /** Gives the client its own `query` back. */
  restore(): void {
    if (this.own) this.client.query = this.query;
    else delete (this.client as { query?: unknown }).query;
  }

  private send(args: unknown[]): unknown {
    return this.query.apply(this.client, args);
  }

  /** Everything written between cork and uncork leaves in one write (node-postgres writes a pipelined query as it is submitted). */
  private together<T>(f: () => T): T {
    this.cork?.cork();
    try {
      return f();
    } finally {
      this.cork?.uncork();
    }
  }

  private inTransaction(args: unknown[]): unknown {
    if (this.setup) return this.send(args);
    return this.together(() => {
      if (this.known === undefined && !this.learning && typeof core.sqlReadsAlone === "function") {
        const client = this.client;
        this.learning = (this.send([core.scopeIsolationSql()]) as Promise<{ rows: Array<{ read_committed?: unknown }> }>).then(
          (r) => void readCommitted.set(client, r.rows[0]?.read_committed === true),
          () => void readCommitted.set(client, false),
        );
      }
      const setup = this.send([this.statements.begin]) as Promise<unknown>;
      setup.catch(noop);
      this.setup = setup;
      return this.send(args);
    });
  }

  private finished(): void {
    if (--this.inflight === 0 && this.drained) {
      const drained = this.drained;
      this.drained = undefined;
      drained();
    }
  }

  private submit(args: unknown[]): unknown {
    if (this.ended) throw new TenantScopeClosedError();
    const text = textOf(args);
    const verdict = text === undefined ? 0 : verdictOf(text);
    // Session-level settings may change the connection's default isolation: ask again next time.
    if (verdict & SESSION) readCommitted.delete(this.client);
    if (this.setup || !this.canSplit || !(verdict & ALONE)) return this.inTransaction(args);
    const ReadAlone = readAloneClass(this.client.constructor.Query!);
    const setup = setupOf(this.client, this.statements.alone, this.prepare);
    const name = this.prepare ? nameFor(this.client, text!) : undefined;
    this.inflight++;
    let read: InstanceType<typeof ReadAlone> | undefined;
    return new Promise((resolve, reject) => {
      // Each read is counted off once: node-postgres can call a query back twice (a value it
      // could not write fails at once, and its Sync's answer calls back again).
      let answered = false;
      const answer = (error: unknown, result: unknown) => {
        if (answered) return;
        answered = true;
        if (!error) {
          if (this.prepare) confirm(this.client, name, setup);
          resolve(result);
          return this.finished();
        }
        // Run again in the scope's transaction: a read written through a view or a function
        // (refused as read only) belongs there, and a read PostgreSQL failed must abort the
        // transaction as it did when every statement ran in it (later statements fail, the
        // scope rolls back). A read refused as read only is not sent alone again. Errors of the
        // client's own (a value it cannot write, a timeout, a lost connection) abort nothing
        // and are the read's answer as they are.
        const fromServer = typeof (error as { severity?: unknown } | null)?.severity === "string";
        if (this.prepare) failed(this.client, text!, name, setup, read, error);
        if (fromServer && (error as { code?: unknown }).code === READ_ONLY_TRANSACTION) verdicts.set(text!, verdict & ~ALONE);
        if (!fromServer || this.ended) {
          reject(error);
          return this.finished();
        }
        const again = attempt(() => this.inTransaction(args));
        resolve(again);
        const done = () => this.finished();
        again.then(done, done);
      };
      try {
        // A statement node-postgres refuses before writing anything (bad values) fails through
        // the callback; nothing of the read is on the wire then.
        read = new ReadAlone(setup, args[0], args[1], answer, name);
        this.send([read]);
      } catch (err) {
        // Thrown while writing (the connection is destroyed then): no callback will come.
        if (!answered) {
          answered = true;
          reject(err);
          this.finished();
        }
      }
    });
  }
}

/** Installs the lane on `client` for one scope; `prepare`: reads alone that repeat are prepared (prepared.ts). */
export function openLane(client: LaneClient, statements: LaneStatements, prepare = true): Lane {
  return new Lane(client, statements, prepare);
}
