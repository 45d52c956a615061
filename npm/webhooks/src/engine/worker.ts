// The delivery engine: expand, reap, claim, sign, dispatch, record — each database step a short
// system-context transaction of its own, none open while a request is in flight. The core
// decides; this loop moves rows between PostgreSQL, the core and the network.
import type { WebhookOperationalEvent, WebhookRecordInput } from "@usebetter-rs/core";
import { draws, type Row } from "../core";
import { run, systemTransaction, type Executor } from "../db";
import { deliveryEntries } from "../audit";
import type { Shared } from "../context";
import type { Dispatch, Observation } from "./dispatch";

export type { Observation };

export interface WorkerOptions {
  concurrency?: number;
  batchSize?: number;
  pollIntervalMs?: number;
  /**
   * How long a claim holds a delivery (default `timeoutMs + 15000`). A request is never sent
   * after its lease ends and is aborted just before (outcome `lease_expired`), so a shorter
   * lease also bounds the request time.
   */
  leaseMs?: number;
  perEndpointBatch?: number;
  workerId?: string;
  /** How often expired leases are reaped (default 5 s). */
  reapIntervalMs?: number;
  onEvent?: (e: WebhookOperationalEvent) => void | Promise<void>;
}

/** A claimed delivery row (`claimUnordered` / `claimLanes`). */
export type Claimed = Row;

export interface Engine {
  readonly workerId: string;
  readonly batch: number;
  /**
   * Fan-out of due messages (when `fresh` says a send happened in this process, when the last
   * fan-out was a full batch, or once per poll interval) and reaping of expired leases (every
   * 5 s), so a busy loop does not pay a fan-out transaction per claim.
   */
  prepare(fresh: boolean): Promise<void>;
  /** Claims up to `n` deliveries. */
  claim(n: number): Promise<Claimed[]>;
  /** Signs the rows and sends each one; `signal` aborts the requests (shutdown). */
  send(rows: Claimed[], signal?: AbortSignal): Array<Promise<Observation>>;
  /** Records what the requests observed, one transaction. */
  record(done: Array<[Claimed, Observation]>): Promise<void>;
  /** Returns claimed rows never sent to `pending`, their attempt uncounted. */
  release(rows: Claimed[]): Promise<void>;
  /** One pass: prepare, claim, send, record; the number of deliveries made. */
  tick(): Promise<number>;
  heartbeat(inFlight: number): Promise<void>;
  stop(): Promise<void>;
}

const n = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const urlsOf = (rows: Row[]) => new Map(rows.map((r) => [String(r.id), String(r.url)]));

export function createEngine(s: Shared, dispatch: Dispatch, o: WorkerOptions): Engine {
  const workerId = o.workerId ?? `worker:${Math.random().toString(36).slice(2, 10)}`;
  const batch = o.batchSize ?? 100;
  const limit = Math.min(batch, o.concurrency ?? 64);
  const leaseMs = o.leaseMs ?? s.settings.timeoutMs + 15_000;
  const perEndpoint = o.perEndpointBatch ?? 10;
  // Requests end this long before the lease does (clock skew between worker and database, bytes
  // still in the socket), so another worker reaping the lease never races an older copy.
  const leaseMargin = Math.min(1_000, leaseMs / 10);
  const leaseDeadline = new WeakMap<Row, number>();
  const settings = s.statements.workerTransactionSettings?.sql ?? "";
  const q = (ex: Executor, name: string, params: unknown[]) => run(ex, s.statements, name, params);
  const system = <T>(fn: (ex: Executor) => Promise<T>) => systemTransaction(s.db, settings, fn);
  let lastReap = 0;
  let nextExpand = 0;
  let expandedFull = false;

  async function expand(): Promise<void> {
    nextExpand = Date.now() + (o.pollIntervalMs ?? 250);
    expandedFull = await system(async (ex) => {
      const messages = await q(ex, "expandLockMessages", [batch]);
      if (messages.length === 0) return false;
      let step = s.core.expandStep(messages, null);
      if (step.lockProgress) step = s.core.expandStep(messages, await q(ex, "expandLockProgress", step.lockProgress));
      if (step.insert) await q(ex, "expandInsert", step.insert);
      return messages.length === batch;
    });
  }

  /** `urls`: each claimed delivery's endpoint URL, for audit entries (reaped rows have none). */
  async function record(results: WebhookRecordInput[], urls: Map<string, string> = new Map()): Promise<void> {
    if (results.length === 0) return;
    const plan = s.core.recordBatch(results, Date.now(), draws(results.length));
    const mirror = s.audit?.deliveries === "none" ? undefined : s.audit;
    const events = await system(async (ex) => {
      if (plan.lockLanes) await q(ex, "lockLanes", plan.lockLanes);
      const changed = await q(ex, "recordDeliveries", plan.recordDeliveries);
      await q(ex, "insertAttempts", plan.insertAttempts);
      const events = [...plan.events];
      if (plan.updateEndpointHealth) events.push(...s.core.endpointEvents(await q(ex, "updateEndpointHealth", plan.updateEndpointHealth)));
      if (events.length) await q(ex, "insertOperationalEvents", s.core.eventParams(events));
      // Last: the audit chain's lock is then taken after the row locks, in the order endpoint
      // management takes them (row, then chain), so the two cannot deadlock.
      if (mirror) await mirror.write(ex, deliveryEntries(mirror.deliveries, results, changed, await withUrls(ex, results, changed, urls)));
      return events;
    });
    for (const e of events) await o.onEvent?.(e);
  }

  // A reaped delivery's URL is not in its row: read the endpoint when its outcome is audited.
  async function withUrls(ex: Executor, results: WebhookRecordInput[], changed: Row[], urls: Map<string, string>): Promise<Map<string, string>> {
    const ended = new Set(changed.filter((r) => s.audit?.deliveries === "all" || r.status !== "pending").map((r) => String(r.id)));
    for (const x of results) {
      if (urls.has(x.deliveryId) || !ended.has(x.deliveryId)) continue;
      const [e] = await q(ex, "getEndpoint", [x.tenantId, x.endpointId]);
      if (e) urls.set(x.deliveryId, String(e.url));
    }
    return urls;
  }

  function input(r: Row, seen: Observation): WebhookRecordInput {
    const out: WebhookRecordInput = {
      deliveryId: String(r.id),
      leaseToken: String(r.lease_token),
      tenantId: (r.tenant_id as string | null) ?? null,
      messageId: String(r.message_id),
      endpointId: String(r.endpoint_id),
      attempt: n(r.attempt_count),
      trigger: String(r.trigger),
      laneId: (r.lane_id as string | null) ?? null,
      startedAtMs: seen.startedAtMs,
      durationMs: seen.durationMs,
      requestTimestamp: Math.floor(seen.startedAtMs / 1000),
      workerId,
    };
    for (const k of ["status", "failure", "retryAfter", "responseBody", "operatorError"] as const) {
      if (seen[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = seen[k];
    }
    return out;
  }

  async function reap(): Promise<void> {
    if (Date.now() - lastReap < (o.reapIntervalMs ?? 5_000)) return;
    lastReap = Date.now();
    const rows = await system((ex) => q(ex, "reapExpired", [batch, workerId, leaseMs]));
    await record(rows.map((r) => input(r, { failure: "lease_expired", startedAtMs: Date.now(), durationMs: 0 })));
    await system((ex) => q(ex, "reapLanes", []));
  }

  async function claim(limit: number): Promise<Row[]> {
    if (limit <= 0) return [];
    // The lease runs from the database's clock at the claim, no earlier than this; a request
    // must be over before it ends (see `Request.deadlineMs`).
    const deadline = Date.now() + leaseMs - leaseMargin;
    const rows = await system(async (ex) => {
      const rows = await q(ex, "claimLanes", [limit, workerId, leaseMs]);
      const half = Math.max(1, Math.ceil((limit - rows.length) / 2));
      if (rows.length < limit) rows.push(...(await q(ex, "claimUnordered", [true, limit - rows.length, perEndpoint, workerId, leaseMs])));
      if (rows.length < limit) rows.push(...(await q(ex, "claimUnordered", [false, Math.max(half, limit - rows.length), perEndpoint, workerId, leaseMs])));
      return rows;
    });
    for (const r of rows) leaseDeadline.set(r, deadline);
    return rows;
  }

  function send(rows: Row[], signal?: AbortSignal): Array<Promise<Observation>> {
    if (rows.length === 0) return [];
    const prepared = s.core.prepareRequests(
      rows.map((r) => ({
        endpointId: String(r.endpoint_id),
        messageId: String(r.message_id),
        body: String(r.body),
        keys: r.keys as unknown[],
        headers: (r.headers as Record<string, string> | null) ?? null,
        contentType: (r.content_type as string | null) ?? null,
      })),
      Date.now(),
    );
    return rows.map(async (r, i): Promise<Observation> => {
      const p = prepared.requests[i]!;
      // Keys that do not open: nothing is sent; the attempt fails and is retried on schedule.
      if ("error" in p) return { failure: "network", operatorError: `${p.error.code}: ${p.error.message}`, startedAtMs: Date.now(), durationMs: 0 };
      const deadlineMs = leaseDeadline.get(r);
      return dispatch({ url: String(r.url), headers: p.headers, body: String(r.body), ...(deadlineMs === undefined ? {} : { deadlineMs }) }, signal);
    });
  }

  return {
    workerId,
    batch,
    async prepare(fresh) {
      if (fresh || expandedFull || Date.now() >= nextExpand) await expand();
      await reap();
    },
    claim,
    send,
    record: (done) => record(done.map(([r, seen]) => input(r, seen)), urlsOf(done.map(([r]) => r))),
    async release(rows) {
      if (rows.length === 0) return;
      await system((ex) => q(ex, "releaseUnstarted", [rows.map((r) => r.id), rows.map((r) => r.lease_token)]));
    },
    async tick() {
      await expand();
      await reap();
      const rows = await claim(limit);
      if (rows.length === 0) return 0;
      const seen = await Promise.all(send(rows));
      await record(rows.map((r, i) => input(r, seen[i]!)), urlsOf(rows));
      return rows.length;
    },
    async heartbeat(inFlight) {
      await system((ex) => q(ex, "heartbeat", [workerId, inFlight, "0.1.0", 30]));
    },
    async stop() {
      await system((ex) => q(ex, "workerStop", [workerId]));
    },
  };
}
