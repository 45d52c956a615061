// The HTTP transports' one call: `fetch` the request the core wrote, and hand the answer back to
// the core to judge. A connection that failed before the request left is `retryable`; a timeout
// or a connection lost afterwards is `ambiguous` (the provider may have the message).
import core from "@usebetter-rs/core/email-binding";
import type { EmailHttpRequest, EmailOutgoing, EmailVerdict } from "@usebetter-rs/core/email-binding";
import type { HandOffResult, PreparedMessage } from "./types";

/** The providers whose requests the core writes and whose answers it judges. */
export type HttpKind = "resend" | "postmark" | "ses" | "sendgrid" | "mailgun";

/** Codes of failures before the request was sent: nothing reached the provider. */
const BEFORE_SEND = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH"]);

function result(v: EmailVerdict, status: number): HandOffResult {
  const out: HandOffResult = { outcome: v.outcome, status };
  if (v.providerMessageId) out.providerMessageId = v.providerMessageId;
  if (v.retryAfterMs !== null) out.retryAfterMs = v.retryAfterMs;
  if (v.detail) out.detail = v.detail;
  if (v.recipients.length > 0) out.recipients = v.recipients;
  return out;
}

/**
 * A signal that aborts when `signal` does or after `timeoutMs` (a `TimeoutError`); `done()`
 * clears the timer and the listener. One AbortController and a timer: AbortSignal.any with
 * AbortSignal.timeout cost more per request than the rest of a hand-off on Node 20. One per
 * hand-off call, not per request: a batch sent in parallel adds one listener to the worker's
 * signal, not one per message (Node warns past ten).
 */
function limited(signal: AbortSignal, timeoutMs: number): { signal: AbortSignal; done: () => void } {
  const limit = new AbortController();
  const timer = setTimeout(() => limit.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), timeoutMs);
  const stop = () => limit.abort(signal.reason);
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  return {
    signal: limit.signal,
    done: () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
    },
  };
}

/** `fn` with a signal limited to `timeoutMs` (see `limited`). */
async function within<T>(signal: AbortSignal, timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const l = limited(signal, timeoutMs);
  try {
    return await fn(l.signal);
  } finally {
    l.done();
  }
}

/** Performs `request` for `count` messages (a batch request when `count` is given): one result each. */
async function perform(kind: HttpKind, request: EmailHttpRequest, signal: AbortSignal, count?: number): Promise<HandOffResult[]> {
  // The hand-off's time ran out before the request could leave (slow credentials): nothing was sent.
  if (signal.aborted) return Array.from({ length: count ?? 1 }, () => ({ outcome: "retryable", detail: `${kind}: the hand-off was stopped before the request was sent` }));
  let response: Response;
  try {
    response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, signal, redirect: "manual" });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code ?? "";
    const before = BEFORE_SEND.has(code);
    const r: HandOffResult = { outcome: before ? "retryable" : "ambiguous", detail: `${kind}: ${code || (err as Error).name}: ${(err as Error).message}` };
    return Array.from({ length: count ?? 1 }, () => ({ ...r }));
  }
  const body = await response.text().catch(() => "");
  const headers = [...response.headers];
  // Only Resend is batched here (`sendBatch`).
  if (count === undefined || kind !== "resend") return [result(core.emailClassifyResponse(kind, response.status, headers, body, Date.now()), response.status)];
  return core.emailClassifyResponse(kind, response.status, headers, body, Date.now(), count).map((v) => result(v, response.status));
}

export async function fetchHandOff(kind: HttpKind, request: EmailHttpRequest, signal: AbortSignal, timeoutMs: number): Promise<HandOffResult> {
  return (await within(signal, timeoutMs, (s) => perform(kind, request, s)))[0]!;
}

/**
 * Hands `batch` to the provider in one request (`request` writes it). Its key is marked first
 * (`mark`); if no answer says what became of some messages, the identical request — same
 * bytes, same key, which the provider answers without sending twice — is made once more.
 */
export async function sendBatch(
  kind: "resend",
  batch: PreparedMessage[],
  signal: AbortSignal,
  timeoutMs: number,
  request: (outgoing: EmailOutgoing[]) => EmailHttpRequest,
  mark?: (key: string) => Promise<boolean>,
): Promise<HandOffResult[]> {
  const req = request(batch.map((m) => m.outgoing!));
  const key = req.headers.find(([k]) => k === "idempotency-key")?.[1] ?? "";
  if (mark && !(await mark(key))) return batch.map(() => ({ outcome: "retryable", detail: `${kind}: the batch could not be marked (a lease lost or the database unreachable); nothing was sent` }));
  const first = await within(signal, timeoutMs, (s) => perform(kind, req, s, batch.length));
  if (signal.aborted || !first.some((r) => r.outcome === "ambiguous")) return first;
  const again = await within(signal, timeoutMs, (s) => perform(kind, req, s, batch.length));
  // Only a verdict on the message itself settles it; a throttled or failed replay says nothing
  // about what the first request did, so that message stays ambiguous.
  return first.map((r, i) => (r.outcome === "ambiguous" && SETTLED.has(again[i]!.outcome) ? again[i]! : r));
}

const SETTLED = new Set(["sent", "rejected_permanent", "rejected_recipient"]);

/** Hands each message of `batch` to the provider, one request each (`request` writes it). */
export function sendEach(
  kind: HttpKind,
  batch: PreparedMessage[],
  signal: AbortSignal,
  timeoutMs: number,
  request: (outgoing: EmailOutgoing, m: PreparedMessage) => EmailHttpRequest | Promise<EmailHttpRequest>,
): Promise<HandOffResult[]> {
  return within(signal, timeoutMs, (limit) =>
    Promise.all(
      batch.map(async (m): Promise<HandOffResult> => {
        if (!m.outgoing) return { outcome: "rejected_permanent", detail: `${kind}: the message has no structured form (hand it over through the worker)` };
        return (await perform(kind, await request(m.outgoing, m), limit))[0]!;
      }),
    ),
  );
}

/** A message a transport's options are checked against when the transport is made. */
export const PROBE: EmailOutgoing = {
  id: "eml_probe",
  from: { address: "probe@example.com" },
  to: [],
  cc: [],
  bcc: [],
  replyTo: [],
  subject: "",
  html: null,
  text: null,
  headers: [],
  attachments: [],
  tenantId: null,
  idempotencyKey: "",
  tags: null,
  raw: "Subject: probe\r\n\r\n",
  recipients: ["probe@example.com"],
};

const decoder = new TextDecoder();

/** The message as the raw-MIME providers take it: its exact MIME and the envelope's recipients. */
export function rawOutgoing(outgoing: EmailOutgoing, m: PreparedMessage): EmailOutgoing {
  return { ...outgoing, raw: decoder.decode(m.raw), recipients: m.recipients };
}
