// The query API and the manual actions (spec §9.4, §11). The core turns a query into a
// statement's parameters and rows into a page; actions are one statement each, whose counts
// tell "not found" and "wrong state" apart from success.
import type { WebhookListKind, WebhookListQuery } from "@usebetter-rs/core";
import { core as binding, type Row } from "./core";
import { inTransaction, type CallOptions, type Shared } from "./context";
import { run } from "./db";
import { guard, WebhooksEndpointError } from "./errors";
import { actionEntry } from "./audit";

export interface ListQuery {
  cursor?: string;
  limit?: number;
  status?: string;
  eventType?: string;
  since?: Date;
  until?: Date;
  messageId?: string;
  endpointId?: string;
  deliveryId?: string;
  outcome?: string;
}
export interface Page<T = Record<string, unknown>> {
  data: T[];
  nextCursor: string | null;
}

function coreQuery(q: ListQuery): WebhookListQuery {
  const { since, until, ...rest } = q;
  return { ...rest, ...(since ? { sinceMs: since.getTime() } : {}), ...(until ? { untilMs: until.getTime() } : {}) };
}

const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const uuid = (kind: "message" | "endpoint" | "delivery" | "lane", id: string) => guard(WebhooksEndpointError, () => binding.webhookId(kind, id, false));

export function queriesApi<Tx = unknown>(s: Shared) {
  const tx = <T>(opts: CallOptions | undefined, fn: Parameters<typeof inTransaction<T>>[3]) => inTransaction(s, opts, WebhooksEndpointError, fn, "manage");
  const fail = (code: "WEBHOOKS_NOT_FOUND" | "WEBHOOKS_ENDPOINT_DISABLED" | "WEBHOOKS_INVALID_STATE", message: string): never => {
    throw new WebhooksEndpointError(code, message);
  };
  async function list(kind: WebhookListKind, q: ListQuery = {}, opts?: CallOptions<Tx>): Promise<Page> {
    const plan = guard(WebhooksEndpointError, () => s.core.listParams(kind, coreQuery(q)));
    const rows = await tx(opts, (ex, t) => run(ex, s.statements, plan.statement, [t, ...plan.params]));
    return s.core.listPage(kind, rows, plan.limit);
  }
  const count = (rows: Row[], key: string) => Number(rows[0]?.[key] ?? 0);
  /**
   * Runs action `statement` with `params` and the tenant (its last parameter); when `done(rows)`
   * and `audit` is configured, its entry in the same transaction.
   */
  const act = (opts: CallOptions<Tx> | undefined, statement: string, params: unknown[], done: (rows: Row[]) => boolean, entry: (rows: Row[], t: string | null) => Parameters<typeof actionEntry>) =>
    tx(opts, async (ex, t) => {
      const rows = await run(ex, s.statements, statement, [...params, t]);
      if (s.audit && done(rows)) await s.audit.write(ex, [actionEntry(...entry(rows, t))]);
      return rows;
    });
  return {
    list,
    messages: {
      async get(id: string, opts?: CallOptions<Tx>) {
        const [row] = await tx(opts, (ex, t) => run(ex, s.statements, "getMessage", [t, uuid("message", id)]));
        return row ? s.core.rowObject("messages", row) : fail("WEBHOOKS_NOT_FOUND", `no message ${id} in this tenant`);
      },
      list: (q?: ListQuery, opts?: CallOptions<Tx>) => list("messages", q, opts),
    },
    deliveries: {
      list: (q?: ListQuery, opts?: CallOptions<Tx>) => list("deliveries", q, opts),
      async cancel(id: string, opts?: CallOptions<Tx>) {
        const rows = await tx(opts, (ex, t) => run(ex, s.statements, "cancelDelivery", [uuid("delivery", id), t]));
        if (count(rows, "cancelled") === 0) fail("WEBHOOKS_INVALID_STATE", `delivery ${id} is not pending (or not visible to this tenant)`);
      },
    },
    attempts: { list: (q?: ListQuery, opts?: CallOptions<Tx>) => list("attempts", q, opts) },
    async stats(q: { window?: "1h" | "24h" | "7d" } = {}, opts?: CallOptions<Tx>) {
      const params = guard(WebhooksEndpointError, () => s.core.statsParams(q.window));
      const [r = {}] = await tx(opts, (ex, t) => run(ex, s.statements, "stats", [t, ...params]));
      return {
        backlog: n(r.backlog) ?? 0,
        oldestPendingAgeMs: n(r.oldest_pending_age_ms) ?? 0,
        delivered: n(r.delivered) ?? 0,
        failed: n(r.failed) ?? 0,
        successRate: n(r.success_rate),
        p50Ms: n(r.p50_ms),
        p95Ms: n(r.p95_ms),
        endpointsFailing: n(r.endpoints_failing) ?? 0,
        lanesBlocked: n(r.lanes_blocked) ?? 0,
        workersAlive: n(r.workers_alive) ?? 0,
      };
    },
    /** One immediate attempt per (message, endpoint), no automatic retries after it. */
    async replay(input: { messageId: string; endpointId?: string }, opts?: CallOptions<Tx>) {
      const params = [uuid("message", input.messageId), input.endpointId ? uuid("endpoint", input.endpointId) : null];
      const rows = await act(opts, "replay", params, (r) => count(r, "replayed") > 0, (r, t) => [
        "webhook_messages", binding.webhookId("message", uuid("message", input.messageId), true), t, "webhook message replayed",
        { action: "replay", endpointId: input.endpointId ?? null, replayed: count(r, "replayed") },
      ]);
      if (count(rows, "message_found") === 0) fail("WEBHOOKS_NOT_FOUND", `no message ${input.messageId} in this tenant`);
      if (input.endpointId && count(rows, "endpoint_found") === 0) fail("WEBHOOKS_NOT_FOUND", `no endpoint ${input.endpointId} in this tenant`);
      if (count(rows, "endpoint_disabled") > 0) fail("WEBHOOKS_ENDPOINT_DISABLED", `endpoint ${input.endpointId} is disabled: enable it first (webhooks.endpoints.enable)`);
      s.wake();
      return { replayed: count(rows, "replayed") };
    },
    /** Exhausted deliveries of the window back to pending; with includeMissing, missing ones too. */
    async recover(input: { endpointId: string; since: Date; until?: Date; includeMissing?: boolean }, opts?: CallOptions<Tx>) {
      if (!(input.since instanceof Date) || Number.isNaN(input.since.getTime())) throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", "invalid `since`: expected a Date");
      // Older messages may already be purged (spec §9.4: the window is within retention).
      const oldest = Date.now() - s.settings.retentionDays * 86_400_000;
      if (input.since.getTime() < oldest) {
        throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", `invalid \`since\`: more than retention.days (${s.settings.retentionDays}) ago`);
      }
      if (input.until !== undefined && (!(input.until instanceof Date) || Number.isNaN(input.until.getTime()))) throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", "invalid `until`: expected a Date");
      const params = [uuid("endpoint", input.endpointId), input.since.toISOString(), input.until?.toISOString() ?? null, input.includeMissing ?? false];
      const rows = await act(opts, "recover", params, (r) => count(r, "endpoint_found") > 0, (r, t) => [
        "webhook_endpoints", binding.webhookId("endpoint", uuid("endpoint", input.endpointId), true), t, "webhook deliveries recovered",
        { action: "recover", since: params[1], until: params[2], includeMissing: params[3], recovered: count(r, "recovered") },
      ]);
      if (count(rows, "endpoint_disabled") > 0) fail("WEBHOOKS_ENDPOINT_DISABLED", `endpoint ${input.endpointId} is disabled: enable it first (webhooks.endpoints.enable)`);
      if (count(rows, "endpoint_found") === 0) fail("WEBHOOKS_NOT_FOUND", `no endpoint ${input.endpointId} in this tenant`);
      s.wake();
      return { recovered: count(rows, "recovered") };
    },
    lanes: {
      async list(q: { endpointId: string; limit?: number }, opts?: CallOptions<Tx>) {
        const rows = await tx(opts, (ex, t) => run(ex, s.statements, "blockedLanes", [uuid("endpoint", q.endpointId), q.limit ?? 100, t]));
        return rows.map((r) => s.core.rowObject("lanes", r));
      },
      async resolve(laneId: string, o: { action: "retry" | "skip" }, opts?: CallOptions<Tx>) {
        if (o?.action !== "retry" && o?.action !== "skip") throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", 'invalid `action`: expected "retry" or "skip"');
        const rows = await act(opts, o.action === "retry" ? "resolveLaneRetry" : "resolveLaneSkip", [uuid("lane", laneId)], (r) => r.length > 0, (_, t) => [
          "webhook_lanes", binding.webhookId("lane", uuid("lane", laneId), true), t, "webhook lane resolved", { action: "resolve", resolution: o.action },
        ]);
        if (rows.length === 0) fail("WEBHOOKS_INVALID_STATE", `lane ${laneId} is not blocked (or not visible to this tenant)`);
        s.wake();
      },
    },
  };
}
