// `@usebetterdev/email/sendgrid`: the SendGrid transport over `fetch` (every runtime). The core
// writes the request (`/v3/mail/send`; `better_email_id` and the tenant in `custom_args`, how its
// events correlate) and judges the answer (202 with `X-Message-Id`); this module only performs
// the call. SendGrid keeps no idempotency key: an answer lost after the request left is
// `ambiguous`, and `onAmbiguous` decides whether to send again.
import core from "@usebetter-rs/core/email-binding";
import { EmailConfigError, guard } from "../errors";
import { PROBE, sendEach } from "../http";
import { rateOption, type PreparedMessage, type Transport } from "../types";

export interface SendgridOptions {
  apiKey: string;
  /** Default `https://api.sendgrid.com` (`https://api.eu.sendgrid.com` for EU subusers; a loopback fake in tests). */
  baseUrl?: string;
  /** Each request's limit (default 15000 ms). */
  timeoutMs?: number;
  /** Requests per second across every worker; unlimited when unset. */
  maxPerSecond?: number;
  name?: string;
}

/** `sendgrid({ apiKey, baseUrl?, timeoutMs?, maxPerSecond? })`. */
export function sendgrid(options: SendgridOptions): Transport {
  if (typeof options?.apiKey !== "string" || options.apiKey.trim() === "") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "sendgrid(): invalid `apiKey`: the SendGrid API key (SG.…)");
  const { name = "sendgrid", timeoutMs = 15_000, maxPerSecond, apiKey, baseUrl } = options;
  const rate = rateOption("sendgrid()", maxPerSecond);
  const opts = { apiKey, ...(baseUrl !== undefined ? { baseUrl } : {}) };
  guard(EmailConfigError, () => core.emailProviderRequest("sendgrid", PROBE, opts));
  return {
    name,
    kind: "sendgrid",
    capabilities: { idempotency: false, batch: 1, rawMime: false, tags: true, edge: true },
    timeoutMs,
    ...rate,
    send: (batch: PreparedMessage[], signal: AbortSignal) => sendEach("sendgrid", batch, signal, timeoutMs, (outgoing) => core.emailProviderRequest("sendgrid", outgoing, opts)),
  };
}
