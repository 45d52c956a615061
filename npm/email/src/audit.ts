// Audit mirroring (spec §5 `audit`, as webhooks §14): changes to the suppression list, erasures
// and each message's final outcome (in the worker's record transaction, actor
// `system:better-email`) are written as @usebetterdev/audit entries in the transaction that makes them,
// through the audit instance's hook for another library's transaction, so they commit or roll
// back with the change and join the tenant's hash chain. Entries name an address by its SHA-256
// key hash only: an audit trail is kept, and erase() must not leave the address behind in it.
import { AUDIT_CAPTURE_IN } from "@usebetter-rs/core/shared";
import type { Executor } from "./db";
import { EmailConfigError } from "./errors";

export interface AuditEntry {
  tableName: string;
  operation: "INSERT" | "UPDATE" | "DELETE";
  recordId: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  description?: string;
  /** Who did it, when not the audit context's actor (the worker). */
  actorId?: string;
  /** The entry's chain; null: the global one. */
  tenantId: string | null;
}

/** What the worker knows of a recorded message when it ends. */
export interface Outcome {
  /** `eml_…` */
  id: string;
  status: string;
  tenantId: string | null;
  category: string | null;
  transport: string | null;
  outcome: string;
  providerMessageId: string | null;
  providerStatus: number | null;
  attempt: number;
  at: number;
}

/** The statuses a message does not leave on its own. */
const FINAL = new Set(["sent", "failed", "expired", "suppressed"]);

/** Whether a message recorded with `status` is at its final outcome (and so audited). */
export const isFinal = (status: string): boolean => FINAL.has(status);

/** Entries for the messages of a record batch that reached a final status (the caller keeps
 *  only those, `isFinal`): tamper-evident proof of what was handed to which provider, and when. */
export function outcomeEntries(outcomes: Outcome[]): AuditEntry[] {
  return outcomes.map((o) => ({
    tableName: "email_messages",
    operation: "UPDATE" as const,
    recordId: o.id,
    after: {
      status: o.status,
      category: o.category,
      transport: o.transport,
      outcome: o.outcome,
      providerMessageId: o.providerMessageId,
      providerStatus: o.providerStatus,
      attemptCount: o.attempt,
      lastAttemptAt: new Date(o.at).toISOString(),
    },
    actorId: "system:better-email",
    description: `message ${o.status}`,
    tenantId: o.tenantId,
  }));
}
type CaptureIn = (run: (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>, entries: AuditEntry[]) => Promise<void>;

/** Writes entries on the change's transaction. */
export type AuditWriter = (ex: Executor, entries: AuditEntry[]) => Promise<void>;

/** The `audit` option: a betterAudit() instance (one that can write in another library's transaction). */
export function emailAudit(option: unknown): AuditWriter | undefined {
  if (option === undefined) return undefined;
  const capture = (option as { [AUDIT_CAPTURE_IN]?: unknown } | null)?.[AUDIT_CAPTURE_IN];
  if (typeof capture !== "function") {
    throw new EmailConfigError("EMAIL_INVALID_CONFIG", "invalid `audit`: expected a betterAudit() instance of @usebetterdev/audit (one that can write in another library's transaction)");
  }
  const write = capture as CaptureIn;
  return (ex, entries) => (entries.length ? write((text, params) => ex.query(text, params), entries) : Promise.resolve());
}

type Entry = Record<string, unknown>;

/** A suppression as audited: the address by its hash. */
function image(s: Entry): Record<string, unknown> {
  const { address: _address, createdAt: _created, ...rest } = s;
  return rest;
}

/** The entries of one suppression-list call, from its result. */
export function suppressionEntries(op: string, result: unknown, tenant: string | null): AuditEntry[] {
  const r = result as Entry;
  const entry = (operation: AuditEntry["operation"], s: Entry, description: string): AuditEntry => ({
    tableName: "email_suppressions",
    operation,
    recordId: String(s.id),
    ...(operation === "DELETE" ? { before: image(s) } : { after: image(s) }),
    description,
    tenantId: (s.tenantId as string | null) ?? null,
  });
  switch (op) {
    case "add":
      return r.suppression ? [entry("INSERT", r.suppression as Entry, "suppression added")] : [];
    case "remove":
      return (r.suppressions as Entry[]).map((s) => entry("DELETE", s, "suppression removed"));
    case "import":
      return [{ tableName: "email_suppressions", operation: "INSERT", recordId: "import", after: r, description: `imported ${String(r.added)} of ${String(r.total)} suppressions`, tenantId: tenant }];
    case "erase": {
      const { addressHash, ...counts } = r;
      return [{ tableName: "email_addresses", operation: "DELETE", recordId: String(addressHash), before: { addressHash }, after: counts, description: "address erased", tenantId: null }];
    }
    default:
      return [];
  }
}
