// The HTTP transports' one call: `fetch` the request the core wrote, and hand the answer back to
// the core to judge. A connection that failed before the request left is `retryable`; a timeout
// or a connection lost afterwards is `ambiguous` (the provider may have the message).
import core from "@usebetter-rs/core";
import type { EmailHttpRequest, EmailOutgoing } from "@usebetter-rs/core";
import type { HandOffResult, PreparedMessage } from "./types";

/** Codes of failures before the request was sent: nothing reached the provider. */
const BEFORE_SEND = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH"]);

export async function fetchHandOff(kind: "resend" | "postmark", request: { method: string; url: string; headers: Array<[string, string]>; body: string }, signal: AbortSignal, timeoutMs: number): Promise<HandOffResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.any([signal, timeout]), redirect: "manual" });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code ?? "";
    const before = BEFORE_SEND.has(code);
    return { outcome: before ? "retryable" : "ambiguous", detail: `${kind}: ${code || (err as Error).name}: ${(err as Error).message}` };
  }
  const body = await response.text().catch(() => "");
  const v = core.emailClassifyResponse(kind, response.status, [...response.headers], body, Date.now());
  const out: HandOffResult = { outcome: v.outcome, status: response.status };
  if (v.providerMessageId) out.providerMessageId = v.providerMessageId;
  if (v.retryAfterMs !== null) out.retryAfterMs = v.retryAfterMs;
  if (v.detail) out.detail = v.detail;
  if (v.recipients.length > 0) out.recipients = v.recipients;
  return out;
}

/** Hands each message of `batch` to the provider, one request each (`request` writes it). */
export function sendEach(
  kind: "resend" | "postmark",
  batch: PreparedMessage[],
  signal: AbortSignal,
  timeoutMs: number,
  request: (outgoing: EmailOutgoing, m: PreparedMessage) => EmailHttpRequest,
): Promise<HandOffResult[]> {
  return Promise.all(
    batch.map(async (m): Promise<HandOffResult> => {
      if (!m.outgoing) return { outcome: "rejected_permanent", detail: `${kind}: the message has no structured form (hand it over through the worker)` };
      return fetchHandOff(kind, request(m.outgoing, m), signal, timeoutMs);
    }),
  );
}
