// Audit mirroring (spec §5 `audit`, as webhooks §14): changes to the suppression list and
// erasures are written as @usebetterdev/audit entries in the transaction that makes them,
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
  /** The entry's chain; null: the global one. */
  tenantId: string | null;
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
