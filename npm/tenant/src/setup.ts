// Opening a scope's context on its transaction. The statements come from the core; adapters only
// say how to run a statement on their transaction.
import { codedError } from "./errors";
import core from "@usebetter-rs/core";

/** How a scope opens: adapters receive it from betterTenant() and pass it to `applyScope`. */
export interface ScopeOptions {
  /** Hardened mode: the key that signs the scope's settings. */
  readonly key?: string | undefined;
  /** Transaction-local `statement_timeout` / `lock_timeout` (ms); unset: the server's. */
  readonly statementTimeoutMs?: number | undefined;
  readonly lockTimeoutMs?: number | undefined;
  /** node-postgres pools: longest wait for a connection (ms). */
  readonly acquireTimeoutMs?: number | undefined;
  /** The request is gone: a scope that has no connection yet does not take one. */
  readonly aborted?: (() => boolean) | undefined;
}

export type Rows = ReadonlyArray<Record<string, unknown>>;
/** Runs one parameterised statement on the scope's transaction and returns its rows. */
export type RunStatement = (sql: string, params: readonly string[]) => Promise<Rows>;

type Statement = ReturnType<typeof core.scopeSql>;

/**
 * Plain scopes' statements by tenant and options: the same text serves every request of a
 * tenant, and asking the core for it again cost more per request than the rest of the scope's
 * JavaScript. Hardened statements sign one transaction each and are never kept.
 */
const plain = new Map<string, Statement>();

/** A kept statement, frozen so no caller can change what later scopes send. */
const frozen = (made: Statement): Statement => Object.freeze({ ...made, params: Object.freeze([...made.params]) }) as Statement;

/**
 * The statement that sets the scope's context (`binding`: hardened mode; `inline`: plain, values
 * in the text; `readOnly`: plain, for one statement in a read-only transaction of its own).
 */
export function scopeStatement(tenantId: string | null, options: ScopeOptions | undefined, binding: string | null, inline: boolean, readOnly = false): Statement {
  const key = options?.key ?? null;
  const statementMs = options?.statementTimeoutMs ?? null;
  const lockMs = options?.lockTimeoutMs ?? null;
  // Only tenant scopes are kept: the system scope's statement sets the bypass, and no key a
  // tenant id can spell may ever lead to it.
  if (key !== null || binding !== null || typeof tenantId !== "string") return core.scopeSql(tenantId, key, binding, inline, statementMs, lockMs, readOnly);
  const id = JSON.stringify([inline, readOnly, statementMs, lockMs, tenantId]);
  let statement = plain.get(id);
  if (!statement) {
    statement = frozen(core.scopeSql(tenantId, null, null, inline, statementMs, lockMs, readOnly));
    if (plain.size >= 4096) plain.clear();
    plain.set(id, statement);
  }
  return statement;
}

/**
 * A plain scope's two set-ups on a node-postgres lane: `begin` opens its transaction (values
 * inline, one simple-protocol message with BEGIN); `alone` goes ahead of a read alone, its
 * values as parameters of one text that every scope with the same limits shares, so a
 * connection can prepare it once (drizzle/prepared.ts).
 */
export interface LaneStatements {
  readonly begin: string;
  readonly alone: Statement;
}

/** Lane set-ups of tenant scopes without limits (the common case), by tenant id: one lookup per scope. */
const lanes = new Map<string, LaneStatements>();

export function laneStatements(tenantId: string | null, options: ScopeOptions | undefined): LaneStatements {
  if (typeof tenantId !== "string" || options?.statementTimeoutMs != null || options?.lockTimeoutMs != null) {
    return { begin: scopeStatement(tenantId, options, null, true).sql, alone: scopeStatement(tenantId, options, null, false, true) };
  }
  let pair = lanes.get(tenantId);
  if (!pair) {
    // Straight from the core: kept here only, not a second time in `plain`.
    pair = Object.freeze({
      begin: core.scopeSql(tenantId, null, null, true, null, null, false).sql,
      alone: frozen(core.scopeSql(tenantId, null, null, false, null, null, true)),
    });
    if (lanes.size >= 4096) lanes.clear();
    lanes.set(tenantId, pair);
  }
  return pair;
}

/**
 * Sets every context setting of a tenant scope (`tenantId`) or the system scope (`null`).
 * Hardened mode first asks the transaction for its binding, so the signatures are good for this
 * transaction only.
 */
export async function applyScope(run: RunStatement, tenantId: string | null, options: ScopeOptions | undefined): Promise<void> {
  const binding = options?.key ? bindingOf(await run(core.scopeBindingSql(false), [])) : null;
  const statement = scopeStatement(tenantId, options, binding, false);
  await run(statement.sql, statement.params);
}

/** The `binding` column of the binding query's one row. */
export function bindingOf(rows: Rows): string {
  const value = rows[0]?.binding;
  if (typeof value !== "string" || value === "") throw codedError("INTERNAL", "better-tenant: the database returned no transaction binding");
  return value;
}
