// `betterWebhooks(config)`: compiles the configuration once (every key checked by the core),
// and wires sending, endpoint management and the delivery engine to the database adapter.
import { auditMirror } from "./audit";
import { core as binding } from "./core";
import type { Shared } from "./context";
import type { WebhooksDatabase } from "./db";
import { endpointsApi } from "./endpoints";
import { queriesApi } from "./queries";
import { createEngine, type WorkerOptions } from "./engine/worker";
import { runWorker, type LoopOptions } from "./engine/loop";
import { fetchDispatcher, nodeDispatcher, nodeHttp, type DispatchOptions } from "./engine/dispatch";
import { guard, WebhooksConfigError } from "./errors";
import { sendMany, type SendResult, type Validators } from "./send";
import type { AnySendInput, BetterWebhooksConfig, CallOptions, EventMap, EventTypeMap, EventTypePattern, SendInput, StandardSchema } from "./types";

/** The event types and (optionally) their payload schemas: `Schema<T>` markers or Standard Schemas. */
export function defineEventTypes<const M extends EventTypeMap>(map: M): M {
  return map;
}

/**
 * `E` (event type → payload) is inferred from `eventTypes`, `Tx` from the adapter: `send` takes
 * only known event types with their payloads, endpoint filters only known names and prefixes,
 * and `opts.tx` the application's own transaction type.
 */
export function betterWebhooks<const M extends EventTypeMap | readonly string[], Tx = unknown>(config: BetterWebhooksConfig<M, Tx>) {
  if (typeof config !== "object" || config === null) throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", "betterWebhooks(config): expected an object");
  // `audit` is an instance, not configuration: checked here, never sent to the core.
  const { database, eventTypes, onEvent, audit, ...rest } = config;
  if (!database || typeof (database as Partial<WebhooksDatabase>).transaction !== "function") {
    throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", "invalid `database`: expected an adapter (drizzleWebhooksAdapter(db) or sqlExecutorAdapter(pool))");
  }
  if (onEvent !== undefined && typeof onEvent !== "function") throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", "invalid `onEvent`: expected a function");
  type E = EventMap<M>;
  const names = Array.isArray(eventTypes) ? [...eventTypes] : eventTypes && typeof eventTypes === "object" ? Object.keys(eventTypes) : eventTypes;
  const validators = new Map() as Map<string, StandardSchema>;
  if (!Array.isArray(eventTypes) && eventTypes && typeof eventTypes === "object") {
    for (const [k, v] of Object.entries(eventTypes)) if (v && typeof v === "object" && "~standard" in v) validators.set(k, v as StandardSchema);
  }
  const core = guard(WebhooksConfigError, () => new binding.Webhooks({ ...rest, eventTypes: names }, true));
  const mirror = auditMirror(audit);
  const wakers = new Set<() => void>();
  const s: Shared = {
    core,
    db: database as WebhooksDatabase,
    settings: core.settings(),
    statements: core.statements(),
    audit: mirror,
    // In-process workers wake shortly after a send (no database cost).
    wake: () => wakers.forEach((w) => setTimeout(w, 5)),
  };
  const dispatchOptions = (lookup?: DispatchOptions["lookup"]): DispatchOptions => ({
    timeoutMs: s.settings.timeoutMs,
    connectTimeoutMs: s.settings.connectTimeoutMs,
    maxResponseBytes: s.settings.maxResponseBytes,
    ...(lookup ? { lookup } : {}),
  });
  const dispatcher = (lookup?: DispatchOptions["lookup"]) => (nodeHttp() ? nodeDispatcher(core, dispatchOptions(lookup)) : fetchDispatcher(core, dispatchOptions()));
  /** An engine and the `close` of its dispatcher (whose connections outlive each request). */
  const engineFor = (o: WorkerOptions & { lookup?: DispatchOptions["lookup"] }) => {
    if (s.db.engine) throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", s.db.engine);
    const dispatch = dispatcher(o.lookup);
    const engine = createEngine(s, dispatch, { ...o, ...(onEvent ? { onEvent } : {}) });
    return { engine, close: async () => dispatch.close?.() };
  };

  const q = queriesApi<Tx>(s);
  return {
    messages: q.messages,
    deliveries: q.deliveries,
    attempts: q.attempts,
    lanes: q.lanes,
    stats: q.stats,
    replay: q.replay,
    recover: q.recover,
    send: async <K extends keyof E & string>(input: SendInput<E, K>, opts?: CallOptions<Tx>): Promise<SendResult> =>
      (await sendMany(s, validators as Validators, [input as SendInput], false, opts))[0]!,
    sendMany: (inputs: AnySendInput<E>[], opts?: CallOptions<Tx>): Promise<SendResult[]> =>
      sendMany(s, validators as Validators, inputs as SendInput[], true, opts),
    // `webhook.test` (the type of test messages) is always known to the core.
    endpoints: endpointsApi<EventTypePattern<(keyof E & string) | "webhook.test">, Tx>(s),
    /** The DDL for `better-webhooks migrate` (also handy in tests). */
    migrationSql: (ahead = 4): string => core.migrationSql(Date.now(), ahead),
    /** Delivers until no work is due, or a limit is reached (edge runtimes, cron). */
    async drain(o: { maxMs?: number; maxDeliveries?: number; lookup?: DispatchOptions["lookup"] } & WorkerOptions = {}) {
      const { engine, close } = engineFor(o);
      const until = Date.now() + (o.maxMs ?? 25_000);
      let delivered = 0;
      try {
        while (Date.now() < until && delivered < (o.maxDeliveries ?? 500)) {
          const n = await engine.tick();
          delivered += n;
          if (n === 0) break;
        }
      } finally {
        await close();
      }
      return { delivered };
    },
    createWorker(o: WorkerOptions & LoopOptions & { lookup?: DispatchOptions["lookup"] } = {}) {
      const { engine, close } = engineFor(o);
      const worker = runWorker(engine, o);
      return {
        async start() {
          wakers.add(worker.wake);
          await worker.start();
        },
        async stop() {
          wakers.delete(worker.wake);
          await worker.stop();
          await close();
        },
      };
    },
  };
}

export type BetterWebhooks<M extends EventTypeMap | readonly string[] = EventTypeMap | readonly string[], Tx = unknown> = ReturnType<
  typeof betterWebhooks<M, Tx>
>;
