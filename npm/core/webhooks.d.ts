// Declarations of the webhooks entry points of the core (both backends). Values cross as JSON;
// clocks (`nowMs`) and random bytes come from the caller.

/** A statement of the webhooks store: SQL with `$1…$n` and the name and type of each. */
export interface WebhooksStatement {
  sql: string;
  params: Array<{ name: string; type: string }>;
}

export type WebhookOutcome =
  | "ok" | "gone" | "throttled" | "http_error" | "timeout" | "network_error"
  | "destination_blocked" | "lease_expired" | "worker_shutdown";
export type WebhookFailure =
  | "timeout" | "connect_timeout" | "dns" | "refused" | "reset" | "tls" | "network"
  | "blocked" | "lease_expired" | "worker_shutdown";
export type WebhookIdKind = "message" | "endpoint" | "delivery" | "attempt" | "lane" | "email";

/** The resolved configuration the engine reads. */
export interface WebhooksSettings {
  validatePayloads: boolean;
  signingDefault: "v1" | "v1a";
  headers: "standard" | "svix" | "both";
  envelope: "standard" | "raw";
  maxPayloadBytes: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  maxResponseBytes: number;
  storeResponseBytes: number;
  storeResponseBody: "always" | "failures" | "never";
  allowHttp: boolean;
  proxy: string | null;
  insecureSkipTlsVerify: boolean;
  requireTransaction: boolean;
  idempotencyWindowSecs: number;
  maxEndpointsPerTenant: number;
  allowPlaintextSecrets: boolean;
  hasSecretsKey: boolean;
  retentionDays: number;
  tenancy: "rls" | "none";
  operatorEndpoint: string | null;
  disableAfterMs: number;
  minFailedAttempts: number;
}

/**
 * One message for `sendBegin` (payload already serialised into `data`). In the text handed
 * over, a JSON payload may instead be embedded as the value it is, as `json`.
 */
export interface WebhookSendItem {
  eventType: string;
  data: string;
  idempotencyKey?: string;
  orderingKey?: string;
  endpoints?: string[];
  occurredAtMs?: number;
  contentType?: string;
  deliverAfterMs?: number;
}

/** The next statement of a send (`run`, parameters after the tenant), or the results. */
export interface WebhookSendStep {
  run?: {
    statement: string;
    params: unknown[];
    /**
     * The caller's payload texts (as handed to `sendBegin`) go into `params[param]`: the one
     * payload, or those at `items` (all, in order, when absent) joined by `separator`.
     */
    payloads?: { param: number; separator?: string; items?: number[] };
  };
  /** Opaque: hand it back to `sendNext` as it is. */
  state?: string;
  results?: Array<{ id: string; status: "queued" | "duplicate"; createdAtMs: number | null }>;
  /**
   * With `run`, when it inserts every message of the call: their ids in insert order. Its rows
   * (one per id, in that order, with `created_ms`) are then the results, all `queued`, and
   * `sendNext` may be skipped (it answers the same).
   */
  queued?: string[];
  /** With `run`: the conversation's last statement (a first step without it runs in a transaction). */
  last?: boolean;
}

export interface WebhookAddressVerdict {
  allowed: boolean;
  rule: "default" | "allowNetworks" | "denyNetworks" | "unparsable";
  range?: string;
  reason?: string;
}

export type WebhookNextStep =
  | { kind: "succeeded" }
  | { kind: "exhausted" }
  | { kind: "retry"; atMs: number; delayMs: number };

/** A claimed delivery, as much as signing needs. */
export interface WebhookRequestRow {
  endpointId: string;
  messageId: string;
  body: string;
  keys: unknown[];
  headers: Record<string, string> | null;
  contentType: string | null;
}

export interface WebhookPreparedRequests {
  requests: Array<
    | { id: string; timestamp: number; headers: Array<[string, string]> }
    | { error: { code: string; message: string } }
  >;
  staleEndpoints: string[];
}

/** What one request observed. */
export interface WebhookRecordInput {
  deliveryId: string;
  leaseToken: string;
  tenantId: string | null;
  messageId: string;
  endpointId: string;
  attempt: number;
  trigger: string;
  laneId: string | null;
  startedAtMs: number;
  durationMs: number;
  status?: number | null;
  failure?: WebhookFailure | null;
  retryAfter?: string | null;
  responseBody?: string | null;
  operatorError?: string | null;
  requestTimestamp: number;
  workerId: string;
}

export interface WebhookOperationalEvent {
  tenantId: string | null;
  type: string;
  data: Record<string, unknown>;
}

export interface WebhookRecordPlan {
  /** Run first when not null: locks the batch's lanes in fan-out's order. */
  lockLanes: unknown[] | null;
  recordDeliveries: unknown[];
  insertAttempts: unknown[];
  updateEndpointHealth: unknown[] | null;
  events: WebhookOperationalEvent[];
}

/** The parts of a WHATWG `URL` the endpoint checks read. */
export interface WebhookUrlParts {
  href: string;
  protocol: string;
  username: string;
  password: string;
  hostname: string;
  port: string;
}

export interface WebhookEndpointFields {
  url?: WebhookUrlParts;
  description?: string;
  eventTypes?: string[];
  ordering?: "none" | "key";
  signing?: "v1" | "v1a";
  secret?: string;
  headers?: Record<string, string>;
  rateLimitPerSecond?: number;
  metadata?: Record<string, string>;
  enabled?: boolean;
}

/** `endpoints.update`: `null` clears an optional field; `url`, `ordering` and `enabled` cannot be cleared. */
export type WebhookEndpointPatch = {
  [K in keyof Omit<WebhookEndpointFields, "signing" | "secret">]?: WebhookEndpointFields[K] | null;
};

export type WebhookListKind = "endpoints" | "messages" | "deliveries" | "attempts";
export interface WebhookListQuery {
  cursor?: string;
  limit?: number;
  status?: string;
  eventType?: string;
  sinceMs?: number;
  untilMs?: number;
  messageId?: string;
  endpointId?: string;
  deliveryId?: string;
  outcome?: string;
}

/** A compiled `betterWebhooks` configuration. */
export declare class Webhooks {
  constructor(config: Record<string, unknown>, requireEventTypes: boolean);
  settings(): WebhooksSettings;
  statements(): Record<string, WebhooksStatement> & { schemaVersionExpected: number };
  migrationSql(nowMs: number, ahead: number): string;
  checkAddresses(addresses: string[]): WebhookAddressVerdict[];
  nextAttempt(attempts: number, outcome: WebhookOutcome, retryAfterSecs: number | null | undefined, nowMs: number, u: number): WebhookNextStep;
  /**
   * `inputs`: the JSON text of a `WebhookSendItem[]`. Answers the JSON text of a
   * `WebhookSendStep` (a batch crosses the binding as one string each way).
   */
  sendBegin(inputs: string, many: boolean, nowMs: number, random: Uint8Array): string;
  /** `rows`: the JSON text of the step's rows; answers the JSON text of the next `WebhookSendStep`. */
  sendNext(state: string, rows: string): string;
  prepareRequests(rows: WebhookRequestRow[], nowMs: number): WebhookPreparedRequests;
  recordBatch(results: WebhookRecordInput[], nowMs: number, u: number[]): WebhookRecordPlan;
  /** Fan-out: `{ lockProgress }` parameters first when messages are keyed, then `{ insert }`. */
  expandStep(messages: Record<string, unknown>[], progress: Record<string, unknown>[] | null): { lockProgress?: unknown[]; insert?: unknown[] | null };
  /** A list's statement and parameters (after the tenant), and the page size it asks for. */
  listParams(kind: WebhookListKind, query: WebhookListQuery | null | undefined): { statement: string; params: unknown[]; limit: number };
  /** The page from the rows of `listParams`' statement. */
  listPage(kind: WebhookListKind, rows: Record<string, unknown>[], limit: number): { data: Record<string, unknown>[]; nextCursor: string | null };
  /** One row as the API returns it (camelCase keys, prefixed ids); `lanes` for `blockedLanes` rows. */
  rowObject(kind: WebhookListKind | "lanes", row: Record<string, unknown>): Record<string, unknown>;
  /** Parameters of `stats` after the tenant. */
  statsParams(window: "1h" | "24h" | "7d" | null | undefined): unknown[];
  endpointEvents(rows: Record<string, unknown>[]): WebhookOperationalEvent[];
  eventParams(events: WebhookOperationalEvent[]): unknown[];
  /** `random`: 66 bytes (id, nonce, generated secret). */
  prepareEndpoint(input: WebhookEndpointFields, nowMs: number, random: Uint8Array): {
    row: Record<string, unknown>;
    endpointId: string;
    secret: string;
    publicKey?: string | null;
  };
  /** The parameters of `updateEndpoint` after the tenant and id: the columns to set, then their values. */
  checkPatch(patch: WebhookEndpointPatch): unknown[];
  rotateSecret(endpointId: string, keys: unknown[], options: { graceHours?: number; secret?: string }, nowMs: number, random: Uint8Array): {
    keys: unknown[];
    secret: string;
    publicKey: string | null;
  };
  revealSecret(endpointId: string, keys: unknown[], nowMs: number): { secret: string; publicKey: string | null };
  /** `random`: 24 bytes per key. */
  resealKeys(endpointId: string, keys: unknown[], random: Uint8Array): unknown[];
}

/** `signWebhook`: the `webhook-signature` value (`v1,…` or `v1a,…`). */
export declare function webhookSign(input: { id: string; timestamp: number; body: string; secret: string }): string;
/** Verifies a delivery; throws `WEBHOOK_*`. `now` in Unix seconds. */
export declare function webhookVerify(
  headers: Array<[string, string]>,
  body: Uint8Array,
  options: { secret?: string; publicKey?: string; keys?: string[]; toleranceSec?: number; now: number },
): { id: string; timestamp: number };
export declare function webhookGenerateSecret(scheme: "v1" | "v1a", random: Uint8Array): { secret: string; publicKey?: string };
/** The default SSRF classification: null when allowed. */
export declare function webhookClassifyAddress(address: string): { range: string; reason: string } | null;
export declare function webhookClassifyOutcome(status: number | null | undefined, failure: WebhookFailure | null | undefined): WebhookOutcome;
export declare function webhookRetryAfter(value: string | null | undefined, nowMs: number): number | null;
export declare function webhookId(kind: WebhookIdKind, id: string, toPrefixed: boolean): string;
