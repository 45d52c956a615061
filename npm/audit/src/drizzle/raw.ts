// `db.execute(sql…)` bypasses the query builder, so the proxy cannot capture it. The Rust SQL
// analyser names the tables such a statement writes; a write to an audited table is refused
// (nothing runs) unless the caller passed `onError`, which then hears of each statement shape
// once and the statement runs unrecorded. Nothing is lost without someone being told.
import core from "@usebetter-rs/core";
import type { InlinePlanner } from "../inline";
import type { AuditOperation } from "../types";

type OnError = "log" | ((error: unknown) => void) | undefined;

const AS_OPERATION: Record<string, AuditOperation> = { INSERT: "INSERT", UPDATE: "UPDATE", DELETE: "DELETE", TRUNCATE: "DELETE", MERGE: "UPDATE" };

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

/** A checker for one proxy: throws for refused statements, reports the rest once. */
export function rawWriteGuard(planner: InlinePlanner | undefined, onError: OnError) {
  const told = new Set<string>();
  // Statement texts already seen to write no audited table (parsing costs tens of µs).
  const clean = new Set<string>();
  return (text: string, captured: ReadonlySet<string>): void => {
    if (!planner || told.has(text) || clean.has(text)) return;
    let writes: { table: string; operation: string }[];
    try {
      writes = core.sqlWrites(text);
    } catch (err) {
      told.add(text);
      // Not parsable (or no analyser in this build): it may be a read; say so, let it run.
      tell(onError, new UnauditedWriteError(`audit: db.execute() statement could not be analysed, so writes it makes are not recorded: ${(err as Error).message}`));
      return;
    }
    // Tables under trigger capture record these writes themselves.
    const audited = writes.filter((w) => !captured.has(w.table) && planner(w.table, AS_OPERATION[w.operation] ?? "UPDATE").kind !== "skip");
    if (!audited.length) {
      if (clean.size >= 1000) clean.clear();
      clean.add(text);
      return;
    }
    const what = audited.map((w) => `${w.operation} on "${w.table}"`).join(", ");
    const error = new UnauditedWriteError(
      `audit: db.execute() ${what} (audited) is not captured by withAuditProxy; use the query builder, or enable trigger capture. Statement: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`,
    );
    if (onError === undefined) throw error;
    told.add(text);
    tell(onError, error);
  };
}
