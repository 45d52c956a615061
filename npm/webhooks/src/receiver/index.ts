// `@usebetterdev/webhooks/receiver`: verifying (and, for tests and senders, signing) Standard
// Webhooks deliveries. No database and no Node built-ins, so it runs in workerd and Vercel's
// edge runtime on the wasm build; the cryptography is the core's, clocks and randomness are ours.
import core from "@usebetter-rs/core";
import { guard, WebhookVerificationError, WebhooksError } from "../errors";

/** Header values as `Headers` or a plain record (Node's `IncomingHttpHeaders` included). */
export type HeadersInput = Headers | Record<string, string | string[] | undefined>;

/** What `verifyWebhook` reads: a Fetch `Request`, or the raw body and the headers. */
export type VerifyInput = Request | { body: string | Uint8Array; headers: HeadersInput };

export interface VerifyOptions {
  /** `whsec_…` (HMAC, scheme `v1`). */
  secret?: string;
  /** `whpk_…` (ed25519, scheme `v1a`). */
  publicKey?: string;
  /** Several keys (`whsec_…` / `whpk_…`), e.g. during a rotation: any one may verify. */
  keys?: string[];
  /** Allowed distance between `webhook-timestamp` and `now`, in seconds (default 300). */
  toleranceSec?: number;
  /** The receiver's clock (default: now). */
  now?: Date;
}

/** A verified delivery. */
export interface VerifiedWebhook {
  /** `webhook-id`: the same on every attempt of a message, the key for de-duplication. */
  id: string;
  /** `webhook-timestamp` of this attempt. */
  timestamp: Date;
  /** The body exactly as received, decoded as UTF-8. */
  body: string;
  /** The body parsed as JSON after it verified (`undefined` when it is not JSON). */
  json: unknown;
}

export interface SignInput {
  id: string;
  /** Unix seconds or a `Date`. */
  timestamp: number | Date;
  body: string;
  /** `whsec_…` (gives `v1,…`) or `whsk_…` (gives `v1a,…`). */
  secret: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function invalid(field: string, expected: string): WebhookVerificationError {
  return new WebhookVerificationError("WEBHOOKS_INVALID_ARGUMENT", `invalid \`${field}\`: expected ${expected}`);
}

function isRequest(input: unknown): input is Request {
  // Duck-typed: a Request of another realm (an edge runtime's sandbox, undici's own) counts too.
  const r = input as { arrayBuffer?: unknown; headers?: unknown; method?: unknown } | null;
  return typeof r === "object" && r !== null && typeof r.arrayBuffer === "function" && typeof r.method === "string";
}

/** The header list the core reads (names in any case; the first `webhook-*`, then `svix-*`, wins). */
export function headerPairs(headers: HeadersInput): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (typeof (headers as Headers).forEach === "function" && typeof (headers as Headers).get === "function") {
    (headers as Headers).forEach((value, name) => pairs.push([name, value]));
    return pairs;
  }
  if (typeof headers !== "object" || headers === null) throw invalid("headers", "Headers or a record of header values");
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === "string") pairs.push([name, value]);
    else if (Array.isArray(value)) pairs.push([name, value.join(", ")]);
  }
  return pairs;
}

/** The body's bytes, untouched: a Request's is read as an `ArrayBuffer`, never as text or JSON. */
async function bodyBytes(input: VerifyInput): Promise<Uint8Array> {
  if (isRequest(input)) return new Uint8Array(await input.arrayBuffer());
  const body = (input as { body?: unknown } | null)?.body;
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  // A view from another realm (a Node Buffer crossing a VM boundary) is still bytes.
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw invalid("input.body", "a string or a Uint8Array of the raw request body");
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** Verifies raw bytes and headers; the building block of `verifyWebhook` and the middleware. */
export function verifyBytes(body: Uint8Array, headers: HeadersInput, opts: VerifyOptions): VerifiedWebhook {
  if (typeof opts !== "object" || opts === null) throw invalid("opts", "an object with `secret`, `publicKey` or `keys`");
  const now = opts.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw invalid("opts.now", "a valid Date");
  const options: { secret?: string; publicKey?: string; keys?: string[]; toleranceSec?: number; now: number } = {
    now: Math.floor(now.getTime() / 1000),
  };
  if (opts.secret !== undefined) options.secret = opts.secret;
  if (opts.publicKey !== undefined) options.publicKey = opts.publicKey;
  if (opts.keys !== undefined) options.keys = opts.keys;
  if (opts.toleranceSec !== undefined) options.toleranceSec = opts.toleranceSec;
  const pairs = headerPairs(headers);
  const verified = guard(WebhookVerificationError, () => core.webhookVerify(pairs, body, options));
  const text = decoder.decode(body);
  return { id: verified.id, timestamp: new Date(verified.timestamp * 1000), body: text, json: parseJson(text) };
}

/**
 * Verifies a delivery (spec §12): `webhook-id`, `webhook-timestamp` within `toleranceSec`, and a
 * `webhook-signature` entry that verifies under one of the keys (falling back to `svix-*`).
 * The body is parsed only after it verified. Throws `WebhookVerificationError` with the code.
 */
export async function verifyWebhook(input: VerifyInput, opts: VerifyOptions): Promise<VerifiedWebhook> {
  if (typeof input !== "object" || input === null) throw invalid("input", "a Request or { body, headers }");
  const body = await bodyBytes(input);
  return verifyBytes(body, input.headers as HeadersInput, opts);
}

/** The `webhook-signature` value of a delivery: `v1,…` for `whsec_`, `v1a,…` for `whsk_`. */
export function signWebhook(input: SignInput): string {
  if (typeof input !== "object" || input === null) throw invalid("input", "{ id, timestamp, body, secret }");
  const timestamp = input.timestamp instanceof Date ? Math.floor(input.timestamp.getTime() / 1000) : input.timestamp;
  return guard(WebhookVerificationError, () =>
    core.webhookSign({ id: input.id, timestamp, body: input.body, secret: input.secret }),
  );
}

/**
 * A new signing secret: `v1` gives `{ secret: "whsec_…" }` (32 random bytes), `v1a` gives
 * `{ secret: "whsk_…", publicKey: "whpk_…" }` (an ed25519 key pair from a 32-byte seed).
 */
export function generateSecret(scheme: "v1" | "v1a" = "v1"): { secret: string; publicKey?: string } {
  const random = crypto.getRandomValues(new Uint8Array(32));
  const out = guard(WebhookVerificationError, () => core.webhookGenerateSecret(scheme, random));
  return out.publicKey === undefined || out.publicKey === null ? { secret: out.secret } : { secret: out.secret, publicKey: out.publicKey };
}

export { WebhookVerificationError, WebhooksError };
