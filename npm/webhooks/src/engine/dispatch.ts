// One HTTP request per claimed delivery. On Node through undici with a guarded `lookup`: the
// address actually dialled is checked by the core's network policy, so DNS rebinding between a
// check and the connect is impossible; IP-literal hosts skip `lookup` and are checked here
// first. On edge runtimes through `fetch` (URL checks only). Redirects are never followed.
import type { WebhookFailure } from "@usebetter-rs/core";
import type { CoreWebhooks } from "../core";

export interface Request {
  url: string;
  headers: Array<[string, string]>;
  body: string;
  /**
   * When the worker's lease on the delivery runs out (epoch ms, with a margin). The request is
   * not started after it and is aborted at it (outcome `lease_expired`): past the lease another
   * worker may send the delivery again, and an older copy arriving after a newer one, or after
   * the next message of an ordered lane, would break the receiver's order.
   */
  deadlineMs?: number;
}
export interface Observation {
  status?: number;
  failure?: WebhookFailure;
  retryAfter?: string;
  responseBody?: string;
  operatorError?: string;
  startedAtMs: number;
  durationMs: number;
}
export interface DispatchOptions {
  timeoutMs: number;
  connectTimeoutMs: number;
  maxResponseBytes: number;
  /** Replaces `dns.lookup` (tests stand in a resolver). */
  lookup?: (hostname: string, cb: (err: Error | null, addresses?: Array<{ address: string; family: number }>) => void) => void;
}
/** `stop` aborts the request when the worker shuts down (outcome `worker_shutdown`). */
export type Dispatch = ((r: Request, stop?: AbortSignal) => Promise<Observation>) & {
  /** Releases the dispatcher's connections (the Node dispatcher's undici Agent). */
  close?: () => Promise<void>;
};

interface Signals {
  signal: AbortSignal;
  timeout: AbortSignal;
  lease?: AbortSignal;
}

/** The request's signal: the timeout, the lease deadline (if any) and the worker's stop. */
function signals(timeoutMs: number, deadlineMs: number | undefined, stop?: AbortSignal): Signals {
  const timeout = AbortSignal.timeout(timeoutMs);
  const lease = deadlineMs === undefined ? undefined : AbortSignal.timeout(Math.max(1, deadlineMs - Date.now()));
  const all = [timeout, ...(lease ? [lease] : []), ...(stop ? [stop] : [])];
  return { signal: all.length === 1 ? timeout : AbortSignal.any(all), timeout, ...(lease ? { lease } : {}) };
}

function aborted(err: unknown, s: Signals, stop?: AbortSignal): WebhookFailure {
  if (stop?.aborted) return "worker_shutdown";
  if (s.timeout.aborted) return "timeout";
  return s.lease?.aborted ? "lease_expired" : failureOf(err);
}

/** A request whose lease has already run out is not sent. */
const lapsed = (r: Request): boolean => r.deadlineMs !== undefined && Date.now() >= r.deadlineMs;

const BLOCKED = "WEBHOOKS_DESTINATION_BLOCKED";

function literalIp(hostname: string): string | undefined {
  const h = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  return /^[\d.]+$/.test(h) || h.includes(":") ? h : undefined;
}

function failureOf(err: unknown): WebhookFailure {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  const code = e.code ?? e.cause?.code ?? "";
  if (code === BLOCKED) return "blocked";
  if (code === "UND_ERR_CONNECT_TIMEOUT") return "connect_timeout";
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || e.name === "TimeoutError" || e.name === "AbortError") return "timeout";
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE") return "reset";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns";
  if (/^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|UNABLE_TO|SELF_SIGNED)/.test(code)) return "tls";
  return "network";
}

async function readCapped(chunks: AsyncIterable<Uint8Array>, max: number, stop: () => void): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const c of chunks) {
    const take = Math.min(c.byteLength, max - size);
    if (take > 0) parts.push(c.subarray(0, take));
    size += take;
    if (size >= max) {
      stop();
      break;
    }
  }
  const all = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return new TextDecoder().decode(all);
}

/**
 * Whether undici is there to dispatch with: on Node, not under the edge conditions (where the
 * `#undici` import is an empty module), whatever a runtime's `process` shim says.
 */
export function nodeHttp(): boolean {
  return typeof (require("#undici") as { Agent?: unknown }).Agent === "function";
}

/** The Node dispatcher (undici `Agent` with the guarded lookup). */
export function nodeDispatcher(core: CoreWebhooks, o: DispatchOptions): Dispatch {
  // Loaded lazily, and through the package's `#undici` import, which is undici on Node and an
  // empty module under the edge conditions: edge bundles never contain it.
  const undici = require("#undici") as typeof import("undici");
  const dns = require("node:dns") as typeof import("node:dns");
  const resolve = o.lookup ?? ((h, cb) => dns.lookup(h, { all: true }, (err, a) => cb(err, a)));
  const lookup = (hostname: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    resolve(hostname, (err, addresses) => {
      if (err || !addresses) return cb(err ?? new Error("no address"));
      const verdicts = core.checkAddresses(addresses.map((a) => a.address));
      const allowed = addresses.filter((_, i) => verdicts[i]?.allowed);
      if (allowed.length === 0) return cb(Object.assign(new Error("destination blocked by the network policy"), { code: BLOCKED }));
      if (options.all) return cb(null, allowed);
      const first = allowed[0]!;
      return cb(null, first.address, first.family);
    });
  };
  const agent = new undici.Agent({ connect: { lookup: lookup as never, timeout: o.connectTimeoutMs }, keepAliveTimeout: 10_000 });
  const dispatch: Dispatch = async (r, stop) => {
    const startedAtMs = Date.now();
    const done = (x: Omit<Observation, "startedAtMs" | "durationMs">): Observation => ({ ...x, startedAtMs, durationMs: Date.now() - startedAtMs });
    const url = new URL(r.url);
    const ip = literalIp(url.hostname);
    if (ip !== undefined && !core.checkAddresses([ip])[0]?.allowed) return done({ failure: "blocked", operatorError: `${ip} is denied by the network policy` });
    if (lapsed(r)) return done({ failure: "lease_expired", operatorError: "not sent: the lease ran out before the request started" });
    const sig = signals(o.timeoutMs, r.deadlineMs, stop);
    const { signal } = sig;
    try {
      const res = await undici.request(r.url, { method: "POST", headers: r.headers.flat(), body: r.body, dispatcher: agent, signal });
      const retryAfter = res.headers["retry-after"];
      const body = await readCapped(res.body, o.maxResponseBytes, () => res.body.destroy());
      return done({ status: res.statusCode, responseBody: body, ...(typeof retryAfter === "string" ? { retryAfter } : {}) });
    } catch (err) {
      return done({ failure: aborted(err, sig, stop), operatorError: String((err as Error)?.message ?? err) });
    }
  };
  dispatch.close = () => agent.close();
  return dispatch;
}

/** The edge dispatcher (`fetch`, redirect "manual"; the runtime resolves names itself). */
export function fetchDispatcher(core: CoreWebhooks, o: DispatchOptions): Dispatch {
  return async (r, stop) => {
    const startedAtMs = Date.now();
    const done = (x: Omit<Observation, "startedAtMs" | "durationMs">): Observation => ({ ...x, startedAtMs, durationMs: Date.now() - startedAtMs });
    const ip = literalIp(new URL(r.url).hostname);
    if (ip !== undefined && !core.checkAddresses([ip])[0]?.allowed) return done({ failure: "blocked", operatorError: `${ip} is denied by the network policy` });
    if (lapsed(r)) return done({ failure: "lease_expired", operatorError: "not sent: the lease ran out before the request started" });
    const sig = signals(o.timeoutMs, r.deadlineMs, stop);
    const { signal } = sig;
    try {
      const res = await fetch(r.url, { method: "POST", headers: r.headers, body: r.body, redirect: "manual", signal });
      const retryAfter = res.headers.get("retry-after");
      const body = res.body ? await readCapped(res.body as unknown as AsyncIterable<Uint8Array>, o.maxResponseBytes, () => void res.body?.cancel()) : "";
      return done({ status: res.status, responseBody: body, ...(retryAfter ? { retryAfter } : {}) });
    } catch (err) {
      return done({ failure: aborted(err, sig, stop), operatorError: String((err as Error)?.message ?? err) });
    }
  };
}
