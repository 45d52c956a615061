// `@usebetterdev/email/resend`: the Resend transport over `fetch` (every runtime). The core
// writes the request (the message id as `Idempotency-Key`, so a retry after an unknown answer
// cannot send twice within Resend's 24 h; `better_email_id` as a tag, how events correlate) and
// judges the answer; this module only performs the call. A connection that failed before the
// request left is `retryable`; a timeout or a connection lost afterwards is `ambiguous`.
import core from "@usebetter-rs/core";
import { EmailConfigError } from "../errors";
import { rateOption, type HandOffResult, type PreparedMessage, type Transport } from "../types";

export interface ResendOptions {
  apiKey: string;
  /** Default `https://api.resend.com` (a loopback fake in tests). */
  baseUrl?: string;
  /** Each request's limit (default 15000 ms). */
  timeoutMs?: number;
  /** Requests per second across every worker (Resend allows 2 per team by default); unlimited when unset. */
  maxPerSecond?: number;
  name?: string;
}

/** Codes of failures before the request was sent: nothing reached the provider. */
const BEFORE_SEND = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH"]);

async function fetchHandOff(kind: "resend", request: { method: string; url: string; headers: Array<[string, string]>; body: string }, signal: AbortSignal, timeoutMs: number): Promise<HandOffResult> {
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
  return out;
}

/** `resend({ apiKey, baseUrl?, timeoutMs? })`. */
export function resend(options: ResendOptions): Transport {
  if (typeof options?.apiKey !== "string" || options.apiKey === "") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "resend(): invalid `apiKey`: the Resend API key (re_…)");
  const { name = "resend", timeoutMs = 15_000, maxPerSecond, ...o } = options;
  const rate = rateOption("resend()", maxPerSecond);
  const opts = { apiKey: o.apiKey, ...(o.baseUrl !== undefined ? { baseUrl: o.baseUrl } : {}) };
  return {
    name,
    kind: "resend",
    capabilities: { idempotency: true, batch: 1, rawMime: false, tags: true, edge: true },
    timeoutMs,
    ...rate,
    async send(batch: PreparedMessage[], signal: AbortSignal): Promise<HandOffResult[]> {
      return Promise.all(
        batch.map(async (m) => {
          if (!m.outgoing) return { outcome: "rejected_permanent", detail: "resend: the message has no structured form (hand it over through the worker)" } as HandOffResult;
          return fetchHandOff("resend", core.emailProviderRequest("resend", m.outgoing, opts), signal, timeoutMs);
        }),
      );
    },
  };
}
