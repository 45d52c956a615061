// `db.execute(sql…)` bypasses the query builder, so the proxy cannot capture it. The Rust SQL
// analyser says what such a statement could write, fail-closed: the tables it names, and
// whether it could also write tables it does not name (a call to a function not known to be
// read-only, DO, CALL, EXECUTE, SQL it cannot parse). A statement that could write an audited
// table is refused (nothing runs) unless the caller passed `onError`, which then hears of
// each statement shape once and the statement runs unrecorded. Nothing is lost without
// someone being told. Trigger capture records raw SQL itself and is the airtight mode.
import core from "@usebetter-rs/core";
import type { InlinePlanner } from "../inline";
import type { AuditOperation } from "../types";

type OnError = "log" | ((error: unknown) => void) | undefined;
type Effects = { writes: { table: string; operation: string }[]; opaque?: string };

// Row changes; any other operation is DDL that takes the table out of reach (rename, view,
// dropped trigger), which trigger capture does not survive either.
const AS_OPERATION: Record<string, AuditOperation> = { INSERT: "INSERT", UPDATE: "UPDATE", DELETE: "DELETE", TRUNCATE: "DELETE", MERGE: "UPDATE" };
const FIX = "use the query builder, or enable trigger capture (better-audit migrate --triggers), which records raw SQL";

export class UnauditedWriteError extends Error {
  readonly code = "AUDIT_UNCAPTURED_WRITE";
  constructor(message: string) {
    super(message);
    this.name = "UnauditedWriteError";
  }
}

function tell(onError: OnError, error: Error): void {
  if (onError === "log" || onError === undefined) console.error(error.message);
  else onError(error);
}

function analyse(text: string): Effects {
  // The edge build has no analyser: nothing can be proved read-only there.
  if (!core.sqlEffects) return { writes: [], opaque: "this build of @usebetter-rs/core has no SQL analyser" };
  return core.sqlEffects(text);
}

/** What of `effects` reaches audited tables the proxy would have to capture; "" if nothing. */
function exposure(effects: Effects, planner: InlinePlanner, captured: ReadonlySet<string>): string {
  const audited = (table: string, operation: AuditOperation) => planner(table, operation).kind !== "skip";
  if (effects.opaque !== undefined) {
    const open = (planner.tables ?? []).filter((t) => !captured.has(t));
    return open.length ? `could write audited tables (${open.join(", ")}) out of the analyser's sight (${effects.opaque}), which withAuditProxy cannot capture` : "";
  }
  const hits = effects.writes.filter((w) => {
    const op = AS_OPERATION[w.operation];
    // Tables under trigger capture record row changes themselves.
    return op ? !captured.has(w.table) && audited(w.table, op) : audited(w.table, "UPDATE");
  });
  return hits.length ? `${hits.map((w) => `${w.operation} on "${w.table}"`).join(", ")} (audited) is not captured by withAuditProxy` : "";
}

/** A checker for one proxy: throws for refused statements, reports the rest once. */
export function rawWriteGuard(planner: InlinePlanner | undefined, onError: OnError) {
  const told = new Set<string>();
  // Statement texts already seen to write no audited table (parsing costs tens of µs).
  const clean = new Set<string>();
  return (text: string, captured: ReadonlySet<string>): void => {
    if (!planner || told.has(text) || clean.has(text)) return;
    const what = exposure(analyse(text), planner, captured);
    if (!what) {
      if (clean.size >= 1000) clean.clear();
      clean.add(text);
      return;
    }
    const error = new UnauditedWriteError(
      `audit: db.execute() ${what}; ${FIX}. Statement: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`,
    );
    if (onError === undefined) throw error;
    told.add(text);
    tell(onError, error);
  };
}
