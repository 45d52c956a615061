// Audit mirroring (spec §14): management actions and delivery outcomes written as
// @usebetterdev/audit entries in the transaction that makes the change, through the audit
// instance's hook for another library's transaction (found by its global symbol, so this package
// does not depend on the audit package). The audit package authors the statements, seals the
// entries into their tenant's chain and takes the actor from its context.
import type { WebhookRecordInput } from "@usebetter-rs/core";
import { AUDIT_CAPTURE_IN as CAPTURE_IN } from "@usebetter-rs/core/shared";
import { core as binding, type Row } from "./core";
import type { Executor } from "./db";
import { WebhooksConfigError } from "./errors";
import type { AuditInstance } from "./types";


export interface AuditInput {
  tableName: string;
  operation: "INSERT" | "UPDATE" | "DELETE";
  recordId: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  actorId?: string;
  description?: string;
  /** The entry's chain; absent: the tenant scope's. */
  tenantId?: string | null;
}
type CaptureIn = (run: (text: string, params: unknown[]) => Promise<Row[]>, inputs: AuditInput[]) => Promise<void>;

export type DeliveriesMode = "none" | "final" | "all";

export interface Mirror {
  deliveries: DeliveriesMode;
  /** Writes `inputs` on `ex` (the caller's transaction). */
  write(ex: Executor, inputs: AuditInput[]): Promise<void>;
}

const MODES = ["none", "final", "all"];
const fail = (message: string): never => {
  throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", message);
};
const captureOf = (v: unknown): CaptureIn | undefined => {
  const fn = (v as { [CAPTURE_IN]?: unknown } | null | undefined)?.[CAPTURE_IN];
  return typeof fn === "function" ? (fn as CaptureIn) : undefined;
};

/** The `audit` option: a betterAudit() instance, or `{ instance, deliveries }`. */
export function auditMirror(option: unknown): Mirror | undefined {
  if (option === undefined) return undefined;
  // An instance without the hook (another audit package, or a version before it) is refused too.
  const expected = "expected a betterAudit() instance of @usebetterdev/audit (one that can write in another library's transaction), or `{ instance, deliveries }`";
  if (typeof option !== "object" || option === null) return fail(`invalid \`audit\`: ${expected}`);
  const o = option as { instance?: unknown; deliveries?: unknown };
  const wrapped = "instance" in o || "deliveries" in o;
  const capture = captureOf(wrapped ? o.instance : option) ?? fail(`invalid \`${wrapped ? "audit.instance" : "audit"}\`: ${expected}`);
  let deliveries: DeliveriesMode = "none";
  if (wrapped) {
    for (const key of Object.keys(o)) if (key !== "instance" && key !== "deliveries") fail(`unknown key \`audit.${key}\``);
    if (o.deliveries !== undefined) {
      if (!MODES.includes(o.deliveries as string)) fail(`invalid \`audit.deliveries\`: expected "none", "final" or "all", got ${JSON.stringify(o.deliveries)}`);
      deliveries = o.deliveries as DeliveriesMode;
    }
  }
  return {
    deliveries,
    write: (ex, inputs) => (inputs.length ? capture((text, params) => ex.query(text, params), inputs) : Promise.resolve()),
  };
}

/** An endpoint row as audited: its public fields; custom headers by name only (they may hold credentials). */
export function endpointImage(r: Row): Record<string, unknown> {
  return {
    id: binding.webhookId("endpoint", String(r.id), true),
    url: r.url,
    description: r.description ?? null,
    eventTypes: r.event_types ?? null,
    ordering: r.ordering,
    status: r.status,
    disabledReason: r.disabled_reason ?? null,
    signing: r.signing,
    headers: r.headers ? Object.keys(r.headers as object).sort() : null,
    rateLimitPerSecond: r.rate_limit_per_second ?? null,
    metadata: r.metadata ?? null,
  };
}

/** An entry about endpoint row `r` (tenant from the row). */
export function endpointEntry(operation: AuditInput["operation"], r: Row, description: string): AuditInput {
  const image = endpointImage(r);
  return {
    tableName: "webhook_endpoints",
    operation,
    recordId: String(image.id),
    ...(operation === "DELETE" ? { before: image } : { after: image }),
    description,
    tenantId: (r.tenant_id as string | null) ?? null,
  };
}

/** An entry about an action on a record: what was asked and what it did. */
export function actionEntry(tableName: string, recordId: string, tenant: string | null, description: string, after: Record<string, unknown>): AuditInput {
  return { tableName, operation: "UPDATE", recordId, after, description, ...(tenant !== null ? { tenantId: tenant } : {}) };
}

const host = (url: unknown): string | null => {
  try {
    return typeof url === "string" ? new URL(url).host : null;
  } catch {
    return null;
  }
};

/**
 * The delivery entries of one record batch: `changed`, the rows `recordDeliveries` updated (a
 * result missing there came after its lease was lost); with `final`, only deliveries that
 * ended (succeeded or exhausted); with `all`, every attempt.
 */
export function deliveryEntries(mode: DeliveriesMode, results: WebhookRecordInput[], changed: Row[], urls: Map<string, string>): AuditInput[] {
  if (mode === "none") return [];
  const status = new Map(changed.map((r) => [String(r.id), String(r.status)]));
  const out: AuditInput[] = [];
  for (const x of results) {
    const now = status.get(x.deliveryId);
    const final = now === "succeeded" || now === "exhausted";
    if (mode === "final" && !final) continue;
    out.push({
      tableName: "webhook_deliveries",
      operation: "UPDATE",
      recordId: binding.webhookId("delivery", x.deliveryId, true),
      after: {
        messageId: binding.webhookId("message", x.messageId, true),
        endpointId: binding.webhookId("endpoint", x.endpointId, true),
        urlHost: host(urls.get(x.deliveryId)),
        // Without a row, the attempt came after its lease was lost and changed nothing.
        status: now ?? "stale",
        attemptCount: x.attempt,
        lastAttemptAt: new Date(x.startedAtMs).toISOString(),
        httpStatus: x.status ?? null,
        failure: x.failure ?? null,
      },
      actorId: "system:better-webhooks",
      description: final ? `delivery ${now}` : "delivery attempt",
      tenantId: x.tenantId,
    });
  }
  return out;
}
