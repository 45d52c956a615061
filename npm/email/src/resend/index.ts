// `@usebetterdev/email/resend`: the Resend transport over `fetch` (every runtime). The core
// writes the request (the message id as `Idempotency-Key`, so a retry after an unknown answer
// cannot send twice within Resend's 24 h; `better_email_id` as a tag, how events correlate) and
// judges the answer; this module only performs the call. A connection that failed before the
// request left is `retryable`; a timeout or a connection lost afterwards is `ambiguous`.
import core from "@usebetter-rs/core/email-binding";
import { sendBatch, sendEach } from "../http";
import { EmailConfigError } from "../errors";
import { rateOption, type PreparedMessage, type Transport } from "../types";

export interface ResendOptions {
  apiKey: string;
  /** Default `https://api.resend.com` (a loopback fake in tests). */
  baseUrl?: string;
  /** Each request's limit (default 15000 ms). */
  timeoutMs?: number;
  /** Requests per second across every worker (Resend allows 2 per team by default); unlimited when unset. */
  maxPerSecond?: number;
  /** Messages per request, through `/emails/batch` (default 100, Resend's most; 1: one request each).
   *  Messages with attachments always go alone: the batch endpoint does not take them. */
  batch?: number;
  name?: string;
}

/** `resend({ apiKey, baseUrl?, timeoutMs?, maxPerSecond?, batch? })`. */
export function resend(options: ResendOptions): Transport {
  if (typeof options?.apiKey !== "string" || options.apiKey === "") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "resend(): invalid `apiKey`: the Resend API key (re_…)");
  const { name = "resend", timeoutMs = 15_000, maxPerSecond, batch = 100, ...o } = options;
  const rate = rateOption("resend()", maxPerSecond);
  if (!Number.isInteger(batch) || batch < 1 || batch > 100) throw new EmailConfigError("EMAIL_INVALID_CONFIG", "resend(): invalid `batch`: an integer from 1 to 100 (messages per request)");
  const opts = { apiKey: o.apiKey, ...(o.baseUrl !== undefined ? { baseUrl: o.baseUrl } : {}) };
  return {
    name,
    kind: "resend",
    capabilities: { idempotency: true, batch, rawMime: false, tags: true, edge: true },
    timeoutMs,
    ...rate,
    send: (messages: PreparedMessage[], signal: AbortSignal, mark?: (key: string) => Promise<boolean>) =>
      messages.length > 1 && messages.every((m) => m.outgoing && m.outgoing.attachments.length === 0)
        ? sendBatch("resend", messages, signal, timeoutMs, (outgoing) => core.emailProviderRequest("resend", outgoing, opts), mark)
        : sendEach("resend", messages, signal, timeoutMs, (outgoing) => core.emailProviderRequest("resend", outgoing, opts)),
  };
}
