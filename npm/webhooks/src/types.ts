// The static types of `betterWebhooks(config)`: the event map inferred from `eventTypes`, the
// send inputs and endpoint patterns it allows, and the configuration keys the core accepts
// (listed, without an index signature, so a misspelt key fails to compile as it fails at run
// time). Types only: the core still checks every value when the instance is created.
import type { WebhookOperationalEvent } from "@usebetter-rs/core";
import type { WebhooksDatabase } from "./db";

/** A type-only payload marker: `{} as Schema<{ id: string }>`. */
export type Schema<T> = { readonly __payload?: T };

/** The part of a Standard Schema (zod, valibot, arktype…) the package reads. */
export type StandardSchema<T = unknown> = {
  readonly "~standard": { validate(value: unknown): unknown; readonly types?: { readonly output: T } | undefined };
};

export type EventTypeMap = Readonly<Record<string, Schema<unknown> | StandardSchema>>;

/** The payload type of one `eventTypes` entry: a Standard Schema's output, or a marker's `T`. */
export type PayloadOf<V> = V extends { readonly "~standard": { readonly types?: infer S } }
  ? NonNullable<S> extends { readonly output: infer O }
    ? O
    : unknown
  : V extends Schema<infer T>
    ? T
    : unknown;

/** Event type → payload, from `defineEventTypes({...})` or a list of names (payloads `unknown`). */
export type EventMap<M> = M extends readonly string[]
  ? { [K in M[number]]: unknown }
  : { [K in keyof M & string]: PayloadOf<M[K]> };

/** The dotted prefixes of an event type: "a.b.c" → "a" | "a.b". */
type Prefixes<N extends string> = N extends `${infer Head}.${infer Rest}` ? Head | `${Head}.${Prefixes<Rest>}` : never;

/** An endpoint filter: a known event type, or `prefix.*` on a known prefix. */
export type EventTypePattern<N extends string> = N | `${Prefixes<N>}.*`;

/** One message for `send` / `sendMany`. */
export type SendInput<E = Record<string, unknown>, K extends keyof E = keyof E> = {
  eventType: K;
  /** A JSON value; with `envelope: "raw"`, a string body or an object. */
  payload: E[K];
  idempotencyKey?: string;
  orderingKey?: string;
  endpoints?: string[];
  occurredAt?: Date;
  contentType?: string;
  deliverAfter?: Date;
};

/** Any one message of the map: the union of each event type's input. */
export type AnySendInput<E> = { [K in keyof E & string]: SendInput<E, K> }[keyof E & string];

/** Where a call runs: the application's transaction (or `"autocommit"`), and the tenant. */
export interface CallOptions<Tx = unknown> {
  tx?: Tx | "autocommit";
  /** Accepted in system context only (operator calls, the worker). */
  tenantId?: string;
}

type Duration = string;

/** Everything `betterWebhooks(config)` accepts besides `database`, `eventTypes` and `onEvent`. */
export interface WebhooksOptions {
  validatePayloads?: boolean;
  /** 32 bytes, base64 (e.g. `process.env.BETTER_WEBHOOKS_KEY`); seals endpoint secrets at rest. */
  secretsKey?: string | { current: string; previous?: string | undefined } | undefined;
  signing?: { default?: "v1" | "v1a" };
  headers?: "standard" | "svix" | "both";
  envelope?: "standard" | "raw";
  maxPayloadBytes?: number;
  delivery?: {
    timeoutMs?: number;
    connectTimeoutMs?: number;
    retrySchedule?: "standard" | number[] | { initial: number; factor: number; max: number; attempts: number };
    jitter?: number;
    maxResponseBytes?: number;
    storeResponseBytes?: number;
    storeResponseBody?: "always" | "failures" | "never";
  };
  disable?: { after?: Duration; minFailedAttempts?: number };
  network?: {
    allowHttp?: boolean;
    /** CIDRs exempt from the SSRF deny list (tests: `["127.0.0.1/32"]`). */
    allowNetworks?: string[];
    denyNetworks?: string[];
    /** HTTP CONNECT egress proxy URL. */
    proxy?: string;
    insecureSkipTlsVerify?: boolean;
  };
  requireTransaction?: boolean;
  idempotencyWindow?: Duration;
  maxEndpointsPerTenant?: number;
  allowPlaintextSecrets?: boolean;
  retention?: { days?: number; partition?: "day" | "week" | "month" };
  tenancy?: "rls" | "none";
  operatorEndpoint?: { url: string; secret: string };
  /** The schema of the webhook tables (default `public`). */
  schema?: string;
  /** The schema of the tenant package's functions, in hardened mode. */
  tenantSchema?: string;
  /** The tenant package's hardened mode (signed context): the policies call its functions. */
  hardened?: boolean;
}

/** A `betterAudit()` instance of `@usebetterdev/audit` (structural: this package does not depend on it). */
export interface AuditInstance {
  captureLog(input: never): Promise<void>;
}

export interface BetterWebhooksConfig<M extends EventTypeMap | readonly string[] = EventTypeMap | readonly string[], Tx = unknown>
  extends WebhooksOptions {
  database: WebhooksDatabase<Tx>;
  eventTypes: M;
  onEvent?: (e: WebhookOperationalEvent) => void | Promise<void>;
  /**
   * Audit mirroring (same database): management actions always; delivery outcomes with
   * `deliveries: "final"` (each delivery's end) or `"all"` (every attempt). Default `"none"`.
   */
  audit?: AuditInstance | { instance: AuditInstance; deliveries?: "none" | "final" | "all" };
}
