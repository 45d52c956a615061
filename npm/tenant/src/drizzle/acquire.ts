// Pool slots for node-postgres scopes: a bounded wait for a connection, and none at all for a
// request whose client is already gone.
import { RollbackSignal, TenantAcquireTimeoutError } from "../errors";
import type { ScopeOptions } from "../setup";

export type PooledClient = { release: (err?: Error) => void };
export type Pool<C extends PooledClient = PooledClient> = {
  connect: (callback: (err: Error | undefined, client: C | undefined) => void) => void;
  options?: { max?: number };
};

const GONE = () => new RollbackSignal("client closed the connection before the scope got a database connection");

/**
 * Scopes wait for a pool slot in a queue of ours, not in the pool's: a waiter whose request is
 * gone, or whose `acquireTimeoutMs` passed, leaves the queue without ever taking a connection
 * (the pool's own queue cannot be left). One gate per pool, as wide as the pool.
 */
export type Gate = { active: number; max: number; waiting: Array<() => void> };
const gates = new WeakMap<object, Gate>();

export function gateOf(pool: Pool): Gate {
  let gate = gates.get(pool);
  if (!gate) gates.set(pool, (gate = { active: 0, max: Math.max(1, Number(pool.options?.max) || 10), waiting: [] }));
  return gate;
}

export function leave(gate: Gate) {
  gate.active--;
  gate.waiting.shift()?.();
}

/** Waits for a slot (the gate is full); rejects on timeout. Resolves with the time left of the limit. */
function slot(gate: Gate, limit: number | undefined): Promise<number | undefined> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const enter = () => {
      clearTimeout(timer);
      gate.active++;
      resolve(limit ? Math.max(1, limit - (Date.now() - start)) : undefined);
    };
    const timer = limit
      ? setTimeout(() => {
          gate.waiting.splice(gate.waiting.indexOf(enter), 1);
          reject(new TenantAcquireTimeoutError(limit));
        }, limit)
      : undefined;
    gate.waiting.push(enter);
  });
}

/** A client from the pool within `acquireTimeoutMs`; none for a request that is already gone. */
export function acquire<C extends PooledClient>(pool: Pool<C>, gate: Gate, options: ScopeOptions | undefined): Promise<C> {
  if (options?.aborted?.()) return Promise.reject(GONE());
  const limit = options?.acquireTimeoutMs;
  if (gate.active < gate.max) {
    gate.active++;
    return connect(pool, gate, limit, limit);
  }
  return slot(gate, limit).then((left) => {
    if (options?.aborted?.()) {
      leave(gate);
      throw GONE();
    }
    return connect(pool, gate, left, limit);
  });
}

const nextTick: ((f: () => void) => void) | undefined = typeof process !== "undefined" && typeof process.nextTick === "function" ? process.nextTick : undefined;

/**
 * The pool's client for a slot already taken, within `wait` ms (the pool can still be short:
 * others use it too; `limit`, the configured wait, names it in the error); the slot is given
 * back on failure. An idle client is handed over on the pool's next tick (pg-pool serves its
 * queue in order, idle clients first), so the timer that bounds the wait is only set for a
 * request still unserved after that tick: most requests need none. A client that comes after
 * the limit goes straight back.
 */
function connect<C extends PooledClient>(pool: Pool<C>, gate: Gate, wait: number | undefined, limit: number | undefined): Promise<C> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (err: unknown) => {
      settled = true;
      clearTimeout(timer);
      leave(gate);
      reject(err);
    };
    // The callback form: the pool then makes no promise of its own.
    const served = (err: Error | undefined, client: C | undefined) => {
      if (settled) return void client?.release();
      if (err || !client) return fail(err ?? new Error("better-tenant: the pool returned no client"));
      settled = true;
      clearTimeout(timer);
      resolve(client);
    };
    const bound = () => {
      if (!settled) timer = setTimeout(() => fail(new TenantAcquireTimeoutError(limit ?? wait!)), wait);
    };
    try {
      pool.connect(served);
    } catch (err) {
      return fail(err);
    }
    if (wait && !settled) (nextTick ?? ((f: () => void) => f()))(bound);
  });
}
