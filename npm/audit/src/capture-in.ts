// Entries written in another library's open transaction, so they commit or roll back with the
// change they record: the library hands over how to run one statement there. A product that
// records its own actions (e.g. @usebetterdev/webhooks' endpoint management and deliveries)
// uses this rather than captureLog, whose adapters write on the ORM's transaction.
import { AUDIT_CAPTURE_IN } from "@usebetter-rs/core/shared";
import { coded } from "./errors";
import type { BetterAuditInstance } from "./audit";
import type { CaptureLogInput } from "./types";

/** Set (not enumerable) on every betterAudit() instance; found through the global registry. */
export const CAPTURE_IN: typeof AUDIT_CAPTURE_IN = AUDIT_CAPTURE_IN;

/** Runs one statement (`$n` parameters) on the caller's transaction; its rows. */
export type StatementRunner = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** An entry to write: as captureLog's input, plus the chain it joins. */
export type CaptureInInput = Omit<CaptureLogInput, "asyncWrite"> & {
  /** The entry's tenant (and hash chain); null: the global one; absent: the tenant scope's. */
  tenantId?: string | null;
};

export type CaptureIn = (run: StatementRunner, inputs: CaptureInInput[]) => Promise<void>;

/**
 * Writes `inputs` with `run`, a statement runner inside the caller's transaction: with the audit
 * context's actor, label, reason and metadata, through enrichment and the log hooks, and sealed
 * into their chains when the adapter seals. Unlike captureLog, tables outside `auditTables` are
 * written too (the caller asked for them) and never asynchronously.
 */
export function captureLogsIn(audit: BetterAuditInstance, run: StatementRunner, inputs: CaptureInInput[]): Promise<void> {
  const fn = (audit as unknown as { [CAPTURE_IN]?: CaptureIn } | null)?.[CAPTURE_IN];
  if (typeof fn !== "function") {
    return Promise.reject(coded(new TypeError("captureLogsIn: expected a betterAudit() instance"), "INVALID_ARGUMENT"));
  }
  return fn(run, inputs);
}
