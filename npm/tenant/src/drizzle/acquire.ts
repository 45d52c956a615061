// Pool slots for node-postgres scopes: a bounded wait for a connection, and none at all for a
// request whose client is already gone.
import { RollbackSignal, TenantAcquireTimeoutError } from "../errors";
import type { ScopeOptions } from "../setup";

export type PooledClient = { release: (err?: Error) => void };
export type Pool<C extends PooledClient = PooledClient> = {
  connect: {
    (): Promise<C>;
    (callback: (err: Error | undefined, client: C | undefined) => void): void;
  };
  options?: { max?: number };
  idleCount?: number;
  waitingCount?: number;
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

/** Waits for a slot; rejects on timeout. Resolves with the time left of the limit. */
function slot(gate: Gate, limit: number | undefined): Promise<number | undefined> {
  const start = Date.now();
  const left = () => (limit ? Math.max(1, limit - (Date.now() - start)) : undefined);
  if (gate.active < gate.max) {
    gate.active++;
    return Promise.resolve(left());
  }
  return new Promise((resolve, reject) => {
    const enter = () => {
      clearTimeout(timer);
      gate.active++;
      resolve(left());
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

/**
 * A client from the pool within `acquireTimeoutMs`; none for a request that is already gone.
 * When the pool has more idle clients than waiters, its next turn hands one over without any
 * wait to bound (pg-pool serves its queue in order from idle clients first), so no timer is set.
 */
export function acquire<C extends PooledClient>(pool: Pool<C>, gate: Gate, options: ScopeOptions | undefined): Promise<C> {
  if (options?.aborted?.()) return Promise.reject(GONE());
  if (gate.active < gate.max && typeof pool.idleCount === "number" && pool.idleCount > (pool.waitingCount ?? Infinity)) {
    gate.active++;
    // The callback form: the pool then makes no promise of its own.
    return new Promise((resolve, reject) => {
      pool.connect((err, client) => {
        if (err || !client) {
          leave(gate);
          reject(err ?? new Error("better-tenant: the pool returned no client"));
        } else {
          resolve(client);
        }
      });
    });
  }
  return acquireBounded(pool, gate, options);
}

async function acquireBounded<C extends PooledClient>(pool: Pool<C>, gate: Gate, options: ScopeOptions | undefined): Promise<C> {
  const limit = options?.acquireTimeoutMs;
  const left = await slot(gate, limit);
  try {
    if (options?.aborted?.()) throw GONE();
    const pending = pool.connect();
    if (!left) return await pending;
    // The pool can still be short (others use it too): bound that wait as well.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let late = false;
    pending.then((c) => late && c.release(), () => undefined);
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            late = true;
            reject(new TenantAcquireTimeoutError(limit ?? left));
          }, left);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    leave(gate);
    throw err;
  }
}

